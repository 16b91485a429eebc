"""Per-tenant caps in the book (`market.feasibility`, `caps` and `held`) on the tiny market
of tests/market/conftest.py: a bid trades with an ask at a capped slice only while its
tenant has room there for its units (its earlier bids, in id order, reserving theirs); a bid
no market takes because of caps is told `tenant_cap`; the filter reads no price, so a bidder's
report cannot change which asks it may trade with."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np

from suanwang.market.clearing import NO_FEASIBLE_SITE, TENANT_CAP, clear
from suanwang.market.feasibility import build_book

LOCAL_P1, LOCAL_P2 = "p1@local/intelligent", "p2@local/intelligent"


def test_room_is_cap_less_held_less_the_tenants_earlier_bids(market_net, make_bid,
                                                             make_ask) -> None:
    # only local is within 1 ms of east; p1 caps a tenant at 3 cards, p2 has no cap
    bids = [replace(make_bid("a", 50.0, units=2, rtt=1.0), tenant="alice"),
            replace(make_bid("b", 50.0, units=2, rtt=1.0), tenant="alice"),
            replace(make_bid("c", 50.0, units=2, rtt=1.0), tenant="bob")]
    asks = [make_ask("p1", "local", 5.0, units=4), make_ask("p2", "local", 6.0, units=4)]
    book = build_book(market_net, bids, asks, caps={LOCAL_P1: 3})
    # alice's a takes 2 of her 3: b (2 more) is kept off p1; bob has room of his own
    assert book.feasible[:, 0].tolist() == [True, False, True]
    assert book.feasible[:, 1].tolist() == [True, True, True]
    assert book.cap_blocked is not None
    assert book.cap_blocked[:, 0].tolist() == [False, True, False]
    assert not book.cap_blocked[:, 1].any()
    # alice holds 2 there already: none of her bids fits at p1
    held = build_book(market_net, bids, asks, caps={LOCAL_P1: 3},
                      held={("alice", LOCAL_P1): 2})
    assert held.feasible[:, 0].tolist() == [False, False, True]


def test_a_bid_no_market_takes_for_a_cap_is_told_tenant_cap(market_net, make_bid,
                                                            make_ask) -> None:
    bids = [replace(make_bid("a", 50.0, units=2, rtt=1.0), tenant="alice"),
            replace(make_bid("z", 50.0, units=1, rtt=1.0), tenant="bob")]
    asks = [make_ask("p1", "local", 5.0, units=4), make_ask("p2", "local", 6.0, units=4)]
    caps = {LOCAL_P1: 2, LOCAL_P2: 2}
    c = clear(build_book(market_net, bids, asks, caps=caps,
                         held={("alice", LOCAL_P1): 1, ("alice", LOCAL_P2): 2}))
    assert [(u.bid_id, u.units, u.reason) for u in c.unmatched] == [("a", 2, TENANT_CAP)]
    assert "alice" in c.unmatched[0].detail
    assert [(m.bid_id, m.units) for m in c.matches] == [("z", 1)]
    # without the caps the same bid trades; with no ask in reach it is no_feasible_site
    assert {m.bid_id for m in clear(build_book(market_net, bids, asks)).matches} == {"a", "z"}
    far = clear(build_book(market_net, bids, [make_ask("p1", "mid", 5.0, units=3)],
                           caps={"p1@mid/intelligent": 2}))
    assert {u.reason for u in far.unmatched} == {NO_FEASIBLE_SITE}


def test_the_cap_filter_reads_no_price(market_net, make_bid, make_ask) -> None:
    """Over random books, any bid's limit changed leaves `feasible` and `cap_blocked` as
    they were: the set of asks a bid may trade with is not the bidder's to move."""
    rng = random.Random(7)
    sites = ("local", "mid", "west")
    for _ in range(60):
        bids = [replace(make_bid(f"b{k}", rng.uniform(1, 40), units=rng.randint(1, 3),
                                 hours=rng.choice((1.0, 2.0))),
                        tenant=rng.choice(("alice", "bob", "carol"))) for k in range(8)]
        asks = [make_ask(p, s, rng.uniform(1, 20), units=rng.randint(1, 3))
                for s in sites for p in ("p1", "p2")]
        caps = {a.ask_id: rng.randint(1, 4) for a in asks if rng.random() < 0.6}
        held = {(t, a): rng.randint(0, 2) for t in ("alice", "bob") for a in caps}
        base = build_book(market_net, bids, asks, caps=caps, held=held)
        k = rng.randrange(len(bids))
        moved = [*bids]
        moved[k] = replace(bids[k], limit_yuan_per_unit_h=rng.uniform(0.5, 80))
        again = build_book(market_net, moved, asks, caps=caps, held=held)
        assert np.array_equal(base.feasible, again.feasible)
        if caps:
            assert base.cap_blocked is not None and again.cap_blocked is not None
            assert np.array_equal(base.cap_blocked, again.cap_blocked)
        # and no tenant is ever matched over a cap
        c = clear(base)
        got: dict[tuple[str, str], int] = {}
        tenant = {b.bid_id: b.tenant for b in bids}
        for m in c.matches:
            key = (tenant[m.bid_id], m.ask_id)
            got[key] = got.get(key, 0) + m.units
        for (t, a), units in got.items():
            if a in caps:
                assert held.get((t, a), 0) + units <= caps[a]
