"""What the green-power ledger costs a run (a benchmark, not a test; run by hand).

    python benchmarks/bench_ledger.py                   # 40,000 jobs over 7 days
    python benchmarks/bench_ledger.py --jobs 200000 --days 30 --runs 3

Simulates once (green-window on the bundled national network), then times, each the median of
--runs: writing jobs.csv + sites.csv + summary.json + network.json without the ledger; writing
the ledger as before the Merkle log (ledger.jsonl + its head only) and as now (with the tree
and a signed checkpoint per hour); `ledger verify` (chain, then every checkpoint); a job
certificate; the bulletin of the run (figures, charts, pages). Then the certificate bundles of
one job and of the tenant with the most records: their size, the proof's share of it, and the
time `verify-cert` takes to check one offline (median of 30). Prints the ledger's records and
size, and both scaled to 1M jobs.
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

    from suanwang.ledger.build import MARKET_MG_PER_KWH, bulk_lines, columns_from_result
    from suanwang.ledger.bundle import verify_bundle
    from suanwang.ledger.certificate import Subject, build_bundle, build_certificate
    from suanwang.ledger.chain import Chain
    from suanwang.ledger.checkpoint import read_signer
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
        plain = out / "plain"
        plain.mkdir()
        topo = result.topology

        def plain_ledger() -> None:  # what the simulator wrote before the Merkle log
            cols = columns_from_result(result)
            chain = Chain()
            lines = bulk_lines(cols, chain, job_ids=[j.job_id for j in result.jobs],
                               tenants=[j.tenant for j in result.jobs],
                               origins=[j.origin for j in result.jobs],
                               site_ids=topo.site_ids,
                               pool_kinds=[k.value for k in topo.pool_kind],
                               clock_start=result.series.start_utc,
                               market_mg_per_kwh=MARKET_MG_PER_KWH)
            FileLedger(plain).write_lines(lines, chain, {})

        plain_s = timed(plain_ledger, args.runs)
        ledger_s = timed(lambda: write_sim_ledger(result, out), args.runs)
        ledger = FileLedger(out)

        def verify_all() -> None:
            assert ledger.verify().ok
            assert ledger.check_checkpoints(ledger.verifier())[1] is None  # type: ignore[arg-type]

        verify_s = timed(verify_all, args.runs)
        job = next(j.job_id for j, s in zip(demand, result.site, strict=True) if s >= 0)
        cert_s = timed(lambda: build_certificate(ledger, Subject(job=job)), args.runs)
        bulletin_s = timed(lambda: write_bulletin(network_to_dict(net), read_run(out), None,
                                                  out / "bulletin"), args.runs)
        records = ledger.read_head()["records"]  # type: ignore[index]
        size_mb = ledger.path.stat().st_size / 1e6
        plain_mb = (plain / "ledger.jsonl").stat().st_size / 1e6
        cps_mb = ledger.checkpoints_path.stat().st_size / 1e6
        n_cps = len(ledger.checkpoints())
        signer = read_signer(out / "ledger.key")
        verifier = signer.verifier
        per_tenant: dict[str, int] = {}
        for r in ledger.records():
            per_tenant[r.record.tenant] = per_tenant.get(r.record.tenant, 0) + 1
        busiest = max(per_tenant, key=lambda t: per_tenant[t])
        bundles = []
        for label, subject in (("one job", Subject(job=job)),
                               (f"tenant {busiest}, whole run", Subject(tenant=busiest))):
            t0 = time.perf_counter()
            b = build_bundle(ledger, subject, signer)
            build_s = time.perf_counter() - t0
            text = json.dumps(b, indent=2, ensure_ascii=False).encode("utf-8")
            proof = json.dumps([p["inclusion"] for p in b["proof"]["records"]]).encode()
            check_s = timed(lambda text=text: verify_bundle(json.loads(text), verifier), 30)
            bundles.append((label, len(b["records"]), len(text), len(proof), build_s, check_s))
    jobs_m = 1e6 / args.jobs
    print(f"{args.jobs:,} jobs over {args.days:g} days (simulation {sim_s:.1f} s); "
          f"median of {args.runs}")
    print(f"  jobs.csv, sites.csv, summary.json, network.json  {files_s:6.2f} s")
    print(f"  ledger.jsonl alone (before the Merkle log): {plain_mb:,.0f} MB  {plain_s:6.2f} s")
    print(f"  ledger.jsonl: {records:,} records, {size_mb:,.0f} MB, + {n_cps} signed "
          f"checkpoints {cps_mb * 1000:,.0f} kB  {ledger_s:6.2f} s")
    print(f"  ledger verify (chain + every checkpoint)         {verify_s:6.2f} s")
    print(f"  certificate of one job (verifies the ledger)     {cert_s:6.2f} s")
    print(f"  bulletin of the run (verifies the ledger)        {bulletin_s:6.2f} s")
    print(f"  per 1M jobs (scaled): {records * jobs_m / 1e6:.1f}M records, ledger "
          f"{plain_mb * jobs_m / 1000:.2f} GB; writing {plain_s * jobs_m:.0f} s as JSONL "
          f"alone, {ledger_s * jobs_m:.0f} s with the Merkle log and checkpoints")
    for label, n, size, proof, build_s, check_s in bundles:
        print(f"  bundle of {label}: {n:,} records, {size / 1000:,.1f} kB (inclusion proofs "
              f"{proof / 1000:,.1f} kB); issued in {build_s:.2f} s, verified offline in "
              f"{check_s * 1000:.1f} ms")


if __name__ == "__main__":
    main()
