"""Hourly green share, carbon intensity and price per site, and forecasts of them."""

from suanwang.energy.forecast import Forecaster, ForecastView
from suanwang.energy.series import HOUR_S, EnergySeries, SupplyMix
from suanwang.energy.simple import simple_energy_series

__all__ = ["HOUR_S", "EnergySeries", "ForecastView", "Forecaster", "SupplyMix",
           "physical_energy_series", "simple_energy_series"]


def __getattr__(name: str) -> object:
    # the physical model imports pvlib and windpowerlib (about a second): only on first use
    if name == "physical_energy_series":
        from suanwang.energy.supply import physical_energy_series

        return physical_energy_series
    raise AttributeError(f"module 'suanwang.energy' has no attribute {name!r}")
