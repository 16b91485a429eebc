"""Tenant accounts: each limit refused naming the limit and by how much; hold at placement,
settle at the end; carbon budgets on the chosen basis; months; the worst-case hold; the
record of every change."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from suanwang.accounts import (
    Limits,
    check,
    hold,
    open_account,
    release,
    set_limits,
    settle,
    top_up,
    worst_case_bill,
)
from suanwang.model import Docking, Kind, PriceItem, Provider, Sla, TouWindow

CST = timezone(timedelta(hours=8))
T = datetime(2024, 6, 10, 12, tzinfo=CST)
AI, G = Kind.INTELLIGENT, Kind.GENERAL


def test_balance_hold_and_settle() -> None:
    acc = open_account("t", T, balance_yuan=100.0)
    acc = hold(acc, "j1", AI, 2, 3600.0, 30.0, T)
    assert acc.available_yuan == 70.0 and acc.balance_yuan == 100.0
    refusal = check(acc, AI, 1, 3600.0, 80.0, T)
    assert refusal is not None and refusal.limit == "balance"
    assert refusal.over_by == pytest.approx(10.0)
    assert "over the balance limit by 10 yuan" in str(refusal)
    acc = settle(acc, "j1", 24.5, 2.0, T + timedelta(hours=1), carbon_location_kg=3.0,
                 carbon_market_kg=1.0)
    assert acc.balance_yuan == pytest.approx(75.5) and acc.available_yuan == pytest.approx(75.5)
    assert [e.what for e in acc.record] == ["open", "hold", "settle"]
    assert sum(e.yuan for e in acc.record) == pytest.approx(acc.balance_yuan)


def test_units_at_once_and_unit_hours_per_month() -> None:
    limits = Limits(units_at_once=((AI, 4),), unit_h_per_month=((G, 100.0),))
    acc = open_account("t", T, 1e6, limits)
    acc = hold(acc, "a", AI, 3, 3600.0, 1.0, T)
    r = check(acc, AI, 2, 3600.0, 1.0, T)
    assert r is not None and r.limit == "units at once (intelligent)" and r.over_by == 1
    acc = hold(acc, "g", G, 40, 2 * 3600.0, 1.0, T)  # 80 core-hours held
    r = check(acc, G, 30, 3600.0, 1.0, T)
    assert r is not None and r.limit == "unit-hours per month (general, 2024-06)"
    assert r.over_by == pytest.approx(10.0)
    # next month the budget is fresh
    assert check(acc, G, 30, 3600.0, 1.0, datetime(2024, 7, 1, tzinfo=CST)) is None
    acc = release(acc, "a", T, "cancelled")
    assert check(acc, AI, 4, 3600.0, 1.0, T) is None


@pytest.mark.parametrize(("basis", "refused"), [("location", True), ("market", False)])
def test_the_carbon_budget_binds_on_the_chosen_basis(basis: str, refused: bool) -> None:
    acc = open_account("t", T, 1e6, Limits(carbon_kg_per_month=10.0, carbon_basis=basis))
    acc = hold(acc, "j", AI, 1, 3600.0, 1.0, T, carbon_kg=0.0)
    acc = settle(acc, "j", 1.0, 1.0, T, carbon_location_kg=8.0, carbon_market_kg=2.0)
    assert acc.carbon_kg("2024-06", "location") == 8.0
    assert acc.carbon_kg("2024-06", "market") == 2.0
    r = check(acc, AI, 1, 3600.0, 1.0, T, carbon_kg=5.0)
    assert (r is not None) == refused
    if r is not None:
        assert r.limit == "carbon budget (location-based, 2024-06)"
        assert r.over_by == pytest.approx(3.0)


def test_a_hold_that_breaks_a_limit_raises_naming_it() -> None:
    acc = open_account("t", T, 5.0)
    with pytest.raises(ValueError, match="over the balance limit by 1 yuan"):
        hold(acc, "j", AI, 1, 3600.0, 6.0, T)


def test_top_ups_and_limit_changes_are_recorded() -> None:
    acc = top_up(open_account("t", T), 50.0, T, by="operator")
    acc = set_limits(acc, Limits(units_at_once=((AI, 2),)), T, by="operator")
    assert acc.balance_yuan == 50.0
    assert [(e.what, e.yuan) for e in acc.record] == [("open", 0.0), ("top_up", 50.0),
                                                       ("limits", 0.0)]
    with pytest.raises(ValueError):
        top_up(acc, -1.0, T)
    with pytest.raises(ValueError):
        Limits(carbon_basis="vibes")


def test_worst_case_bill_takes_the_highest_price_from_the_start_on() -> None:
    items = (PriceItem("a", AI, 10.0, datetime(2024, 1, 1, tzinfo=CST), (TouWindow(8, 20, 1.5),)),
             PriceItem("b", AI, 12.0, datetime(2024, 6, 11, tzinfo=CST)),
             PriceItem("c", AI, 8.0, datetime(2024, 6, 12, tzinfo=CST)))
    prov = Provider("p", "s", "p", "p", Docking.API, "local", ((AI, 10),), ((AI, 10),), items,
                    0.5, Sla(0.999, 60.0))
    # from T: a (10 x 1.5 at peak), b 12, c 8: the worst is 15 per card-hour
    assert worst_case_bill(prov, AI, 2, 3 * 3600.0, T, data_gb=4.0) == pytest.approx(
        2 * 3 * 15.0 + 4 * 0.5)
    # from June 12 only c is in force or later
    assert worst_case_bill(prov, AI, 1, 3600.0, datetime(2024, 6, 12, 1, tzinfo=CST)) == 8.0
