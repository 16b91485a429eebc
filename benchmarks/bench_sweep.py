"""Scenario sweeps on Ray: wall time of one grid with 1 and with 2 local Ray workers, and in
this process without Ray; the ratio 2 workers / 1.

    python benchmarks/bench_sweep.py [--runs 3] [--jobs 20000] [--days 2]

Each run starts its own local Ray (`ray.init(num_cpus=N)`), so Ray's start-up is in the figure,
as it is for a user's `suanwang sweep`. The grid: 4 greedy policies × 2 seeds × 2 loads at
the default forecast error (16 runs, 4 scenarios).
"""

from __future__ import annotations

import argparse
import statistics
import time

from suanwang.network.loader import load_network
from suanwang.sim.sweep import SweepSpec, run_sweep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--days", type=float, default=2.0)
    args = ap.parse_args()
    net = load_network(None)
    spec = SweepSpec.make(["nearest", "cheapest", "greenest", "green-window"], [0, 1],
                          [0.5, 0.7], [1.0], args.days, args.jobs)
    walls: dict[str, list[float]] = {"in process": [], "Ray, 1 worker": [], "Ray, 2 workers": []}
    for _ in range(args.runs):
        for label, workers in (("in process", 0), ("Ray, 1 worker", 1), ("Ray, 2 workers", 2)):
            t = time.perf_counter()
            rows = run_sweep(net, spec, ray_workers=workers)
            walls[label].append(time.perf_counter() - t)
            assert len(rows) == len(spec.points())
    print(f"{len(spec.points())} runs of {args.jobs:,} jobs over {args.days:g} days; "
          f"median of {args.runs} runs")
    med = {k: statistics.median(v) for k, v in walls.items()}
    for label, s in med.items():
        print(f"  {label:<16} {s:7.1f} s   (runs: {', '.join(f'{x:.1f}' for x in walls[label])})")
    print(f"  ratio 2 workers / 1: {med['Ray, 2 workers'] / med['Ray, 1 worker']:.2f}")


if __name__ == "__main__":
    main()
