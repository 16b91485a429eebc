"""One posted-price revision with the lp_dual scarcity source, on the bundled national network
(a benchmark, not a test; run by hand).

    python benchmarks/bench_posted_revision.py                  # 2,000 waiting jobs
    python benchmarks/bench_posted_revision.py --waiting 5000 --runs 5

The work the scheduler knows at a revision: --waiting deferrable jobs (synthetic demand of a
day, `workload.synthetic`, every job with a deadline, released now) and running jobs holding
--busy-share of every provider slice for the next 0..12 hours (uniform). Times, each the median
of --runs: the slot model's capacity duals over the forecast's horizon (`market.scarcity
.capacity_duals`: windows, classes, HiGHS; the model's memo cleared before each run) and the
revision of every slice's posted prices for the current hour and the next 24 from them
(`sim.market_run.PostedTable`). The revision must stay well below the 15-minute cadence.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--waiting", type=int, default=2000)
    ap.add_argument("--busy-share", type=float, default=0.5)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--yuan-per-t-co2", type=float, default=100.0)
    args = ap.parse_args()

    from suanwang.core.state import Topology
    from suanwang.energy.forecast import Forecaster
    from suanwang.market.scarcity import Demand, capacity_duals
    from suanwang.network.loader import load_network
    from suanwang.planning import model
    from suanwang.sim.market_run import PostedTable
    from suanwang.sim.runner import energy_for
    from suanwang.workload.synthetic import synthetic_jobs

    net = load_network()
    topo = Topology(net)
    now_s = 8 * 3600.0 + 120.0  # 08:02 on the run clock
    drawn = synthetic_jobs(net, args.waiting * 3, 1.0, seed=args.seed)
    jobs = [replace(j, submit_s=now_s, deadline_s=now_s + (j.deadline_s - j.submit_s))
            for j in drawn if j.deadline_s is not None and j.rtt_bound_ms is None]
    jobs = jobs[:args.waiting]
    series = energy_for(net, jobs, args.seed, days=6)
    fc = Forecaster(series, [s.grid_intensity_g_per_kwh for s in net.sites], seed=args.seed)
    rng = np.random.default_rng(args.seed)
    running = [(s, now_s + float(rng.uniform(0, 12)) * 3600.0,
                int(args.busy_share * topo.slice_capacity[s]))
               for s in range(len(topo.slices)) if topo.slice_capacity[s] > 0]
    demand = Demand(topo, now_s, jobs, running, frozenset(), fc.view(now_s))
    table = PostedTable(topo.slices, series.start_utc, series.hours)

    solve_t, revise_t = [], []
    duals = None
    for _ in range(args.runs):
        model._SOLVED.clear()  # time the solve, not the memo
        t0 = time.perf_counter()
        duals = capacity_duals(demand, args.yuan_per_t_co2)
        t1 = time.perf_counter()
        h0 = table.first_hour(now_s)
        target = table.dual_targets(now_s, duals)[:, :25]
        full = np.zeros((len(topo.slices), table.hours - h0))
        full[:, :25] = target
        table.revise(now_s, full)
        t2 = time.perf_counter()
        solve_t.append(t1 - t0)
        revise_t.append(t2 - t1)
    assert duals is not None
    positive = int((duals.yuan_per_unit_h[:, :25] > 1e-9).any(axis=1).sum())
    print(f"network {net.name}: {len(topo.slices)} provider slices, {len(jobs)} waiting jobs, "
          f"running jobs holding {args.busy_share:.0%} of every slice")
    print(f"model: {duals.status}{' (deadlines relaxed)' if duals.relaxed else ''}, "
          f"horizon {duals.yuan_per_unit_h.shape[1]} h; {positive} slices with a positive "
          f"dual in the next 25 hours; max dual "
          f"{float(duals.yuan_per_unit_h.max()):.3f} yuan/unit-h")
    print(f"capacity duals (median of {args.runs}): {statistics.median(solve_t):.3f} s; "
          f"posting {len(topo.slices)} slices x 25 h: {statistics.median(revise_t) * 1e3:.1f} ms;"
          f" total {statistics.median(solve_t) + statistics.median(revise_t):.3f} s "
          f"of the 900 s cadence")


if __name__ == "__main__":
    main()
