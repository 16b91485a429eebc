"""Properties of the clearing on randomised tiny markets (fixed seeds): individual
rationality, budget balance, feasibility of every match, conservation of units, welfare at
most the offline optimum, and truthfulness -- no unit-demand bidder or unit-supply seller
gains by misreporting its value (the largest gain found over the trials is printed; run with
`-s` to see it)."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from suanwang.market.clearing import Clearing, clear
from suanwang.market.feasibility import Book, build_book
from suanwang.market.offline import mechanism_welfare_yuan, offline_optimum
from suanwang.market.orders import Ask, Bid

SITES = ("local", "west", "mid")
SELLERS = [("p1", "local"), ("p2", "local"), ("p1", "west"), ("p2", "west"), ("p3", "west"),
           ("p1", "mid"), ("p2", "mid")]
TRIALS = 300
EPS = 1e-9


def _market(rng: random.Random, make_bid, make_ask, *, unit: bool):
    n_bids = rng.randint(1, 8)
    bids = []
    for i in range(n_bids):
        realtime = rng.random() < 0.3
        bids.append(make_bid(
            f"b{i}", rng.uniform(0.5, 15.0), units=1 if unit else rng.randint(1, 3),
            hours=rng.choice([1.0, 2.0, 0.5]), origin=rng.choice(["east", "south"]),
            rtt=rng.uniform(0.5, 30.0) if realtime else None,
            data_gb=rng.choice([0.0, rng.uniform(0.0, 6.0)])))
    sellers = rng.sample(SELLERS, rng.randint(1, len(SELLERS)))
    asks = [make_ask(p, s, rng.uniform(0.5, 10.0), units=1 if unit else rng.randint(1, 2))
            for p, s in sellers]
    return bids, asks


def _check_invariants(book: Book, c: Clearing) -> None:
    bid_of = {b.bid_id: (i, b) for i, b in enumerate(book.bids)}
    ask_of = {a.ask_id: (j, a) for j, a in enumerate(book.asks)}
    bought = dict.fromkeys(bid_of, 0)
    sold = dict.fromkeys(ask_of, 0)
    for m in c.matches:
        i, b = bid_of[m.bid_id]
        j, a = ask_of[m.ask_id]
        assert book.feasible[i, j], "an infeasible pair traded"
        # individual rationality: nobody pays above its limit or is paid below its reserve
        assert m.buyer_yuan_per_unit_h <= b.value_yuan_per_unit_h + EPS
        assert m.seller_yuan_per_unit_h >= a.reserve_yuan_per_unit_h - EPS
        assert m.transit_yuan_per_unit_h == pytest.approx(book.transit_yuan_per_unit_h[i, j])
        bought[m.bid_id] += m.units
        sold[m.ask_id] += m.units
    # weak budget balance: the platform never pays in (here it also keeps nothing)
    assert c.platform_yuan >= -1e-6
    assert abs(c.platform_yuan) <= 1e-6
    left = dict.fromkeys(bid_of, 0)
    for u in c.unmatched:
        left[u.bid_id] += u.units
    for bid_id, (_, b) in bid_of.items():
        assert bought[bid_id] + left[bid_id] == b.units
    for ask_id, (_, a) in ask_of.items():
        assert sold[ask_id] <= a.units


def test_invariants_hold_on_random_markets(market_net, make_bid, make_ask) -> None:
    rng = random.Random(11)
    ratios = []
    for _ in range(TRIALS):
        bids, asks = _market(rng, make_bid, make_ask, unit=rng.random() < 0.5)
        book = build_book(market_net, bids, asks)
        c = clear(book)
        _check_invariants(book, c)
        welfare = mechanism_welfare_yuan(book, c)
        best = offline_optimum(book).welfare_yuan
        assert welfare <= best + 1e-6
        assert welfare >= -1e-9  # every trade is at a price between value and cost
        if best > 0:
            ratios.append(welfare / best)
    print(f"\nwelfare / offline optimum over {len(ratios)} tiny markets: "
          f"mean {np.mean(ratios):.3f}, min {min(ratios):.3f}")


def _utility(c: Clearing, who: Bid | Ask, true_value: float) -> float:
    if isinstance(who, Bid):
        return sum((true_value - m.buyer_yuan_per_unit_h) * m.unit_h
                   for m in c.matches if m.bid_id == who.bid_id)
    return sum((m.seller_yuan_per_unit_h - true_value) * m.unit_h
               for m in c.matches if m.ask_id == who.ask_id)


EGRESS = (1.0, 0.1)  # the egress rates of the tiny market's providers


def _misreports(rng: random.Random, who: Bid | Ask, bids: list[Bid],
                asks: list[Ask]) -> list[float]:
    """Reports at and just around every point where the outcome can change -- the others'
    values net of transit and reserves, shifted by `who`'s own transit in each market -- and a
    few at random."""
    pts = [b.value_yuan_per_unit_h - b.data_gb_per_unit_h * e for b in bids for e in EGRESS
           if b is not who]
    pts += [a.reserve_yuan_per_unit_h for a in asks if a is not who]
    own = [who.data_gb_per_unit_h * e for e in EGRESS] if isinstance(who, Bid) else [0.0]
    out = [0.0, 0.01, 100.0] + [rng.uniform(0.0, 16.0) for _ in range(6)]
    for p in pts:
        for t in own:
            out += [p + t - 1e-6, p + t, p + t + 1e-6]
    return [max(0.0, x) for x in out]


def _largest_gain(market_net, make_bid, make_ask, *, unit: bool, trials: int,
                  seed: int) -> float:
    rng = random.Random(seed)
    largest = 0.0
    for _ in range(trials):
        bids, asks = _market(rng, make_bid, make_ask, unit=unit)
        agents: list[Bid | Ask] = [*bids, *asks]
        who = rng.choice(agents)
        truthful = clear(build_book(market_net, bids, asks))
        if isinstance(who, Bid):
            true_value = who.value_yuan_per_unit_h
        else:
            true_value = who.reserve_yuan_per_unit_h
        honest = _utility(truthful, who, true_value)
        assert honest >= -EPS  # individual rationality of the truthful report
        for x in _misreports(rng, who, bids, asks):
            if isinstance(who, Bid):
                if x <= 0:
                    continue
                lie = replace(who, limit_yuan_per_unit_h=x)
                c = clear(build_book(market_net, [lie if b is who else b for b in bids], asks))
            else:
                lie = replace(who, reserve_yuan_per_unit_h=x)
                c = clear(build_book(market_net, bids, [lie if a is who else a for a in asks]))
            largest = max(largest, _utility(c, who, true_value) - honest)
    return largest


def test_no_unit_trader_gains_by_misreporting(market_net, make_bid, make_ask) -> None:
    gain = _largest_gain(market_net, make_bid, make_ask, unit=True, trials=TRIALS, seed=5)
    print(f"\nlargest gain from misreporting over {TRIALS} trials (unit orders): {gain:.3g} yuan")
    assert gain <= 1e-9


def _sbba_by_the_book(values: list[float], reserves: list[float]) -> tuple[float | None, int]:
    """SBBA on explicit unit slots, as the paper states it: (price, slots traded)."""
    b = sorted(values, reverse=True)
    s = sorted(reserves)
    k = 0
    while k < min(len(b), len(s)) and b[k] >= s[k]:
        k += 1
    if k == 0:
        return None, 0
    s_next = s[k] if k < len(s) else float("inf")
    return (s_next, k) if s_next <= b[k - 1] else (b[k - 1], k - 1)


def test_the_vectorised_clearing_agrees_with_sbba_on_explicit_slots(
        market_net, make_bid, make_ask) -> None:
    rng = random.Random(23)
    for _ in range(TRIALS):
        bids = [make_bid(f"b{i}", round(rng.uniform(1, 12), 1), units=rng.randint(1, 4),
                         data_gb=rng.choice([0.0, 1.0, 2.5]))
                for i in range(rng.randint(1, 7))]
        asks = [make_ask(p, "west", round(rng.uniform(1, 10), 1), units=rng.randint(1, 4))
                for p in rng.sample(["p1", "p2"], rng.randint(1, 2))]
        book = build_book(market_net, bids, asks)
        (m,) = clear(book).markets
        values = [b.value_yuan_per_unit_h - b.data_gb_per_unit_h * 1.0
                  for b in bids for _ in range(b.units)]
        reserves = [a.reserve_yuan_per_unit_h for a in asks for _ in range(a.units)]
        price, traded = _sbba_by_the_book(values, reserves)
        assert m.units_traded == traded
        if price is None:
            assert m.price_yuan_per_unit_h is None
        else:
            assert m.price_yuan_per_unit_h == pytest.approx(price)
