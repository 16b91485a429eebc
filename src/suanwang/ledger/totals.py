"""Sums of ledger records: energy, green, CO2 both ways, and CO2 avoided against the origin.

Integer µ-units throughout, so a total is exactly the sum of the records it covers. The two CO2
methods are summed apart and never added to each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from suanwang.ledger.factors import origin_factor
from suanwang.ledger.record import LedgerRecord
from suanwang.ledger.units import MICRO, co2_ukg

Share = tuple[int, int, int, int, int, int, int]
"""What one record adds: IT, facility, green (µkWh), CO2 location, market, and the two
baselines (µkg)."""


def share(r: LedgerRecord) -> Share:
    grid = r.facility_ukwh - r.green_ukwh
    return (r.it_ukwh, r.facility_ukwh, r.green_ukwh, co2_ukg(grid, r.location_mg_per_kwh),
            co2_ukg(grid, r.market_mg_per_kwh),
            co2_ukg(r.facility_ukwh, origin_factor(r.origin).mg_per_kwh),
            co2_ukg(r.facility_ukwh, r.market_mg_per_kwh))


@dataclass
class Totals:
    records: int = 0
    it_ukwh: int = 0
    facility_ukwh: int = 0
    green_ukwh: int = 0
    co2_location_ukg: int = 0
    co2_market_ukg: int = 0
    baseline_location_ukg: int = 0  # the same facility kWh on the origin's grid, no green
    baseline_market_ukg: int = 0  # the same facility kWh at the residual mix, no green
    jobs: set[str] = field(default_factory=set)

    def add(self, r: LedgerRecord) -> None:
        self.add_share(share(r), r.job)

    def add_share(self, c: Share, job: str) -> None:
        """Add a record's `share` (computed once when a record goes into several totals)."""
        self.records += 1
        self.it_ukwh += c[0]
        self.facility_ukwh += c[1]
        self.green_ukwh += c[2]
        self.co2_location_ukg += c[3]
        self.co2_market_ukg += c[4]
        self.baseline_location_ukg += c[5]
        self.baseline_market_ukg += c[6]
        self.jobs.add(job)

    @property
    def grid_ukwh(self) -> int:
        return self.facility_ukwh - self.green_ukwh

    @property
    def green_share(self) -> float:
        return self.green_ukwh / self.facility_ukwh if self.facility_ukwh else 0.0

    @property
    def avoided_location_ukg(self) -> int:
        return self.baseline_location_ukg - self.co2_location_ukg

    @property
    def avoided_market_ukg(self) -> int:
        return self.baseline_market_ukg - self.co2_market_ukg

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers (kWh, kg) for JSON."""
        def q(x: int) -> float:
            return x / MICRO

        return {
            "records": self.records, "jobs": len(self.jobs),
            "it_kwh": q(self.it_ukwh), "facility_kwh": q(self.facility_ukwh),
            "green_kwh": q(self.green_ukwh), "grid_kwh": q(self.grid_ukwh),
            "green_share": self.green_share,
            "co2_location_kg": q(self.co2_location_ukg),
            "co2_market_kg": q(self.co2_market_ukg),
            "baseline_location_kg": q(self.baseline_location_ukg),
            "baseline_market_kg": q(self.baseline_market_ukg),
            "avoided_location_kg": q(self.avoided_location_ukg),
            "avoided_market_kg": q(self.avoided_market_ukg),
        }


def total(records: Iterable[LedgerRecord]) -> Totals:
    t = Totals()
    for r in records:
        t.add(r)
    return t
