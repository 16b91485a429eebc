"""How much of the Yangtze-Delta heat-wave shed is deliverable at all (issue 14; a benchmark).

    python benchmarks/grid_shed_deliverable.py                      # rolling and optimal
    python benchmarks/grid_shed_deliverable.py --policies rolling --jobs 17142 --days 3

A shed can only move or defer work that may move or wait. Real-time work whose latency bound
leaves it no site outside the event's sites (it is pinned there) cannot leave, and it is never
refused for a shed (`core.power_guard`). Per policy, on the baseline run (the same run without
the events: the baseline `grid.calendar` measures delivery against), this prints, over the
event's window at its sites (the `heatwave-shed` scenario: yangtze-demo and wuhu, 4 hours,
30% asked):

- the baseline's mean facility kW, and its part that is real-time work pinned to the event's
  sites by its latency bound (per site and in all);
- the most a shed could deliver (the baseline less that pinned part: every other job moved or
  deferred), as a share of the baseline and of the kW requested.

Synthetic demand (`--jobs` over `--days`, load 0.6, seed `--seed`) on the bundled national
network, the physical energy model: the workload of `suanwang compare --grid-events`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from suanwang.cli_grid import events_of
from suanwang.core.state import Topology
from suanwang.grid.calendar import plan_events
from suanwang.grid.event import EventKind
from suanwang.grid.power import mean_kw
from suanwang.network import load_network
from suanwang.sim import DEFAULT_START, energy_for, run
from suanwang.workload.synthetic import synthetic_jobs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=40_000)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--policies", default="rolling,optimal")
    ap.add_argument("--events", default="heatwave-shed", help="a bundled scenario or a file")
    ap.add_argument("--energy", default="physical")
    args = ap.parse_args()
    net = load_network()
    topo = Topology(net)
    jobs = synthetic_jobs(net, args.jobs, args.days, seed=args.seed, start_utc=DEFAULT_START)
    series = energy_for(net, jobs, args.seed, DEFAULT_START, days=args.days,
                        model=args.energy)
    sheds = [e for e in events_of(Path(args.events), net, DEFAULT_START)
             if e.kind == EventKind.SHED]
    if not sheds:
        raise SystemExit(f"--events {args.events}: no shed event in it")
    for policy in [p.strip() for p in args.policies.split(",") if p.strip()]:
        base = run(net, jobs, policy, seed=args.seed, series=series)
        # real-time jobs of the run: pinned to a set of sites by their latency bound
        realtime = np.fromiter((j.realtime for j in base.jobs), dtype=bool,
                               count=len(base.jobs))
        reach = [frozenset(o.site for o in topo.offers(j)) if j.realtime else frozenset()
                 for j in base.jobs]
        for plan in plan_events(tuple(sheds), base):
            idx = frozenset(sp.site for sp in plan.sites)
            pinned = realtime & np.fromiter((bool(r) and r <= idx for r in reach), dtype=bool,
                                            count=len(reach))
            total_b = total_p = total_req = 0.0
            print(f"{policy}, {plan.event.id} ({len(idx)} sites, "
                  f"{(plan.end_s - plan.start_s) / 3600:g} h):")
            for sp in plan.sites:
                w = np.diff(sp.edges_s)
                b = float((sp.baseline_kw * w).sum() / w.sum())
                p = float((mean_kw(base, sp.site, sp.edges_s, pinned) * w).sum() / w.sum())
                rt = float((mean_kw(base, sp.site, sp.edges_s, realtime) * w).sum() / w.sum())
                req = float((sp.requested_kw * w).sum() / w.sum())
                total_b, total_p, total_req = total_b + b, total_p + p, total_req + req
                print(f"  {sp.site_id}: baseline {b:,.0f} kW, real-time {rt:,.0f} kW, pinned "
                      f"real-time {p:,.0f} kW ({p / b if b else 0:.1%}), requested {req:,.0f} kW")
            most = max(total_b - total_p, 0.0)
            print(f"  all: baseline {total_b:,.0f} kW, pinned real-time {total_p:,.0f} kW "
                  f"({total_p / total_b if total_b else 0:.1%} of the baseline); the most a "
                  f"shed can deliver is {most:,.0f} kW ({most / total_b if total_b else 0:.1%} "
                  f"of the baseline), {min(most / total_req, 1.0) if total_req else 0:.1%} of "
                  f"the {total_req:,.0f} kW requested", flush=True)


if __name__ == "__main__":
    main()
