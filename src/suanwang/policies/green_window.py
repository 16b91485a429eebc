"""`green-window`: carbon-aware in space and time.

Real-time jobs are placed like `greenest`. A non-real-time job may wait for greener hours: over
every feasible site and every whole-hour start from now until its latest safe start (deadline -
transfer - duration - `margin_s`), within the forecast horizon, it finds the start with the
lowest forecast carbon. If that start is this hour, or waiting would cut the job's forecast
carbon by less than `min_gain`, the job is placed now like `greenest`; otherwise it is deferred
to that hour, when it is decided again on the newer forecast.

Robust to forecast error by design: each forecast hour is scored at its forecast intensity plus
`risk_aversion` times its expected error (which grows with lead time), so a far-off hour must
look clearly greener to be worth waiting for, and the minimum over many noisy hours is not
chased. Deferred jobs hold soft reservations per (provider pool, hour): a pool's planned units at an
hour plus what is busy now must fit its capacity, or the job waits elsewhere or runs now.

The window minima are precomputed once per forecast issue: for each site, job length d (hours)
and latest start L, the least mean intensity of any d-hour window starting at k <= L, and that
k. A decision is then one lookup per feasible site.
"""

from __future__ import annotations

import math

import numpy as np

from suanwang.core.policy import Decision, Deferral
from suanwang.core.state import Offer, SchedulerState
from suanwang.energy.forecast import ForecastView
from suanwang.energy.series import HOUR_S
from suanwang.model import Job
from suanwang.policies.greenest import GreenestPolicy


class _WindowMinima:
    def __init__(self, view: ForecastView, max_len_h: int, risk_aversion: float) -> None:
        # hedge against forecast error: a far-off hour counts as worse by its expected error
        intensity = (np.asarray(view.intensity_g_per_kwh)
                     + risk_aversion * np.asarray(view.intensity_sd_g_per_kwh))  # (sites, H)
        n_sites, horizon = intensity.shape
        self.max_len_h = min(max_len_h, horizon)
        cum = np.concatenate([np.zeros((n_sites, 1)), np.cumsum(intensity, axis=1)], axis=1)
        d = np.arange(1, self.max_len_h + 1)[:, None]  # (D, 1)
        k = np.arange(horizon)[None, :]  # (1, H)
        end = k + d
        valid = end <= horizon
        endc = np.minimum(end, horizon)
        windows = (cum[:, endc] - cum[:, np.broadcast_to(k, endc.shape)]) / d  # (S, D, H)
        windows = np.where(valid[None, :, :], windows, np.inf)
        best = np.minimum.accumulate(windows, axis=2)
        prev = np.concatenate([np.full((n_sites, self.max_len_h, 1), np.inf),
                               best[:, :, :-1]], axis=2)
        pos = np.where(windows < prev, np.arange(horizon)[None, None, :], 0)
        # nested lists: a decision reads a few values, and list indexing beats numpy's
        self.best: list[list[list[float]]] = best.tolist()
        self.best_start: list[list[list[int]]] = np.maximum.accumulate(pos, axis=2).tolist()
        self.horizon = horizon

    def lookup(self, site: int, length_h: int, latest_k: int) -> tuple[float, int]:
        d = min(max(length_h, 1), self.max_len_h)
        k = min(latest_k, self.horizon - d)
        return self.best[site][d - 1][k], self.best_start[site][d - 1][k]


class GreenWindowPolicy(GreenestPolicy):
    name = "green-window"

    def __init__(self, min_gain: float = 0.05, margin_s: float = 3600.0,
                 margin_fraction: float = 0.25, max_len_h: int = 48,
                 risk_aversion: float = 1.0) -> None:
        super().__init__()
        self.risk_aversion = risk_aversion
        self.min_gain = min_gain
        self.margin_s = margin_s
        self.margin_fraction = margin_fraction
        self.max_len_h = max_len_h
        self._minima: tuple[int, _WindowMinima] | None = None
        # soft reservations of deferred jobs: (pool, hour) -> units, and job id -> its entry
        self._planned: dict[tuple[int, int], int] = {}
        self._plan_of: dict[str, tuple[int, int, int]] = {}

    def _forget_plan(self, job: Job) -> None:
        entry = self._plan_of.pop(job.job_id, None)
        if entry is not None:
            pool, hour, units = entry
            left = self._planned[(pool, hour)] - units
            if left:
                self._planned[(pool, hour)] = left
            else:
                del self._planned[(pool, hour)]

    def _room(self, state: SchedulerState, c: Offer, hour: int, units: int) -> bool:
        """Whether `units` more can be planned into pool `c` at `hour`: work running now is
        assumed to keep the pool as busy then, plus what is already planned there."""
        busy_now = c.capacity_units - min(state.free_slice[c.slice], state.free_units[c.pool])
        return busy_now + self._planned.get((c.slice, hour), 0) + units <= c.capacity_units

    def _window_minima(self, view: ForecastView) -> _WindowMinima:
        if self._minima is None or self._minima[0] != view.issued_hour:
            self._minima = (view.issued_hour, _WindowMinima(view, self.max_len_h,
                                                           self.risk_aversion))
        return self._minima[1]

    def place_or_wait(self, state: SchedulerState, job: Job, cands: list[Offer],
                      free: list[int], now_s: float, decision: Decision) -> None:
        self._forget_plan(job)
        if job.deadline_s is None:
            super().place_or_wait(state, job, cands, free, now_s, decision)
            return
        view = state.forecast(now_s)
        minima = self._window_minima(view)
        # the hot loop of this policy: plain locals and list indexing only
        d = min(max(1, math.ceil(job.duration_s / HOUR_S)), minima.max_len_h)
        k_max = minima.horizon - d
        best_rows, start_rows = minima.best, minima.best_start
        issued = view.issued_hour
        margin = max(self.margin_s, self.margin_fraction * job.duration_s)
        latest_base = job.deadline_s - job.duration_s - margin
        data_gbit = job.data_gb * 8.0
        units = job.units
        drained = state.drained
        pool_free = self._pool_free
        best: tuple[float, int, Offer] | None = None
        best_now = math.inf
        last_pool = -1
        now_val = wait_val = 0.0
        k = 0
        for c in cands:  # offers of one pool are adjacent and share its site's values
            site = c.site
            if site in drained:
                continue
            if c.pool != last_pool:
                last_pool = c.pool
                values = best_rows[site][d - 1]
                kw = c.kw_per_unit_facility
                now_val = kw * values[0]
                latest = latest_base - (data_gbit / c.bandwidth_gbps if data_gbit > 0 else 0.0)
                latest_k = int(latest // HOUR_S) - issued
                if latest_k < 1:
                    wait_val = math.inf  # no room to wait at this site
                else:
                    if latest_k > k_max:
                        latest_k = k_max
                    wait_val = kw * values[latest_k]
                    k = start_rows[site][d - 1][latest_k]
            if now_val < best_now and free[c.slice] >= units and pool_free[c.pool] >= units:
                best_now = now_val
            if wait_val == math.inf or (best is not None and wait_val >= best[0]):
                continue
            if k > 0 and not self._room(state, c, issued + k, units):
                continue
            best = (wait_val, k, c)
        if best is not None and best[1] > 0 and best[0] < best_now * (1.0 - self.min_gain):
            score, k, c = best
            until = (view.issued_hour + k) * HOUR_S
            if until > now_s:
                hour = view.issued_hour + k
                self._planned[(c.slice, hour)] = self._planned.get((c.slice, hour), 0) + job.units
                self._plan_of[job.job_id] = (c.slice, hour, job.units)
                site = state.topology.site_ids[c.site]
                decision.deferred.append(Deferral(
                    job, until,
                    f"{self.name}: wait {(until - now_s) / HOUR_S:.1f} h for {site} "
                    f"({score:.4g} vs {best_now:.4g} g CO2/unit-h now)"))
                return
        super().place_or_wait(state, job, cands, free, now_s, decision)
