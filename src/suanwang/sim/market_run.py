"""The same demand through three mechanisms, each driving the one scheduling core.

- **scheduler-alone**: every job submitted as today (`sim.engine.simulate`), billed at the
  providers' list prices.
- **posted-prices**: the scheduler's price table is the posted one (`market.posted`, revised
  every 15 minutes: by default toward floor + the planner's capacity dual of each slice-hour
  over the jobs the scheduler holds then, `market.scarcity`; or, `PostedRule(scarcity_source=
  "utilisation")`, from the units booked per slice and hour). A deferrable job is submitted
  only if its value covers the posted price (+ egress) of some option that meets its deadline
  if started now, and then with a bill cap equal to its value (`Job.max_bill_yuan`), so that
  the policy places it within the cap; it is billed at the posted prices in force when it is
  placed, for the hours it runs. Otherwise it is not run. A job the policy cannot place within
  its cap asks again at each revision until it could no longer end by its deadline, and is
  then not run.
- **call-auction**: every 15 minutes on the run clock, the deferrable jobs submitted before
  and not yet traded bid (value = their valuation, as a total for the job; deadline from the
  round), and each provider slice's free units ask at its reserve (energy + wear, capped at
  the list price: `synthetic.reserve_yuan_per_unit_h`); `clearing.clear` clears the round. A
  bid filled in full is placed now through the scheduler, pinned to its matched site and
  provider (or, when its units were split over asks none of which has room for the whole
  job, another trading ask of the same market: same price, same transit, reserve at most the
  price), and billed at the clearing price (+ egress). A bid filled in part, or with no room
  in one slice, is void (a job runs whole, on one provider); the units void trades left idle
  are cleared again among the round's other unplaced bids (up to `MAX_PASSES` clearings a
  round, each SBBA on its own book). A bid bids again every round until no option can still
  meet its deadline, and is then not run.

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

from suanwang.core.policy import Decision, Deferral, Policy, Unplaced
from suanwang.core.scheduler import Scheduler
from suanwang.core.state import SchedulerState, Topology
from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.errors import InputError
from suanwang.market import posted
from suanwang.market.clearing import Clearing, clear
from suanwang.market.feasibility import Book, build_book
from suanwang.market.offline import (
    mechanism_welfare_yuan,
    offline_optimum,
    optimum_assignment,
)
from suanwang.market.orders import Ask, Bid
from suanwang.market.scarcity import Demand, Duals, capacity_duals
from suanwang.market.synthetic import reserve_yuan_per_unit_h
from suanwang.model import Job, Kind, Network, Placement, Provider
from suanwang.pricing.table import PriceTable, hourly_matrix
from suanwang.sim.engine import _Recorder, simulate
from suanwang.sim.result import SimResult

SCHEDULER_ALONE, POSTED_PRICES, CALL_AUCTION = "scheduler-alone", "posted-prices", "call-auction"
MECHANISMS: tuple[str, ...] = (SCHEDULER_ALONE, POSTED_PRICES, CALL_AUCTION)
OPTIMUM_ROUNDS = "optimum-rounds"  # the reference: the auction's rounds settled by the LP
MECHANISM_NAMES_ZH: dict[str, str] = {SCHEDULER_ALONE: "调度直配", POSTED_PRICES: "挂牌价",
                                      CALL_AUCTION: "集合竞价", OPTIMUM_ROUNDS: "逐轮最优"}
ROUND_S = 900.0  # the call auction's cadence (the rolling cadence)
MAX_PASSES = 3  # clearings per round: the first, and re-clearings of what void trades left


@dataclass(frozen=True, slots=True)
class RoundRecord:
    """One round of the call auction, with the checks of its clearing."""

    round_s: float  # clock second of the clearing
    pass_no: int  # 0, then 1.. for the re-clearings of units a void trade left idle
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
        if prov.offered(kind) <= 0:
            continue
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

    def revise(self, now_s: float, target: np.ndarray) -> None:
        """One revision at `now_s`: every hour from the current one on moves by the rule
        toward its floor + `target` (s*, slices x hours from the current one)."""
        assert self.posted is not None
        h0 = self.first_hour(now_s)
        new = posted.revise(self.posted[:, h0:], self.floor[:, h0:], target)
        self.posted[:, h0:] = new
        prices = self.yuan_per_unit_h.copy()
        prices[:, h0:] = new
        self._adopt(prices)

    def first_hour(self, now_s: float) -> int:
        return min(int(now_s // HOUR_S), self.hours - 1)

    def utilisation_targets(self, now_s: float, booked_unit_h: np.ndarray,
                            capacity: np.ndarray) -> np.ndarray:
        """s* of the `utilisation` source from the unit-hours booked per slice and hour."""
        h0 = self.first_hour(now_s)
        util = np.zeros((len(self.rows), self.hours - h0))
        k = min(self.hours, booked_unit_h.shape[1]) - h0
        if k > 0:
            util[:, :k] = booked_unit_h[:, h0:h0 + k] / np.maximum(capacity, 1)[:, None]
        return posted.utilisation_targets(self.floor[:, h0:], util)

    def dual_targets(self, now_s: float, duals: Duals) -> np.ndarray:
        """s* of the `lp_dual` source from the planner's capacity duals (0 past them)."""
        h0 = self.first_hour(now_s)
        dual = np.zeros((len(self.rows), self.hours - h0))
        lo, hi = max(duals.slot0, h0), min(duals.slot0 + duals.yuan_per_unit_h.shape[1],
                                           self.hours)
        if hi > lo:
            dual[:, lo - h0:hi - h0] = duals.yuan_per_unit_h[:, lo - duals.slot0:
                                                             hi - duals.slot0]
        return posted.dual_targets(self.floor[:, h0:], dual)


class _RetryAtRevision:
    """The policy, for posted prices: a deferrable job it cannot place within its bill cap
    now is asked again at the next revision (prices and room may have moved), rather than
    queued for every release of capacity; once it can no longer end by its deadline, it is
    not run."""

    def __init__(self, inner: Policy, revision_s: float) -> None:
        self.inner = inner
        self.name = inner.name
        self.revision_s = revision_s

    def decide(self, state: SchedulerState, pending: Sequence[Job], now_s: float) -> Decision:
        d = self.inner.decide(state, pending, now_s)
        keep: list[Unplaced] = []
        for un in d.unplaced:
            job = un.job
            if not un.retry or job.max_bill_yuan is None or job.deadline_s is None:
                keep.append(un)
                continue
            nxt = (math.floor(now_s / self.revision_s) + 1) * self.revision_s
            if nxt + job.duration_s > job.deadline_s:
                keep.append(Unplaced(job, f"posted-prices: no option within its value before "
                                          f"its deadline ({un.reason})", retry=False))
            else:
                d.deferred.append(Deferral(job, nxt, f"posted-prices: {un.reason}; asks "
                                                     "again at the next revision"))
        d.unplaced = keep
        return d


def _finish(rec: _MarketRecorder, sched: Scheduler, network: Network, jobs: Sequence[Job],
            policy: Policy, series: EnergySeries, topo: Topology, mechanism: str,
            started: float, rounds: list[RoundRecord]) -> MechanismRun:
    sched.advance(math.inf)
    for j in sched.waiting():
        rec.rejected_why[rec.index[j.job_id]] = "still waiting for capacity when the run ended"
    result = SimResult.build(network=network, jobs=jobs, policy_name=policy.name,
                             series=series, topology=topo, reasons=rec.reasons,
                             rejected=rec.rejected_why, wall_s=time.perf_counter() - started,
                             **rec.arrays())
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
               forecaster: Forecaster, values: np.ndarray,
               rule: posted.PostedRule | None = None) -> MechanismRun:
    """Posted prices, as the module describes, revised by `rule` (default: lp_dual scarcity
    at `posted.YUAN_PER_T_CO2`)."""
    rule = rule or posted.PostedRule()
    started = time.perf_counter()
    topo = Topology(network)
    check_priced(topo)
    rec = _MarketRecorder(jobs, topo, series.hours)
    sched = Scheduler(topo, forecaster, _RetryAtRevision(policy, posted.REVISION_S), rec)
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
            if rule.scarcity_source == posted.LP_DUAL:
                duals = capacity_duals(Demand.of(sched, next_rev), rule.yuan_per_t_co2)
                table.revise(next_rev, table.dual_targets(next_rev, duals))
            else:
                table.revise(next_rev, table.utilisation_targets(next_rev, rec.booked_unit_h,
                                                                 capacity))
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
                forecaster: Forecaster, values: np.ndarray, round_s: float = ROUND_S,
                assign: str = "sbba") -> MechanismRun:
    """The call auction, as the module describes. `assign="optimum"` is the reference: the
    same rounds on the same bids and asks, each settled by the round's offline optimum
    (`offline.optimum_assignment`) instead of SBBA, trades billed at the seller's reserve."""
    if assign not in ("sbba", "optimum"):
        raise ValueError(f"assign = {assign!r}: sbba or optimum")
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
                rec.rejected(job, f"{assign_name}: not traded while its deadline allowed")
                continue
            bids.append(Bid(bid_id=job.job_id, tenant=job.tenant, origin=job.origin,
                            kind=job.kind, units=job.units, duration_s=job.duration_s,
                            deadline_s=remaining, limit_total_yuan=worth[job.job_id],
                            data_gb=job.data_gb, workload=job.workload))
            keep.append(job)
        pending = keep
        for pass_no in range(MAX_PASSES):
            if not bids:
                return
            asks = _asks(network, topo, sched, t)
            if not asks:
                return
            book = build_book(network, bids, asks)
            if assign == "sbba":
                clearing = clear(book)
                trades = _sbba_trades(book, clearing)
                welfare = mechanism_welfare_yuan(book, clearing)
                platform, clear_s = clearing.platform_yuan, clearing.clear_s
                ir = _ir_violations(book, clearing)
                optimum = offline_optimum(book, method="highs").welfare_yuan
            else:
                t0 = time.perf_counter()
                trades = _optimum_trades(book)
                clear_s = time.perf_counter() - t0
                welfare = optimum = offline_optimum(book, method="highs").welfare_yuan
                platform, ir = 0.0, 0
            placed, void = _place_trades(topo, sched, rec, asks, pending, trades, t,
                                         assign_name)
            pending = [j for j in pending if j.job_id not in placed]
            rounds.append(RoundRecord(
                round_s=t, pass_no=pass_no, bids=len(bids), asks=len(asks),
                units_offered=sum(a.units for a in asks),
                units_traded=sum(u for tr in trades.values() for _, u, _ in tr[0]),
                bids_matched=len(placed), bids_void=len(void), welfare_yuan=welfare,
                optimum_yuan=optimum, platform_yuan=platform, ir_violations=ir,
                clear_s=clear_s))
            if not void or not placed:
                return  # nothing left idle by a void, or nothing moved: the next pass is this
            bids = [b for b in bids if b.bid_id not in placed and b.bid_id not in void]

    assign_name = CALL_AUCTION if assign == "sbba" else OPTIMUM_ROUNDS
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
    return _finish(rec, sched, network, jobs, policy, series, topo, assign_name, started,
                   rounds)


# per bid: ([(ask index, units, seller yuan per unit-h)], [ask indices it may move to])
Trades = dict[str, tuple[list[tuple[int, int, float]], list[int]]]


def _sbba_trades(book: Book, clearing: Clearing) -> Trades:
    """The clearing's matches per bid; a bid may move to any trading ask of its market (the
    same site, kind and egress rate: the same price and transit; every trading ask's reserve
    is at most the price)."""
    ask_ix = {a.ask_id: j for j, a in enumerate(book.asks)}
    market_of = {j: (int(book.ask_site[j]), int(book.ask_kind[j]),
                     float(book.ask_egress_yuan_per_gb[j])) for j in range(len(book.asks))}
    trading: dict[tuple[int, int, float], set[int]] = {}
    out: Trades = {}
    for m in clearing.matches:
        j = ask_ix[m.ask_id]
        trading.setdefault(market_of[j], set()).add(j)
        out.setdefault(m.bid_id, ([], []))[0].append((j, m.units, m.seller_yuan_per_unit_h))
    for own, peers in out.values():
        peers.extend(sorted(trading[market_of[own[0][0]]]))
    return out


def _optimum_trades(book: Book) -> Trades:
    """The round's offline optimum per bid, each trade at the seller's reserve."""
    out: Trades = {}
    for i, j, u in optimum_assignment(book):
        bid_id = book.bids[i].bid_id
        out.setdefault(bid_id, ([], []))[0].append((j, u, float(book.ask_reserve[j])))
    return out


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


def _place_trades(topo: Topology, sched: Scheduler, rec: _MarketRecorder, asks: list[Ask],
                  pending: list[Job], trades: Trades, t: float,
                  mechanism: str) -> tuple[set[str], set[str]]:
    """Place each bid traded in full, now, pinned to one provider slice with room for the
    whole job: its own trades' asks (most units first), then the others it may move to. The
    ids placed, and those of traded bids that were void (filled in part, or no room for the
    whole job in one slice)."""
    jobs = {j.job_id: j for j in pending}
    placed: set[str] = set()
    void: set[str] = set()
    state = sched.state
    net = topo.network
    for bid_id in sorted(trades):
        own, peers = trades[bid_id]
        job = jobs[bid_id]
        if sum(u for _, u, _ in own) < job.units:
            void.add(bid_id)
            continue
        price_at = {j: p for j, _, p in own}
        order = [j for j, _, _ in sorted(own, key=lambda x: (-x[1], x[0]))]
        order += [j for j in peers if j not in price_at]
        pick: Ask | None = None
        for j in order:
            a = asks[j]
            if state.free_slice[topo.slice_of[(a.site_id, a.provider_id, job.kind)]] \
                    >= job.units:
                pick = a
                break
        if pick is None:
            void.add(bid_id)
            continue
        # a peer of the market trades at the market's price, the one of the bid's own trades
        price = price_at.get(j, own[0][2])
        gbps = net.bandwidth_gbps[(job.origin, pick.site_id)]
        transfer = job.data_gb * 8.0 / gbps if job.data_gb > 0 else 0.0
        rec.quote_yuan[rec.index[bid_id]] = price * job.units * job.duration_s / HOUR_S
        sched.apply(Decision(placed=[Placement(
            job, pick.site_id, t, transfer,
            f"{mechanism} round at {t:.0f} s: {price:.4g} yuan/unit-h", pick.provider_id)]), t)
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
