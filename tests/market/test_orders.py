"""Bad orders are refused with an error naming the order, the field and the value."""

from __future__ import annotations

import math
from typing import Any

import pytest

from suanwang.errors import InputError
from suanwang.market.feasibility import build_book
from suanwang.market.orders import Ask, Bid
from suanwang.model import Kind

GOOD_BID: dict[str, Any] = dict(bid_id="j1", tenant="t", origin="east", kind=Kind.INTELLIGENT,
                                units=2, duration_s=3600.0, deadline_s=7200.0,
                                limit_yuan_per_unit_h=10.0)


@pytest.mark.parametrize(("change", "field"), [
    # identity
    ({"bid_id": ""}, "bid_id"),
    ({"tenant": " "}, "tenant"),
    ({"origin": ""}, "origin"),
    ({"kind": "gpu"}, "kind"),
    # size
    ({"units": 0}, "units"),
    ({"units": 1.5}, "units"),
    ({"units": True}, "units"),
    ({"duration_s": -1.0}, "duration_s"),
    ({"duration_s": math.nan}, "duration_s"),
    ({"data_gb": -1.0}, "data_gb"),
    # latency class: exactly one of rtt bound and deadline
    ({"rtt_bound_ms": 10.0}, "rtt_bound_ms"),
    ({"deadline_s": None}, "rtt_bound_ms"),
    ({"deadline_s": None, "rtt_bound_ms": 0.0}, "rtt_bound_ms"),
    ({"deadline_s": 1800.0}, "deadline_s"),
    # price limit: exactly one, positive and finite
    ({"limit_total_yuan": 5.0}, "limit_yuan_per_unit_h"),
    ({"limit_yuan_per_unit_h": None}, "limit_yuan_per_unit_h"),
    ({"limit_yuan_per_unit_h": math.inf}, "limit_yuan_per_unit_h"),
    ({"limit_yuan_per_unit_h": None, "limit_total_yuan": -3.0}, "limit_total_yuan"),
    ({"carbon_cap_kg": -0.1}, "carbon_cap_kg"),
])
def test_a_bad_bid_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as err:
        Bid(**{**GOOD_BID, **change})
    assert err.value.field == field
    assert field in str(err.value)
    assert repr(err.value.value) in str(err.value)


def test_a_kind_may_be_given_by_its_value() -> None:
    assert Bid(**{**GOOD_BID, "kind": "hpc"}).kind is Kind.HPC


def test_a_total_limit_is_spread_over_the_unit_hours() -> None:
    b = Bid(**{**GOOD_BID, "limit_yuan_per_unit_h": None, "limit_total_yuan": 50.0,
               "units": 5, "duration_s": 7200.0, "deadline_s": 7200.0})
    assert b.value_yuan_per_unit_h == 5.0  # 50 yuan over 10 unit-hours


@pytest.mark.parametrize(("change", "field"), [
    ({"provider_id": ""}, "provider_id"),
    ({"site_id": ""}, "site_id"),
    ({"kind": "cpu"}, "kind"),
    ({"reserve_yuan_per_unit_h": -1.0}, "reserve_yuan_per_unit_h"),
    ({"units": 0}, "units"),
    ({"list_yuan_per_unit_h": math.nan}, "list_yuan_per_unit_h"),
])
def test_a_bad_ask_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    good = dict(provider_id="p1", site_id="west", kind=Kind.INTELLIGENT,
                reserve_yuan_per_unit_h=3.0, units=2)
    with pytest.raises(InputError) as err:
        Ask(**{**good, **change})
    assert err.value.field == field


@pytest.mark.parametrize(("bids", "asks", "field", "value"), [
    ([{"origin": "north"}], [{}], "origin", "north"),
    ([{}, {}], [{}], "bid_id", "j1"),
    ([{}], [{"site_id": "moon"}], "site_id", "moon"),
    ([{}], [{"provider_id": "p3", "site_id": "mid"}], "provider_id", "p3"),
    ([{}], [{"kind": Kind.HPC, "site_id": "mid"}], "kind", "hpc"),
    ([{}], [{"units": 5}], "units", 5),  # p1 holds 4 of west's 10 cards
    ([{}], [{}, {}], "provider_id", "p1"),
])
def test_orders_the_network_cannot_take_are_refused(market_net, bids, asks, field,
                                                    value) -> None:
    good_ask = dict(provider_id="p1", site_id="west", kind=Kind.INTELLIGENT,
                    reserve_yuan_per_unit_h=3.0, units=1)
    with pytest.raises(InputError) as err:
        build_book(market_net, [Bid(**{**GOOD_BID, **b}) for b in bids],
                   [Ask(**{**good_ask, **a}) for a in asks])
    assert (err.value.field, err.value.value) == (field, value)
