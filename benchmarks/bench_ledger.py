"""What the green-power ledger costs a run (a benchmark, not a test; run by hand).

    python benchmarks/bench_ledger.py                   # 40,000 jobs over 7 days
    python benchmarks/bench_ledger.py --jobs 200000 --days 30 --runs 3

Simulates once (green-window on the bundled national network), then times, each the median of
--runs: writing jobs.csv + sites.csv + summary.json + network.json without the ledger; writing
the ledger (ledger.jsonl + its head); `ledger verify`; a job certificate; the bulletin of the
run (figures, charts, pages). Prints the ledger's records and size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def timed(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=40_000)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from suanwang.ledger.certificate import Subject, build_certificate
    from suanwang.ledger.sim_output import write_sim_ledger
    from suanwang.ledger.store import FileLedger
    from suanwang.network import load_network, network_to_dict
    from suanwang.report.bulletin import write_bulletin
    from suanwang.report.run_files import read_run
    from suanwang.sim import DEFAULT_START, run
    from suanwang.sim.output import write_jobs_csv, write_sites_csv
    from suanwang.workload.synthetic import synthetic_jobs

    net = load_network()
    demand = synthetic_jobs(net, args.jobs, args.days, seed=args.seed, start_utc=DEFAULT_START)
    t0 = time.perf_counter()
    result = run(net, demand, "green-window", seed=args.seed)
    sim_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)

        def other_files() -> None:
            write_jobs_csv(result, out / "jobs.csv")
            write_sites_csv(result, out / "sites.csv")
            (out / "summary.json").write_text(json.dumps(result.summary()), encoding="utf-8")
            (out / "network.json").write_text(json.dumps(network_to_dict(net)),
                                              encoding="utf-8")

        files_s = timed(other_files, args.runs)
        ledger_s = timed(lambda: write_sim_ledger(result, out), args.runs)
        ledger = FileLedger(out)
        verify_s = timed(ledger.verify, args.runs)
        job = next(j.job_id for j, s in zip(demand, result.site, strict=True) if s >= 0)
        cert_s = timed(lambda: build_certificate(ledger, Subject(job=job)), args.runs)
        bulletin_s = timed(lambda: write_bulletin(network_to_dict(net), read_run(out), None,
                                                  out / "bulletin"), args.runs)
        records = ledger.read_head()["records"]  # type: ignore[index]
        size_mb = ledger.path.stat().st_size / 1e6
    print(f"{args.jobs:,} jobs over {args.days:g} days (simulation {sim_s:.1f} s); "
          f"median of {args.runs}")
    print(f"  jobs.csv, sites.csv, summary.json, network.json  {files_s:6.2f} s")
    print(f"  ledger.jsonl: {records:,} records, {size_mb:,.0f} MB        {ledger_s:6.2f} s")
    print(f"  ledger verify                                    {verify_s:6.2f} s")
    print(f"  certificate of one job (verifies the ledger)     {cert_s:6.2f} s")
    print(f"  bulletin of the run (verifies the ledger)        {bulletin_s:6.2f} s")


if __name__ == "__main__":
    main()
