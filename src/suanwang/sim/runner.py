"""One call from (network, jobs, policy name) to a result: builds the energy series and the
forecaster the same way for every policy, so that runs compare like with like."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from suanwang.core.power_ceiling import PowerCalendar
from suanwang.energy.forecast import Forecaster
from suanwang.energy.measured import Measured, apply_measured
from suanwang.energy.models import DEFAULT_ENERGY_MODEL, energy_series
from suanwang.energy.series import EnergySeries
from suanwang.model import Job, Network
from suanwang.planning.context import PolicyContext
from suanwang.policies.registry import make_policy
from suanwang.sim.engine import ProgressFn, horizon_hours, simulate
from suanwang.sim.result import SimResult

DEFAULT_START = datetime(2024, 6, 1, tzinfo=timezone(timedelta(hours=8)))


def energy_for(network: Network, jobs: Sequence[Job], seed: int = 0,
               start_utc: datetime = DEFAULT_START, days: float | None = None,
               model: str = DEFAULT_ENERGY_MODEL,
               measured: Measured | None = None) -> EnergySeries:
    """The actual energy series a run on `jobs` needs (long enough for their deadlines), from
    the named energy model, with measured values (if any) in place of the model's."""
    series = energy_series(model, network, start_utc, horizon_hours(jobs, days), seed=seed)
    return series if measured is None else apply_measured(series, measured, network)


def run(network: Network, jobs: Sequence[Job], policy: str, seed: int = 0,
        series: EnergySeries | None = None, forecast_error: float = 1.0,
        progress: ProgressFn | None = None, power: PowerCalendar | None = None) -> SimResult:
    """Simulate `jobs` under the named policy. Same seed, same series, same forecasts.
    With `power`, facility power is held under the grid events' ceilings."""
    series = series if series is not None else energy_for(network, jobs, seed)
    forecaster = Forecaster(series, [s.grid_intensity_g_per_kwh for s in network.sites],
                            seed=seed, error_scale=forecast_error)
    context = PolicyContext(network, jobs, series)  # offline policies read it; online ignore it
    return simulate(network, jobs, make_policy(policy, context), series, forecaster,
                    progress=progress, power=power)
