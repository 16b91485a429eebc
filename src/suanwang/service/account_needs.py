"""What an accepted job holds on its tenant's account (issue 12), computed from the network
before the job is placed, so that the check at submission can name a limit.

- `worst_yuan`: the highest bill any provider slice that could ever serve the job could
  charge it (`accounts.worst_case_bill`: units x hours at the dearest price item in force from
  now on, time-of-use at its highest, plus egress; an energy-priced provider at the highest
  hourly electricity cost of a unit at its site), capped by the job's own `max_bill_yuan`.
  At placement the hold is set to the worst case of the slice chosen (`placed_worst_yuan`).
- `carbon_kg`: the job's expected carbon at the dirtiest site that could serve it (the site's
  mean intensity over the service's series), on the basis the tenant's budget binds:
  location-based (the site's intensity of facility power), or market-based (its grid part,
  facility x (1 - mean green share), at the residual-mix factor, as the ledger counts it).
- `unit_h`: units x hours, against the monthly quota; `units` against the units at once.

A job that no slice could ever serve holds nothing: the scheduler rejects it, which releases
the hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from suanwang.accounts.account import LOCATION
from suanwang.accounts.worst_case import worst_case_bill
from suanwang.core.state import Topology
from suanwang.energy.series import EnergySeries
from suanwang.ledger.factors import RESIDUAL_MIX_G_PER_KWH
from suanwang.model import Job, Kind


@dataclass(frozen=True, slots=True)
class Need:
    kind: Kind
    units: int
    duration_s: float
    worst_yuan: float
    carbon_kg: float

    @property
    def unit_h(self) -> float:
        return self.units * self.duration_s / 3600.0


class NeedPricer:
    """Worst cases and expected carbon per slice of one topology and series (cached)."""

    def __init__(self, topology: Topology, series: EnergySeries) -> None:
        self.topology = topology
        self.series = series
        self._energy_max: dict[int, float] = {}
        self._carbon: dict[tuple[int, str], float] = {}

    def _energy_max_yuan_per_unit_h(self, sl: int) -> float:
        got = self._energy_max.get(sl)
        if got is None:
            topo = self.topology
            kw = topo.pool_kw_facility[topo.slice_pool[sl]]
            got = self._energy_max[sl] = kw * float(
                np.max(self.series.price_yuan_per_kwh[topo.slice_site[sl]]))
        return got

    def slice_worst_yuan(self, sl: int, job: Job, start: datetime) -> float:
        prov, kind = self.topology.slices[sl]
        energy = self._energy_max_yuan_per_unit_h(sl) if prov.energy_priced else 0.0
        return worst_case_bill(prov, kind, job.units, job.duration_s, start, job.data_gb,
                               energy)

    def kg_per_unit_h(self, pool: int, basis: str) -> float:
        got = self._carbon.get((pool, basis))
        if got is None:
            topo = self.topology
            site = topo.pool_site[pool]
            kw = topo.pool_kw_facility[pool]
            if basis == LOCATION:
                g = float(np.mean(self.series.intensity_g_per_kwh[site]))
            else:
                g = (1.0 - float(np.mean(self.series.green_share[site]))) \
                    * RESIDUAL_MIX_G_PER_KWH
            got = self._carbon[(pool, basis)] = kw * g / 1000.0
        return got

    def need(self, job: Job, at: datetime, basis: str = LOCATION) -> Need:
        offers = self.topology.offers(job)
        if not offers:
            return Need(job.kind, job.units, job.duration_s, 0.0, 0.0)
        worst = max(self.slice_worst_yuan(o.slice, job, at) for o in offers)
        if job.max_bill_yuan is not None:
            worst = min(worst, job.max_bill_yuan)
        hours = job.duration_s / 3600.0
        carbon = max(self.kg_per_unit_h(o.pool, basis) for o in offers) * job.units * hours
        return Need(job.kind, job.units, job.duration_s, worst, carbon)

    def placed_worst_yuan(self, sl: int, job: Job, start: datetime) -> float:
        worst = self.slice_worst_yuan(sl, job, start)
        return worst if job.max_bill_yuan is None else min(worst, job.max_bill_yuan)


def market_carbon_kg(energy_kwh: float, green_kwh: float) -> float:
    """A finished job's market-based carbon: its grid part at the residual-mix factor."""
    return max(energy_kwh - green_kwh, 0.0) * RESIDUAL_MIX_G_PER_KWH / 1000.0
