"""What a plan minimises: carbon, electricity cost, the tenants' bill, or a mix.

Per busy unit-hour of a planning unit (a provider's slice of a site's pool, see
`suanwang.planning.rates`) in each hour the objective is

    kW_facility x (cost_weight x price_yuan_per_kwh + yuan_per_kg_co2 x intensity / 1000)
        + bill_weight x the provider's yuan per unit-hour,

plus, once per job, bill_weight x its input data x the provider's egress yuan per GB. The
first line is what the simulator charges as carbon and cost (`suanwang.core.accounting`), the
second what it bills the tenant (`suanwang.sim.result`; an energy-priced provider bills the
electricity of its units, so there the bill equals the cost).

Units: kg CO2 for `carbon`; yuan for `cost` (the operator's electricity bill), `bill` (the
tenants' bill: what `cheapest` minimises for each job) and `weighted`. `weighted` is the
operator's mix: yuan per tonne CO2 is its exchange rate (200 yuan/t makes one tonne count like
200 yuan of electricity), and `bill_weight` (yuan per yuan of tenants' bill) adds the tenants'
bill beside it. The default bill weight is 0: `carbon`, `cost` and `weighted(x)` mean what
they meant before providers had prices, and the tenants' bill enters a plan only when asked
for (`bill()`, or `weighted(x, bill_weight=...)`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Objective:
    name: str
    cost_weight: float  # objective units per yuan of electricity
    yuan_per_kg_co2: float  # objective units per kg CO2
    unit: str  # "kg CO2" or "yuan"
    bill_weight: float = 0.0  # objective units per yuan of the tenants' bill

    def __post_init__(self) -> None:
        for field in ("cost_weight", "yuan_per_kg_co2", "bill_weight"):
            value = getattr(self, field)
            if not value >= 0:
                raise ValueError(f"Objective.{field} must be >= 0, got {value}")

    @classmethod
    def carbon(cls) -> Objective:
        return cls("carbon", 0.0, 1.0, "kg CO2")

    @classmethod
    def cost(cls) -> Objective:
        return cls("cost", 1.0, 0.0, "yuan")

    @classmethod
    def bill(cls) -> Objective:
        """The tenants' bill: provider prices over the run, plus egress."""
        return cls("bill", 0.0, 0.0, "yuan", bill_weight=1.0)

    @classmethod
    def weighted(cls, yuan_per_t_co2: float, bill_weight: float = 0.0) -> Objective:
        if not yuan_per_t_co2 >= 0:
            raise ValueError(f"yuan_per_t_co2 must be >= 0, got {yuan_per_t_co2}")
        if not bill_weight >= 0:
            raise ValueError(f"bill_weight must be >= 0, got {bill_weight}")
        name = f"weighted({yuan_per_t_co2:g} yuan/t" + (
            f", bill x{bill_weight:g})" if bill_weight else ")")
        return cls(name, 1.0, yuan_per_t_co2 / 1000.0, "yuan", bill_weight)

    @property
    def uses_bill(self) -> bool:
        return self.bill_weight > 0

    def rate_per_kwh(self, intensity_g_per_kwh: np.ndarray,
                     price_yuan_per_kwh: np.ndarray) -> np.ndarray:
        """Objective units per kWh of facility energy, elementwise (the energy part)."""
        return (self.cost_weight * np.asarray(price_yuan_per_kwh, dtype=float)
                + self.yuan_per_kg_co2 * np.asarray(intensity_g_per_kwh, dtype=float) / 1000.0)
