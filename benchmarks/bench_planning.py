"""Planning quality and speed (a benchmark, not a test; run by hand).

    python benchmarks/bench_planning.py                    # three scenarios + the scale run
    python benchmarks/bench_planning.py --jobs 20000 --scenarios normal --skip-scale
    python benchmarks/bench_planning.py --scale-only --runs 3
    python benchmarks/bench_planning.py --jobs 5000 --scenarios normal --skip-scale --bound tight

Quality: on three scenarios of a week on the bundled national network (synthetic demand,
`--jobs` jobs, seed `--seed`) —

- normal: offered load 0.6;
- high: offered load 0.9 (of every kind's installed capacity, intelligent included);
- lull: load 0.6, and a wind lull at Horinger and Jining (both zones of the Horinger
  cluster): their green share is cut to a fifth from day 2 to day 5 (intensity follows:
  (1 - green) x the grid factor);

it solves the LP lower bound (carbon and cost) once, then runs every policy with perfect
forecasts (`--forecast-error 0`) and `rolling` and `green-window` again at the default
forecast error (1.0, the Forecaster's error growing with lead time), and prints each run's
carbon, cost, latency violations, deadline misses and ratios to the bound, as a Markdown table.

Speed: `lower_bound` on `--scale-jobs` jobs (default 100,000) submitted over 48 hours, on the
national network: windows, classes, model build and HiGHS solve, median of `--runs` runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from typing import Any

import numpy as np

from suanwang.energy.series import EnergySeries
from suanwang.model import Network
from suanwang.network import load_network
from suanwang.planning.bound import compare_bounds, lower_bound
from suanwang.planning.tight_bound import tight_compare_bounds
from suanwang.sim import DEFAULT_START, energy_for, run
from suanwang.workload.synthetic import synthetic_jobs

POLICIES = ("nearest", "cheapest", "greenest", "green-window", "rolling", "optimal")
WITH_ERROR = ("green-window", "rolling")
LULL_SITES = ("horinger", "jining")
LULL_DAYS = (2, 5)
LULL_FACTOR = 0.2


def wind_lull(net: Network, series: EnergySeries) -> EnergySeries:
    green = series.green_share.copy()
    h0, h1 = LULL_DAYS[0] * 24, LULL_DAYS[1] * 24
    for site in LULL_SITES:
        i = series.site_ids.index(site)
        green[i, h0:h1] *= LULL_FACTOR
    grid = np.array([s.grid_intensity_g_per_kwh for s in net.sites])[:, None]
    intensity = np.where(green != series.green_share, (1.0 - green) * grid,
                         series.intensity_g_per_kwh)
    return dataclasses.replace(series, green_share=green, intensity_g_per_kwh=intensity,
                               _cum={})


def scenario(name: str, net: Network, n_jobs: int, seed: int,
             bound: str = "aggregated") -> dict[str, Any]:
    load = 0.9 if name == "high" else 0.6
    jobs = synthetic_jobs(net, n_jobs, 7.0, seed=seed, load=load, start_utc=DEFAULT_START)
    series = energy_for(net, jobs, seed, DEFAULT_START, days=7.0)
    if name == "lull":
        series = wind_lull(net, series)
    t0 = time.perf_counter()
    carbon_b, cost_b = (tight_compare_bounds(net, jobs, series) if bound == "tight"
                        else compare_bounds(net, jobs, series))
    bound_s = time.perf_counter() - t0
    print(f"  {name:>6} bound: carbon {carbon_b.method}, cost {cost_b.method} "
          f"({bound_s:.1f} s) {carbon_b.note}", flush=True)
    rows = []
    runs = [(p, 0.0) for p in POLICIES] + [(p, 1.0) for p in WITH_ERROR]
    for policy, error in runs:
        t0 = time.perf_counter()
        s = run(net, jobs, policy, seed=seed, series=series, forecast_error=error).summary()
        rows.append({
            "policy": policy, "forecast_error": error, "carbon_t": s["carbon_t"],
            "cost_yuan": s["cost_yuan"], "latency_violations": s["latency_violations"],
            "deadline_misses": s["deadline_misses"], "rejected": s["rejected"],
            "carbon_to_bound": s["carbon_t"] * 1000.0 / carbon_b.value,
            "cost_to_bound": s["cost_yuan"] / cost_b.value,
            "run_s": time.perf_counter() - t0})
        r = rows[-1]
        print(f"  {name:>6} {policy:>12} error {error:.0f}: carbon x{r['carbon_to_bound']:.3f}"
              f" cost x{r['cost_to_bound']:.3f}  late {s['deadline_misses']}  "
              f"({r['run_s']:.0f} s)", flush=True)
    return {"scenario": name, "load": load, "jobs": n_jobs,
            "carbon_bound_t": carbon_b.value / 1000.0, "cost_bound_yuan": cost_b.value,
            "deadlines_relaxed": carbon_b.deadlines_relaxed, "bound_s": bound_s,
            "classes": carbon_b.n_classes, "bound_method": [carbon_b.method, cost_b.method],
            "rows": rows}


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| scenario | policy | forecast error | carbon t | × bound | cost 万元 | × bound "
             "| latency viol. | deadline miss |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for res in results:
        lines.append(f"| {res['scenario']} | LP bound | | {res['carbon_bound_t']:,.0f} | 1.00 "
                     f"| {res['cost_bound_yuan'] / 1e4:,.0f} | 1.00 | | |")
        for r in res["rows"]:
            lines.append(
                f"| {res['scenario']} | {r['policy']} | {r['forecast_error']:g} "
                f"| {r['carbon_t']:,.0f} | {r['carbon_to_bound']:.3f} "
                f"| {r['cost_yuan'] / 1e4:,.0f} | {r['cost_to_bound']:.3f} "
                f"| {r['latency_violations']} | {r['deadline_misses']} |")
    return "\n".join(lines)


def scale(net: Network, n_jobs: int, runs: int, seed: int) -> dict[str, Any]:
    jobs = synthetic_jobs(net, n_jobs, 2.0, seed=seed, start_utc=DEFAULT_START)
    series = energy_for(net, jobs, seed, DEFAULT_START, days=2.0)
    times = []
    for _ in range(max(runs, 1)):
        t0 = time.perf_counter()
        b = lower_bound(net, jobs, series)
        times.append(time.perf_counter() - t0)
    out = {"jobs": n_jobs, "sites": len(net.sites), "submitted_over_h": 48,
           "classes": b.n_classes, "vars": b.n_vars, "rows": b.n_rows,
           "median_s": statistics.median(times), "solve_s": b.solve_s, "runs": runs}
    print(f"scale: {n_jobs:,} jobs x {len(net.sites)} sites, submitted over 48 h: "
          f"{b.n_classes:,} classes, {b.n_vars:,} columns, {b.n_rows:,} rows; "
          f"bound in {out['median_s']:.2f} s (median of {runs}; HiGHS {b.solve_s:.2f} s)",
          flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=40_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scenarios", default="normal,high,lull")
    ap.add_argument("--scale-jobs", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--scale-only", action="store_true")
    ap.add_argument("--bound", choices=("aggregated", "tight"), default="aggregated",
                    help="the bound the ratios are to (tight: planning.tight_bound)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    net = load_network()
    out: dict[str, Any] = {}
    if not args.skip_scale:
        out["scale"] = scale(net, args.scale_jobs, args.runs, args.seed)
    if not args.scale_only:
        out["scenarios"] = [scenario(name, net, args.jobs, args.seed, args.bound)
                            for name in args.scenarios.split(",")]
        print(markdown(out["scenarios"]))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
