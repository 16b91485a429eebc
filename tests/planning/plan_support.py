"""Helpers of the planning tests: random small traces on the tiny network, and runs.

The tiny network (tests/conftest.py) per busy intelligent unit-hour on its file values:

    site   rtt from east  g CO2   yuan   intelligent units
    local   1             1080    0.9    8
    west   20               84    0.36   10
    mid    10              325    0.585  6
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.model import Job, Kind, Network
from suanwang.planning.context import PolicyContext
from suanwang.policies.registry import make_policy
from suanwang.sim.engine import simulate
from suanwang.sim.result import SimResult

H = HOUR_S


def run_policy(net: Network, jobs: Sequence[Job], name: str, series: EnergySeries,
               forecast_error: float = 0.0, seed: int = 0) -> SimResult:
    forecaster = Forecaster(series, [s.grid_intensity_g_per_kwh for s in net.sites],
                            seed=seed, error_scale=forecast_error)
    policy = make_policy(name, PolicyContext(net, list(jobs), series))
    return simulate(net, list(jobs), policy, series, forecaster)


def random_jobs(seed: int, n: int = 24, span_h: float = 12.0) -> list[Job]:
    """Small jobs from both regions, some real-time (bounds the tiny network can meet), some
    with deadlines of a few hours; light enough that every policy can meet them."""
    rng = np.random.default_rng(seed)
    jobs = []
    for i, t in enumerate(np.sort(rng.uniform(0, span_h * H, n)).tolist()):
        general = bool(rng.integers(2))
        duration = float(rng.integers(10, 180)) * 60.0
        realtime = bool(rng.integers(2))
        jobs.append(Job(
            job_id=f"r{seed}-{i:03d}", tenant="t", origin=("east", "south")[int(rng.integers(2))],
            kind=Kind.GENERAL if general else Kind.INTELLIGENT,
            units=int(rng.integers(1, 20)) if general else int(rng.integers(1, 4)),
            duration_s=duration, submit_s=round(t, 3),
            rtt_bound_ms=30.0 if realtime else None,
            deadline_s=None if realtime else round(t + duration + float(rng.uniform(2, 20)) * H,
                                                   3),
            data_gb=float(rng.choice([0.0, 5.0, 50.0]))))
    return jobs


def random_series(build: object, net: Network, seed: int, hours: int = 72) -> EnergySeries:
    """Each site's green share an independent random walk in [0, 1], prices time-of-use-like."""
    rng = np.random.default_rng(seed)
    green = {s.id: np.clip(s.green_share + np.cumsum(rng.normal(0, 0.12, hours)), 0, 1)
             for s in net.sites}
    price = {s.id: s.price_yuan_per_kwh * (1 + 0.5 * np.sin(np.arange(hours) / 24 * 2 * np.pi
                                                            + rng.uniform(0, 6)))
             for s in net.sites}
    return build(net, hours, green=green, price=price)  # type: ignore[operator]


def feasible_plan(result: SimResult) -> bool:
    """Every job served in time as the bound's model asks: none rejected or late, and
    real-time jobs placed on arrival."""
    if any(s != "done" for s in result.status):
        return False
    return all(j.rtt_bound_ms is None or result.placed_s[i] == j.submit_s
               for i, j in enumerate(result.jobs))
