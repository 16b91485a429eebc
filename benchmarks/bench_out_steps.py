"""Where the time of one `simulate --out` goes, step by step, in one process (a benchmark, not a
test; run by hand):

    python benchmarks/bench_out_steps.py --jobs 1000000 --days 30 --policy nearest
    PYTHONPATH=OTHER/src python benchmarks/bench_out_steps.py ...   # another checkout

Times (wall and CPU) the steps the command runs: imports, the network, the synthetic demand,
the energy series, the simulation with its accounting, jobs.csv, sites.csv, the invoices, the
ledger (with --ledger) and the summary, writing into a temporary folder (deleted), and prints
the peak memory after each step. The steps run one after the other as `write_run` ran them
before it wrote the invoices beside the rest; `--write-run` times the files as `write_run`
writes them now (one step, its child process's CPU time and peak memory included in the
columns marked "with child").
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

_T0 = time.perf_counter()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=1_000_000)
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--policy", default="nearest")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ledger", action="store_true", help="also time the ledger")
    ap.add_argument("--write-run", action="store_true",
                    help="time the files as write_run writes them (one step)")
    args = ap.parse_args(argv)

    last = [_T0, 0.0]

    def cpu_s() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def step(name: str) -> None:
        now, cpu = time.perf_counter(), cpu_s()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        print(f"| {name} | {now - last[0]:.2f} | {cpu - last[1]:.2f} | {peak_mb:,.0f} | "
              f"{child_mb:,.0f} |", flush=True)
        last[0], last[1] = now, cpu

    print(f"{args.policy}, {args.jobs:,} jobs over {args.days:g} days, seed {args.seed}\n")
    print("| step | wall s | CPU s (with child) | peak MB so far | child peak MB |\n"
          "| --- | ---: | ---: | ---: | ---: |")
    import suanwang.cli  # noqa: F401  (what the command imports)
    from suanwang.ledger.sim_output import write_sim_ledger
    from suanwang.network.loader import load_network
    from suanwang.sim.invoices import write_invoices
    from suanwang.sim.output import write_jobs, write_sites_csv
    from suanwang.sim.runner import DEFAULT_START, energy_for, run
    from suanwang.workload.synthetic import synthetic_jobs
    step("imports")
    net = load_network(None)
    step("network")
    jobs = synthetic_jobs(net, args.jobs, args.days, seed=args.seed, start_utc=DEFAULT_START)
    step("demand")
    series = energy_for(net, jobs, args.seed, days=args.days)
    step("energy series")
    result = run(net, jobs, args.policy, seed=args.seed, series=series)
    step("simulation")
    out = Path(tempfile.mkdtemp(prefix="bench_out_steps_"))
    if args.write_run:
        from suanwang.sim.output import write_run
        try:
            write_run(result, out, {}, ledger=args.ledger)
            step("write_run (every file)")
        finally:
            shutil.rmtree(out, ignore_errors=True)
        print(f"\ntotal {time.perf_counter() - _T0:.1f} s", file=sys.stderr)
        return
    try:
        write_jobs(result, out / "jobs.csv")
        step("jobs.csv")
        write_sites_csv(result, out / "sites.csv")
        step("sites.csv")
        write_invoices(result, out)
        step("invoices")
        if args.ledger:
            write_sim_ledger(result, out)
            step("ledger")
        result.summary()
        step("summary")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - _T0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
