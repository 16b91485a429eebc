"""The call auction in the live scheduler (issue 13 item 2): a round every `ROUND_S` of the
run clock (the rolling planner's cadence).

A bid accepted at run time t goes into round `floor(t / ROUND_S) + 1`, cleared by the first
scheduler tick at or after that boundary (`MarketDesk.tick`, called by `LiveScheduler.tick`
after the clock has advanced; in split mode that is the leader's tick). A bid that does not
fill carries over: it bids again, for the units it still lacks, in every round after, until
it is filled, its deadline no longer allows a run, its `max_rounds` are used up (a bid without
a deadline: `DEFAULT_MAX_ROUNDS`), it is cancelled, or no site could ever take it. A round
without open bids clears nothing and leaves no record. Clearing a round:

1. its open bids become `market.Bid`s for their open units (a deadline counts from now; the
   limit, data and carbon cap of a part-filled bid are its share of the bid's); a bid whose
   deadline can no longer be met expires (`no_feasible_site`, state `expired`); a bid that
   was in this round already (the round is cleared again after a crash) is left out;
2. each provider slice (site, provider, kind) that takes work (site not drained, backend up)
   and has free units asks: its posted ask if there is an open one (its units capped at the
   free units), else the default ask, at the slice's floor (its price item in force this hour,
   or the electricity cost of a unit for an energy-priced provider) for all its free units;
   under a grid event's power ceiling over the bid window (now to the longest run of the
   round's bids) an ask offers only the units the ceiling leaves room for (`ceiling_units`);
   the posted price of the hour routes bids (`market.clearing`'s public list price);
3. per-tenant caps: a bid trades with an ask at a capped slice only if its tenant has room
   there for its units (`market.feasibility`, reason `tenant_cap`);
4. `market.clearing.clear` (SBBA per market);
5. each match becomes a job of its bid's tenant (one per bid and ask), written with the bid's
   outcome and its hold passed on in one transaction (idempotency key
   `market-<bid id>-<round id>`: a round cleared again after a crash makes no second job),
   placed at once at the matched site and provider, billed at the clearing price
   (`market.billing`); a part-filled bid keeps holding its open units' share and stays open;
6. the round's record (`market.record.clearing_record`; each unmatched part says what
   followed, `then`: `carried_over`, `expired` or `unmatched`) is stored with the outcome of
   the bids that bought nothing (carried over, their holds kept; else released) and appended
   to the live ledger's chain as a `market_clearing` event.

A bid that finds no ask it could trade with is told `no_feasible_site` and closed
(`unmatched`) only if no slice of the network could ever take it (its bound or carbon cap,
or a per-tenant cap below its units); if some slice could, but none asks this round (full,
drained, withheld), its reason is `capacity` and it carries over; if only its deadline stands
in the way, it expires.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from suanwang.core.policy import Decision
from suanwang.core.state import GB_TO_GBIT
from suanwang.errors import InputError
from suanwang.market.clearing import (
    CAPACITY,
    NO_FEASIBLE_SITE,
    TENANT_CAP,
    Clearing,
    Match,
    Unmatched,
    clear,
)
from suanwang.market.feasibility import build_book
from suanwang.market.orders import Ask, Bid
from suanwang.market.record import clearing_record
from suanwang.model import Kind, Placement
from suanwang.service.db import JobEventRow, JobRow, MarketBidRow
from suanwang.service.market_store import (
    EXPIRED,
    FILLED,
    OPEN,
    UNMATCHED,
    BidOutcome,
)
from suanwang.service.posted_prices import PostedPrices
from suanwang.service.store import JobSpec, row_to_job

if TYPE_CHECKING:
    from suanwang.service.live import LiveScheduler

log = logging.getLogger("suanwang.service")
ROUND_S = 900.0  # 15 minutes of the run clock
LEDGER_KIND = "market_clearing"
DEFAULT_MAX_ROUNDS = 96  # a bid without a deadline (real-time) bids for a day of rounds at most
CARRIED = "carried_over"
FAR_S = 1e12  # a deadline that never binds (to tell a deadline from the other bounds)


def round_no_at(now_s: float) -> int:
    """The round a bid accepted at run time `now_s` goes into."""
    return int(now_s // ROUND_S) + 1


def round_id_of(round_no: int) -> str:
    return f"r{round_no:07d}"


class MarketDesk:
    def __init__(self, live: LiveScheduler) -> None:
        self.live = live
        self.store = live.store.market
        self.prices = PostedPrices(live, live.posted_rule)
        self._last_no: int | None = None  # the last round boundary handled
        self._revised_no: int | None = None  # the round boundary prices were last revised at
        self._why: dict[str, list[dict[str, Any]]] = {}  # the round's unmatched, by bid

    def tick(self, now_s: float) -> str | None:
        """Clear the rounds due by `now_s` (their bids together, as the latest round); the
        round's id, or None if no bids were due."""
        closed = int(now_s // ROUND_S)
        if closed != self._revised_no and self.prices.start_revision(now_s):
            self._revised_no = closed  # at start-up too: a day of prices at once
        if self._last_no is None:
            self._last_no = self.store.last_round_no()
        if closed <= self._last_no:
            return None
        self._last_no = closed
        rows = self.due_bids(closed)
        if not rows:
            return None
        return self.clear_round(closed, rows, now_s)

    def due_bids(self, round_no: int) -> list[MarketBidRow]:
        """The open bids round `round_no` clears: those accepted for it or earlier, less
        those that were in it already (the round is cleared again after a crash)."""
        rid = round_id_of(round_no)
        return [r for r in self.store.open_bids(round_no) if _last_round(r) != rid]

    # ---- the orders ------------------------------------------------------------------------

    def _bids(self, rows: list[MarketBidRow], now_s: float
              ) -> tuple[list[Bid], dict[str, MarketBidRow], list[Unmatched]]:
        """The round's bids, each for its open units (a part-filled bid's limit in total,
        data and carbon cap scaled to them); those whose deadline can no longer be met."""
        bids: list[Bid] = []
        early: list[Unmatched] = []
        for row in rows:
            b = json.loads(row.body)
            units = _open_units(row)
            share = units / int(b["units"])
            deadline: float | None = None
            if b.get("deadline_in_s") is not None:
                deadline = row.submit_s + float(b["deadline_in_s"]) - now_s
                if deadline < float(b["duration_s"]):
                    early.append(Unmatched(row.id, units, NO_FEASIBLE_SITE,
                                           f"its deadline ({row.submit_s + b['deadline_in_s']:g}"
                                           f" s) can no longer be met by a run of "
                                           f"{b['duration_s']:g} s from now ({now_s:g} s)"))
                    continue
            total = b.get("limit_total_yuan")
            cap = b.get("carbon_cap_kg")
            try:
                bids.append(Bid(
                    bid_id=row.id, tenant=row.tenant, origin=b["origin"], kind=Kind(b["kind"]),
                    units=units, duration_s=float(b["duration_s"]),
                    rtt_bound_ms=b.get("rtt_bound_ms"), deadline_s=deadline,
                    limit_yuan_per_unit_h=b.get("limit_yuan_per_unit_h"),
                    limit_total_yuan=float(total) * share if total is not None else None,
                    data_gb=float(b.get("data_gb") or 0.0) * share,
                    carbon_cap_kg=float(cap) * share if cap is not None else None,
                    workload=b.get("workload") or ""))
            except InputError as exc:  # checked at the API: only a changed network gets here
                early.append(Unmatched(row.id, units, NO_FEASIBLE_SITE, str(exc)))
        return bids, {r.id: r for r in rows}, early

    def asks(self, now_s: float, window_end_s: float | None = None
             ) -> tuple[list[Ask], list[int], dict[str, int]]:
        """The round's asks (see the module's rule), the ids of the posted asks used and the
        slice of each ask (by ask id). `window_end_s`: the end of the bid window, over which a
        grid event's power ceiling limits the units offered (default: an hour from now)."""
        live = self.live
        topo = live.topology
        state = live.scheduler.state
        posted = {(a.provider, a.site, a.kind): a for a in self.store.asks(state="open")}
        used: list[int] = []
        out: list[Ask] = []
        slice_of: dict[str, int] = {}
        hour = int(now_s // 3600)
        listed = self.store.prices([hour])
        under = self.ceiling_units(now_s, window_end_s if window_end_s is not None
                                   else now_s + 3600.0)
        for sl, (prov, kind) in enumerate(topo.slices):
            site_ix = topo.slice_site[sl]
            site_id = topo.site_ids[site_ix]
            free = int(state.free_slice[sl])
            free = min(free, under.get(sl, free))
            if free <= 0 or site_ix in state.drained or sl in state.withheld:
                continue
            floor = state.unit_price_of_slice(sl, now_s, now_s + 3600.0, now_s)
            row = posted.get((prov.id, site_id, kind.value))
            reserve, units = floor, free
            if row is not None:
                reserve, units = row.reserve_yuan_per_unit_h, min(row.units, free)
                used.append(row.id)
            lp = listed.get((site_id, prov.id, kind.value, hour))
            ask = Ask(prov.id, site_id, kind, float(reserve), int(units),
                      float(lp.price_yuan_per_unit_h) if lp is not None else float(floor))
            out.append(ask)
            slice_of[ask.ask_id] = sl
        return out, used, slice_of

    def ceiling_units(self, now_s: float, end_s: float) -> dict[int, int]:
        """Per slice at a site under a grid event's power ceiling in [now_s, end_s): the most
        units it may offer. The room of a site is its lowest ceiling over the window (the
        deferrable limit, `Ceiling.limit_kw(False)`) less the power of the jobs holding units
        there at that ceiling's start; it is shared among the site's slices in proportion to
        their free units' power (so the site's asks together stay under it)."""
        live = self.live
        guard = getattr(live.scheduler, "guard", None)
        if guard is None:
            return {}
        topo = live.topology
        state = live.scheduler.state
        out: dict[int, int] = {}
        for site in guard.calendar.sites:
            cs = guard.calendar.overlapping(site, now_s, end_s)
            if not cs:
                continue
            room_kw = min(c.limit_kw(False) - guard.busy_at(site, max(now_s, c.start_s))
                          for c in cs)
            slices = [sl for sl in range(len(topo.slices)) if topo.slice_site[sl] == site]
            want_kw = sum(state.free_slice[sl] * topo.pool_kw_facility[topo.slice_pool[sl]]
                          for sl in slices)
            scale = 1.0 if want_kw <= room_kw else max(room_kw, 0.0) / want_kw
            for sl in slices:
                out[sl] = math.floor(state.free_slice[sl] * scale + 1e-9)
        return out

    def _caps(self, bids: list[Bid], asks: list[Ask], slice_of: dict[str, int]
              ) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        """The per-tenant caps of the asks at capped slices, and what the round's tenants
        hold there now (the scheduler's count of placed and running jobs)."""
        topo = self.live.topology
        held_now = self.live.scheduler.state.tenant_units
        caps: dict[str, int] = {}
        held: dict[tuple[str, str], int] = {}
        tenants = {b.tenant for b in bids}
        for a in asks:
            sl = slice_of[a.ask_id]
            cap = topo.slice_cap[sl]
            if cap is None:
                continue
            caps[a.ask_id] = cap
            for t in tenants:
                n = held_now.get((t, sl), 0)
                if n:
                    held[(t, a.ask_id)] = n
        return caps, held

    def _could_ever(self, bids: list[Bid]) -> tuple[set[str], set[str]]:
        """Of `bids` (found no ask this round): those some slice of the network could take
        (every offered unit free, a per-tenant cap with nothing held), and those it could but
        for their deadline."""
        if not bids:
            return set(), set()
        topo = self.live.topology
        full: list[Ask] = []
        caps: dict[str, int] = {}
        for sl, (prov, kind) in enumerate(topo.slices):
            if topo.slice_capacity[sl] <= 0:
                continue
            a = Ask(prov.id, topo.site_ids[topo.slice_site[sl]], kind, 0.0,
                    topo.slice_capacity[sl])
            full.append(a)
            cap = topo.slice_cap[sl]
            if cap is not None:
                caps[a.ask_id] = cap
        ok = build_book(topo.network, bids, full, caps).feasible.any(axis=1)
        timed = [b for b in bids if b.deadline_s is not None]
        late: set[str] = set()
        if timed:
            loose = [replace(b, deadline_s=FAR_S) for b in timed]
            ok2 = build_book(topo.network, loose, full, caps).feasible.any(axis=1)
            late = {b.bid_id for b, y in zip(timed, ok2, strict=True) if y}
        return {b.bid_id for b, y in zip(bids, ok, strict=True) if y}, late

    # ---- a round ---------------------------------------------------------------------------

    def clear_round(self, round_no: int, rows: list[MarketBidRow], now_s: float) -> str:
        live = self.live
        rid = round_id_of(round_no)
        t0 = time.perf_counter()
        bids, row_of, early = self._bids(rows, now_s)
        window_end = now_s + max((b.duration_s + _transfer_bound_s(live, b) for b in bids),
                                 default=3600.0)
        asks, used, slice_of = self.asks(now_s, window_end)
        caps, held = self._caps(bids, asks, slice_of)
        book = build_book(live.topology.network, bids, asks, caps, held)
        clearing = clear(book)
        clear_s = time.perf_counter() - t0
        clearing, closed = self._next_states(clearing, bids, row_of)
        for u in early:
            closed[u.bid_id] = EXPIRED
        self._why = _reasons(clearing, early)
        by_bid: dict[str, list[Match]] = defaultdict(list)
        for m in clearing.matches:
            by_bid[m.bid_id].append(m)
        jobs: dict[tuple[str, str], str] = {}
        matched = [b for b in bids if by_bid.get(b.bid_id)]
        # per bid, what the last attempt of its write saw: (still open, the job ids); jobs
        # of other ids are those of an earlier clearing of this round (its key used already)
        written: dict[str, tuple[bool, list[str]]] = {}
        made = self.live.store.add_jobs_many([
            self._job_request(rid, b, row_of[b.bid_id], by_bid[b.bid_id], now_s, written)
            for b in matched])
        for bid, rows_made in zip(matched, made, strict=True):
            got = written.get(bid.bid_id)
            fresh = got is not None and got[1] == [r.id for r in rows_made]
            if got is not None and fresh and not got[0]:
                continue  # cancelled while the round cleared: no jobs
            if len(rows_made) != len(by_bid[bid.bid_id]):
                log.warning("market round %s: bid %s has %d jobs of an earlier clearing, "
                            "%d matches now; the earlier jobs stand", rid, bid.bid_id,
                            len(rows_made), len(by_bid[bid.bid_id]))
                continue
            for row, m in zip(rows_made, by_bid[bid.bid_id], strict=True):
                jobs[(bid.bid_id, m.ask_id)] = row.id
                if fresh:  # decided now, persisted by the tick's flush
                    self._place(row, m, rid, now_s)
        payload = clearing_record(rid, now_s, clearing, bids, asks, jobs, early)
        payload["clear_s"] = round(clear_s, 6)
        for u in payload["unmatched"]:
            state = closed.get(u["bid"], OPEN)
            u["then"] = CARRIED if state == OPEN else state
            u["bid_round"] = len(_rounds(row_of[u["bid"]])) + 1
            if u["tenant"] is None:
                u["tenant"] = row_of[u["bid"]].tenant
        outcomes = []
        for b, reasons in self._why.items():
            if b in by_bid:
                continue
            row = row_of[b]
            state = closed.get(b, OPEN)
            units = _open_units(row)
            outcomes.append(BidOutcome(b, state, _result(
                row, rid, units, 0, [], [], reasons, state,
                _held(row) if state == OPEN else 0.0)))
        self.store.record_round(rid, round_no, now_s, payload, outcomes, used)
        self._append_ledger(rid, now_s, payload)
        log.info("market round %s: %d bids, %d of %d units traded in %.3f s", rid,
                 payload["totals"]["bids"], payload["totals"]["units_traded"],
                 payload["totals"]["units_bid"], clear_s)
        return rid

    def _next_states(self, clearing: Clearing, bids: list[Bid],
                     row_of: dict[str, MarketBidRow]) -> tuple[Clearing, dict[str, str]]:
        """The clearing with the reason of a bid that found no ask this round but could
        later told as `capacity`, and the bids the round closes (bid id -> state): no site
        could ever take it (`unmatched`), its deadline stands in the way or its rounds are
        used up (`expired`). The others, not filled, carry over."""
        bid_of = {b.bid_id: b for b in bids}
        nowhere = [bid_of[u.bid_id] for u in clearing.unmatched
                   if u.reason in (NO_FEASIBLE_SITE, TENANT_CAP)]
        ever, late = self._could_ever(nowhere)
        closed: dict[str, str] = {}
        unmatched: list[Unmatched] = []
        for u in clearing.unmatched:
            if u.reason in (NO_FEASIBLE_SITE, TENANT_CAP):
                if u.bid_id not in ever:
                    closed[u.bid_id] = EXPIRED if u.bid_id in late else UNMATCHED
                elif u.reason == NO_FEASIBLE_SITE:
                    u = replace(u, reason=CAPACITY, detail=(
                        "no site it can use offers units this round (taken, drained, withheld "
                        "by a grid event or its provider's backend down): it bids again"))
            unmatched.append(u)
        filled = defaultdict(int)
        for m in clearing.matches:
            filled[m.bid_id] += m.units
        for b in bids:
            if b.bid_id in closed or filled[b.bid_id] >= b.units:
                continue
            row = row_of[b.bid_id]
            if len(_rounds(row)) + 1 >= _max_rounds(row):
                closed[b.bid_id] = EXPIRED
        return replace(clearing, unmatched=tuple(unmatched)), closed

    def _job_request(self, rid: str, bid: Bid, row: MarketBidRow, matches: list[Match],
                     now_s: float, written: dict[str, tuple[bool, list[str]]]
                     ) -> tuple[Any, ...]:
        """The request writing the jobs a bid bought (one per ask it trades with), with its
        outcome and its hold passed on, in one transaction (`Store.add_jobs_many`). A bid
        cancelled meanwhile gets no jobs (they are deleted in the same transaction)."""
        body = json.loads(row.body)
        deadline_abs = (row.submit_s + float(body["deadline_in_s"])
                        if body.get("deadline_in_s") is not None else None)
        specs = [JobSpec(
            origin=bid.origin, kind=bid.kind, units=m.units, duration_s=bid.duration_s,
            rtt_bound_ms=bid.rtt_bound_ms,
            deadline_in_s=deadline_abs - now_s if deadline_abs is not None else None,
            data_gb=bid.data_gb * m.units / bid.units, workload=bid.workload or "market",
            command=None, providers_allow=(m.provider_id,), market_bid=bid.bid_id,
            market_round=rid, market_price_yuan_per_unit_h=m.seller_yuan_per_unit_h)
            for m in matches]
        filled = sum(m.units for m in matches)
        rest = bid.units - filled
        state = FILLED if rest == 0 else OPEN
        if rest and len(_rounds(row)) + 1 >= _max_rounds(row):
            state = EXPIRED
        reasons = self._why.get(bid.bid_id, [])
        yuan = [m.buyer_pays_yuan for m in matches]
        keep = (rest, rest / bid.units) if state == OPEN else None

        def then(conn: Any, rows: list[dict[str, Any]]) -> None:
            made = [{"job": r["id"], "site": m.site_id, "provider": m.provider_id,
                     "units": m.units, "price_yuan_per_unit_h": m.seller_yuan_per_unit_h,
                     "buyer_yuan_per_unit_h": m.buyer_yuan_per_unit_h,
                     "bill_yuan": m.buyer_pays_yuan, "round": rid}
                    for r, m in zip(rows, matches, strict=True)]
            result = _result(row, rid, bid.units, filled, made, [r["id"] for r in rows],
                             reasons, state, _held(row) * keep[1] if keep else 0.0)
            ok = self.store.settle_bid(conn, bid.bid_id, state, rid, result, [
                (r["id"], r["units"], r["units"] * r["duration_s"] / 3600.0, y)
                for r, y in zip(rows, yuan, strict=True)], now_s, keep)
            ids = [r["id"] for r in rows]
            written[bid.bid_id] = (ok, ids)
            if not ok:  # cancelled while the round cleared: the jobs are not made
                conn.execute(delete(JobEventRow).where(JobEventRow.job_id.in_(ids)))
                conn.execute(delete(JobRow).where(JobRow.id.in_(ids)))

        return (bid.tenant, specs, now_s, f"market-{bid.bid_id}-{rid}", then)

    def _place(self, row: Any, m: Match, rid: str, now_s: float) -> None:
        live = self.live
        job = row_to_job(row)
        bw = live.network.bandwidth_gbps[(job.origin, m.site_id)]
        transfer_s = job.data_gb * GB_TO_GBIT / bw if job.data_gb > 0 else 0.0
        live.adopt_market_job(job.job_id, m.seller_yuan_per_unit_h, rid)
        pl = Placement(job, m.site_id, now_s, transfer_s,
                       f"matched in market round {rid} at {m.seller_yuan_per_unit_h:.6g} "
                       f"yuan/unit-h with {m.provider_id}", m.provider_id)
        live.scheduler.apply(Decision(placed=[pl]), now_s)

    def _append_ledger(self, rid: str, now_s: float, payload: dict[str, Any]) -> None:
        ledger = self.live.ledger.ledger
        append = getattr(ledger, "append_event", None)
        if append is None:  # a ledger without events (before `DbLedger.append_event`)
            return
        try:
            entry = append(LEDGER_KIND, rid, int(now_s), payload)
        except Exception:
            log.exception("the ledger record of market round %s failed", rid)
            return
        seq = getattr(entry, "seq", None)
        if seq is not None:
            self.store.set_ledger_seq(rid, int(seq))


def _rounds(row: MarketBidRow) -> list[dict[str, Any]]:
    return list(json.loads(row.result).get("rounds", [])) if row.result else []


def _last_round(row: MarketBidRow) -> str | None:
    rounds = _rounds(row)
    return str(rounds[-1]["round"]) if rounds else None


def _open_units(row: MarketBidRow) -> int:
    if row.result:
        got = json.loads(row.result).get("open_units")
        if got is not None:
            return int(got)
    return int(json.loads(row.body)["units"])


def _held(row: MarketBidRow) -> float:
    """What the bid holds now (its hold less what passed to its jobs and was released)."""
    if row.result:
        got = json.loads(row.result).get("held_yuan")
        if got is not None:
            return float(got)
    return float(row.hold_yuan)


def _max_rounds(row: MarketBidRow) -> int:
    body = json.loads(row.body)
    if body.get("max_rounds") is not None:
        return int(body["max_rounds"])
    return DEFAULT_MAX_ROUNDS if body.get("deadline_in_s") is None else 1 << 30


def _transfer_bound_s(live: LiveScheduler, bid: Bid) -> float:
    """The longest its data can take to reach a site (the slowest link from its origin)."""
    if bid.data_gb <= 0:
        return 0.0
    bw = min(live.network.bandwidth_gbps[(bid.origin, s.id)] for s in live.network.sites)
    return bid.data_gb * GB_TO_GBIT / bw


def _result(row: MarketBidRow, rid: str, units: int, filled: int, made: list[dict[str, Any]],
            job_ids: list[str], reasons: list[dict[str, Any]], state: str,
            held_yuan: float) -> dict[str, Any]:
    """The bid's result after round `rid`: its rounds so far (this one appended), its jobs,
    the units filled and open, this round's unmatched parts, what it still holds."""
    prev = json.loads(row.result) if row.result else {}
    why: dict[str, int] = defaultdict(int)
    for u in reasons:
        why[u["reason"]] += int(u["units"])
    entry = {"round": rid, "units": units, "filled_units": filled, "jobs": job_ids,
             "reasons": dict(why), "then": CARRIED if state == OPEN else state}
    total = int(prev.get("filled_units", 0)) + filled
    return {"round": rid, "rounds": [*prev.get("rounds", []), entry], "filled_units": total,
            "open_units": units - filled if state == OPEN else 0,
            "jobs": [*prev.get("jobs", []), *made], "unmatched": reasons,
            "held_yuan": round(held_yuan, 6)}


def _reasons(clearing: Clearing, early: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for u in (*clearing.unmatched, *early):
        out[u.bid_id].append({"units": u.units, "reason": u.reason, "detail": u.detail})
    return out
