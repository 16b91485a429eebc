"""The tenant's bill of one job: `units` of a provider's kind from `start` to `end`, plus the
egress of its input data.

The run is cut at every whole hour; each piece is charged at the item in force at the piece's
start, time-of-use factor applied: a job spanning a price change is billed by both items. An
energy-priced provider (the implicit one of a file without providers) charges, per unit-hour,
the electricity cost of one busy unit in that clock hour instead (`energy_yuan_per_unit_h`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from suanwang.model import Kind, Provider
from suanwang.pricing.tariff import item_in_force, unit_price_at

HOUR_S = 3600.0
ENERGY_ITEM = "energy"
POSTED_ITEM = "posted-price"  # a job billed at its posted quote (`market.billing`)


@dataclass(frozen=True, slots=True)
class BillLine:
    start: datetime
    end: datetime
    item_id: str  # the price item in force ("energy" for an energy-priced provider)
    unit_price_yuan: float  # per unit-hour, time-of-use applied
    unit_h: float  # units x hours of this piece
    cost_yuan: float


@dataclass(frozen=True, slots=True)
class Bill:
    lines: tuple[BillLine, ...]
    compute_yuan: float
    egress_gb: float
    egress_yuan_per_gb: float
    egress_yuan: float

    @property
    def total_yuan(self) -> float:
        return self.compute_yuan + self.egress_yuan


def job_bill(provider: Provider, kind: Kind, units: int, start: datetime, end: datetime,
             data_gb: float = 0.0, clock_start: datetime | None = None,
             energy_yuan_per_unit_h: Sequence[float] = ()) -> Bill:
    """The bill of a run over [start, end) (aware datetimes). For an energy-priced provider
    `energy_yuan_per_unit_h[h]` is the price of clock hour h (hours from `clock_start`)."""
    if end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    lines: list[BillLine] = []
    items = provider.items(kind)
    t = start
    while t < end:
        if provider.energy_priced:
            if clock_start is None:
                raise ValueError("an energy-priced provider needs clock_start")
            h = math.floor((t - clock_start).total_seconds() / HOUR_S + 1e-9)
            nxt = clock_start + timedelta(hours=h + 1)
            series = energy_yuan_per_unit_h
            price = float(series[min(max(h, 0), len(series) - 1)])
            item_id = ENERGY_ITEM
        else:
            nxt = (t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
            item = item_in_force(items, t)
            price = unit_price_at(item, t)
            item_id = item.item_id
        piece_end = min(nxt, end)
        unit_h = units * (piece_end - t).total_seconds() / HOUR_S
        lines.append(BillLine(t, piece_end, item_id, price, unit_h, price * unit_h))
        t = piece_end
    egress = data_gb * provider.egress_yuan_per_gb
    return Bill(tuple(lines), sum(x.cost_yuan for x in lines), data_gb,
                provider.egress_yuan_per_gb, egress)
