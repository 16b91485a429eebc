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
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from suanwang.core.accounting import charge_jobs, slice_bill
from suanwang.core.scheduler import Scheduler
from suanwang.core.state import Topology
from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.executors.base import BackendUnavailable, ExecState, ExecStatus, Executor, RunSpec
from suanwang.executors.registry import BINDING_SEP, binding_key
from suanwang.market.billing import POSTED_ROUND, at_clearing_price
from suanwang.market.posted import PostedRule
from suanwang.model import Job, Kind, Network, Placement
from suanwang.policies.registry import make_policy
from suanwang.service import health_log
from suanwang.service.account_needs import NeedPricer, market_carbon_kg
from suanwang.service.clock import RunClock
from suanwang.service.grid_live import LiveGrid
from suanwang.service.ledger_hours import HourCloser
from suanwang.service.market_desk import MarketDesk
from suanwang.service.scheduler_log import RecordingScheduler, decision, network_fingerprint
from suanwang.service.store import (
    CANCELLED,
    DEFERRED,
    FAILED,
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

POSTED_KEY = "posted_yuan_per_unit_h"  # `charge`'s posted quote, for the account only
log = logging.getLogger("suanwang.service")
SERIES_DAYS = 400
HEALTH_CHECK_EVERY_S = 2.0  # wall seconds between probes of an unhealthy site's backend


@dataclass
class ExecInfo:
    """What a job runs, and how often it may be run again."""

    command: list[str] | None = None
    env: dict[str, str] | None = None
    workdir: str | None = None
    max_retries: int = 0
    attempts: int = 0
    accept_posted: bool = False  # billed at the posted price (`market.billing`)

    @classmethod
    def of(cls, row: Any) -> ExecInfo:
        return cls(row.command, row.env, row.workdir, row.max_retries or 0, row.attempts or 0,
                   getattr(row, "market_round", None) == POSTED_ROUND)


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
                 series: EnergySeries | None = None,
                 executors: dict[str, Executor | None] | None = None,
                 recover: bool = True, record: bool = True,
                 posted_rule: PostedRule | None = None) -> None:
        self.network = network
        self.posted_rule = posted_rule or PostedRule()  # posted prices' scarcity source
        self.store = store
        self.clock = clock
        self.policy_name = policy
        self.topology = Topology(network)
        self.series = series if series is not None else energy_for(
            network, [], seed, clock.start_utc, days=SERIES_DAYS)
        forecaster = Forecaster(self.series,
                                [s.grid_intensity_g_per_kwh for s in network.sites],
                                seed=seed, error_scale=forecast_error)
        # by site, and by `binding_key(site, provider)` for a provider with a backend of its own
        self.executors: dict[str, Executor | None] = {
            sid: (executors or {}).get(sid) for sid in self.topology.site_ids}
        self.executors.update({k: e for k, e in (executors or {}).items() if BINDING_SEP in k})
        estimate_sites = {i for i, sid in enumerate(self.topology.site_ids)
                          if self.executors[sid] is None}
        core = Scheduler(self.topology, forecaster, make_policy(policy), self,
                         estimate_sites=estimate_sites)
        # the log of the core's inputs and decisions (`scheduler_log`), written with the
        # transitions; an API replica's copy of the core records nothing
        self._log: list[dict[str, Any]] = []
        self._recording = record
        self.scheduler: Scheduler | RecordingScheduler = (
            RecordingScheduler(core, self._log) if record else core)
        if record:
            self._log.append({"kind": "start", "clock": 0.0, "body": {
                "policy": policy, "seed": seed, "forecast_error": forecast_error,
                "estimate_sites": sorted(self.topology.site_ids[i] for i in estimate_sites),
                # the series as the service built it (`energy_for(..., days=SERIES_DAYS)`)
                "series_days": SERIES_DAYS, "series_hours": self.series.hours,
                "network": network_fingerprint(network),
                "clock_origin_epoch_s": clock.origin_epoch_s, "clock_speed": clock.speed}})
        self._pricer = NeedPricer(self.topology, self.series)
        self._exec: dict[str, ExecInfo] = {}  # job_id -> what it runs
        # job_id -> (binding: its site, or site/provider, backend handle)
        self._handles: dict[str, tuple[str, str]] = {}
        self._to_dispatch: list[str] = []  # placed jobs whose start has come, to hand over
        self._operator_drained: set[str] = set()
        # binding (a site, or site/provider) -> why its backend is unavailable
        self.unhealthy: dict[str, str] = {}
        self._last_health_check = 0.0
        self.lock = threading.RLock()  # the scheduler and the outbox
        self._inbox_lock = threading.Lock()
        self._inbox: list[Job] = []
        self._outbox: list[Transition] = []
        self._starts: list[tuple[float, str]] = []  # (start_s, job_id) of placed jobs
        self._started: dict[str, float] = {}  # job_id -> start_s of running jobs
        self._provider: dict[str, str] = {}  # job_id -> provider of placed and running jobs
        self.totals = Totals()
        self.submitted_total = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ledger = HourCloser(self)  # appends each closed hour's records (issue 8)
        # job_id -> (clearing price per unit-hour, round id) of jobs the auction placed
        self._market: dict[str, tuple[float, str]] = {}
        self.market = MarketDesk(self)  # the call auction's rounds (issue 13)
        self.grid = LiveGrid(self)  # grid events: baselines, ceilings, settlements (issue 14)
        if recover:
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
        self._operator_drained = {s for s in self.store.drained_sites()
                                  if s in self.topology.site_ids}
        self._apply_drains(self.clock.now_s())
        health_log.close_open_downs(self.store, self.clock.now_s(),
                                    "restart: the scheduler treats the backend as healthy")
        resumed = requeued = 0
        for row in self.store.active_jobs():
            job = row_to_job(row)
            self._exec[job.job_id] = ExecInfo.of(row)
            if row.market_price_yuan_per_unit_h is not None and row.market_round:
                self._market[job.job_id] = (row.market_price_yuan_per_unit_h, row.market_round)
            if row.state in (PLACED, RUNNING) and row.site and row.end_s is not None:
                self.scheduler.resume_running(job, row.site, row.end_s, row.provider or "")
                r = self.scheduler.running[job.job_id]
                self._provider[job.job_id] = self.topology.slice_provider[r.slice]
                if row.exec_handle:
                    self._handles[job.job_id] = (self._binding(row.site, row.provider),
                                                 row.exec_handle)
                    if row.state == RUNNING and row.start_s is not None:
                        self._started[job.job_id] = row.start_s
                elif row.state == PLACED and row.start_s is not None:
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
        self.grid.recover()

    # ---- inputs --------------------------------------------------------------------------

    def accept(self, jobs: list[Job], infos: list[ExecInfo] | None = None) -> None:
        """Jobs already persisted as submitted: decide them at the next tick."""
        with self._inbox_lock:
            for k, job in enumerate(jobs):
                self._exec[job.job_id] = infos[k] if infos is not None else ExecInfo()
            self._inbox.extend(jobs)
            self.submitted_total += len(jobs)

    def inbox_ids(self) -> set[str]:
        """Jobs taken in and not yet decided."""
        with self._inbox_lock:
            return {j.job_id for j in self._inbox}

    def cancel(self, job_id: str) -> bool:
        """Cancel a job in flight (on its backend too); False if the scheduler had already let
        it go. Raises BackendUnavailable if the backend running it cannot be told."""
        with self.lock:
            now = self.clock.now_s()
            handle = self._handles.get(job_id)
            if handle is not None:
                executor = self.executors[handle[0]]
                if executor is not None:
                    executor.cancel(handle[1])
                self._handles.pop(job_id, None)
            with self._inbox_lock:
                before = len(self._inbox)
                self._inbox = [j for j in self._inbox if j.job_id != job_id]
                in_inbox = len(self._inbox) != before
            known = in_inbox or self.scheduler.cancel(job_id, now)
            if known:
                self._started.pop(job_id, None)
                self._provider.pop(job_id, None)
                self._outbox.append(Transition(job_id, CANCELLED, now, "cancelled by request"))
                self._flush()
            return known

    def adopt_market_job(self, job_id: str, price_yuan_per_unit_h: float, round_id: str
                         ) -> None:
        """A job the call auction made: billed at its clearing price (`market.billing`)."""
        self._market[job_id] = (price_yuan_per_unit_h, round_id)
        self._exec.setdefault(job_id, ExecInfo())

    @property
    def pricer(self) -> NeedPricer:
        """Worst-case bills and expected carbon of jobs on the current topology."""
        if self._pricer.topology is not self.topology:
            self._pricer = NeedPricer(self.topology, self.series)
        return self._pricer

    def set_capacity(self, site_id: str, kind: Kind, units: int) -> None:
        with self.lock:
            self.scheduler.set_capacity(site_id, kind, units, self.clock.now_s())
            self.topology = self.scheduler.topology
            self.store.set_meta(f"capacity:{site_id}:{kind.value}", str(units))
            self._flush()

    def grid_notify(self, event_id: str) -> dict[str, Any]:
        """A stored grid event: freeze its baseline and apply it (`grid_live`)."""
        return self.grid.notify(event_id)

    def grid_cancel(self, event_id: str) -> bool:
        return self.grid.cancel(event_id)

    def grid_flexibility(self, site: str | None, hours: int) -> dict[str, Any]:
        from suanwang.service.grid_flex import flexibility

        return flexibility(self, site, hours)

    def drain(self, site_id: str, drained: bool) -> None:
        with self.lock:
            self.store.set_drained(site_id, drained)
            if drained:
                self._operator_drained.add(site_id)
            else:
                self._operator_drained.discard(site_id)
            self._apply_drains(self.clock.now_s())
            self._flush()

    def _apply_drains(self, now: float) -> None:
        """New work avoids sites the operator drained and sites whose backend is down, and
        the pools of a provider whose own backend is down."""
        down = {k for k in self.unhealthy if BINDING_SEP not in k}
        closed = self._operator_drained | down
        drained_now = {self.topology.site_ids[i] for i in self.scheduler.state.drained}
        for site_id in self.topology.site_ids:
            if (site_id in closed) != (site_id in drained_now):
                self.scheduler.drain_site(site_id, site_id in closed, now)
        topo = self.topology
        withheld = self.scheduler.state.withheld
        for sl in range(len(topo.slices)):
            key = binding_key(topo.site_ids[topo.slice_site[sl]], topo.slice_provider[sl])
            shut = key in self.unhealthy
            if shut != (sl in withheld):
                self.scheduler.close_slice(sl, shut, now)

    def _binding(self, site_id: str, provider: str | None) -> str:
        """Where a job at (site, provider) runs: the provider's own binding, else its site's."""
        if provider:
            key = binding_key(site_id, provider)
            if key in self.executors:
                return key
        return site_id

    def _binding_of(self, r: Any) -> str:
        """The binding of a placed job (`Running`)."""
        topo = self.topology
        return self._binding(self._site_of(r.pool),
                             topo.slice_provider[r.slice] if r.slice >= 0 else None)

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
            try:
                self.market.tick(now)  # a round due: its matched bids are placed now
            except Exception:
                log.exception("market round failed")
            self._flush()  # decisions are persisted before any backend hears of them
            if self._to_dispatch:
                self._dispatch(now)
            if self._handles:
                self._poll(now)
            if self.unhealthy:
                self._check_health(now)
            self._flush()
            self.ledger.close_hours(now)  # after the flush: every draw up to now is stored
            if self.grid.plans or self.grid.ledger_pending:
                self.grid.settle_due(now)  # likewise: every draw of an ended window is stored

    def _start_due(self, now: float) -> None:
        while self._starts and self._starts[0][0] <= now:
            start_s, job_id = heapq.heappop(self._starts)
            r = self.scheduler.running.get(job_id)
            if r is None:
                continue
            if self.executors[self._binding_of(r)] is not None:
                self._to_dispatch.append(job_id)
                continue
            self._started[job_id] = start_s
            self._outbox.append(Transition(job_id, RUNNING, start_s, "input data arrived"))

    def _site_of(self, pool: int) -> str:
        return self.topology.site_ids[self.topology.pool_site[pool]]

    def _run_spec(self, job: Job, site_id: str) -> RunSpec:
        info = self._exec.get(job.job_id, ExecInfo())
        # by default a job sleeps its duration, as the run clock counts it
        command = info.command or ["sleep", f"{job.duration_s / self.clock.speed:.3f}"]
        # the limit is what the scheduler reserved; each backend adds its settings' margin
        return RunSpec(job_id=job.job_id, site_id=site_id, kind=job.kind, units=job.units,
                       command=tuple(command), env=tuple((info.env or {}).items()),
                       workdir=info.workdir, time_limit_s=job.duration_s / self.clock.speed,
                       tenant=job.tenant, attempt=info.attempts)

    def _dispatch(self, now: float) -> None:
        due, self._to_dispatch = self._to_dispatch, []
        for job_id in due:
            r = self.scheduler.running.get(job_id)
            if r is None:
                continue
            site_id = self._site_of(r.pool)
            key = self._binding_of(r)
            executor = self.executors[key]
            if executor is None:
                continue
            try:
                handle = executor.submit(self._run_spec(r.job, site_id))
            except BackendUnavailable as exc:
                self._site_down(key, str(exc), now)
                self._outbox.append(Transition(job_id, QUEUED, now,
                                               f"{key} unavailable: {exc}; placing again",
                                               {"site": None, "provider": None}))
                self._provider.pop(job_id, None)
                self.scheduler.requeue(job_id, now)
                continue
            self._handles[job_id] = (key, handle)
            self._outbox.append(Transition(job_id, PLACED, now,
                                           f"handed to {executor.name} as {handle}",
                                           {"exec_handle": handle, "site": site_id}))

    def _poll(self, now: float) -> None:
        by_executor: dict[int, list[str]] = {}
        for job_id, (site_id, _) in self._handles.items():
            if site_id not in self.unhealthy:
                by_executor.setdefault(id(self.executors[site_id]), []).append(job_id)
        for job_ids in by_executor.values():
            site_id = self._handles[job_ids[0]][0]
            executor = self.executors[site_id]
            if executor is None:
                continue
            try:
                statuses = executor.poll([self._handles[j][1] for j in job_ids])
            except BackendUnavailable as exc:
                for j in job_ids:
                    self._site_down(self._handles[j][0], str(exc), now)
                continue
            for job_id in job_ids:
                status = statuses.get(self._handles[job_id][1])
                if status is not None:
                    self._observe(job_id, status, now)

    def _observe(self, job_id: str, st: ExecStatus, now: float) -> None:
        r = self.scheduler.running.get(job_id)
        if r is None:
            self._handles.pop(job_id, None)
            return
        # the tick's clock reading can be older than a report (a short run can start and
        # end between the tick's start and its poll): a run's times are moved back by the
        # same lag, so they stay at or before `now` and its measured length is kept
        late_s = 0.0
        if st.ended and st.ended_wall_s:
            late_s = max(self.clock.run_of(st.ended_wall_s) - now, 0.0)
        if st.started_wall_s is not None and job_id not in self._started:
            start = min(self.clock.run_of(st.started_wall_s) - late_s, now)
            self._started[job_id] = start
            how = f" as {st.started_as}" if st.started_as else ""
            self._outbox.append(Transition(job_id, RUNNING, start,
                                           f"started on its engine{how}", {"start_s": start}))
        if not st.ended:
            return
        site_id, handle = self._handles.pop(job_id)
        executor = self.executors[site_id]
        forget = getattr(executor, "forget", None)
        if forget is not None:
            forget(handle)
        start = self._started.pop(job_id, None)
        end = min(self.clock.run_of(st.ended_wall_s) - late_s, now) if st.ended_wall_s else now
        self.scheduler.release(job_id, now, notify=False)
        charges = self.charge(r.job, r.pool, start, end) if start is not None else {}
        posted = charges.pop(POSTED_KEY, None)
        self._provider.pop(job_id, None)
        fields: dict[str, Any] = {**charges, "end_s": end, "exit_code": st.exit_code,
                                  "log_tail": st.log_tail or None}
        if start is not None:
            fields["start_s"] = start
        usage = self._usage(r.job, start, end, charges, posted)
        if st.state == ExecState.FINISHED:
            self._market.pop(job_id, None)
            self._count(charges)
            self._outbox.append(Transition(job_id, FINISHED, end, st.reason or "exit code 0",
                                           fields, usage))
            return
        info = self._exec.setdefault(job_id, ExecInfo())
        info.attempts += 1
        why = st.reason or st.state.value
        if info.attempts <= info.max_retries:
            self._outbox.append(Transition(
                job_id, QUEUED, now, f"attempt {info.attempts} failed ({why}); run again",
                {"attempts": info.attempts, "exit_code": st.exit_code,
                 "log_tail": st.log_tail or None, "site": None, "provider": None,
                 "exec_handle": None}))
            if self._market.get(job_id, (0.0, ""))[1] == POSTED_ROUND:
                self._market.pop(job_id)  # quoted again where and when it is placed again
            self.scheduler.submit(r.job, now)
            return
        self._market.pop(job_id, None)
        self._count(charges)
        fields["attempts"] = info.attempts
        self._outbox.append(Transition(job_id, FAILED, end, why, fields, usage))
        log.warning("job %s failed at %s: %s", job_id, site_id, why)

    def _count(self, charges: dict[str, Any]) -> None:
        if not charges:
            return
        self.totals.finished += 1
        self.totals.energy_kwh += charges["energy_kwh"]
        self.totals.green_kwh += charges["green_kwh"]
        self.totals.carbon_kg += charges["carbon_kg"]
        self.totals.cost_yuan += charges["cost_yuan"]

    def _site_down(self, site_id: str, why: str, now: float) -> None:
        """A backend did not answer: its site (or, for a provider's own binding
        "site/provider", that provider's pools) takes no new work until it answers again."""
        if site_id not in self.unhealthy:
            log.warning("%s unhealthy, no new work goes there: %s", site_id, why)
            self.unhealthy[site_id] = why
            health_log.append(self.store, health_log.HealthTransition(site_id, now, False, why))
            self._apply_drains(now)

    def _check_health(self, now: float) -> None:
        wall = time.monotonic()
        if wall - self._last_health_check < HEALTH_CHECK_EVERY_S:
            return
        self._last_health_check = wall
        for site_id in list(self.unhealthy):
            executor = self.executors[site_id]
            if executor is not None and executor.healthy():
                del self.unhealthy[site_id]
                log.info("site %s healthy again", site_id)
                health_log.append(self.store, health_log.HealthTransition(
                    site_id, now, True, "the backend answers again"))
        self._apply_drains(now)

    def _flush(self) -> None:
        """Persist the transitions decided so far. If the database fails they are kept, in
        order, ahead of anything decided later, and go out with the next flush (the tick
        that failed stops before any backend hears of its decisions)."""
        out, self._outbox = self._outbox, []
        logged = self._log[:]
        del self._log[:]  # the recording core holds this list: emptied in place
        try:
            self.store.apply(out, logged)
        except BaseException:
            self._outbox = out + self._outbox
            self._log[:0] = logged
            raise

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
        t = Transition(job.job_id, PLACED, placement.placed_s, placement.reason, {
            "site": placement.site_id, "provider": placement.provider_id or None,
            "rtt_ms": rtt, "placed_s": placement.placed_s,
            "start_s": placement.start_s, "end_s": placement.end_s, "defer_until_s": None})
        self._outbox.append(t)
        if self._recording:
            self._log.append(decision("placed", job.job_id, placement.placed_s,
                                      site=placement.site_id, provider=placement.provider_id,
                                      start_s=placement.start_s, end_s=placement.end_s,
                                      reason=placement.reason))
        heapq.heappush(self._starts, (placement.start_s, job.job_id))
        if placement.provider_id:
            self._provider[job.job_id] = placement.provider_id
            sl = self.topology.slice_of.get((placement.site_id, placement.provider_id,
                                             job.kind))
            info = self._exec.get(job.job_id)
            if (sl is not None and info is not None and info.accept_posted
                    and job.job_id not in self._market):  # the posted price, quoted now
                quote = self.market.prices.quote(sl, placement.start_s, placement.end_s,
                                                 placement.placed_s)
                self._market[job.job_id] = (quote, POSTED_ROUND)
                t.fields = {**(t.fields or {}), "market_price_yuan_per_unit_h": quote}
            market = self._market.get(job.job_id)
            if market is not None:  # a market job holds its bill at its market price
                egress = job.data_gb * self.topology.slice_egress[sl] if sl is not None else 0.0
                t.account = {"hold_yuan": market[0] * job.units * job.duration_s / HOUR_S
                             + egress}
            elif sl is not None:  # a held account's hold: the chosen provider's worst case
                start = self.clock.start_utc + timedelta(seconds=placement.start_s)
                t.account = {"hold_yuan": self.pricer.placed_worst_yuan(sl, job, start)}

    def deferred(self, job: Job, until_s: float, reason: str) -> None:
        self._decided("deferred", job, until_s=until_s, reason=reason)
        self._outbox.append(Transition(job.job_id, DEFERRED, self.scheduler.now_s, reason,
                                       {"defer_until_s": until_s}))

    def _decided(self, kind: str, job: Job, **body: Any) -> None:
        if self._recording:
            self._log.append(decision(kind, job.job_id, self.scheduler.now_s, **body))

    def queued(self, job: Job, reason: str) -> None:
        self._decided("queued", job, reason=reason)
        self._outbox.append(Transition(job.job_id, QUEUED, self.scheduler.now_s, reason))

    def rejected(self, job: Job, reason: str) -> None:
        self._decided("rejected", job, reason=reason)
        self._outbox.append(Transition(job.job_id, REJECTED, self.scheduler.now_s, reason))

    def finished(self, job: Job, pool: int, now_s: float) -> None:
        if self._recording:
            self._log.append(decision("finished", job.job_id, now_s))
        start_s = self._started.pop(job.job_id, None)
        if start_s is None:  # placed, started and ended within one tick
            start_s = now_s - job.duration_s
            self._outbox.append(Transition(job.job_id, RUNNING, start_s, "input data arrived"))
        charges = self.charge(job, pool, start_s, now_s)
        posted = charges.pop(POSTED_KEY, None)
        self._provider.pop(job.job_id, None)
        self._market.pop(job.job_id, None)
        self._count(charges)
        self._outbox.append(Transition(job.job_id, FINISHED, now_s, "ran its duration",
                                       charges, self._usage(job, start_s, now_s, charges,
                                                                posted)))

    @staticmethod
    def _usage(job: Job, start_s: float | None, end_s: float,
               charges: dict[str, Any], posted: float | None = None
               ) -> dict[str, float] | None:
        """What a charged run counts on its tenant's account beside its bill: unit-hours
        and its market-based carbon (the location-based one is the job's `carbon_kg`)."""
        if start_s is None or not charges:
            return None
        out = {"unit_h": job.units * max(end_s - start_s, 0.0) / HOUR_S,
               "carbon_market_kg": market_carbon_kg(charges["energy_kwh"],
                                                    charges["green_kwh"])}
        if posted is not None:  # the account's entry says the bill was at the posted price
            out[POSTED_KEY] = posted
        return out

    def _nearest_pool(self, job: Job) -> int | None:
        """The pool the `nearest` baseline would have used: the lowest round trip that could
        serve the job (capacity aside) — compute staying next to its demand."""
        cands = self.topology.candidates(job)
        return cands[0].pool if cands else None

    def provider_of(self, job_id: str) -> str | None:
        """The provider holding a placed or running job's units (None once it has ended)."""
        with self.lock:
            return self._provider.get(job_id)

    def charge(self, job: Job, pool: int, start_s: float, end_s: float) -> dict[str, Any]:
        """Energy, green energy, carbon and cost of `job` in `pool` over [start, end): the
        simulator's accounting rule, on the actual series; and the tenant's bill at the
        provider that held its units (price items in force hour by hour, plus egress)."""
        topo = self.topology
        base_pool = self._nearest_pool(job)
        pools = [pool] if base_pool is None else [pool, base_pool]
        power_kw = np.array([job.units * topo.pool_kw_facility[p] for p in pools])
        ch = charge_jobs(self.series, np.array([topo.pool_site[p] for p in pools]), power_kw,
                         np.full(len(pools), start_s), np.full(len(pools), end_s))
        out: dict[str, Any] = {
            "energy_kwh": float(ch.energy_kwh[0]), "green_kwh": float(ch.green_kwh[0]),
            "carbon_kg": float(ch.carbon_kg[0]), "cost_yuan": float(ch.cost_yuan[0])}
        provider = self._provider.get(job.job_id)
        sl = topo.slice_of.get((self._site_of(pool), provider, job.kind)) if provider else None
        if sl is not None:
            bill = slice_bill(topo, self.series, sl, job, start_s, end_s)
            market = self._market.get(job.job_id)
            if market is not None:
                bill = at_clearing_price(bill, *market)
                if market[1] == POSTED_ROUND:  # told to the account's entry (`_usage`)
                    out[POSTED_KEY] = market[0]
            out.update(provider=provider, bill_yuan=bill.total_yuan,
                       egress_yuan=bill.egress_yuan)
        if base_pool is not None:  # what the `nearest` baseline would have drawn
            out["baseline_site"] = self._site_of(base_pool)
            out["baseline_carbon_kg"] = float(ch.carbon_kg[1])
            out["baseline_cost_yuan"] = float(ch.cost_yuan[1])
        return out

    # ---- views ---------------------------------------------------------------------------

    def live_state(self) -> list[dict[str, Any]]:
        """Per site and pool, now: busy and free units, waiting jobs, power, green share,
        carbon intensity and price."""
        with self.lock:
            now = self.clock.now_s()
            topo = self.topology
            free = list(self.scheduler.state.free_units)
            free_slice = list(self.scheduler.state.free_slice)
            withheld = dict(self.scheduler.state.withheld)
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
                "drained": site.id in self._operator_drained,
                "healthy": site.id not in self.unhealthy,
                "unhealthy_reason": self.unhealthy.get(site.id),
                "taking_work": i not in drained,
                "backend": getattr(self.executors[site.id], "name", "clock"),
                "green_share": float(self.series.green_share[i, h]),
                "intensity_g_per_kwh": float(self.series.intensity_g_per_kwh[i, h]),
                "price_yuan_per_kwh": float(self.series.price_yuan_per_kwh[i, h]),
                "power_kw": sum(power[p] for p in pools),
                "pools": [{"kind": topo.pool_kind[p].value,
                           "capacity_units": topo.pool_capacity[p],
                           "busy_units": topo.pool_capacity[p] - free[p]
                           - sum(withheld.get(k, 0) for k in topo.pool_slices[p]),
                           "free_units": free[p], "power_kw": power[p]} for p in pools],
                # per provider and kind: its share of the pool, the units it offers the
                # platform, and the units busy now
                "providers": [{"provider": topo.slice_provider[k], "kind": kind.value,
                               "installed_units": prov.units_of(kind),
                               "offered_units": topo.slice_capacity[k],
                               "busy_units": topo.slice_capacity[k] - free_slice[k]
                               - withheld.get(k, 0),
                               "binding": (b := self._binding(site.id, prov.id)),
                               "backend": getattr(self.executors[b], "name", "clock"),
                               "healthy": b not in self.unhealthy
                               and site.id not in self.unhealthy}
                              for k, (prov, kind) in enumerate(topo.slices)
                              if topo.slice_site[k] == i],
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
        """Sites the operator drained (an unhealthy site is not drained: see `unhealthy`)."""
        with self.lock:
            return set(self._operator_drained)
