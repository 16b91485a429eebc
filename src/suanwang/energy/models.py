"""The energy models by name: `physical` (the default) and `simple`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from suanwang.energy.series import EnergySeries
from suanwang.energy.simple import simple_energy_series
from suanwang.model import Network

EnergyModel = Callable[..., EnergySeries]


def _physical(*args: object, **kw: object) -> EnergySeries:
    # pvlib, windpowerlib and scipy take about a second to import: only when used
    from suanwang.energy.supply import physical_energy_series

    return physical_energy_series(*args, **kw)  # type: ignore[arg-type]


ENERGY_MODELS: dict[str, EnergyModel] = {
    "physical": _physical,  # pvlib, windpowerlib, contracted capacities
    "simple": simple_energy_series,  # shapes scaled to the file's annual green shares
}
DEFAULT_ENERGY_MODEL = "physical"


class UnknownEnergyModelError(ValueError):
    pass


def energy_series(model: str, network: Network, start_utc: datetime, hours: int,
                  seed: int = 0) -> EnergySeries:
    """The named model's hourly series for every site of `network`."""
    make = ENERGY_MODELS.get(model)
    if make is None:
        raise UnknownEnergyModelError(
            f"unknown energy model {model!r}; choose one of: {', '.join(ENERGY_MODELS)}")
    return make(network, start_utc, hours, seed=seed)
