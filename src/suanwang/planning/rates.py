"""The planning unit, a provider slice, and its objective per busy unit-hour in every hour.

The planners and the bounds plan over slices (`Topology.slices`: one provider's share of a
site's pool, `slice_capacity` units, its quota offered to the platform), not over pools: a plan
says which site, which provider and which pool. A network without providers has one slice per
pool, numbered as the pools, so its plans are the plans over pools.

Per slice s and hour h (absolute clock hours slot0 .. slot0 + n - 1):

- `bill_per_unit_h[s, h]`: the tenant's yuan per unit-hour, from the provider's price items
  (`suanwang.pricing.table`), or for an energy-priced provider the electricity cost of a unit
  (kW with PUE x yuan per kWh of the site), as the simulator bills it;
- `objective_per_unit_h[s, h]`: kW x the objective's rate per kWh at the slice's site, plus
  bill weight x the bill (`Objective`).
"""

from __future__ import annotations

import numpy as np

from suanwang.core.state import Topology
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.planning.objective import Objective
from suanwang.pricing.table import PriceTable


def bill_per_unit_h(topo: Topology, table: PriceTable | None, price_yuan_per_kwh: np.ndarray,
                    slot0: int = 0) -> np.ndarray:
    """(slices, n) yuan per unit-hour for hours slot0 .. slot0 + n - 1, n the columns of
    `price_yuan_per_kwh` (sites, n). `table` None: every slice energy-priced."""
    n = price_yuan_per_kwh.shape[1]
    site = np.asarray(topo.slice_site, dtype=np.int64)
    kw = np.asarray(topo.slice_kw_facility, dtype=float)
    out = kw[:, None] * np.asarray(price_yuan_per_kwh, dtype=float)[site]
    priced = ~np.asarray(topo.slice_energy_priced, dtype=bool)
    if table is not None and priced.any() and n > 0:
        table.ensure((slot0 + n) * HOUR_S)
        out[priced] = table.yuan_per_unit_h[np.flatnonzero(priced)][:, slot0:slot0 + n]
    return out


def objective_per_unit_h(topo: Topology, objective: Objective,
                         intensity_g_per_kwh: np.ndarray, price_yuan_per_kwh: np.ndarray,
                         bill: np.ndarray | None) -> np.ndarray:
    """(slices, n) objective units per busy unit-hour; `bill` (slices, n) is needed when the
    objective weighs the tenants' bill."""
    site = np.asarray(topo.slice_site, dtype=np.int64)
    kw = np.asarray(topo.slice_kw_facility, dtype=float)
    out = kw[:, None] * objective.rate_per_kwh(intensity_g_per_kwh, price_yuan_per_kwh)[site]
    if objective.uses_bill:
        if bill is None:
            raise ValueError(f"objective {objective.name} weighs the tenants' bill: "
                             "bill_per_unit_h is needed")
        out = out + objective.bill_weight * bill
    return out


def egress_objective_per_gb(topo: Topology, objective: Objective) -> np.ndarray:
    """(slices,) objective units per GB of a job's input data moved to the slice."""
    return objective.bill_weight * np.asarray(topo.slice_egress, dtype=float)


def series_rates(series: EnergySeries, n_slots: int, slot0: int = 0) -> tuple[np.ndarray, ...]:
    """(intensity g/kWh, price yuan/kWh) per site for absolute hours slot0 .. slot0+n-1; past
    the series' last hour its last value holds (as in accounting)."""
    idx = np.minimum(np.arange(slot0, slot0 + n_slots), series.hours - 1)
    return series.intensity_g_per_kwh[:, idx], series.price_yuan_per_kwh[:, idx]


def trace_rates(topo: Topology, series: EnergySeries, objective: Objective,
                n_slots: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(intensity, price per kWh, bill per unit-hour, objective per unit-hour) over the
    series' hours 0 .. n_slots - 1 (the series' clock)."""
    intensity, price = series_rates(series, n_slots)
    table = PriceTable(topo.slices, series.start_utc, n_slots)
    bill = bill_per_unit_h(topo, table, price)
    return intensity, price, bill, objective_per_unit_h(topo, objective, intensity, price, bill)
