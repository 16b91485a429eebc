"""What a grid event's notice costs the live scheduler (a benchmark, not a test; run by hand).

    python benchmarks/bench_grid_notice.py                  # 20,000 jobs in flight, 3 runs
    python benchmarks/bench_grid_notice.py --jobs 50000 --policy greenest --runs 5

On the bundled national network, a `Scheduler` (the live service's core) takes the first
`--jobs` synthetic jobs of a week (load 0.6) up to their arrival; then, as the service does at
notice time under its lock, it projects the known work over a 4-hour window
(`core.projection.project`: a copy run forward), turns the projection into a 30% shed of the
Yangtze Delta hub's sites (`grid.calendar.plan_events`) and applies the calendar
(`Scheduler.set_power`). Printed: jobs in flight (running, deferred, queued), and the median
seconds of the projection and of `set_power`, and of the flexibility curve's projection
(24 h ahead).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--policy", default="green-window")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from suanwang.core.projection import project
    from suanwang.core.scheduler import Scheduler
    from suanwang.core.state import Topology
    from suanwang.energy.forecast import Forecaster
    from suanwang.grid.calendar import plan_events, power_calendar
    from suanwang.grid.event import EventKind, GridEvent, event_sites
    from suanwang.network import load_network
    from suanwang.policies.registry import make_policy
    from suanwang.service.grid_live import power_record
    from suanwang.sim import DEFAULT_START, energy_for
    from suanwang.workload.synthetic import synthetic_jobs

    net = load_network()
    jobs = synthetic_jobs(net, args.jobs * 4, 7.0, seed=0, start_utc=DEFAULT_START,
                          load=0.6)[:args.jobs]
    series = energy_for(net, jobs, 0, DEFAULT_START, days=10)
    topo = Topology(net)
    core = Scheduler(topo, Forecaster(series, [s.grid_intensity_g_per_kwh for s in net.sites],
                                      seed=0), make_policy(args.policy))
    for j in jobs:
        core.advance(j.submit_s)
        core.submit(j, j.submit_s)
    now = jobs[-1].submit_s
    sites = event_sites(net, "bench", "event", hub="changsanjiao")
    start = DEFAULT_START + timedelta(seconds=now + 3600)
    event = GridEvent("bench-shed", sites, EventKind.SHED, start, start + timedelta(hours=4),
                      target_share=0.3)
    t_proj, t_apply, t_flex = [], [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        proj = project(core, now + 5 * 3600)
        t1 = time.perf_counter()
        placed = [p for p in proj if p.site >= 0]
        rec = power_record(topo, DEFAULT_START,
                           [(p.job, p.site, p.pool, p.start_s, p.end_s) for p in placed])
        plan = plan_events((event,), rec.as_result())  # type: ignore[arg-type]
        t2 = time.perf_counter()
        core.set_power(power_calendar(plan), now)
        t3 = time.perf_counter()
        core.set_power(None, now)
        t4 = time.perf_counter()
        project(core, now + 24 * 3600)
        t5 = time.perf_counter()
        t_proj.append(t1 - t0)
        t_apply.append(t3 - t2)
        t_flex.append(t5 - t4)
    print(f"national network, {args.policy}, {len(core.running):,} running, "
          f"{len(core.deferred):,} deferred, {len(core.waiting()):,} queued; shed of "
          f"{', '.join(sites)}")
    print(f"projection to the window's end: {statistics.median(t_proj):.3f} s; set_power: "
          f"{statistics.median(t_apply):.3f} s; projection 24 h ahead (flexibility): "
          f"{statistics.median(t_flex):.3f} s  (median of {args.runs})")


if __name__ == "__main__":
    main()
