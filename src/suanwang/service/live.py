"""The scheduler on the wall clock: the same `core.scheduler.Scheduler` and policies as the
simulator, fed by API submissions, its transitions persisted before anyone can see them.

A background thread ticks (every `tick_s` of wall time): it advances the scheduler to the run
clock's now (releasing finished jobs' units, waking deferred jobs), decides the jobs that
arrived since the last tick, marks placed jobs running once their input data has arrived, and
commits every transition of the tick in one transaction. Accounting of a finished job uses the
same rule as the simulator (`core.accounting.charge_jobs`), on the actual energy series.
"""

from __future__ import annotations

import heapq
import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from suanwang.core.accounting import charge_jobs
from suanwang.core.scheduler import Scheduler
from suanwang.core.state import Topology
from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.model import Job, Kind, Network, Placement
from suanwang.policies.registry import make_policy
from suanwang.service.clock import RunClock
from suanwang.service.store import (
    CANCELLED,
    DEFERRED,
    FINISHED,
    PLACED,
    QUEUED,
    REJECTED,
    RUNNING,
    SUBMITTED,
    Store,
    Transition,
    row_to_job,
)
from suanwang.sim.runner import energy_for

log = logging.getLogger("suanwang.service")
SERIES_DAYS = 400


@dataclass
class Totals:
    finished: int = 0
    energy_kwh: float = 0.0
    green_kwh: float = 0.0
    carbon_kg: float = 0.0
    cost_yuan: float = 0.0


class LiveScheduler:
    def __init__(self, network: Network, store: Store, clock: RunClock, policy: str,
                 seed: int = 0, forecast_error: float = 1.0,
                 series: EnergySeries | None = None) -> None:
        self.network = network
        self.store = store
        self.clock = clock
        self.policy_name = policy
        self.topology = Topology(network)
        self.series = series if series is not None else energy_for(
            network, [], seed, clock.start_utc, days=SERIES_DAYS)
        forecaster = Forecaster(self.series,
                                [s.grid_intensity_g_per_kwh for s in network.sites],
                                seed=seed, error_scale=forecast_error)
        self.scheduler = Scheduler(self.topology, forecaster, make_policy(policy), self)
        self.lock = threading.RLock()  # the scheduler and the outbox
        self._inbox_lock = threading.Lock()
        self._inbox: list[Job] = []
        self._outbox: list[Transition] = []
        self._starts: list[tuple[float, str]] = []  # (start_s, job_id) of placed jobs
        self._started: dict[str, float] = {}  # job_id -> start_s of running jobs
        self.totals = Totals()
        self.submitted_total = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._recover()

    # ---- start-up ----------------------------------------------------------------------

    def _recover(self) -> None:
        """Reload what the database says is in flight and carry on from there."""
        for site in self.network.sites:
            for pool in site.pools:
                units = self.store.meta(f"capacity:{site.id}:{pool.kind.value}")
                if units is not None and int(units) != pool.units:
                    self.scheduler.set_capacity(site.id, pool.kind, int(units), 0.0)
        self.topology = self.scheduler.topology
        for site_id in self.store.drained_sites():
            if site_id in self.topology.site_ids:
                self.scheduler.drain_site(site_id, True, self.clock.now_s())
        resumed = requeued = 0
        for row in self.store.active_jobs():
            job = row_to_job(row)
            if row.state in (PLACED, RUNNING) and row.site and row.end_s is not None:
                self.scheduler.resume_running(job, row.site, row.end_s)
                if row.state == PLACED and row.start_s is not None:
                    heapq.heappush(self._starts, (row.start_s, job.job_id))
                elif row.start_s is not None:
                    self._started[job.job_id] = row.start_s
                resumed += 1
            elif row.state == DEFERRED and row.defer_until_s is not None:
                self.scheduler.resume_deferred(job, row.defer_until_s)
                resumed += 1
            else:
                self._inbox.append(job)
                requeued += 1
        if resumed or requeued:
            log.info("recovered %d jobs in flight and %d waiting", resumed, requeued)

    # ---- inputs --------------------------------------------------------------------------

    def accept(self, jobs: list[Job]) -> None:
        """Jobs already persisted as submitted: decide them at the next tick."""
        with self._inbox_lock:
            self._inbox.extend(jobs)
            self.submitted_total += len(jobs)

    def cancel(self, job_id: str) -> bool:
        """Cancel a job in flight; False if the scheduler had already let it go."""
        with self.lock:
            now = self.clock.now_s()
            with self._inbox_lock:
                before = len(self._inbox)
                self._inbox = [j for j in self._inbox if j.job_id != job_id]
                in_inbox = len(self._inbox) != before
            known = in_inbox or self.scheduler.cancel(job_id, now)
            if known:
                self._started.pop(job_id, None)
                self._outbox.append(Transition(job_id, CANCELLED, now, "cancelled by request"))
                self._flush()
            return known

    def set_capacity(self, site_id: str, kind: Kind, units: int) -> None:
        with self.lock:
            self.scheduler.set_capacity(site_id, kind, units, self.clock.now_s())
            self.topology = self.scheduler.topology
            self.store.set_meta(f"capacity:{site_id}:{kind.value}", str(units))
            self._flush()

    def drain(self, site_id: str, drained: bool) -> None:
        with self.lock:
            self.store.set_drained(site_id, drained)
            self.scheduler.drain_site(site_id, drained, self.clock.now_s())
            self._flush()

    # ---- the clock -----------------------------------------------------------------------

    def tick(self) -> None:
        with self.lock:
            now = self.clock.now_s()
            with self._inbox_lock:
                inbox, self._inbox = self._inbox, []
            # decide each job at its own arrival time, as the simulator does
            for job in sorted(inbox, key=lambda j: j.submit_s):
                t = min(max(job.submit_s, self.scheduler.now_s), now)
                self.scheduler.advance(t)
                self._start_due(t)
                self.scheduler.submit(job, t)
            self.scheduler.advance(now)
            self._start_due(now)
            self._flush()

    def _start_due(self, now: float) -> None:
        while self._starts and self._starts[0][0] <= now:
            start_s, job_id = heapq.heappop(self._starts)
            if job_id in self.scheduler.running:
                self._started[job_id] = start_s
                self._outbox.append(Transition(job_id, RUNNING, start_s, "input data arrived"))

    def _flush(self) -> None:
        out, self._outbox = self._outbox, []
        self.store.apply(out)

    def start(self, tick_s: float = 0.1) -> None:
        def loop() -> None:
            while not self._stop.wait(tick_s):
                try:
                    self.tick()
                except Exception:  # keep the service alive; the error is logged with its trace
                    log.exception("scheduler tick failed")

        self._thread = threading.Thread(target=loop, name="suanwang-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # ---- scheduler listener --------------------------------------------------------------

    def placed(self, placement: Placement, pool: int) -> None:
        job = placement.job
        rtt = self.network.rtt_ms[(job.origin, placement.site_id)]
        self._outbox.append(Transition(job.job_id, PLACED, placement.placed_s, placement.reason, {
            "site": placement.site_id, "rtt_ms": rtt, "placed_s": placement.placed_s,
            "start_s": placement.start_s, "end_s": placement.end_s, "defer_until_s": None}))
        heapq.heappush(self._starts, (placement.start_s, job.job_id))

    def deferred(self, job: Job, until_s: float, reason: str) -> None:
        self._outbox.append(Transition(job.job_id, DEFERRED, self.scheduler.now_s, reason,
                                       {"defer_until_s": until_s}))

    def queued(self, job: Job, reason: str) -> None:
        self._outbox.append(Transition(job.job_id, QUEUED, self.scheduler.now_s, reason))

    def rejected(self, job: Job, reason: str) -> None:
        self._outbox.append(Transition(job.job_id, REJECTED, self.scheduler.now_s, reason))

    def finished(self, job: Job, pool: int, now_s: float) -> None:
        start_s = self._started.pop(job.job_id, None)
        if start_s is None:  # placed, started and ended within one tick
            start_s = now_s - job.duration_s
            self._outbox.append(Transition(job.job_id, RUNNING, start_s, "input data arrived"))
        charges = self.charge(job, pool, start_s, now_s)
        base_pool = self._nearest_pool(job)
        if base_pool is not None:
            base = self.charge(job, base_pool, start_s, now_s)
            charges["baseline_site"] = self.topology.site_ids[self.topology.pool_site[base_pool]]
            charges["baseline_carbon_kg"] = base["carbon_kg"]
            charges["baseline_cost_yuan"] = base["cost_yuan"]
        self.totals.finished += 1
        self.totals.energy_kwh += charges["energy_kwh"]
        self.totals.green_kwh += charges["green_kwh"]
        self.totals.carbon_kg += charges["carbon_kg"]
        self.totals.cost_yuan += charges["cost_yuan"]
        self._outbox.append(Transition(job.job_id, FINISHED, now_s, "ran its duration",
                                       charges))

    def _nearest_pool(self, job: Job) -> int | None:
        """The pool the `nearest` baseline would have used: the lowest round trip that could
        serve the job (capacity aside) — compute staying next to its demand."""
        cands = self.topology.candidates(job)
        return cands[0].pool if cands else None

    def charge(self, job: Job, pool: int, start_s: float, end_s: float) -> dict[str, Any]:
        """Energy, green energy, carbon and cost of `job` in `pool` over [start, end): the
        simulator's accounting rule, on the actual series."""
        topo = self.topology
        power_kw = job.units * topo.pool_kw_facility[pool]
        ch = charge_jobs(self.series, np.array([topo.pool_site[pool]]), np.array([power_kw]),
                         np.array([start_s]), np.array([end_s]))
        return {"energy_kwh": float(ch.energy_kwh[0]), "green_kwh": float(ch.green_kwh[0]),
                "carbon_kg": float(ch.carbon_kg[0]), "cost_yuan": float(ch.cost_yuan[0])}

    # ---- views ---------------------------------------------------------------------------

    def live_state(self) -> list[dict[str, Any]]:
        """Per site and pool, now: busy and free units, waiting jobs, power, green share,
        carbon intensity and price."""
        with self.lock:
            now = self.clock.now_s()
            topo = self.topology
            free = list(self.scheduler.state.free_units)
            drained = set(self.scheduler.state.drained)
            power = [0.0] * len(topo.pools)
            for job_id, r in self.scheduler.running.items():
                if job_id in self._started:
                    power[r.pool] += r.job.units * topo.pool_kw_facility[r.pool]
            waiting: dict[str, int] = {}
            for j in self.scheduler.waiting():
                waiting[j.kind.value] = waiting.get(j.kind.value, 0) + 1
            deferred = len(self.scheduler.deferred)
        h = min(int(now // HOUR_S), self.series.hours - 1)
        out = []
        for i, site in enumerate(self.network.sites):
            pools = [p for p in range(len(topo.pools)) if topo.pool_site[p] == i]
            out.append({
                "site": site.id, "name_zh": site.name_zh, "name_en": site.name_en,
                "drained": i in drained,
                "green_share": float(self.series.green_share[i, h]),
                "intensity_g_per_kwh": float(self.series.intensity_g_per_kwh[i, h]),
                "price_yuan_per_kwh": float(self.series.price_yuan_per_kwh[i, h]),
                "power_kw": sum(power[p] for p in pools),
                "pools": [{"kind": topo.pool_kind[p].value,
                           "capacity_units": topo.pool_capacity[p],
                           "busy_units": topo.pool_capacity[p] - free[p],
                           "free_units": free[p], "power_kw": power[p]} for p in pools],
            })
        return [{"now_s": now, "waiting_by_kind": waiting, "deferred": deferred,
                 "sites": out}]

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {SUBMITTED: len(self._inbox), QUEUED: len(self.scheduler.waiting()),
                    DEFERRED: len(self.scheduler.deferred),
                    PLACED: len(self.scheduler.running) - len(self._started),
                    RUNNING: len(self._started)}

    def drained_sites(self) -> set[str]:
        with self.lock:
            return {self.topology.site_ids[i] for i in self.scheduler.state.drained}
