"""The call auction's speed and welfare (a benchmark, not a test; run by hand).

    python benchmarks/bench_market.py                      # 10,000 bids, supply 1.1 x demand
    python benchmarks/bench_market.py --supply-ratio 0.8 --runs 5

Draws --bids synthetic bids and one ask per (provider, site, kind) of the bundled national
network (`suanwang.market.synthetic`), then times, each the median of --runs: building the
book (validation, feasibility and transit over all bids x asks) and clearing it (routing, SBBA
per market, pairing). Then the welfare the clearing realised against the offline optimum on
the same bids and asks (HiGHS LP, `suanwang.market.offline`), the fill, and the unmatched
reasons. Last, --truth-trials small markets cut from the synthetic one with multi-unit orders
(1-3 units): the largest gain a single order finds by misreporting its value (the multi-unit
caveat of `suanwang.market.clearing`; for unit orders the tests find none).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bids", type=int, default=10_000)
    ap.add_argument("--supply-ratio", type=float, default=1.1)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--truth-trials", type=int, default=100)
    ap.add_argument("--no-optimum", action="store_true", help="skip the LP (about 45 s)")
    args = ap.parse_args()

    from suanwang.market.clearing import clear
    from suanwang.market.feasibility import build_book
    from suanwang.market.offline import mechanism_welfare_yuan, offline_optimum
    from suanwang.market.synthetic import synthetic_asks, synthetic_bids
    from suanwang.network.loader import load_network

    net = load_network()
    at = datetime(2025, 6, 1, tzinfo=UTC)
    bids = synthetic_bids(net, args.bids, args.seed, at)
    asks = synthetic_asks(net, bids, at, supply_ratio=args.supply_ratio)
    sellers = sum(len(s.providers) for s in net.sites)
    print(f"{len(bids):,} bids x {len(asks)} asks ({len(net.provider_ids())} providers, "
          f"{sellers} provider-sites at {len(net.sites)} sites, 3 kinds), supply "
          f"{args.supply_ratio:g} x demand (capped at quota)")
    t_book, book = timed(lambda: build_book(net, bids, asks), args.runs)
    t_clear, c = timed(lambda: clear(book), args.runs)
    print(f"build book (feasibility, transit): median {t_book * 1e3:.1f} ms of {args.runs}")
    print(f"clear (route + SBBA + pair):       median {t_clear * 1e3:.1f} ms of {args.runs}")
    print(f"book + clear:                      {(t_book + t_clear) * 1e3:.1f} ms")
    markets = [m for m in c.markets if m.bids]
    print(f"markets with bids: {len(markets)} of {len(c.markets)}; "
          f"slowest market {max(m.clear_s for m in c.markets) * 1e3:.2f} ms")
    units_bid = int(book.bid_units.sum())
    units_traded = sum(m.units for m in c.matches)
    print(f"units traded {units_traded:,} of {units_bid:,} bid "
          f"({units_traded / units_bid:.1%}); platform keeps {c.platform_yuan:.2e} yuan")
    reasons = Counter()
    for u in c.unmatched:
        reasons[u.reason] += u.units
    print("unmatched units by reason: "
          + ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items())))
    welfare = mechanism_welfare_yuan(book, c)
    if not args.no_optimum:
        t0 = time.perf_counter()
        opt = offline_optimum(book)
        t_lp = time.perf_counter() - t0
        print(f"welfare {welfare:,.0f} yuan; offline optimum {opt.welfare_yuan:,.0f} yuan "
              f"({opt.pairs:,} pair variables, {t_lp:.1f} s); "
              f"ratio {welfare / opt.welfare_yuan:.4f}")
    else:
        print(f"welfare {welfare:,.0f} yuan")

    rng = random.Random(args.seed)
    largest, trials = 0.0, 0
    for _ in range(args.truth_trials):
        kind = rng.choice([b.kind for b in bids])
        sites = rng.sample([s.id for s in net.sites], 2)
        sub_b = [replace(b, units=rng.randint(1, 3))
                 for b in rng.sample([b for b in bids if b.kind == kind], 6)]
        sub_a = [replace(a, units=rng.randint(1, 3)) for a in asks
                 if a.kind == kind and a.site_id in sites]
        base = clear(build_book(net, sub_b, sub_a))
        who = rng.choice([*sub_b, *sub_a])
        is_bid = who in sub_b
        true_v = who.value_yuan_per_unit_h if is_bid else who.reserve_yuan_per_unit_h

        def utility(cl: Any, who: Any = who, is_bid: bool = is_bid, true_v: float = true_v
                    ) -> float:
            if is_bid:
                return sum((true_v - m.buyer_yuan_per_unit_h) * m.unit_h
                           for m in cl.matches if m.bid_id == who.bid_id)
            return sum((m.seller_yuan_per_unit_h - true_v) * m.unit_h
                       for m in cl.matches if m.ask_id == who.ask_id)

        honest = utility(base)
        pts = [b.value_yuan_per_unit_h for b in sub_b] + [a.reserve_yuan_per_unit_h
                                                           for a in sub_a]
        for x in [p * f for p in pts for f in (0.999999, 1.0, 1.000001)]:
            if is_bid:
                lie = replace(who, limit_yuan_per_unit_h=x, limit_total_yuan=None)
                cl = clear(build_book(net, [lie if b is who else b for b in sub_b], sub_a))
            else:
                lie = replace(who, reserve_yuan_per_unit_h=x)
                cl = clear(build_book(net, sub_b, [lie if a is who else a for a in sub_a]))
            largest = max(largest, utility(cl) - honest)
        trials += 1
    print(f"multi-unit orders (1-3 units), {trials} small markets: largest gain from "
          f"misreporting {largest:.4g} yuan")


if __name__ == "__main__":
    main()
