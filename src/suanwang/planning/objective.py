"""What a plan minimises: carbon, electricity cost, or a mix at an exchange rate.

Every objective is a price per kWh of facility energy in each site-hour,

    rate = cost_weight x price_yuan_per_kwh + yuan_per_kg_co2 x intensity_g_per_kwh / 1000,

so a job's objective is its power (kW, with PUE) times the integral of the rate over its run,
exactly as the simulator charges carbon and cost (`suanwang.core.accounting`). Units: kg CO2
for `carbon`, yuan for `cost` and `weighted` (yuan per tonne CO2 is the operator's exchange
rate: 200 yuan/t makes one tonne count like 200 yuan of electricity).
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

    @classmethod
    def carbon(cls) -> Objective:
        return cls("carbon", 0.0, 1.0, "kg CO2")

    @classmethod
    def cost(cls) -> Objective:
        return cls("cost", 1.0, 0.0, "yuan")

    @classmethod
    def weighted(cls, yuan_per_t_co2: float) -> Objective:
        if not yuan_per_t_co2 >= 0:
            raise ValueError(f"yuan_per_t_co2 must be >= 0, got {yuan_per_t_co2}")
        return cls(f"weighted({yuan_per_t_co2:g} yuan/t)", 1.0, yuan_per_t_co2 / 1000.0, "yuan")

    def rate_per_kwh(self, intensity_g_per_kwh: np.ndarray,
                     price_yuan_per_kwh: np.ndarray) -> np.ndarray:
        """Objective units per kWh of facility energy, elementwise."""
        return (self.cost_weight * np.asarray(price_yuan_per_kwh, dtype=float)
                + self.yuan_per_kg_co2 * np.asarray(intensity_g_per_kwh, dtype=float) / 1000.0)
