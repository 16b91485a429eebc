"""A run with grid events: the baseline run without them, the ceilings and fill levels it
implies (`grid.calendar`), the run with them, and the measurement (`grid.measure`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from suanwang.energy.series import EnergySeries
from suanwang.grid.calendar import EventPlan, plan_events, power_calendar
from suanwang.grid.event import GridEvent
from suanwang.grid.measure import EventReport, measure
from suanwang.model import Job, Network
from suanwang.sim.engine import ProgressFn
from suanwang.sim.result import SimResult
from suanwang.sim.runner import run


@dataclass(frozen=True)
class GridRun:
    baseline: SimResult  # the same run without the events
    result: SimResult  # the run with them
    plans: list[EventPlan]
    reports: list[EventReport]

    def summary(self) -> dict[str, Any]:
        """The run's summary, with the events' delivery and the differences to the
        baseline."""
        b, r = self.baseline.summary(), self.result.summary()
        return {**r, "grid_events": [e.as_dict() for e in self.reports],
                "without_events": {k: b[k] for k in (
                    "carbon_t", "cost_yuan", "deadline_misses", "latency_violations",
                    "rejected", "energy_kwh")},
                "carbon_change_t": r["carbon_t"] - b["carbon_t"],
                "cost_change_yuan": r["cost_yuan"] - b["cost_yuan"],
                "deadline_misses_added": r["deadline_misses"] - b["deadline_misses"]}


def run_with_events(network: Network, jobs: Sequence[Job], policy: str,
                    events: Sequence[GridEvent], seed: int = 0,
                    series: EnergySeries | None = None, forecast_error: float = 1.0,
                    progress: ProgressFn | None = None) -> GridRun:
    baseline = run(network, jobs, policy, seed=seed, series=series,
                   forecast_error=forecast_error, progress=progress)
    plans = plan_events(tuple(events), baseline)
    result = run(network, jobs, policy, seed=seed, series=baseline.series,
                 forecast_error=forecast_error, progress=progress,
                 power=power_calendar(plans))
    return GridRun(baseline, result, plans, measure(plans, baseline, result))
