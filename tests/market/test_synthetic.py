"""Synthetic bidders and asks on the bundled national network: seeded, and drawn as the
module documents."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from suanwang.market.synthetic import (
    CLASSES,
    WEAR_YUAN_PER_UNIT_H,
    list_price,
    reference_prices,
    synthetic_asks,
    synthetic_bids,
)
from suanwang.model import Kind
from suanwang.network.loader import load_network

AT = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def national():
    return load_network()


def test_the_same_seed_draws_the_same_bids(national) -> None:
    assert synthetic_bids(national, 200, 3, AT) == synthetic_bids(national, 200, 3, AT)
    assert synthetic_bids(national, 200, 3, AT) != synthetic_bids(national, 200, 4, AT)


def test_values_centre_on_the_class_premium_times_the_list_price(national) -> None:
    bids = synthetic_bids(national, 4000, 1, AT)
    ref = reference_prices(national, AT)
    for c in CLASSES:
        values = [b.value_yuan_per_unit_h for b in bids if b.workload == c.name]
        # the median of lognormal(0, sigma) is 1: the class's median is factor x reference
        assert np.median(values) == pytest.approx(c.value_factor * ref[c.kind], rel=0.1)
        units = [b.units for b in bids if b.workload == c.name]
        assert c.units_lo <= min(units) and max(units) <= c.units_hi


def test_reserve_is_energy_plus_wear_under_the_list_price(national) -> None:
    bids = synthetic_bids(national, 500, 2, AT)
    asks = synthetic_asks(national, bids, AT)
    a = next(x for x in asks if (x.provider_id, x.site_id, x.kind)
             == ("ctyun", "horinger", Kind.INTELLIGENT))
    site = national.site("horinger")
    kw = site.pool(Kind.INTELLIGENT).kw_per_unit
    energy = kw * site.pue * site.price_yuan_per_kwh  # 0.9 kW x 1.2 x 0.32 yuan/kWh
    assert a.reserve_yuan_per_unit_h == pytest.approx(energy + WEAR_YUAN_PER_UNIT_H[
        Kind.INTELLIGENT])
    assert a.list_yuan_per_unit_h == list_price(national, "ctyun", "horinger",
                                                Kind.INTELLIGENT, AT)
    for x in asks:
        assert x.reserve_yuan_per_unit_h <= x.list_yuan_per_unit_h


def test_offered_units_follow_the_supply_ratio(national) -> None:
    bids = synthetic_bids(national, 500, 2, AT)
    asks = synthetic_asks(national, bids, AT, supply_ratio=0.5)
    for kind in Kind:
        demand = sum(b.units for b in bids if b.kind == kind)
        offered = sum(a.units for a in asks if a.kind == kind)
        assert offered == pytest.approx(0.5 * demand, rel=0.05, abs=50)
