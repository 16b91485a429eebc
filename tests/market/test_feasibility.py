"""Which pairs can trade, and the transit cost per unit-hour, on the tiny market network."""

from __future__ import annotations

import pytest

from suanwang.market.feasibility import build_book

SITES = ("local", "west", "mid")


def _asks(make_ask):
    return [make_ask("p1", s, 1.0) for s in SITES]


def _feasible_sites(book) -> list[str]:
    return [a.site_id for a, ok in zip(book.asks, book.feasible[0], strict=True) if ok]


@pytest.mark.parametrize(("origin", "rtt", "sites"), [
    ("east", 0.5, []),                        # local is 1.0 ms away
    ("east", 1.0, ["local"]),                 # the bound is inclusive
    ("east", 15.0, ["local", "mid"]),         # west is 20
    ("east", 20.0, ["local", "west", "mid"]),
    ("south", 12.0, ["mid"]),                 # south: local 25, mid 12, west 30
])
def test_the_round_trip_bound(market_net, make_bid, make_ask, origin, rtt, sites) -> None:
    book = build_book(market_net, [make_bid("a", 10.0, rtt=rtt, origin=origin)],
                      _asks(make_ask))
    assert _feasible_sites(book) == sites


@pytest.mark.parametrize(("deadline_s", "feasible"), [(3739.0, False), (3740.0, True)])
def test_the_deadline_counts_sla_start_and_transfer(market_net, make_bid, make_ask,
                                                    deadline_s, feasible) -> None:
    # south -> west at 10 Gbps: 100 GB take 80 s; SLA start 60 s; the job runs 3600 s.
    b = make_bid("a", 10.0, origin="south", deadline_h=deadline_s / 3600.0, data_gb=100.0)
    book = build_book(market_net, [b], [make_ask("p1", "west", 1.0)])
    assert bool(book.feasible[0, 0]) is feasible


def test_the_carbon_cap(market_net, make_bid, make_ask) -> None:
    # 1 card for 1 h = 1 kWh of IT power; kg CO2 = PUE x grid x (1 - green) / 1000:
    # local 1.5 x 800 x 0.9 = 1.08, west 1.2 x 700 x 0.1 = 0.084, mid 1.3 x 500 x 0.5 = 0.325.
    book = build_book(market_net, [make_bid("a", 10.0, carbon_cap_kg=0.325)], _asks(make_ask))
    assert _feasible_sites(book) == ["west", "mid"]


def test_another_kind_never_trades(market_net, make_bid, make_ask) -> None:
    from suanwang.model import Kind

    book = build_book(market_net, [make_bid("a", 10.0, kind=Kind.GENERAL)], _asks(make_ask))
    assert _feasible_sites(book) == []


def test_transit_is_egress_times_data_per_unit_hour(market_net, make_bid, make_ask) -> None:
    # 6 GB over 2 units x 3 h = 1 GB per unit-hour; p1 charges 1 yuan/GB, p3 0.1.
    book = build_book(market_net, [make_bid("a", 10.0, units=2, hours=3.0, data_gb=6.0)],
                      [make_ask("p1", "west", 1.0), make_ask("p3", "west", 1.0)])
    assert book.transit_yuan_per_unit_h[0].tolist() == pytest.approx([1.0, 0.1])
