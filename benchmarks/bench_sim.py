"""Simulator throughput and peak memory, per policy (a benchmark, not a test; run by hand).

    python benchmarks/bench_sim.py                      # 1,000,000 jobs over 30 days
    python benchmarks/bench_sim.py --jobs 200000 --runs 3
    python benchmarks/bench_sim.py --jobs 200000 --runs 3 --baseline-src /tmp/old/src
        # the same, alternating with children run on another checkout's sources (e.g. the
        # commit before providers), and the ratio of jobs/s to it per policy
    python benchmarks/bench_sim.py --providers implicit   # the bundled network without its
        # providers (one implicit provider per site, as before providers existed)

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
import os
import resource
import statistics
import subprocess
import sys
import time


def child(policy: str, jobs: int, days: float, seed: int,
          providers: str = "bundled") -> dict[str, float]:
    from suanwang.network import load_network
    from suanwang.sim import DEFAULT_START, energy_for, run
    from suanwang.workload.synthetic import synthetic_jobs

    net = load_network()
    if providers == "implicit":
        import yaml

        from suanwang.network import bundled_network_path, parse_network
        doc = yaml.safe_load(bundled_network_path().read_text(encoding="utf-8"))
        doc.pop("providers", None)
        for site in doc["sites"]:
            site.pop("providers", None)
        net = parse_network(doc, "<national without providers>")
    t0 = time.perf_counter()
    demand = synthetic_jobs(net, jobs, days, seed=seed, start_utc=DEFAULT_START)
    t1 = time.perf_counter()
    series = energy_for(net, demand, seed, DEFAULT_START, days=days)
    t2 = time.perf_counter()
    c2 = time.process_time()
    result = run(net, demand, policy, seed=seed, series=series)
    t3 = time.perf_counter()
    cpu_s = time.process_time() - c2  # CPU time of the run: less sensitive to a shared machine
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
        "cpu_jobs_per_s": jobs / cpu_s,
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
    ap.add_argument("--providers", choices=("bundled", "implicit"), default="bundled",
                    help="the bundled network's providers, or none (one implicit per site)")
    ap.add_argument("--baseline-src", help="also run each policy on these sources (a "
                    "checkout's src/), alternating, and print the ratio of jobs/s to it")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.jobs, args.days, args.seed, args.providers)))
        return

    def one(policy: str, src: str | None) -> dict[str, float]:
        env = dict(os.environ)
        extra: list[str] = []
        if src is not None:
            env["PYTHONPATH"] = src
        else:
            extra = ["--providers", args.providers]
        out = subprocess.run(
            [sys.executable, __file__, "--child", policy, "--jobs", str(args.jobs),
             "--days", str(args.days), "--seed", str(args.seed), *extra],
            check=True, capture_output=True, text=True, env=env).stdout
        return json.loads(out.strip().splitlines()[-1])

    def median(runs: list[dict[str, float]]) -> dict[str, float]:
        return {k: statistics.median(r[k] for r in runs) if isinstance(runs[0][k], float | int)
                else runs[0][k] for k in runs[0]}

    rows = []
    for policy in args.policies.split(","):
        runs, base_runs = [], []
        for _ in range(args.runs):
            runs.append(one(policy, None))
            if args.baseline_src:
                base_runs.append(one(policy, args.baseline_src))
        row = median(runs)
        if base_runs:
            base_row = median(base_runs)
            row["baseline_jobs_per_s"] = base_row["jobs_per_s"]
            ratios = sorted(r["jobs_per_s"] / b["jobs_per_s"]
                            for r, b in zip(runs, base_runs, strict=True))
            row["ratio_to_baseline"] = statistics.median(ratios)
            row["cpu_ratio_to_baseline"] = statistics.median(
                r["cpu_jobs_per_s"] / b["cpu_jobs_per_s"]
                for r, b in zip(runs, base_runs, strict=True))
        rows.append(row)
        print(f"{policy:>13}: {row['jobs_per_s']:>9,.0f} jobs/s  "
              f"simulate {row['simulate_s']:6.1f} s"
              f"  peak {row['peak_mb']:6,.0f} MB  (generate {row['generate_s']:.1f} s, "
              f"accounting {row['summary_s']:.1f} s)", flush=True)
    if args.baseline_src:
        print("ratio of jobs/s to the baseline sources (median of per-run pairs): " + ", ".join(
            f"{r['policy']} {r['ratio_to_baseline']:.2f} ({r['jobs_per_s']:,.0f} vs "
            f"{r['baseline_jobs_per_s']:,.0f})" for r in rows))
        print("the same on CPU time of the run: " + ", ".join(
            f"{r['policy']} {r['cpu_ratio_to_baseline']:.2f}" for r in rows))
    base = next((r for r in rows if r["policy"] == "nearest"), None)
    if base:
        print("ratio of jobs/s to nearest: " + ", ".join(
            f"{r['policy']} {r['jobs_per_s'] / base['jobs_per_s']:.2f}" for r in rows))


if __name__ == "__main__":
    main()
