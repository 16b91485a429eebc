"""The day-ahead flexibility curve (issue 14 item 3): per site and hour ahead, how many kW of
facility power the platform could shed or add, and for how long, given the work it knows.

Method (from the same projection as a grid event's baseline, `core.projection`: the known
work run forward by the policy, no later arrival), per site s and hour [t, t + 1 h):

- **expected kW**: the projection's mean facility power in the hour;
- **shed**: the kW of the deferrable jobs the projection runs at s in the hour that have not
  started by now (nothing running is preempted) and whose deadline still holds if their start
  moves to the hour's end; `shed_for_h`: how long that whole shed can be held, the least, over
  those jobs, of (latest start the deadline allows - t); capped at the horizon;
- **add**: the kW the deferrable jobs known and not run at s in the hour could draw there if
  started at t (their offers include s, their deadline holds), at most the site's installed
  facility power less the expected kW; `add_for_h`: the shortest run among the jobs counted
  (the whole addition lasts at least that long).

Moving work not started to another site within its bound would shed more; it is not counted
(the curve is what deferral alone can promise). Real-time work is never counted.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from suanwang.energy.series import HOUR_S

if TYPE_CHECKING:
    from suanwang.service.live import LiveScheduler

MAX_HOURS = 48


def flexibility(live: LiveScheduler, site: str | None, hours: int) -> dict[str, Any]:
    topo = live.topology
    if site is not None and site not in topo.site_ids:
        raise KeyError(site)
    with live.lock:
        now = live.clock.now_s()
        live.scheduler.advance(now)
        t0 = math.ceil(now / HOUR_S) * HOUR_S  # the next whole hour of the run clock
        horizon = t0 + hours * HOUR_S
        proj = live.grid.projection(horizon)
    wanted = range(len(topo.sites)) if site is None else [topo.site_ids.index(site)]
    installed = [sum(topo.pool_capacity[p] * topo.pool_kw_facility[p]
                     for p in range(len(topo.pools)) if topo.pool_site[p] == i)
                 for i in range(len(topo.sites))]
    out = []
    for i in wanted:
        pools = {topo.pool_kind[p]: p for p in range(len(topo.pools)) if topo.pool_site[p] == i}
        rows = []
        for h in range(hours):
            t, t1 = t0 + h * HOUR_S, t0 + (h + 1) * HOUR_S
            expected = shed = add = 0.0
            shed_hold = add_hold = math.inf
            for p in proj:
                job = p.job
                deadline = math.inf if job.deadline_s is None else job.deadline_s
                here = p.site == i and p.start_s < t1 and p.end_s > t
                if here:
                    kw = job.units * topo.pool_kw_facility[p.pool]
                    expected += kw * (min(p.end_s, t1) - max(p.start_s, t)) / HOUR_S
                    if (not job.realtime and not p.running_now and p.start_s >= now
                            and t1 + job.duration_s <= deadline + 1e-6):
                        shed += kw
                        shed_hold = min(shed_hold, deadline - job.duration_s - t)
                elif (not job.realtime and not p.running_now and job.kind in pools
                      and (p.site < 0 or p.start_s >= t1 or p.site != i)
                      and t + job.duration_s <= deadline + 1e-6
                      and any(o.site == i for o in topo.offers(job))):
                    add += job.units * topo.pool_kw_facility[pools[job.kind]]
                    add_hold = min(add_hold, job.duration_s)
            add = min(add, max(installed[i] - expected, 0.0))
            rows.append({
                "hour_start_s": t, "hour_start": live.clock.at(t).isoformat(),
                "expected_kw": expected, "shed_kw": shed,
                "shed_for_h": 0.0 if shed == 0 else min(shed_hold, horizon - t) / HOUR_S,
                "add_kw": add, "add_for_h": 0.0 if add == 0 else add_hold / HOUR_S})
        out.append({"site": topo.site_ids[i], "installed_kw": installed[i], "hours": rows})
    return {"now_s": now, "from_s": t0, "hours": hours, "sites": out,
            "method": "projection of the known work (no later arrival); shed: deferrable jobs "
                      "not started whose deadline allows a start after the hour; add: "
                      "deferrable jobs known elsewhere or later that could start here in the "
                      "hour, within the installed power"}
