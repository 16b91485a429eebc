"""Lower bounds against the exact MILP, and the tight bound's speed (a benchmark, not a test).

    python benchmarks/bench_bound.py                       # MILP instances + 10k and 100k
    python benchmarks/bench_bound.py --skip-scale --seeds 4
    python benchmarks/bench_bound.py --skip-milp --scale-jobs 10000,100000

Quality: `--jobs` jobs (default 300) of synthetic demand over `--days` days (default 2) at
offered load `--load` on the bundled national network, seeds 0 .. `--seeds`-1, with the
actual series; per instance the aggregated bound, the tight bound (`planning.tight_bound`)
and the MILP optimum (`planning.milp`, the carbon objective, time limit `--milp-limit`; "time
limit" means the MILP's best plan, an upper bound on the optimum) and the ratios tight/MILP
and aggregated/MILP.

Contention: `--tiny N` runs the same comparison on the tests' tiny network (3 sites of 6 to 10
intelligent units; `tests/conftest.py`) with the planning tests' random traces of N jobs over
12 hours (`tests/planning/plan_support.py`), seeds 0 .. `--seeds`-1, the tight bound at each
slot length of `--slot-s` (capacity rows per slot: shorter slots are tighter).

Speed: the tight bound on `--scale-jobs` jobs submitted over 48 hours on the national network
(time limit `--tight-limit`): which bound it returns (tight, Lagrangian or aggregated), its
value over the aggregated bound, and its wall and CPU time.

Classes (`planning/tight_classes.py`): `--class-grid` picks the tight bound's classes in the
MILP and scale parts: `auto` (the library's default: the per-job LP where it fits, else the
default grid), `exact` (identical jobs only) or `W:R` (windows in W-second bins, durations in
buckets of ratio R). `--tiny-grids` lists the class grids of the tiny comparison (default
`auto`), each a column per slot length; the method printed in brackets when not `tight`.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

from suanwang.core.state import Topology
from suanwang.energy.series import HOUR_S
from suanwang.network import load_network
from suanwang.planning.bound import lower_bound
from suanwang.planning.choose import PriceBook
from suanwang.planning.milp import option_count, solve_milp
from suanwang.planning.objective import Objective
from suanwang.planning.tight_bound import tight_lower_bound
from suanwang.planning.tight_classes import ClassGrid
from suanwang.sim import DEFAULT_START, energy_for
from suanwang.workload.synthetic import synthetic_jobs


def parse_grid(text: str) -> ClassGrid | str:
    """`auto`, `exact` or `W:R` (window bin seconds : duration bucket ratio)."""
    if text in ("auto", "exact"):
        return text
    try:
        w, r = (float(x) for x in text.split(":"))
    except ValueError:
        raise SystemExit(f"--class-grid/--tiny-grids: want auto, exact or W:R, got "
                         f"{text!r}") from None
    return ClassGrid(window_s=w, duration_ratio=r)


def grid_label(grid: ClassGrid | str) -> str:
    return grid if isinstance(grid, str) else f"{grid.window_s:g}:{grid.duration_ratio:g}"


def milp_instance(topo: Topology, n_jobs: int, days: float, seed: int, milp_limit_s: float,
                  tight_limit_s: float, load: float,
                  grid: ClassGrid | str = "auto") -> dict[str, Any]:
    net = topo.network
    jobs = synthetic_jobs(net, n_jobs, days, seed=seed, load=load, start_utc=DEFAULT_START)
    series = energy_for(net, jobs, seed, DEFAULT_START, days=days)
    agg = lower_bound(topo, jobs, series)
    t0 = time.perf_counter()
    tight = tight_lower_bound(topo, jobs, series, time_limit_s=tight_limit_s, class_grid=grid)
    tight_s = time.perf_counter() - t0
    last_end = max(j.submit_s + j.duration_s for j in jobs)
    n = max(int(max(series.hours * HOUR_S, last_end + HOUR_S) // HOUR_S) + 2, series.hours)
    book = PriceBook.of_trace(topo, Objective.carbon(), series, 4 * n)
    options = option_count(topo, jobs, book)
    plan = solve_milp(topo, jobs, book, milp_limit_s)
    out = {"seed": seed, "jobs": n_jobs, "aggregated_kg": agg.value, "tight_kg": tight.value,
           "tight_method": tight.method, "tight_s": tight_s, "milp_kg": plan.objective,
           "milp_status": plan.status, "milp_options": options, "milp_s": plan.solve_s,
           "served": len(plan.plan),
           "feasible": sum(1 for j in jobs if topo.offers(j))}
    out["tight_to_milp"] = tight.value / plan.objective
    out["aggregated_to_milp"] = agg.value / plan.objective
    print(f"seed {seed}: aggregated/MILP {out['aggregated_to_milp']:.4f}  tight/MILP "
          f"{out['tight_to_milp']:.4f}  ({tight.method}, {tight_s:.2f} s; MILP {plan.status}, "
          f"{options:,} binaries, {plan.solve_s:.1f} s, {out['served']}/{out['feasible']} "
          "jobs planned)", flush=True)
    return out


def tiny(n_jobs: int, seeds: int, slots_s: list[float], milp_limit_s: float,
         grids: list[ClassGrid | str] | None = None) -> list[dict]:
    here = Path(__file__).resolve().parent.parent / "tests"
    sys.path[:0] = [str(here), str(here / "planning")]
    from plan_support import random_jobs, random_series

    from conftest import TINY_DOC, TINY_SOURCE, build_series
    from suanwang.network.loader import parse_network

    topo = Topology(parse_network(copy.deepcopy(TINY_DOC), TINY_SOURCE))
    rows = []
    for seed in range(seeds):
        jobs = random_jobs(seed, n=n_jobs, span_h=12)
        series = random_series(build_series, topo.network, seed)
        agg = lower_bound(topo, jobs, series)
        book = PriceBook.of_trace(topo, Objective.carbon(), series, 240)
        plan = solve_milp(topo, jobs, book, milp_limit_s)
        row = {"seed": seed, "jobs": n_jobs, "milp_status": plan.status,
               "milp_kg": plan.objective, "aggregated_to_milp": agg.value / plan.objective}
        text = [f"aggregated/MILP {row['aggregated_to_milp']:.4f}"]
        for grid in grids or ["auto"]:
            tag = "" if grid == "auto" else f"_{grid_label(grid)}"
            for slot_s in slots_s:
                t = tight_lower_bound(topo, jobs, series, slot_s=slot_s, time_limit_s=60.0,
                                      class_grid=grid)
                row[f"tight_{slot_s:g}s{tag}_to_milp"] = t.value / plan.objective
                row[f"tight_{slot_s:g}s{tag}_method"] = t.method
                text.append(f"tight({slot_s:g} s{', ' + grid_label(grid) if tag else ''})"
                            f"/MILP {t.value / plan.objective:.4f}"
                            + ("" if t.method == "tight" else f" [{t.method}]"))
        print(f"tiny seed {seed}, {n_jobs} jobs: {'  '.join(text)}  (MILP {plan.status}, "
              f"{plan.n_vars:,} binaries)", flush=True)
        rows.append(row)
    return rows


def scale(topo: Topology, n_jobs: int, seed: int, tight_limit_s: float,
          grid: ClassGrid | str = "auto") -> dict[str, Any]:
    net = topo.network
    jobs = synthetic_jobs(net, n_jobs, 2.0, seed=seed, start_utc=DEFAULT_START)
    series = energy_for(net, jobs, seed, DEFAULT_START, days=2.0)
    t0 = time.perf_counter()
    agg = lower_bound(topo, jobs, series)
    agg_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    c0 = time.process_time()
    tight = tight_lower_bound(topo, jobs, series, time_limit_s=tight_limit_s, class_grid=grid)
    tight_s = time.perf_counter() - t0
    tight_cpu_s = time.process_time() - c0
    out = {"jobs": n_jobs, "sites": len(net.sites), "slots": series.hours,
           "aggregated_s": agg_s, "tight_s": tight_s, "tight_cpu_s": tight_cpu_s,
           "method": tight.method, "class_grid": grid_label(grid),
           "note": tight.note, "tight_to_aggregated": tight.value / agg.value}
    print(f"scale: {n_jobs:,} jobs x {len(net.sites)} sites x {series.hours} slots: aggregated "
          f"{agg_s:.2f} s; tight bound (class grid {grid_label(grid)}) {tight_s:.2f} s wall, "
          f"{tight_cpu_s:.2f} s CPU = {out['tight_to_aggregated']:.4f} x "
          f"aggregated [{tight.method}: {tight.note}]", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=300)
    ap.add_argument("--days", type=float, default=2.0)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--load", type=float, default=0.6, help="offered load (synthetic_jobs)")
    ap.add_argument("--milp-limit", type=float, default=120.0)
    ap.add_argument("--tight-limit", type=float, default=10.0)
    ap.add_argument("--scale-jobs", default="10000,100000")
    ap.add_argument("--tiny", type=int, default=0, help="jobs per tiny-network instance")
    ap.add_argument("--slot-s", default="3600,300", help="tight bound slot lengths (--tiny)")
    ap.add_argument("--class-grid", default="auto",
                    help="tight bound classes (MILP, scale parts): auto, exact or W:R")
    ap.add_argument("--tiny-grids", default="auto",
                    help="comma-separated class grids of the tiny part: auto, exact or W:R")
    ap.add_argument("--skip-milp", action="store_true")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    topo = Topology(load_network())
    grid = parse_grid(args.class_grid)
    out: dict[str, Any] = {}
    if not args.skip_milp:
        rows = [milp_instance(topo, args.jobs, args.days, s, args.milp_limit, 60.0,
                              args.load, grid)
                for s in range(args.seeds)]
        out["milp"] = rows
        done = [r for r in rows if r["milp_status"] == "optimal"]
        if done:
            print(f"MILP optimal on {len(done)}/{len(rows)}: tight/MILP min "
                  f"{min(r['tight_to_milp'] for r in done):.4f}, aggregated/MILP min "
                  f"{min(r['aggregated_to_milp'] for r in done):.4f}")
    if args.tiny:
        out["tiny"] = tiny(args.tiny, args.seeds, [float(x) for x in args.slot_s.split(",")],
                           args.milp_limit,
                           [parse_grid(x) for x in args.tiny_grids.split(",")])
    if not args.skip_scale:
        out["scale"] = [scale(topo, int(n), 0, args.tight_limit, grid)
                        for n in args.scale_jobs.split(",")]
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
