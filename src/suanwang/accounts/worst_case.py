"""The worst-case bill of a job: what is held against the balance at placement.

units x hours x the highest unit price the provider could charge for the kind from the start
on (the item in force at the start and every later one, each at its highest time-of-use
factor), plus egress for the input data. An energy-priced provider is held at its highest
hourly electricity cost per unit over the run, which the caller passes.
"""

from __future__ import annotations

from datetime import datetime

from suanwang.model import Kind, Provider
from suanwang.pricing.tariff import item_in_force


def worst_case_bill(provider: Provider, kind: Kind, units: int, duration_s: float,
                    start: datetime, data_gb: float = 0.0,
                    energy_max_yuan_per_unit_h: float = 0.0) -> float:
    hours = duration_s / 3600.0
    if provider.energy_priced:
        top = energy_max_yuan_per_unit_h
    else:
        items = provider.items(kind)
        first = item_in_force(items, start)
        later = [i for i in items if i.effective_from > start]
        top = max(i.yuan_per_unit_h * max([1.0, *(w.factor for w in i.tou)])
                  for i in [first, *later])
    return units * hours * top + data_gb * provider.egress_yuan_per_gb
