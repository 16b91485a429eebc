"""The same demand through three mechanisms, each driving the one scheduling core.

- **scheduler-alone**: every job submitted as today (`sim.engine.simulate`), billed at the
  providers' list prices.
- **posted-prices**: the scheduler's price table is the posted one (`market.posted`, revised
  every 15 minutes from the units booked per slice and hour). A deferrable job is submitted
  only if its value covers the posted price (+ egress) of some option that meets its deadline
  if started now, and then with a bill cap equal to its value (`Job.max_bill_yuan`), so that
  the policy places it within the cap; it is billed at the posted prices in force when it is
  placed, for the hours it runs. Otherwise it is not run.
- **call-auction**: every 15 minutes on the run clock, the deferrable jobs submitted before
  and not yet traded bid (value = their valuation, as a total for the job; deadline from the
  round), and each provider slice's free units ask at its reserve (energy + wear, capped at
  the list price: `synthetic.reserve_yuan_per_unit_h`); `clearing.clear` clears the round. A
  bid filled in full is placed now through the scheduler, pinned to its matched site and
  provider, and billed at the clearing price (+ egress). A bid filled in part, or whose units
  were split over two asks of which none has room for the whole job, is void for the round
  (its units stay free) and bids again; a bid bids again every round until no option can
  still meet its deadline, and is then not run.

Real-time jobs are never traded: in all three they are submitted on arrival, as in the first,
and billed at list prices.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from suanwang.core.policy import Decision, Policy
from suanwang.core.scheduler import Scheduler
from suanwang.core.state import Topology
from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.errors import InputError
from suanwang.market import posted
from suanwang.market.clearing import Clearing, Match, clear
from suanwang.market.feasibility import Book, build_book
from suanwang.market.offline import mechanism_welfare_yuan, offline_optimum
from suanwang.market.orders import Ask, Bid
from suanwang.market.synthetic import reserve_yuan_per_unit_h
from suanwang.model import Job, Kind, Network, Placement, Provider
from suanwang.pricing.table import PriceTable, hourly_matrix
from suanwang.sim.engine import _Recorder, simulate
from suanwang.sim.result import SimResult

SCHEDULER_ALONE, POSTED_PRICES, CALL_AUCTION = "scheduler-alone", "posted-prices", "call-auction"
MECHANISMS: tuple[str, ...] = (SCHEDULER_ALONE, POSTED_PRICES, CALL_AUCTION)
MECHANISM_NAMES_ZH: dict[str, str] = {SCHEDULER_ALONE: "调度直配", POSTED_PRICES: "挂牌价",
                                      CALL_AUCTION: "集合竞价"}
ROUND_S = 900.0  # the call auction's cadence (the rolling cadence)


@dataclass(frozen=True, slots=True)
class RoundRecord:
    """One round of the call auction, with the checks of its clearing."""

    round_s: float  # clock second of the clearing
    bids: int
    asks: int
    units_offered: int
    units_traded: int
    bids_matched: int  # bids filled in full and placed
    bids_void: int  # filled in part or split with no room for the whole job: bid again
    welfare_yuan: float  # the clearing's welfare (`offline.mechanism_welfare_yuan`)
    optimum_yuan: float  # the offline optimum on the round's book
    platform_yuan: float  # buyers' payments - sellers' receipts - transit (>= 0: weak BB)
    ir_violations: int  # matches above the bid's limit or below the ask's reserve
    clear_s: float


@dataclass
class MechanismRun:
    """What one mechanism did to the demand: the run, and each job's bill under it."""

    mechanism: str
    result: SimResult
    compute_bill_yuan: np.ndarray  # per job: the compute bill under the mechanism
    market_billed: np.ndarray  # per job: billed at a market price (not the list price)
    rounds: list[RoundRecord] = field(default_factory=list)

    @property
    def bill_yuan(self) -> np.ndarray:
        assert self.result.egress_yuan is not None
        return self.compute_bill_yuan + self.result.egress_yuan


def value_total_yuan(job: Job, value_yuan_per_unit_h: float) -> float:
    return value_yuan_per_unit_h * job.units * job.duration_s / HOUR_S


def check_priced(topology: Topology) -> None:
    """The market needs every provider slice to carry price items (a network file without
    providers bills electricity, which has no list price to post or cap a reserve)."""
    for prov, kind in topology.slices:
        if prov.energy_priced or not prov.items(kind):
            raise InputError(topology.network.name, "providers", prov.id,
                             f"the market comparison needs providers with price items; "
                             f"{prov.id} at {prov.site_id} has no {kind.value} price")


class _MarketRecorder(_Recorder):
    """The simulator's recorder, plus the unit-hours booked per (slice, hour) and each
    market-billed job's compute bill, quoted when it is placed."""

    def __init__(self, jobs: Sequence[Job], topo: Topology, hours: int) -> None:
        super().__init__(jobs, {s: i for i, s in enumerate(topo.site_ids)})
        self.slice_of = topo.slice_of
        self.booked_unit_h = np.zeros((len(topo.slices), hours))
        self.quote_yuan = np.full(len(jobs), np.nan)
        self.quoter: Callable[[Placement, int], float | None] | None = None

    def placed(self, placement: Placement, pool: int) -> None:
        super().placed(placement, pool)
        job = placement.job
        sl = self.slice_of[(placement.site_id, placement.provider_id, job.kind)]
        start, end = placement.placed_s, placement.end_s  # units are held from placement
        width = self.booked_unit_h.shape[1]
        for h in range(int(start // HOUR_S), min(math.ceil(end / HOUR_S), width)):
            overlap = min(end, (h + 1) * HOUR_S) - max(start, h * HOUR_S)
            if overlap > 0:
                self.booked_unit_h[sl, h] += job.units * overlap / HOUR_S
        if self.quoter is not None:
            q = self.quoter(placement, sl)
            if q is not None:
                self.quote_yuan[self.index[job.job_id]] = q


class PostedTable(PriceTable):
    """The scheduler's price table with the posted prices (`market.posted`) in place of the
    list prices: hours not posted yet are at their floor (the list price)."""

    def __init__(self, rows: list[tuple[Provider, Kind]], clock_start: datetime,
                 hours: int) -> None:
        self.posted: np.ndarray | None = None
        super().__init__(rows, clock_start, hours)
        self.posted = np.full(self.floor.shape, np.nan)

    def _build(self, hours: int) -> None:
        self.floor = hourly_matrix(self.rows, self.clock_start, hours)
        prices = self.floor.copy()
        if self.posted is not None:
            k = min(hours, self.posted.shape[1])
            grown = np.full((len(self.rows), hours), np.nan)
            grown[:, :k] = self.posted[:, :k]
            self.posted = grown
            prices = np.where(np.isnan(grown), self.floor, grown)
        self._adopt(prices)

    def revise(self, now_s: float, booked_unit_h: np.ndarray, capacity: np.ndarray) -> None:
        """One revision at `now_s`: every hour from the current one on moves by the rule."""
        assert self.posted is not None
        h0 = min(int(now_s // HOUR_S), self.hours - 1)
        util = np.zeros((len(self.rows), self.hours - h0))
        k = min(self.hours, booked_unit_h.shape[1]) - h0
        if k > 0:
            util[:, :k] = booked_unit_h[:, h0:h0 + k] / np.maximum(capacity, 1)[:, None]
        new = posted.revise(self.posted[:, h0:], self.floor[:, h0:], util)
        self.posted[:, h0:] = new
        prices = self.yuan_per_unit_h.copy()
        prices[:, h0:] = new
        self._adopt(prices)


def _finish(rec: _MarketRecorder, sched: Scheduler, network: Network, jobs: Sequence[Job],
            policy: Policy, series: EnergySeries, topo: Topology, mechanism: str,
            started: float, rounds: list[RoundRecord]) -> MechanismRun:
    sched.advance(math.inf)
    for j in sched.waiting():
        rec.rejected_why[rec.index[j.job_id]] = "still waiting for capacity when the run ended"
    result = SimResult.build(network=network, jobs=jobs, policy_name=policy.name,
                             series=series, topology=topo, site=rec.site, pool=rec.pool,
                             placed_s=rec.placed_s, transfer_s=rec.transfer_s,
                             deferrals=rec.deferrals, reasons=rec.reasons,
                             rejected=rec.rejected_why, wall_s=time.perf_counter() - started,
                             slice_idx=rec.slice)
    assert result.compute_bill_yuan is not None
    market = ~np.isnan(rec.quote_yuan) & result.ran
    bill = np.where(market, np.nan_to_num(rec.quote_yuan), result.compute_bill_yuan)
    return MechanismRun(mechanism, result, bill, market, rounds)


def run_scheduler_alone(network: Network, jobs: Sequence[Job], policy: Policy,
                        series: EnergySeries, forecaster: Forecaster) -> MechanismRun:
    result = simulate(network, jobs, policy, series, forecaster)
    assert result.compute_bill_yuan is not None
    return MechanismRun(SCHEDULER_ALONE, result, result.compute_bill_yuan.copy(),
                        np.zeros(len(jobs), dtype=bool))


def run_posted(network: Network, jobs: Sequence[Job], policy: Policy, series: EnergySeries,
               forecaster: Forecaster, values: np.ndarray) -> MechanismRun:
    """Posted prices, as the module describes."""
    started = time.perf_counter()
    topo = Topology(network)
    check_priced(topo)
    rec = _MarketRecorder(jobs, topo, series.hours)
    sched = Scheduler(topo, forecaster, policy, rec)
    table = PostedTable(topo.slices, series.start_utc, series.hours)
    sched.state._prices = table
    capacity = np.asarray(topo.slice_capacity, dtype=float)

    def quote(pl: Placement, sl: int) -> float | None:
        j = pl.job
        if j.realtime:
            return None
        return table.mean(sl, pl.start_s, pl.end_s) * j.units * j.duration_s / HOUR_S

    rec.quoter = quote
    next_rev = 0.0
    for i, job in enumerate(jobs):
        while job.submit_s >= next_rev:
            sched.advance(next_rev)
            table.revise(next_rev, rec.booked_unit_h, capacity)
            next_rev += posted.REVISION_S
        sched.advance(job.submit_s)
        if job.realtime:
            sched.submit(job, job.submit_s)
            continue
        worth = value_total_yuan(job, float(values[i]))
        if _cheapest_option(topo, table, job, job.submit_s) > worth + 1e-9:
            rec.rejected(job, f"posted-prices: value {worth:.4g} yuan below the posted price "
                              "+ egress of every option that meets the deadline")
            continue
        sched.submit(replace(job, max_bill_yuan=worth), job.submit_s)
    return _finish(rec, sched, network, jobs, policy, series, topo, POSTED_PRICES, started, [])


def _cheapest_option(topo: Topology, table: PriceTable, job: Job, now_s: float) -> float:
    """The least bill (posted compute + egress) of the job started now at any slice that can
    ever serve it, meeting its deadline; inf if none."""
    best = math.inf
    hours = job.duration_s / HOUR_S
    for o in topo.offers(job):
        start = now_s + o.transfer_s(job.data_gb)
        if job.deadline_s is not None and start + job.duration_s > job.deadline_s + 1e-6:
            continue
        bill = (table.mean(o.slice, start, start + job.duration_s) * job.units * hours
                + job.data_gb * o.egress_yuan_per_gb)
        best = min(best, bill)
    return best


def run_auction(network: Network, jobs: Sequence[Job], policy: Policy, series: EnergySeries,
                forecaster: Forecaster, values: np.ndarray,
                round_s: float = ROUND_S) -> MechanismRun:
    """The call auction, as the module describes."""
    started = time.perf_counter()
    topo = Topology(network)
    check_priced(topo)
    rec = _MarketRecorder(jobs, topo, series.hours)
    sched = Scheduler(topo, forecaster, policy, rec)
    rounds: list[RoundRecord] = []
    sla_start = [prov.sla.start_s for prov, _ in topo.slices]
    worth = {j.job_id: value_total_yuan(j, float(v)) for j, v in zip(jobs, values, strict=True)}
    pending: list[Job] = []

    def one_round(t: float) -> None:
        nonlocal pending
        sched.advance(t)
        bids: list[Bid] = []
        keep: list[Job] = []
        for job in pending:
            assert job.deadline_s is not None
            remaining = job.deadline_s - t
            lead = min((sla_start[o.slice] + o.transfer_s(job.data_gb)
                        for o in topo.offers(job)), default=math.inf)
            if remaining < lead + job.duration_s:
                rec.rejected(job, "call-auction: not traded while its deadline allowed")
                continue
            bids.append(Bid(bid_id=job.job_id, tenant=job.tenant, origin=job.origin,
                            kind=job.kind, units=job.units, duration_s=job.duration_s,
                            deadline_s=remaining, limit_total_yuan=worth[job.job_id],
                            data_gb=job.data_gb, workload=job.workload))
            keep.append(job)
        pending = keep
        if not bids:
            return
        asks = _asks(network, topo, sched, t)
        book = build_book(network, bids, asks)
        clearing = clear(book)
        placed, void = _place_matches(topo, sched, rec, pending, clearing, t)
        pending = [j for j in pending if j.job_id not in placed]
        rounds.append(RoundRecord(
            round_s=t, bids=len(bids), asks=len(asks),
            units_offered=sum(a.units for a in asks),
            units_traded=sum(m.units for m in clearing.matches), bids_matched=len(placed),
            bids_void=void, welfare_yuan=mechanism_welfare_yuan(book, clearing),
            optimum_yuan=offline_optimum(book, method="highs").welfare_yuan,
            platform_yuan=clearing.platform_yuan, ir_violations=_ir_violations(book, clearing),
            clear_s=clearing.clear_s))

    next_round = round_s
    for job in jobs:
        while job.submit_s >= next_round:
            one_round(next_round)
            next_round += round_s
        sched.advance(job.submit_s)
        if job.realtime:
            sched.submit(job, job.submit_s)
        else:
            pending.append(job)
    while pending:
        one_round(next_round)
        next_round += round_s
    return _finish(rec, sched, network, jobs, policy, series, topo, CALL_AUCTION, started,
                   rounds)


def _asks(network: Network, topo: Topology, sched: Scheduler, t: float) -> list[Ask]:
    """Every open slice's free units now, at its reserve; its list price of the hour for
    routing."""
    state = sched.state
    table = state.prices
    table.ensure(t)
    hour = min(int(t // HOUR_S), table.hours - 1)
    asks: list[Ask] = []
    for sl, (prov, kind) in enumerate(topo.slices):
        free = state.free_slice[sl]
        if free <= 0 or topo.slice_site[sl] in state.drained or sl in state.withheld:
            continue
        listed = table.price_rows[sl][hour]
        site = network.sites[topo.slice_site[sl]]
        asks.append(Ask(prov.id, site.id, kind, reserve_yuan_per_unit_h(site, kind, listed),
                        min(free, prov.offered(kind)), list_yuan_per_unit_h=listed))
    return asks


def _place_matches(topo: Topology, sched: Scheduler, rec: _MarketRecorder,
                   pending: list[Job], clearing: Clearing, t: float) -> tuple[set[str], int]:
    """Place each bid filled in full at its matched site, with the matched provider that has
    room for the whole job; the ids placed, and how many matched bids were void."""
    by_bid: dict[str, list[Match]] = {}
    for m in clearing.matches:
        by_bid.setdefault(m.bid_id, []).append(m)
    jobs = {j.job_id: j for j in pending}
    placed: set[str] = set()
    void = 0
    state = sched.state
    net = topo.network
    for bid_id in sorted(by_bid):
        ms = by_bid[bid_id]
        job = jobs[bid_id]
        if sum(m.units for m in ms) < job.units:
            void += 1
            continue
        pick = None
        for m in sorted(ms, key=lambda m: (-m.units, m.ask_id)):
            sl = topo.slice_of[(m.site_id, m.provider_id, job.kind)]
            if state.free_slice[sl] >= job.units:
                pick = m
                break
        if pick is None:
            void += 1
            continue
        gbps = net.bandwidth_gbps[(job.origin, pick.site_id)]
        transfer = job.data_gb * 8.0 / gbps if job.data_gb > 0 else 0.0
        price = pick.seller_yuan_per_unit_h
        rec.quote_yuan[rec.index[bid_id]] = sum(m.seller_receives_yuan for m in ms)
        sched.apply(Decision(placed=[Placement(
            job, pick.site_id, t, transfer,
            f"call-auction round at {t:.0f} s: cleared at {price:.4g} yuan/unit-h",
            pick.provider_id)]), t)
        placed.add(bid_id)
    return placed, void


def _ir_violations(book: Book, clearing: Clearing) -> int:
    """Matches where the buyer pays above its limit or the seller gets below its reserve."""
    value = {b.bid_id: b.value_yuan_per_unit_h for b in book.bids}
    reserve = {a.ask_id: a.reserve_yuan_per_unit_h for a in book.asks}
    bad = 0
    for m in clearing.matches:
        over = m.buyer_yuan_per_unit_h > value[m.bid_id] + 1e-9
        if over or m.seller_yuan_per_unit_h < reserve[m.ask_id] - 1e-9:
            bad += 1
    return bad
