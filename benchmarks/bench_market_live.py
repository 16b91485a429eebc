"""One live round of the call auction, end to end (a benchmark, not a test; run by hand).

    python benchmarks/bench_market_live.py --bids 1000 --runs 3

A service on a fresh SQLite database (no scheduler thread) takes --bids synthetic bids
(`suanwang.market.synthetic`, tenants t0..t19 without accounts) into one round; then the round
is cleared as the live tick clears it (`MarketDesk.clear_round`): the orders read, the
default asks of every provider slice with free units (the providers' price table built
before, as a running service has it), SBBA, one job per match written with
its bid's outcome, placed, the round's record stored and chained into the ledger, the
placements flushed. Prints, median of --runs fresh databases: the clearing alone (the
`clear_s` of the record) and the whole round's wall time, with the units traded.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from suanwang.market.synthetic import synthetic_bids
from suanwang.service.account_store import Admission
from suanwang.service.app import Service, Settings
from suanwang.service.market_desk import ROUND_S, round_no_at


def one_run(n_bids: int, seed: int) -> tuple[float, float, int, int]:
    with tempfile.TemporaryDirectory() as d:
        tokens = {f"tok-{k}": (f"t{k}", "tenant") for k in range(20)}
        svc = Service(Settings(db_url=f"sqlite:///{Path(d) / 'b.db'}", tokens=tokens,
                               start_scheduler=False, log_dir=Path(d) / "logs"))
        try:
            live = svc.live
            now = ROUND_S * 0.5
            bids = synthetic_bids(live.network, n_bids, seed, svc.clock.at(now))
            no = round_no_at(now)
            for k, b in enumerate(bids):
                body = {"origin": b.origin, "kind": b.kind.value, "units": b.units,
                        "duration_s": b.duration_s, "rtt_bound_ms": b.rtt_bound_ms,
                        "deadline_in_s": b.deadline_s, "data_gb": b.data_gb,
                        "limit_yuan_per_unit_h": b.limit_yuan_per_unit_h,
                        "limit_total_yuan": b.limit_total_yuan,
                        "carbon_cap_kg": b.carbon_cap_kg, "workload": b.workload}
                svc.store.market.add_bid(f"t{k % 20}", body, now, no,
                                         Admission(f"t{k % 20}", "2026-01", lambda _: []),
                                         0.0)
            at = no * ROUND_S
            rows = svc.store.market.open_bids(no)
            live.market.asks(at)  # the price table is built once per service, not per round
            t0 = time.perf_counter()
            with live.lock:
                live.scheduler.advance(at)
                rid = live.market.clear_round(no, rows, at)
                live._flush()
            wall = time.perf_counter() - t0
            rnd = svc.store.market.round(rid)
            assert rnd is not None
            return rnd.clear_s, wall, rnd.units_traded, rnd.units_bid
        finally:
            svc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bids", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    runs = [one_run(args.bids, args.seed + r) for r in range(args.runs)]
    clear_s = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    traded, bid = runs[0][2], runs[0][3]
    print(f"{args.bids} bids x the national network's default asks: clearing "
          f"{clear_s * 1000:.0f} ms, whole round {wall:.2f} s (median of {args.runs}); "
          f"{traded:,} of {bid:,} units traded (first run)")


if __name__ == "__main__":
    main()
