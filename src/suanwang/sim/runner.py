"""One call from (network, jobs, policy name) to a result: builds the energy series and the
forecaster the same way for every policy, so that runs compare like with like."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import numpy as np

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
from suanwang.workload.columns import JobColumns, JobList

DEFAULT_START = datetime(2024, 6, 1, tzinfo=timezone(timedelta(hours=8)))


def energy_for(network: Network, jobs: Sequence[Job] | JobColumns, seed: int = 0,
               start_utc: datetime = DEFAULT_START, days: float | None = None,
               model: str = DEFAULT_ENERGY_MODEL,
               measured: Measured | None = None) -> EnergySeries:
    """The actual energy series a run on `jobs` needs (long enough for their deadlines), from
    the named energy model, with measured values (if any) in place of the model's. `jobs`
    may be their columns only (`workload.columns`)."""
    cols = jobs if isinstance(jobs, JobColumns) else \
        jobs.columns if isinstance(jobs, JobList) else None
    hours = horizon_hours(jobs, days) if cols is None else horizon_hours_of(cols, days)
    series = energy_series(model, network, start_utc, hours, seed=seed)
    return series if measured is None else apply_measured(series, measured, network)


def horizon_hours_of(columns: JobColumns, days: float | None = None) -> int:
    """`engine.horizon_hours` of the jobs of `columns`."""
    last = 0.0
    if len(columns):
        deadline = columns.deadline_s[~np.isnan(columns.deadline_s)]
        last = max(last, float(deadline.max()) if len(deadline) else 0.0,
                   float((columns.submit_s + columns.duration_s).max()))
    if days:
        last = max(last, days * 86400.0)
    return math.ceil(last / 3600.0) + 7 * 24


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
