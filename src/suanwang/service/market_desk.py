"""The call auction in the live scheduler (issue 13 item 2): a round every `ROUND_S` of the
run clock (the rolling planner's cadence).

A bid accepted at run time t goes into round `floor(t / ROUND_S) + 1`, cleared by the first
scheduler tick at or after that boundary (`MarketDesk.tick`, called by `LiveScheduler.tick`
after the clock has advanced; in split mode that is the leader's tick). A round without bids
clears nothing and leaves no record. Clearing a round:

1. its open bids become `market.Bid`s (a deadline counts from now; a bid whose deadline can
   no longer be met is unmatched, `no_feasible_site`);
2. each provider slice (site, provider, kind) that takes work (site not drained, backend up)
   and has free units asks: its posted ask if there is an open one (its units capped at the
   free units), else the default ask, at the slice's floor (its price item in force this hour,
   or the electricity cost of a unit for an energy-priced provider) for all its free units;
   the posted price of the hour routes bids (`market.clearing`'s public list price);
3. `market.clearing.clear` (SBBA per market);
4. each match becomes a job of its bid's tenant (one per bid and ask), written with the bid's
   outcome and its hold passed on in one transaction (idempotency key `market-<bid id>`: a
   round cleared again after a crash makes no second job), placed at once at the matched
   site and provider, billed at the clearing price (`market.billing`);
5. the round's record (`market.record.clearing_record`) is stored with the outcome of the
   bids that bought nothing (their holds released) and appended to the live ledger's chain
   as a `market_clearing` event.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from suanwang.core.policy import Decision
from suanwang.core.state import GB_TO_GBIT
from suanwang.errors import InputError
from suanwang.market.clearing import NO_FEASIBLE_SITE, Clearing, Match, Unmatched, clear
from suanwang.market.feasibility import build_book
from suanwang.market.orders import Ask, Bid
from suanwang.market.record import clearing_record
from suanwang.model import Kind, Placement
from suanwang.service.db import MarketBidRow
from suanwang.service.market_store import MATCHED, PARTIAL, UNMATCHED, BidOutcome
from suanwang.service.posted_prices import PostedPrices
from suanwang.service.store import JobSpec, row_to_job

if TYPE_CHECKING:
    from suanwang.service.live import LiveScheduler

log = logging.getLogger("suanwang.service")
ROUND_S = 900.0  # 15 minutes of the run clock
LEDGER_KIND = "market_clearing"


def round_no_at(now_s: float) -> int:
    """The round a bid accepted at run time `now_s` goes into."""
    return int(now_s // ROUND_S) + 1


def round_id_of(round_no: int) -> str:
    return f"r{round_no:07d}"


class MarketDesk:
    def __init__(self, live: LiveScheduler) -> None:
        self.live = live
        self.store = live.store.market
        self.prices = PostedPrices(live)
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
        rows = self.store.open_bids(closed)
        if not rows:
            return None
        return self.clear_round(closed, rows, now_s)

    # ---- the orders ------------------------------------------------------------------------

    def _bids(self, rows: list[MarketBidRow], now_s: float
              ) -> tuple[list[Bid], dict[str, MarketBidRow], list[Unmatched]]:
        bids: list[Bid] = []
        early: list[Unmatched] = []
        for row in rows:
            b = json.loads(row.body)
            deadline: float | None = None
            if b.get("deadline_in_s") is not None:
                deadline = row.submit_s + float(b["deadline_in_s"]) - now_s
                if deadline < float(b["duration_s"]):
                    early.append(Unmatched(row.id, int(b["units"]), NO_FEASIBLE_SITE,
                                           f"its deadline ({row.submit_s + b['deadline_in_s']:g}"
                                           f" s) can no longer be met by a run of "
                                           f"{b['duration_s']:g} s from now ({now_s:g} s)"))
                    continue
            try:
                bids.append(Bid(
                    bid_id=row.id, tenant=row.tenant, origin=b["origin"], kind=Kind(b["kind"]),
                    units=int(b["units"]), duration_s=float(b["duration_s"]),
                    rtt_bound_ms=b.get("rtt_bound_ms"), deadline_s=deadline,
                    limit_yuan_per_unit_h=b.get("limit_yuan_per_unit_h"),
                    limit_total_yuan=b.get("limit_total_yuan"),
                    data_gb=float(b.get("data_gb") or 0.0),
                    carbon_cap_kg=b.get("carbon_cap_kg"), workload=b.get("workload") or ""))
            except InputError as exc:  # checked at the API: only a changed network gets here
                early.append(Unmatched(row.id, int(b["units"]), NO_FEASIBLE_SITE, str(exc)))
        return bids, {r.id: r for r in rows}, early

    def asks(self, now_s: float) -> tuple[list[Ask], list[int]]:
        """The round's asks (see the module's rule) and the ids of the posted asks used."""
        live = self.live
        topo = live.topology
        state = live.scheduler.state
        posted = {(a.provider, a.site, a.kind): a for a in self.store.asks(state="open")}
        used: list[int] = []
        out: list[Ask] = []
        hour = int(now_s // 3600)
        listed = self.store.prices([hour])
        for sl, (prov, kind) in enumerate(topo.slices):
            site_ix = topo.slice_site[sl]
            site_id = topo.site_ids[site_ix]
            free = int(state.free_slice[sl])
            if free <= 0 or site_ix in state.drained or sl in state.withheld:
                continue
            floor = state.unit_price_of_slice(sl, now_s, now_s + 3600.0, now_s)
            row = posted.get((prov.id, site_id, kind.value))
            reserve, units = floor, free
            if row is not None:
                reserve, units = row.reserve_yuan_per_unit_h, min(row.units, free)
                used.append(row.id)
            lp = listed.get((site_id, prov.id, kind.value, hour))
            out.append(Ask(prov.id, site_id, kind, float(reserve), int(units),
                           float(lp.price_yuan_per_unit_h) if lp is not None else float(floor)))
        return out, used

    # ---- a round ---------------------------------------------------------------------------

    def clear_round(self, round_no: int, rows: list[MarketBidRow], now_s: float) -> str:
        live = self.live
        rid = round_id_of(round_no)
        t0 = time.perf_counter()
        bids, row_of, early = self._bids(rows, now_s)
        asks, used = self.asks(now_s)
        book = build_book(live.topology.network, bids, asks)
        clearing = clear(book)
        clear_s = time.perf_counter() - t0
        self._why = _reasons(clearing, early)
        by_bid: dict[str, list[Match]] = defaultdict(list)
        for m in clearing.matches:
            by_bid[m.bid_id].append(m)
        jobs: dict[tuple[str, str], str] = {}
        matched = [b for b in bids if by_bid.get(b.bid_id)]
        made = self.live.store.add_jobs_many([
            self._job_request(rid, b, row_of[b.bid_id], by_bid[b.bid_id], clearing, now_s)
            for b in matched])
        for bid, rows in zip(matched, made, strict=True):
            for row, m in zip(rows, by_bid[bid.bid_id], strict=True):
                jobs[(bid.bid_id, m.ask_id)] = row.id
                self._place(row, m, rid, now_s)  # decided now, persisted by the tick's flush
        payload = clearing_record(rid, now_s, clearing, bids, asks, jobs, early)
        payload["clear_s"] = round(clear_s, 6)
        outcomes = [BidOutcome(b, UNMATCHED, {"round": rid, "filled_units": 0, "jobs": [],
                                              "unmatched": reasons})
                    for b, reasons in self._why.items() if b not in by_bid]
        self.store.record_round(rid, round_no, now_s, payload, outcomes, used)
        self._append_ledger(rid, now_s, payload)
        log.info("market round %s: %d bids, %d of %d units traded in %.3f s", rid,
                 payload["totals"]["bids"], payload["totals"]["units_traded"],
                 payload["totals"]["units_bid"], clear_s)
        return rid

    def _job_request(self, rid: str, bid: Bid, row: MarketBidRow, matches: list[Match],
                     clearing: Clearing, now_s: float) -> tuple[Any, ...]:
        """The request writing the jobs a bid bought (one per ask it trades with), with its
        outcome and its hold passed on, in one transaction (`Store.add_jobs_many`)."""
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
        state = MATCHED if filled == bid.units else PARTIAL
        reasons = self._why.get(bid.bid_id, [])
        yuan = [m.buyer_pays_yuan for m in matches]

        def then(conn: Any, rows: list[dict[str, Any]]) -> None:
            result = {"round": rid, "filled_units": filled,
                      "jobs": [{"job": r["id"], "site": m.site_id, "provider": m.provider_id,
                                "units": m.units,
                                "price_yuan_per_unit_h": m.seller_yuan_per_unit_h,
                                "buyer_yuan_per_unit_h": m.buyer_yuan_per_unit_h,
                                "bill_yuan": m.buyer_pays_yuan}
                               for r, m in zip(rows, matches, strict=True)],
                      "unmatched": reasons}
            self.store.settle_bid(conn, bid.bid_id, state, rid, result, [
                (r["id"], r["units"], r["units"] * r["duration_s"] / 3600.0, y)
                for r, y in zip(rows, yuan, strict=True)], now_s)

        return (bid.tenant, specs, now_s, f"market-{bid.bid_id}", then)

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


def _reasons(clearing: Clearing, early: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for u in (*clearing.unmatched, *early):
        out[u.bid_id].append({"units": u.units, "reason": u.reason, "detail": u.detail})
    return out
