"""Scenario sweeps: the grid policies × seeds × loads × forecast errors, each point a simulation,
run as Ray tasks (a local Ray by default, or a cluster at an address).

A sweep prepares each (seed, load) scenario once (its synthetic demand and energy series, a Ray
task whose result every point of that scenario reads from the object store) and runs each point
as a task of its own, so the points of one scenario share their demand and the points of the
grid spread over the workers. A point's figures are exactly those `suanwang simulate` prints for
the same policy, seed, load, forecast error, days and jobs (the same code runs them; tested).

`run_sweep(..., ray_workers=0)` runs the grid in this process, in order, without Ray (the
baseline the benchmark compares Ray's workers against, and a machine without Ray).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from suanwang.bounds import MAX_RUN_DAYS
from suanwang.energy.models import DEFAULT_ENERGY_MODEL, ENERGY_MODELS
from suanwang.energy.series import EnergySeries
from suanwang.model import Job, Network
from suanwang.policies.registry import OFFLINE_POLICIES, POLICIES
from suanwang.sim.runner import DEFAULT_START, energy_for, run
from suanwang.workload.synthetic import synthetic_jobs

MIN_LOAD, MAX_LOAD = 0.01, 5.0
MAX_POINTS = 10_000  # a grid larger than this is surely a typo (and would not finish)

ProgressFn = Callable[[int, int], None]


class SweepError(ValueError):
    """A sweep was refused: its message names the option and the value."""


@dataclass(frozen=True)
class SweepPoint:
    """One simulation of the grid."""

    policy: str
    seed: int
    load: float
    forecast_error: float


@dataclass(frozen=True)
class SweepSpec:
    """The grid and what every point shares (days and jobs of synthetic demand, energy model).
    Built by `SweepSpec.make`, which refuses a bad value naming the field."""

    policies: tuple[str, ...]
    seeds: tuple[int, ...]
    loads: tuple[float, ...]
    forecast_errors: tuple[float, ...]
    days: float
    jobs: int
    energy: str = DEFAULT_ENERGY_MODEL

    @classmethod
    def make(cls, policies: Sequence[str], seeds: Sequence[int], loads: Sequence[float],
             forecast_errors: Sequence[float], days: float, jobs: int,
             energy: str = DEFAULT_ENERGY_MODEL) -> SweepSpec:
        known = [*POLICIES, *OFFLINE_POLICIES]
        _non_empty("policies", policies)
        for p in policies:
            if p not in known:
                raise SweepError(f"policies: unknown policy {p!r}; choose from: "
                                 f"{', '.join(known)}")
        _non_empty("seeds", seeds)
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise SweepError(f"seeds: {s!r} is not a seed (a whole number >= 0, e.g. 0,1,2)")
        _non_empty("loads", loads)
        for x in loads:
            if not math.isfinite(x) or not MIN_LOAD <= x <= MAX_LOAD:
                raise SweepError(f"loads: {x!r} is out of range (a share of capacity in "
                                 f"[{MIN_LOAD}, {MAX_LOAD}], e.g. 0.5,0.7)")
        _non_empty("forecast-errors", forecast_errors)
        for x in forecast_errors:
            if not math.isfinite(x) or x < 0:
                raise SweepError(f"forecast-errors: {x!r} is out of range (a scale >= 0; "
                                 "0 = perfect forecasts, 1 = the default error, e.g. 0,1)")
        if not math.isfinite(days) or not 0.01 <= days <= MAX_RUN_DAYS:
            raise SweepError(f"days: {days!r} is out of range [0.01, {MAX_RUN_DAYS}]")
        if jobs < 1:
            raise SweepError(f"jobs: {jobs!r} must be at least 1")
        if energy not in ENERGY_MODELS:
            raise SweepError(f"energy: unknown energy model {energy!r}; choose one of: "
                             f"{', '.join(ENERGY_MODELS)}")
        spec = cls(tuple(policies), tuple(seeds), tuple(loads), tuple(forecast_errors),
                   float(days), int(jobs), energy)
        n = len(spec.points())
        if n > MAX_POINTS:
            raise SweepError(f"the grid has {n:,} points (policies × seeds × loads × "
                             f"forecast-errors); at most {MAX_POINTS:,}")
        return spec

    def scenarios(self) -> list[tuple[int, float]]:
        """The (seed, load) pairs: each a demand and an energy series, prepared once."""
        return [(s, x) for s in self.seeds for x in self.loads]

    def points(self) -> list[SweepPoint]:
        """Every point, in the order the results are reported."""
        return [SweepPoint(p, s, x, e) for s in self.seeds for x in self.loads
                for e in self.forecast_errors for p in self.policies]


def _non_empty(field: str, values: Sequence[Any]) -> None:
    if len(values) == 0:
        raise SweepError(f"{field}: give at least one value")
    if len(set(values)) != len(values):
        dup = next(v for i, v in enumerate(values) if v in values[:i])
        raise SweepError(f"{field}: {dup!r} is given twice")


Scenario = tuple[list[Job], EnergySeries]


def prepare_scenario(network: Network, spec: SweepSpec, seed: int, load: float) -> Scenario:
    """The demand and energy series of one (seed, load), as `suanwang simulate` builds them."""
    demand = synthetic_jobs(network, spec.jobs, spec.days, seed=seed, load=load,
                            start_utc=DEFAULT_START)
    series = energy_for(network, demand, seed, DEFAULT_START, days=None, model=spec.energy)
    return demand, series


def run_point(network: Network, scenario: Scenario, point: SweepPoint,
              spec: SweepSpec) -> dict[str, Any]:
    """One row of the sweep's table: the point, then the run's summary."""
    demand, series = scenario
    started = time.perf_counter()
    result = run(network, demand, point.policy, seed=point.seed, series=series,
                 forecast_error=point.forecast_error)
    summary = result.summary()
    return {**asdict(point), "days": spec.days, "jobs_requested": spec.jobs,
            "energy_model": spec.energy, "task_s": time.perf_counter() - started,
            "host_pid": os.getpid(), **{k: v for k, v in summary.items() if k != "policy"}}


def run_sweep(network: Network, spec: SweepSpec, *, address: str | None = None,
              ray_workers: int | None = None,
              progress: ProgressFn | None = None) -> list[dict[str, Any]]:
    """Every point's row, in `spec.points()` order.

    `ray_workers=0`: in this process, without Ray. Otherwise on Ray: the cluster at `address`
    if given (`auto` for the one this machine belongs to), else a local Ray with `ray_workers`
    CPUs (default: all). A Ray this call started is shut down at its end; one already running
    in this process is used as it is."""
    points = spec.points()
    if ray_workers == 0:
        return _run_here(network, spec, points, progress)
    return _run_on_ray(network, spec, points, address, ray_workers, progress)


def _run_here(network: Network, spec: SweepSpec, points: list[SweepPoint],
              progress: ProgressFn | None) -> list[dict[str, Any]]:
    scenarios = {key: prepare_scenario(network, spec, *key) for key in spec.scenarios()}
    rows = []
    for i, p in enumerate(points):
        rows.append(run_point(network, scenarios[(p.seed, p.load)], p, spec))
        if progress is not None:
            progress(i + 1, len(points))
    return rows


def _run_on_ray(network: Network, spec: SweepSpec, points: list[SweepPoint],
                address: str | None, workers: int | None,
                progress: ProgressFn | None) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError:  # pragma: no cover - Ray is a test dependency
        raise SweepError("Ray is not installed (pip install ray), so the sweep cannot run on "
                         "Ray; give --workers 0 to run it in this process") from None
    started_here = not ray.is_initialized()
    if started_here:
        if address is not None:
            ray.init(address=address, log_to_driver=False)
        else:
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
            ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False,
                     log_to_driver=False)
    try:
        prepare = ray.remote(prepare_scenario)
        one = ray.remote(run_point)
        net_ref = ray.put(network)
        spec_ref = ray.put(spec)
        scenario_refs = {key: prepare.remote(net_ref, spec_ref, *key)
                         for key in spec.scenarios()}
        refs = [one.remote(net_ref, scenario_refs[(p.seed, p.load)], p, spec_ref)
                for p in points]
        order = {ref: i for i, ref in enumerate(refs)}
        rows: list[dict[str, Any] | None] = [None] * len(refs)
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                rows[order[ref]] = ray.get(ref)
            if progress is not None:
                progress(len(refs) - len(pending), len(refs))
        return [r for r in rows if r is not None]
    finally:
        if started_here:
            ray.shutdown()
