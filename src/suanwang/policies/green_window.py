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
from suanwang.policies.base import RankingPolicy
from suanwang.policies.greenest import GreenestPolicy

# per pool of an offer list: (its first offer, its offers, site, pool, kW per unit, bandwidth)
_Pool = tuple[Offer, list[Offer], int, int, float, float]


class _WindowMinima:
    """Per job length d (hours), site and latest start k: the least mean (risk-weighted)
    intensity of a d-hour window starting at or before k, and that start. The rows of one
    length are computed when a job of that length first asks (`of_length`): a forecast
    issue serves an hour's jobs, whose lengths are a few of the 48."""

    def __init__(self, view: ForecastView, max_len_h: int, risk_aversion: float) -> None:
        # hedge against forecast error: a far-off hour counts as worse by its expected error
        intensity = (np.asarray(view.intensity_g_per_kwh)
                     + risk_aversion * np.asarray(view.intensity_sd_g_per_kwh))  # (sites, H)
        n_sites, horizon = intensity.shape
        self.max_len_h = min(max_len_h, horizon)
        self._cum = np.concatenate([np.zeros((n_sites, 1)), np.cumsum(intensity, axis=1)],
                                   axis=1)
        self.horizon = horizon
        # by d - 1, then site: nested lists, since a decision reads a few values, and list
        # indexing beats numpy's; None until a job of that length asks
        self.best: list[list[list[float]] | None] = [None] * self.max_len_h
        self.best_start: list[list[list[int]] | None] = [None] * self.max_len_h

    def of_length(self, d: int) -> tuple[list[list[float]], list[list[int]]]:
        """(best, best_start) per site and latest start, for jobs of d hours."""
        best_d, start_d = self.best[d - 1], self.best_start[d - 1]
        if best_d is not None and start_d is not None:
            return best_d, start_d
        cum = self._cum
        horizon = self.horizon
        k = np.arange(horizon)  # (H,)
        end = k + d
        valid = end <= horizon
        endc = np.minimum(end, horizon)
        windows = (cum[:, endc] - cum[:, k]) / d  # (S, H)
        windows = np.where(valid[None, :], windows, np.inf)
        best = np.minimum.accumulate(windows, axis=1)
        prev = np.concatenate([np.full((cum.shape[0], 1), np.inf), best[:, :-1]], axis=1)
        pos = np.where(windows < prev, k[None, :], 0)
        best_d = self.best[d - 1] = best.tolist()
        start_d = self.best_start[d - 1] = np.maximum.accumulate(pos, axis=1).tolist()
        return best_d, start_d

    def lookup(self, site: int, length_h: int, latest_k: int) -> tuple[float, int]:
        d = min(max(length_h, 1), self.max_len_h)
        k = min(latest_k, self.horizon - d)
        best, start = self.of_length(d)
        return best[site][k], start[site][k]


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
        self._pools_cache: dict[int, tuple[list[Offer], list[_Pool]]] = {}

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

    def _pools_of(self, cands: list[Offer]) -> list[_Pool]:
        """Per pool of `cands`, in their order: (its first offer, its offers in order, site,
        pool, kW per unit, bandwidth); cached per list."""
        hit = self._pools_cache.get(id(cands))
        if hit is not None and hit[0] is cands:
            return hit[1]
        runs: list[list[Offer]] = []
        for c in cands:  # offers of one pool are adjacent
            if runs and runs[-1][0].pool == c.pool:
                runs[-1].append(c)
            else:
                runs.append([c])
        out = [(g[0], g, g[0].site, g[0].pool, g[0].kw_per_unit_facility, g[0].bandwidth_gbps)
               for g in runs]
        if len(self._pools_cache) > 4096:
            self._pools_cache.clear()
        self._pools_cache[id(cands)] = (cands, out)
        return out

    def decide_one(self, state: SchedulerState, job: Job,
                   now_s: float) -> tuple[Offer, str] | Decision:
        """`decide` for one job (see `RankingPolicy.decide_one`)."""
        cls = type(self)
        if (cls.place_or_wait is not GreenWindowPolicy.place_or_wait
                or cls.decide is not RankingPolicy.decide
                or cls.choose is not RankingPolicy.choose):
            return self.decide(state, (job,), now_s)
        cands = state.topology.offers(job)
        if not cands:
            return self.decide(state, (job,), now_s)
        self._single = True
        self._pool_free = state.free_units
        if self._held:
            self._held = {}
        self._forget_plan(job)
        if job.deadline_s is not None:
            deferral = self._deferral(state, job, cands, state.free_slice, now_s)
            if deferral is not None:
                decision = Decision()
                decision.deferred.append(deferral)
                return decision
        return self.place_now(state, job, cands, now_s)

    def place_or_wait(self, state: SchedulerState, job: Job, cands: list[Offer],
                      free: list[int], now_s: float, decision: Decision) -> None:
        self._forget_plan(job)
        if job.deadline_s is not None:
            deferral = self._deferral(state, job, cands, free, now_s)
            if deferral is not None:
                decision.deferred.append(deferral)
                return
        super().place_or_wait(state, job, cands, free, now_s, decision)

    def _deferral(self, state: SchedulerState, job: Job, cands: list[Offer],
                  free: list[int], now_s: float) -> Deferral | None:
        """The wait for a greener hour (its soft reservation made), or None: place it now."""
        assert job.deadline_s is not None
        hour = int(now_s // HOUR_S)
        if hour == self._view_hour and state.forecaster is self._view_of:
            view = self._view  # the forecaster issues one view per hour (`ranked`)
        else:
            view = self._view = state.forecast(now_s)
            self._view_hour, self._view_of = hour, state.forecaster
        minima = self._window_minima(view)
        # the hot loop of this policy: plain locals and list indexing only, one pass per
        # pool (its offers share its site's values)
        d = min(max(1, math.ceil(job.duration_s / HOUR_S)), minima.max_len_h)
        k_max = minima.horizon - d
        best_rows, start_rows = minima.of_length(d)  # per site
        issued = view.issued_hour
        margin = max(self.margin_s, self.margin_fraction * job.duration_s)
        latest_base = job.deadline_s - job.duration_s - margin
        data_gbit = job.data_gb * 8.0
        units = job.units
        drained = state.drained
        pool_free = self._pool_free
        free_slice, free_units = state.free_slice, state.free_units
        planned = self._planned
        best_c: Offer | None = None
        best_val = math.inf
        best_k = 0
        pools = self._pools_of(cands)
        # first the best start to wait for (per pool: its offers share its site's values)
        for c, group, site, _, kw, bandwidth in pools:
            if drained and site in drained:
                continue
            latest = latest_base - (data_gbit / bandwidth if data_gbit > 0 else 0.0)
            latest_k = int(latest // HOUR_S) - issued
            if latest_k < 1:
                continue  # no room to wait at this site
            if latest_k > k_max:
                latest_k = k_max
            wait_val = kw * best_rows[site][latest_k]
            if wait_val == math.inf or (best_c is not None and wait_val >= best_val):
                continue
            k = start_rows[site][latest_k]
            if k > 0:  # the first offer of the pool with room planned at that hour (`_room`)
                at = issued + k
                for o in group:
                    cap = o.capacity_units
                    busy_now = cap - min(free_slice[o.slice], free_units[o.pool])
                    if busy_now + planned.get((o.slice, at), 0) + units <= cap:
                        best_c, best_val, best_k = o, wait_val, k
                        break
            else:
                best_c, best_val, best_k = c, wait_val, k
        if best_c is None or best_k <= 0 or (issued + best_k) * HOUR_S <= now_s:
            return None  # nothing to wait for
        # then whether it beats the best place now by enough: the least carbon now of a pool
        # with room, walked until it is low enough that waiting does not pay
        keep = 1.0 - self.min_gain
        falls = keep >= 0.0
        best_now = math.inf
        for _, group, site, pool, kw, _ in pools:
            if drained and site in drained:
                continue
            now_val = kw * best_rows[site][0]
            if now_val < best_now and pool_free[pool] >= units:
                for o in group:
                    if free[o.slice] >= units:
                        best_now = now_val
                        if falls and not best_val < best_now * keep:
                            return None  # best_now * keep only falls from here
                        break
        if not best_val < best_now * keep:
            return None
        until = (issued + best_k) * HOUR_S
        hour = issued + best_k
        key = (best_c.slice, hour)
        planned[key] = planned.get(key, 0) + job.units
        self._plan_of[job.job_id] = (best_c.slice, hour, job.units)
        site_id = state.topology.site_ids[best_c.site]
        return Deferral(
            job, until,
            f"{self.name}: wait {(until - now_s) / HOUR_S:.1f} h for {site_id} "
            f"({best_val:.4g} vs {best_now:.4g} g CO2/unit-h now)")
