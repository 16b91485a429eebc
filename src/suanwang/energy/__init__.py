"""Hourly green share, carbon intensity and price per site, and forecasts of them."""

from suanwang.energy.forecast import Forecaster, ForecastView
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.energy.simple import simple_energy_series

__all__ = ["HOUR_S", "EnergySeries", "ForecastView", "Forecaster", "simple_energy_series"]
