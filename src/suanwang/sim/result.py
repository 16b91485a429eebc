"""What a simulation run produced: per-job outcomes and charges, per site-hour load, totals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from suanwang.core.accounting import busy_unit_seconds_by_hour, charge_jobs
from suanwang.core.state import Topology
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.memory_trim import give_back
from suanwang.model import Job, Network
from suanwang.pricing.table import PriceTable
from suanwang.workload.columns import JobColumns

DONE, LATE, REJECTED = "done", "late", "rejected"


@dataclass
class SimResult:
    policy_name: str
    network: Network
    jobs: Sequence[Job]
    series: EnergySeries
    topology: Topology
    site: np.ndarray  # site index per job, -1 if rejected
    pool: np.ndarray  # pool index per job, -1 if rejected
    placed_s: np.ndarray
    start_s: np.ndarray  # compute start (after the data transfer); NaN if rejected
    end_s: np.ndarray
    transfer_s: np.ndarray
    rtt_ms: np.ndarray  # NaN if rejected
    status: list[str]
    energy_kwh: np.ndarray  # zeros for rejected jobs
    green_kwh: np.ndarray
    carbon_kg: np.ndarray
    cost_yuan: np.ndarray
    deferrals: np.ndarray
    reasons: dict[int, str]
    wall_s: float
    slice: np.ndarray | None = None  # provider pool (Topology.slices) per job, -1 if rejected
    compute_bill_yuan: np.ndarray | None = None  # the tenant's bill for compute
    egress_yuan: np.ndarray | None = None  # the tenant's bill for moving its input data in

    @property
    def bill_yuan(self) -> np.ndarray:
        """The tenant's bill per job: the price items in force over its run, plus egress
        (zeros for rejected jobs)."""
        assert self.compute_bill_yuan is not None and self.egress_yuan is not None
        return self.compute_bill_yuan + self.egress_yuan

    @cached_property
    def job_columns(self) -> JobColumns:
        """The jobs' fields as columns (`workload.columns`)."""
        return JobColumns.of(self.jobs)

    def provider_of(self, i: int) -> str:
        """The provider job i ran with ("" if it did not run)."""
        if self.slice is None or self.slice[i] < 0:
            return ""
        return self.topology.slice_provider[int(self.slice[i])]

    @classmethod
    def build(cls, *, network: Network, jobs: Sequence[Job], policy_name: str,
              series: EnergySeries, topology: Topology, site: np.ndarray, pool: np.ndarray,
              placed_s: np.ndarray, transfer_s: np.ndarray, deferrals: np.ndarray,
              reasons: dict[int, str], rejected: dict[int, str], wall_s: float,
              slice_idx: np.ndarray | None = None) -> SimResult:
        """The result of a run from what its recorder kept (`reasons` is taken over: the
        rejections are added to it)."""
        n = len(jobs)
        cols = JobColumns.of(jobs)
        duration = cols.duration_s
        units = cols.units.astype(float)
        deadline = np.where(np.isnan(cols.deadline_s), np.inf, cols.deadline_s)
        if slice_idx is None:  # one provider per pool: the pool's first
            slice_idx = np.array([topology.pool_slices[p][0] if p >= 0 else -1
                                  for p in pool.tolist()], dtype=np.int64)
        for i in rejected:
            site[i] = -1
            pool[i] = -1
            slice_idx[i] = -1
        ran = site >= 0
        start = placed_s + transfer_s
        end = start + duration
        start[~ran] = np.nan
        end[~ran] = np.nan
        kw_fac = np.asarray(topology.pool_kw_facility)
        power = np.zeros(n)
        power[ran] = units[ran] * kw_fac[pool[ran]]
        energy = np.zeros(n)
        green = np.zeros(n)
        carbon = np.zeros(n)
        cost = np.zeros(n)
        if ran.any():
            ch = charge_jobs(series, site[ran], power[ran], start[ran], end[ran])
            energy[ran], green[ran] = ch.energy_kwh, ch.green_kwh
            carbon[ran], cost[ran] = ch.carbon_kg, ch.cost_yuan
        compute_bill, egress = _bills(cols, series, topology, ran, slice_idx, units, start, end,
                                      cost)
        rtt = _rtt_ms(network, cols, topology.site_ids, site, ran)
        late = ran & (end > deadline + 1e-6)
        status = [DONE] * n
        for i in np.flatnonzero(late).tolist():
            status[i] = LATE
        all_reasons = reasons  # (taken over, not copied: a million entries at scale)
        for i, why in rejected.items():
            status[i] = REJECTED
            all_reasons[i] = why
        result = cls(policy_name=policy_name, network=network, jobs=jobs, series=series,
                     topology=topology, site=site, pool=pool, placed_s=placed_s,
                     start_s=start, end_s=end, transfer_s=transfer_s, rtt_ms=rtt,
                     status=status, energy_kwh=energy, green_kwh=green, carbon_kg=carbon,
                     cost_yuan=cost, deferrals=deferrals, reasons=all_reasons, wall_s=wall_s,
                     slice=slice_idx, compute_bill_yuan=compute_bill, egress_yuan=egress)
        result.__dict__["job_columns"] = cols  # (the cached property, made once here)
        give_back()  # (the accounting's temporaries)
        return result

    # ---- views -------------------------------------------------------------------------

    @property
    def ran(self) -> np.ndarray:
        return self.site >= 0

    def wait_s(self) -> np.ndarray:
        return self.start_s - self.job_columns.submit_s

    def latency_violations(self) -> int:
        bound = self.job_columns.rtt_bound_ms
        bound = np.where(np.isnan(bound), np.inf, bound)
        return int(np.sum(self.ran & (self.rtt_ms > bound + 1e-9)))

    def site_hours(self) -> dict[str, np.ndarray]:
        """Per (pool, hour): busy units (time-averaged), energy and the site's actual series.

        Rows cover hour 0 to the hour in which the last job ends.
        """
        ran = self.ran
        last_end = float(np.nanmax(self.end_s)) if ran.any() else 0.0
        n_hours = max(1, math.ceil(last_end / HOUR_S))
        topo = self.topology
        units = self.job_columns.units.astype(float)
        rows_pool, rows_hour, busy, energy = [], [], [], []
        for p in range(len(topo.pools)):
            mask = ran & (self.pool == p)
            unit_s = busy_unit_seconds_by_hour(units[mask], self.start_s[mask],
                                               self.end_s[mask], n_hours)
            rows_pool.append(np.full(n_hours, p))
            rows_hour.append(np.arange(n_hours))
            busy.append(unit_s / HOUR_S)
            energy.append(unit_s * topo.pool_kw_facility[p] / HOUR_S)
        pool_col = np.concatenate(rows_pool)
        hour_col = np.concatenate(rows_hour)
        site_col = np.asarray(topo.pool_site)[pool_col]
        h = np.minimum(hour_col, self.series.hours - 1)
        return {
            "pool": pool_col,
            "site": site_col,
            "hour": hour_col,
            "busy_units": np.concatenate(busy),
            "capacity_units": np.asarray(topo.pool_capacity)[pool_col],
            "energy_kwh": np.concatenate(energy),
            "green_share": self.series.green_share[site_col, h],
            "intensity_g_per_kwh": self.series.intensity_g_per_kwh[site_col, h],
            "price_yuan_per_kwh": self.series.price_yuan_per_kwh[site_col, h],
        }

    def summary(self) -> dict[str, Any]:
        ran = self.ran
        wait = self.wait_s()[ran]
        energy = float(self.energy_kwh.sum())
        green = float(self.green_kwh.sum())
        west_sites = {i for i, s in enumerate(self.network.sites)
                      if any(h.id == s.hub_id and h.west for h in self.network.hubs)}
        west_mask = np.isin(self.site, list(west_sites))
        n = len(self.jobs)
        return {
            "policy": self.policy_name,
            "jobs": n,
            "done": self.status.count(DONE),
            "late": self.status.count(LATE),
            "rejected": self.status.count(REJECTED),
            "energy_kwh": energy,
            "green_kwh": green,
            "green_share": green / energy if energy > 0 else 0.0,
            "carbon_t": float(self.carbon_kg.sum()) / 1000.0,
            "cost_yuan": float(self.cost_yuan.sum()),
            "bill_yuan": float(self.bill_yuan.sum()),
            "egress_yuan": float(self.egress_yuan.sum()) if self.egress_yuan is not None
            else 0.0,
            "west_energy_share": float(self.energy_kwh[west_mask].sum()) / energy
            if energy > 0 else 0.0,
            "mean_wait_s": float(wait.mean()) if len(wait) else 0.0,
            "p99_wait_s": float(np.percentile(wait, 99)) if len(wait) else 0.0,
            "latency_violations": self.latency_violations(),
            "deadline_misses": self.status.count(LATE),
            "deferred_jobs": int(np.sum(self.deferrals > 0)),
            "wall_s": self.wall_s,
            "jobs_per_s": n / self.wall_s if self.wall_s > 0 else 0.0,
        }


def _rtt_ms(network: Network, cols: JobColumns, site_ids: Sequence[str], site: np.ndarray,
            ran: np.ndarray) -> np.ndarray:
    """The round trip from each job's origin to its site (NaN where it did not run), from a
    table of origin by site. Raises KeyError, naming the pair, where the network has none."""
    names = cols.origins
    table = np.array([[network.rtt_ms.get((o, s), np.nan) for s in site_ids] for o in names],
                     dtype=float).reshape(len(names), len(site_ids))
    origin = cols.origin_code
    rtt = np.full(len(cols), np.nan)
    rtt[ran] = table[origin[ran], site[ran]]
    missing = ran & np.isnan(rtt)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise KeyError((names[origin[i]], site_ids[site[i]]))
    return rtt


def _bills(cols: JobColumns, series: EnergySeries, topology: Topology, ran: np.ndarray,
           slice_idx: np.ndarray, units: np.ndarray, start: np.ndarray, end: np.ndarray,
           cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tenant's bill per job: units x the integral of the provider's hourly price over
    the run (`suanwang.pricing`), or for an energy-priced provider the electricity cost of its
    units (already charged as `cost`); plus data_gb x the provider's egress price."""
    n = len(cols)
    compute = np.zeros(n)
    egress = np.zeros(n)
    if not ran.any():
        return compute, egress
    idx = np.flatnonzero(ran)
    rows = slice_idx[idx]
    energy = np.asarray(topology.slice_energy_priced, dtype=bool)[rows]
    compute[idx[energy]] = cost[idx[energy]]
    fixed = idx[~energy]
    if len(fixed):
        table = PriceTable(topology.slices, series.start_utc, series.hours)
        r = slice_idx[fixed]
        compute[fixed] = units[fixed] * (table.integral(r, end[fixed])
                                         - table.integral(r, start[fixed]))
    data = cols.data_gb
    egress[idx] = data[idx] * np.asarray(topology.slice_egress, dtype=float)[rows]
    return compute, egress
