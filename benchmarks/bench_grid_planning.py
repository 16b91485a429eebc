"""The rolling planner with grid events against without (issue 14; a benchmark, not a test).

    python benchmarks/bench_grid_planning.py                     # the default week, issue-14
    python benchmarks/bench_grid_planning.py --jobs 17142 --days 3 --runs 3
    python benchmarks/bench_grid_planning.py --events heatwave-shed --policy optimal

Synthetic demand (`--jobs` over `--days`, load 0.6, seed `--seed`) on the bundled national
network with the energy model `--energy`; per run, the policy (default `rolling`) without
the events (the baseline of `grid.run`), then with them (the ceilings and fill levels that
baseline implies, `grid.calendar`). Prints the CPU and wall time of each and their ratio
(median over `--runs`; CPU time is what the shared machine disturbs least), with the events'
delivered / requested kW and the deadline misses and latency violations of both. Target:
with events no more than 1.5 x the time without.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from suanwang.cli_grid import events_of
from suanwang.grid.calendar import plan_events, power_calendar
from suanwang.grid.measure import measure
from suanwang.network import load_network
from suanwang.sim import DEFAULT_START, energy_for, run
from suanwang.workload.synthetic import synthetic_jobs


def timed(*args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """`run(*args, **kwargs)`, its CPU and wall seconds."""
    c, w = time.process_time(), time.perf_counter()
    out = run(*args, **kwargs)
    return out, time.process_time() - c, time.perf_counter() - w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=40_000)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--policy", default="rolling")
    ap.add_argument("--events", default="issue-14", help="a bundled scenario or a file")
    ap.add_argument("--energy", default="physical")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the results to this file")
    args = ap.parse_args()
    net = load_network()
    jobs = synthetic_jobs(net, args.jobs, args.days, seed=args.seed, start_utc=DEFAULT_START)
    series = energy_for(net, jobs, args.seed, DEFAULT_START, days=args.days,
                        model=args.energy)
    events = events_of(Path(args.events), net, DEFAULT_START)
    rows = []
    for i in range(max(args.runs, 1)):
        base, base_cpu, base_wall = timed(net, jobs, args.policy, seed=args.seed,
                                          series=series)
        plans = plan_events(tuple(events), base)
        power = power_calendar(plans)
        result, ev_cpu, ev_wall = timed(net, jobs, args.policy, seed=args.seed,
                                        series=base.series, power=power)
        reports = measure(plans, base, result)
        b, r = base.summary(), result.summary()
        rows.append({"run": i, "without_cpu_s": base_cpu, "without_wall_s": base_wall,
                     "with_cpu_s": ev_cpu, "with_wall_s": ev_wall,
                     "cpu_ratio": ev_cpu / base_cpu, "wall_ratio": ev_wall / base_wall,
                     "deadline_misses": [b["deadline_misses"], r["deadline_misses"]],
                     "latency_violations": [b["latency_violations"],
                                            r["latency_violations"]],
                     "events": [{k: e.as_dict()[k] for k in (
                         "event", "kind", "requested_kw", "delivered_kw", "delivered_share",
                         "cap_exceeded")}
                                for e in reports]})
        x = rows[-1]
        print(f"run {i}: without {base_cpu:.1f} CPU s ({base_wall:.1f} s wall), with events "
              f"{ev_cpu:.1f} CPU s ({ev_wall:.1f} s wall): x{x['cpu_ratio']:.2f} CPU, "
              f"x{x['wall_ratio']:.2f} wall; deadline misses {x['deadline_misses']}, "
              f"latency violations {x['latency_violations']}", flush=True)
        for e in x["events"]:
            if e["delivered_share"] is None:  # a cap: nothing requested
                print(f"  {e['event']} ({e['kind']}): cap exceeded {e['cap_exceeded']}",
                      flush=True)
                continue
            print(f"  {e['event']} ({e['kind']}): delivered {e['delivered_kw']:,.0f} of "
                  f"{e['requested_kw']:,.0f} kW ({e['delivered_share']:.1%})", flush=True)
    med = {k: statistics.median(r[k] for r in rows) for k in ("cpu_ratio", "wall_ratio")}
    print(f"{args.policy}, {args.jobs:,} jobs over {args.days:g} days, events {args.events}: "
          f"with events x{med['cpu_ratio']:.2f} the CPU time without "
          f"(x{med['wall_ratio']:.2f} wall), median of {len(rows)}; target <= 1.5")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)},
                                         "runs": rows, "median": med}, indent=2))


if __name__ == "__main__":
    main()
