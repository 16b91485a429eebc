"""The tenant bill: price items in force hour by hour (a job spanning a price change is billed
by both), time-of-use, egress, the energy-priced implicit provider; checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from suanwang.model import Docking, Kind, PriceItem, Provider, Sla, TouWindow
from suanwang.pricing import PricingError, job_bill
from suanwang.pricing.table import PriceTable

CST = timezone(timedelta(hours=8))


def provider(items: tuple[PriceItem, ...], egress: float = 0.5,
             energy: bool = False) -> Provider:
    return Provider(id="p", site_id="s", name_zh="p", name_en="p", docking=Docking.API,
                    executor="local", units=((Kind.GENERAL, 100),),
                    quota=((Kind.GENERAL, 100),), prices=items, egress_yuan_per_gb=egress,
                    sla=Sla(0.999, 60.0), energy_priced=energy)


OLD = PriceItem("old", Kind.GENERAL, 0.1, datetime(2024, 1, 1, tzinfo=CST))
NEW = PriceItem("new", Kind.GENERAL, 0.2, datetime(2024, 6, 1, 12, tzinfo=CST))


def test_a_job_spanning_a_price_change_is_billed_by_both_items() -> None:
    # 10 units 10:30-13:30: 1.5 h at 0.1 and 1.5 h at 0.2 = 1.5 + 3.0; 20 GB x 0.5 = 10
    bill = job_bill(provider((OLD, NEW)), Kind.GENERAL, 10,
                    datetime(2024, 6, 1, 10, 30, tzinfo=CST),
                    datetime(2024, 6, 1, 13, 30, tzinfo=CST), data_gb=20.0)
    assert [line.item_id for line in bill.lines] == ["old", "old", "new", "new"]
    assert [line.unit_h for line in bill.lines] == [5.0, 10.0, 10.0, 5.0]
    assert bill.compute_yuan == pytest.approx(4.5)
    assert bill.egress_yuan == pytest.approx(10.0)
    assert bill.total_yuan == pytest.approx(14.5)
    assert sum(line.cost_yuan for line in bill.lines) == pytest.approx(bill.compute_yuan)


def test_time_of_use_applies_by_local_hour() -> None:
    night = PriceItem("n", Kind.GENERAL, 10.0, datetime(2024, 1, 1, tzinfo=CST),
                      (TouWindow(0, 8, 0.5),))
    # 2 units 07:00-09:00 China time: 1 h at 5 and 1 h at 10 -> 2 x 15
    bill = job_bill(provider((night,), egress=0.0), Kind.GENERAL, 2,
                    datetime(2024, 6, 1, 7, tzinfo=CST), datetime(2024, 6, 1, 9, tzinfo=CST))
    assert [line.unit_price_yuan for line in bill.lines] == [5.0, 10.0]
    assert bill.total_yuan == pytest.approx(30.0)


def test_no_item_in_force_is_an_error() -> None:
    with pytest.raises(PricingError, match="no price in force"):
        job_bill(provider((NEW,)), Kind.GENERAL, 1, datetime(2024, 5, 1, tzinfo=CST),
                 datetime(2024, 5, 1, 1, tzinfo=CST))


def test_an_energy_priced_provider_bills_the_electricity_of_each_clock_hour() -> None:
    # 3 units from 0:30 to 1:30 on a clock at 0:00 UTC, 0.5 then 0.7 yuan per unit-hour
    t0 = datetime(2024, 6, 1, tzinfo=UTC)
    bill = job_bill(provider((), egress=0.0, energy=True), Kind.GENERAL, 3,
                    t0 + timedelta(minutes=30), t0 + timedelta(minutes=90), clock_start=t0,
                    energy_yuan_per_unit_h=[0.5, 0.7])
    assert bill.total_yuan == pytest.approx(3 * (0.5 * 0.5 + 0.5 * 0.7))


def test_the_hourly_table_integrates_to_the_same_bill() -> None:
    night = PriceItem("n", Kind.GENERAL, 0.3, datetime(2024, 6, 1, 12, tzinfo=CST),
                      (TouWindow(0, 8, 0.5),))
    prov = provider((OLD, night))
    clock = datetime(2024, 6, 1, 8, tzinfo=CST)
    table = PriceTable([(prov, Kind.GENERAL)], clock, hours=4)
    start_s, end_s = 1800.0, 30 * 3600.0 + 600.0  # grows the table past its 4 hours
    got = float(np.diff(table.integral(np.array([0, 0]), np.array([start_s, end_s])))[0])
    bill = job_bill(prov, Kind.GENERAL, 1, clock + timedelta(seconds=start_s),
                    clock + timedelta(seconds=end_s))
    assert got == pytest.approx(bill.compute_yuan)
    assert table.mean(0, start_s, end_s) == pytest.approx(
        bill.compute_yuan / ((end_s - start_s) / 3600))
