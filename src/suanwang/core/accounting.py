"""Accounting rules: energy, green energy, carbon and cost of jobs and of site-hours.

A job that runs `units` busy units of a pool from `start_s` to `end_s` draws facility power

    power_kw = units * kw_per_unit * PUE

and its energy is power_kw * (end_s - start_s) / 3600. Green energy, carbon and cost are the
integrals of the site's actual hourly green share, intensity and price over the run, times
power: a job spanning hours is split by hour exactly. The site-hour view charges the same
unit-seconds hour by hour, so the two views add up to the same totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np

from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.model import Job
from suanwang.pricing.bill import Bill, job_bill

if TYPE_CHECKING:
    from suanwang.core.state import Topology


@dataclass(frozen=True)
class JobCharges:
    energy_kwh: np.ndarray
    green_kwh: np.ndarray
    carbon_kg: np.ndarray
    cost_yuan: np.ndarray


def charge_jobs(series: EnergySeries, site_idx: np.ndarray, power_kw: np.ndarray,
                start_s: np.ndarray, end_s: np.ndarray) -> JobCharges:
    """Charges of jobs that ran at `site_idx` with `power_kw` over [start_s, end_s).

    Arrays of equal length; jobs that did not run must be filtered out by the caller.
    """
    site_idx = np.asarray(site_idx, dtype=np.int64)
    power_kw = np.asarray(power_kw, dtype=float)
    hours = (np.asarray(end_s, dtype=float) - np.asarray(start_s, dtype=float)) / HOUR_S

    def over(name: str) -> np.ndarray:
        return (series.integral(name, site_idx, end_s)
                - series.integral(name, site_idx, start_s)) / HOUR_S

    return JobCharges(
        energy_kwh=power_kw * hours,
        green_kwh=power_kw * over("green_share"),
        carbon_kg=power_kw * over("intensity_g_per_kwh") / 1000.0,
        cost_yuan=power_kw * over("price_yuan_per_kwh"),
    )


def busy_unit_seconds_by_hour(units: np.ndarray, start_s: np.ndarray, end_s: np.ndarray,
                              n_hours: int) -> np.ndarray:
    """Unit-seconds busy in each hour 0..n_hours-1, for jobs of one pool.

    Uses U(b) = sum_j units_j * (min(b, end_j) - min(b, start_j)) at hour boundaries b, with
    sum_j u_j * min(b, x_j) computed from sorted x and prefix sums: O(n log n).
    """
    bounds = np.arange(n_hours + 1, dtype=float) * HOUR_S
    units = np.asarray(units, dtype=float)

    def sum_min(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="stable")
        xs = x[order]
        us = units[order]
        cum_ux = np.concatenate([[0.0], np.cumsum(us * xs)])
        cum_u = np.concatenate([[0.0], np.cumsum(us)])
        k = np.searchsorted(xs, bounds, side="left")  # jobs with x < b
        return cum_ux[k] + bounds * (cum_u[-1] - cum_u[k])

    if len(units) == 0:
        return np.zeros(n_hours)
    u_at = sum_min(np.asarray(end_s, dtype=float)) - sum_min(np.asarray(start_s, dtype=float))
    # differences of large prefix sums leave rounding dust; busy time is never negative
    return np.maximum(np.diff(u_at), 0.0)


def slice_bill(topology: Topology, series: EnergySeries, sl: int, job: Job, start_s: float,
               end_s: float) -> Bill:
    """The tenant's bill of `job` run in provider pool `sl` (`Topology.slices`) over
    [start_s, end_s) on the series' clock: the provider's price items in force hour by hour,
    plus egress; an energy-priced provider bills the electricity of its busy units."""
    prov, kind = topology.slices[sl]
    clock = series.start_utc
    energy: list[float] = []
    if prov.energy_priced:
        kw = topology.pool_kw_facility[topology.slice_pool[sl]]
        energy = (kw * series.price_yuan_per_kwh[topology.slice_site[sl]]).tolist()
    return job_bill(prov, kind, job.units, clock + timedelta(seconds=float(start_s)),
                    clock + timedelta(seconds=float(end_s)), job.data_gb, clock, energy)
