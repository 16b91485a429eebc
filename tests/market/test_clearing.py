"""SBBA clearing on tiny hand-built markets whose outcome is worked out by hand (see
tests/market/conftest.py for the network: p1 and p2 at 1 yuan/GB form one market per site,
p3 at west is a market of its own at 0.1 yuan/GB)."""

from __future__ import annotations

import random

import pytest

from suanwang.market.clearing import (
    CAPACITY,
    NO_FEASIBLE_SITE,
    PRICE_BELOW_CLEARING,
    TRADE_REDUCTION,
    clear,
)
from suanwang.market.feasibility import build_book
from suanwang.model import Kind


def _clear(net, bids, asks):
    return clear(build_book(net, bids, asks))


def _reasons(c):
    return {(u.bid_id, u.units, u.reason) for u in c.unmatched}


# ---- two buyers, two sellers ---------------------------------------------------------------

def test_buyer_priced_when_no_seller_is_left_over(market_net, make_bid, make_ask) -> None:
    # buyers 10, 8; sellers 3, 5: k = 2 (8 >= 5), s_3 = +inf, so p = b_2 = 8; buyer 10 trades,
    # the k-th buyer (8) is left out, and of the two sellers p2 (its ask id sorts last) too.
    c = _clear(market_net, [make_bid("a", 10.0), make_bid("b", 8.0)],
               [make_ask("p1", "west", 3.0), make_ask("p2", "west", 5.0)])
    (m,) = c.markets
    assert (m.price_yuan_per_unit_h, m.rule, m.units_traded) == (8.0, "buyer-priced", 1)
    (t,) = c.matches
    assert (t.bid_id, t.ask_id, t.units) == ("a", "p1@west/intelligent", 1)
    assert (t.buyer_pays_yuan, t.seller_receives_yuan) == (8.0, 8.0)
    assert _reasons(c) == {("b", 1, TRADE_REDUCTION)}


def test_seller_priced_by_the_cheapest_seller_left_out(market_net, make_bid, make_ask) -> None:
    # buyers 10, 4; sellers 3, 6: k = 1 (4 < 6), s_2 = 6 <= b_1 = 10: p = 6, one trade.
    c = _clear(market_net, [make_bid("a", 10.0), make_bid("b", 4.0)],
               [make_ask("p1", "west", 3.0), make_ask("p2", "west", 6.0)])
    (m,) = c.markets
    assert (m.price_yuan_per_unit_h, m.rule) == (6.0, "seller-priced")
    (t,) = c.matches
    assert (t.bid_id, t.ask_id, t.buyer_pays_yuan, t.seller_receives_yuan) == (
        "a", "p1@west/intelligent", 6.0, 6.0)
    assert _reasons(c) == {("b", 1, PRICE_BELOW_CLEARING)}


def test_transit_is_taken_off_the_buyers_value(market_net, make_bid, make_ask) -> None:
    # a: 10 yuan/unit-h, 6 GB over 1 unit-hour at 1 yuan/GB -> net 4; b: 8, no data -> net 8.
    # Sellers 3, 6: k = 1, p = s_2 = 6 <= 8: b buys at 6; a (net 4 < 6) does not.
    c = _clear(market_net, [make_bid("a", 10.0, data_gb=6.0), make_bid("b", 8.0)],
               [make_ask("p1", "west", 3.0), make_ask("p2", "west", 6.0)])
    (t,) = c.matches
    assert (t.bid_id, t.buyer_pays_yuan, t.transit_yuan) == ("b", 6.0, 0.0)
    assert _reasons(c) == {("a", 1, PRICE_BELOW_CLEARING)}


def test_a_buyer_pays_price_plus_transit_and_the_platform_keeps_nothing(
        market_net, make_bid, make_ask) -> None:
    # a: 12, 2 GB -> net 10; b: 9, 1 GB -> net 8; c: 5 -> net 5. Sellers 3 (2 units), 7.
    # slots b: 10, 8, 5; s: 3, 3, 7. k = 2 (8 >= 3; 5 < 7); s_3 = 7 <= b_2 = 8: p = 7.
    c = _clear(market_net,
               [make_bid("a", 12.0, data_gb=2.0), make_bid("b", 9.0, data_gb=1.0),
                make_bid("c", 5.0)],
               [make_ask("p1", "west", 3.0, units=2), make_ask("p2", "west", 7.0)])
    assert c.markets[0].price_yuan_per_unit_h == 7.0
    pays = {t.bid_id: (t.buyer_pays_yuan, t.seller_receives_yuan, t.transit_yuan)
            for t in c.matches}
    assert pays == {"a": (9.0, 7.0, 2.0), "b": (8.0, 7.0, 1.0)}
    assert c.platform_yuan == pytest.approx(0.0, abs=1e-12)
    assert _reasons(c) == {("c", 1, PRICE_BELOW_CLEARING)}


def test_a_lone_buyer_and_seller_do_not_trade(market_net, make_bid, make_ask) -> None:
    # k = 1, s_2 = +inf: p = b_1 and the k - 1 = 0 highest buyers trade (SBBA needs a price
    # set by someone who does not trade).
    c = _clear(market_net, [make_bid("a", 10.0)], [make_ask("p1", "west", 3.0)])
    assert c.matches == ()
    assert c.markets[0].price_yuan_per_unit_h == 10.0
    assert _reasons(c) == {("a", 1, TRADE_REDUCTION)}


def test_nothing_trades_below_the_lowest_reserve(market_net, make_bid, make_ask) -> None:
    c = _clear(market_net, [make_bid("a", 2.0), make_bid("b", 1.0)],
               [make_ask("p1", "west", 3.0), make_ask("p2", "west", 4.0)])
    assert c.markets[0].price_yuan_per_unit_h is None
    assert c.markets[0].rule == "no-trade"
    assert _reasons(c) == {("a", 1, PRICE_BELOW_CLEARING), ("b", 1, PRICE_BELOW_CLEARING)}


def test_capacity_when_the_offered_units_are_all_taken(market_net, make_bid, make_ask) -> None:
    # one market, 2 units offered at 1 and 2; buyers 10 (3 units), 9: slots 10, 10, 10, 9;
    # k = 2, s_3 = inf: p = b_2 = 10, one buyer slot trades (bid a), one is the marginal one,
    # a's third unit and b are beyond the offered units.
    c = _clear(market_net, [make_bid("a", 10.0, units=3), make_bid("b", 9.0)],
               [make_ask("p1", "west", 1.0), make_ask("p2", "west", 2.0)])
    assert [(t.bid_id, t.units) for t in c.matches] == [("a", 1)]
    assert _reasons(c) == {("a", 1, TRADE_REDUCTION), ("a", 1, CAPACITY), ("b", 1, CAPACITY)}


# ---- routing and feasibility ---------------------------------------------------------------

def test_no_feasible_site_is_reported_with_the_bound(market_net, make_bid, make_ask) -> None:
    c = _clear(market_net, [make_bid("a", 10.0, rtt=0.5)], [make_ask("p1", "west", 3.0)])
    (u,) = c.unmatched
    assert (u.reason, u.units) == (NO_FEASIBLE_SITE, 1)
    assert "rtt_bound_ms 0.5" in u.detail


def test_a_real_time_bid_is_routed_only_within_its_bound(market_net, make_bid, make_ask) -> None:
    # east -> local 1 ms, mid 10, west 20. Bound 15: local or mid; west is out of reach.
    bids = [make_bid(f"b{i}", 10.0, rtt=15.0) for i in range(4)]
    asks = [make_ask(p, s, 1.0, units=2) for p in ("p1", "p2") for s in ("local", "west", "mid")]
    c = _clear(market_net, bids, asks)
    assert c.matches
    assert {t.site_id for t in c.matches} <= {"local", "mid"}
    assert c.market(Kind.INTELLIGENT, "west", 1.0).bids == 0


def test_data_heavy_bids_go_to_the_low_egress_market(market_net, make_bid, make_ask) -> None:
    # at west, p1/p2 charge 1 yuan/GB and p3 0.1: with no list prices, routing is by transit.
    bids = [make_bid(f"b{i}", 20.0, data_gb=10.0) for i in range(3)]
    asks = [make_ask("p1", "west", 1.0), make_ask("p2", "west", 1.0),
            make_ask("p3", "west", 1.0, units=2)]
    c = _clear(market_net, bids, asks)
    assert c.market(Kind.INTELLIGENT, "west", 0.1).bids == 2  # its 2 units, then the next
    assert c.market(Kind.INTELLIGENT, "west", 1.0).bids == 1


# ---- determinism ---------------------------------------------------------------------------

def test_the_same_orders_in_any_order_clear_the_same(market_net, make_bid, make_ask) -> None:
    rng = random.Random(3)
    bids = [make_bid(f"b{i}", rng.uniform(1, 15), units=rng.randint(1, 3),
                     origin=rng.choice(["east", "south"]), data_gb=rng.uniform(0, 4))
            for i in range(12)]
    asks = [make_ask(p, s, rng.uniform(1, 8), units=rng.randint(1, 3))
            for p in ("p1", "p2") for s in ("local", "west", "mid")]
    first = _clear(market_net, bids, asks)
    again = _clear(market_net, bids, asks)
    rng.shuffle(bids)
    rng.shuffle(asks)
    shuffled = _clear(market_net, bids, asks)
    for other in (again, shuffled):
        assert sorted(other.matches, key=repr) == sorted(first.matches, key=repr)
        assert other.unmatched == first.unmatched
        assert ([m.price_yuan_per_unit_h for m in other.markets]
                == [m.price_yuan_per_unit_h for m in first.markets])


def test_an_empty_round_clears_to_nothing(market_net, make_bid, make_ask) -> None:
    only_asks = _clear(market_net, [], [make_ask("p1", "west", 3.0)])
    assert (only_asks.matches, only_asks.unmatched) == ((), ())
    assert only_asks.markets[0].rule == "no-trade"
    only_bids = _clear(market_net, [make_bid("a", 10.0)], [])
    assert only_bids.markets == ()
    assert _reasons(only_bids) == {("a", 1, NO_FEASIBLE_SITE)}
