"""Simulator throughput and peak memory, per policy (a benchmark, not a test; run by hand).

    python benchmarks/bench_sim.py                      # 1,000,000 jobs over 30 days
    python benchmarks/bench_sim.py --jobs 200000 --runs 3

Each policy runs in a fresh child process (so that peak memory is its own): the child
generates the synthetic demand on the bundled national network, builds the energy series,
simulates, and reports the simulation's jobs per second (simulate() alone: demand generation
and accounting are timed separately) and the process's peak resident memory. With --runs N
each figure is the median of N runs. Ratios are to `nearest` (the cheapest policy to decide)
measured in the same invocation.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def child(policy: str, jobs: int, days: float, seed: int) -> dict[str, float]:
    from suanwang.network import load_network
    from suanwang.sim import DEFAULT_START, energy_for, run
    from suanwang.workload.synthetic import synthetic_jobs

    net = load_network()
    t0 = time.perf_counter()
    demand = synthetic_jobs(net, jobs, days, seed=seed, start_utc=DEFAULT_START)
    t1 = time.perf_counter()
    series = energy_for(net, demand, seed, DEFAULT_START, days=days)
    t2 = time.perf_counter()
    result = run(net, demand, policy, seed=seed, series=series)
    t3 = time.perf_counter()
    summary = result.summary()
    t4 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {
        "policy": policy,
        "generate_s": t1 - t0,
        "energy_s": t2 - t1,
        "simulate_s": result.wall_s,
        "run_total_s": t3 - t2,
        "summary_s": t4 - t3,
        "jobs_per_s": jobs / result.wall_s,
        "peak_mb": peak_mb,
        "carbon_t": summary["carbon_t"],
        "latency_violations": summary["latency_violations"],
        "deadline_misses": summary["deadline_misses"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1_000_000)
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--policies", default="nearest,cheapest,greenest,green-window")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.jobs, args.days, args.seed)))
        return
    rows = []
    for policy in args.policies.split(","):
        runs = []
        for _ in range(args.runs):
            out = subprocess.run(
                [sys.executable, __file__, "--child", policy, "--jobs", str(args.jobs),
                 "--days", str(args.days), "--seed", str(args.seed)],
                check=True, capture_output=True, text=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
        row = {k: statistics.median(r[k] for r in runs) if isinstance(runs[0][k], float | int)
               else runs[0][k] for k in runs[0]}
        rows.append(row)
        print(f"{policy:>13}: {row['jobs_per_s']:>9,.0f} jobs/s  "
              f"simulate {row['simulate_s']:6.1f} s"
              f"  peak {row['peak_mb']:6,.0f} MB  (generate {row['generate_s']:.1f} s, "
              f"accounting {row['summary_s']:.1f} s)", flush=True)
    base = next((r for r in rows if r["policy"] == "nearest"), None)
    if base:
        print("ratio of jobs/s to nearest: " + ", ".join(
            f"{r['policy']} {r['jobs_per_s'] / base['jobs_per_s']:.2f}" for r in rows))


if __name__ == "__main__":
    main()
