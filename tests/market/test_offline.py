"""The offline welfare optimum on hand-built markets, and the mechanism against it."""

from __future__ import annotations

import pytest

from suanwang.market.clearing import clear
from suanwang.market.feasibility import build_book
from suanwang.market.offline import mechanism_welfare_yuan, offline_optimum


def test_the_optimum_weighs_transit(market_net, make_bid, make_ask) -> None:
    # pair welfare per unit-hour (value - reserve - transit); a carries 6 GB per unit-hour:
    #   a-p1: 10 - 3 - 6 x 1.0 = 1     a-p3: 10 - 5 - 6 x 0.1 = 4.4
    #   b-p1:  8 - 3         = 5       b-p3:  8 - 5           = 3
    # best assignment: a-p3 + b-p1 = 9.4 (the other one gives 4).
    book = build_book(market_net, [make_bid("a", 10.0, data_gb=6.0), make_bid("b", 8.0)],
                      [make_ask("p1", "west", 3.0), make_ask("p3", "west", 5.0)])
    opt = offline_optimum(book)
    assert opt.welfare_yuan == pytest.approx(9.4)
    assert opt.units_traded == pytest.approx(2.0)


def test_hours_and_units_scale_the_welfare(market_net, make_bid, make_ask) -> None:
    # 3 units for 2 h at 10 - 4 = 6 yuan per unit-hour; the ask offers only 2 units: 24 yuan.
    book = build_book(market_net, [make_bid("a", 10.0, units=3, hours=2.0)],
                      [make_ask("p1", "west", 4.0, units=2)])
    assert offline_optimum(book).welfare_yuan == pytest.approx(24.0)


def test_the_mechanism_gives_up_the_reduced_trade(market_net, make_bid, make_ask) -> None:
    # buyers 10, 8; sellers 3, 5 (no transit): optimum 7 + 3 = 10; SBBA trades a with p1 only
    # (see test_clearing): welfare 10 - 3 = 7.
    book = build_book(market_net, [make_bid("a", 10.0), make_bid("b", 8.0)],
                      [make_ask("p1", "west", 3.0), make_ask("p2", "west", 5.0)])
    assert offline_optimum(book).welfare_yuan == pytest.approx(10.0)
    assert mechanism_welfare_yuan(book, clear(book)) == pytest.approx(7.0)


def test_an_infeasible_pair_is_not_in_the_optimum(market_net, make_bid, make_ask) -> None:
    # the only ask is at west, 20 ms from east; a real-time bid bounded at 15 ms cannot use it
    book = build_book(market_net, [make_bid("a", 10.0, rtt=15.0)],
                      [make_ask("p1", "west", 1.0)])
    assert offline_optimum(book).welfare_yuan == 0.0
