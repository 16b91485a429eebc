"""Persistence of the call auction (issue 13): bids, asks, cleared rounds, posted prices.

A bid is accepted in one transaction with its hold on the tenant's account (the same check
as a submission: `AccountStore.admit`, a refusal is `AccountRefused`, nothing is written).
It holds the most it can pay: its total limit, or its limit per unit-hour x its unit-hours
(a buyer never pays above its limit: `market.clearing`). When its round clears, the hold
passes to the jobs it bought (at what they cost at the clearing price); the share of the
units still to buy stays held by the bid while it carries over to the next rounds, and the
rest is released (`AccountStore.pass_hold`), in the transaction that writes the jobs, or that
records the round for a bid that bought nothing. A bid that expires, is cancelled or can never
trade releases what it still holds.

States: `open` (bids in the next round), `filled` (every unit bought), `expired` (its deadline
no longer allows a run, or its `max_rounds` are used up), `cancelled` (by its tenant),
`unmatched` (no site could ever take it: no site meets its bound or carbon cap, or its units
exceed a per-tenant cap everywhere it could run). Every change out of `open` is a conditional
update (`WHERE state = 'open'`): a cancellation and a round clearing the same bid cannot both
win.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from suanwang.service.account_store import AccountRefused, AccountStore, Admission
from suanwang.service.db import (
    AccountHoldRow,
    MarketAskRow,
    MarketBidRow,
    MarketPriceRow,
    MarketRoundRow,
)

OPEN, FILLED, EXPIRED, CANCELLED, UNMATCHED = (
    "open", "filled", "expired", "cancelled", "unmatched")
BID_STATES = (OPEN, FILLED, EXPIRED, CANCELLED, UNMATCHED)
ASK_OPEN, ASK_USED, ASK_REPLACED = "open", "used", "replaced"


def bid_out(row: MarketBidRow) -> dict[str, Any]:
    """A bid as the API shows it: the bid as accepted, its state, the round it was last in
    (`round_id`), the rounds it was in (`rounds`: per round the units it bid, filled and why
    not), its fills so far and what it still holds."""
    body = json.loads(row.body)
    result = json.loads(row.result) if row.result else None
    rounds = (result or {}).get("rounds", [])
    return {"id": row.id, "tenant": row.tenant, "submit_s": row.submit_s,
            "round_no": row.round_no, "state": row.state, "hold_yuan": row.hold_yuan,
            "held_yuan": (result or {}).get("held_yuan", row.hold_yuan)
            if row.state == OPEN else 0.0,
            "round_id": row.round_id, **body,
            "filled_units": (result or {}).get("filled_units", 0),
            "open_units": (result or {}).get("open_units", body["units"])
            if row.state == OPEN else 0,
            "rounds": rounds, "result": result}


def ask_out(row: MarketAskRow) -> dict[str, Any]:
    return {"id": row.id, "provider": row.provider, "site": row.site, "kind": row.kind,
            "reserve_yuan_per_unit_h": row.reserve_yuan_per_unit_h, "units": row.units,
            "posted_by": row.posted_by, "posted_s": row.posted_s, "state": row.state,
            "round_id": row.round_id}


def round_out(row: MarketRoundRow, full: bool = True) -> dict[str, Any]:
    payload = json.loads(row.payload)
    out = {"id": row.id, "round_no": row.round_no, "at_s": row.at_s, "bids": row.bids,
           "units_bid": row.units_bid, "units_traded": row.units_traded,
           "fill_ratio": row.units_traded / row.units_bid if row.units_bid else 0.0,
           "clear_s": row.clear_s, "ledger_seq": row.ledger_seq,
           "markets": [m for m in payload["markets"] if full or m["units_traded"] > 0]}
    if full:
        out["matched"] = payload["matched"]
        out["unmatched"] = payload["unmatched"]
        out["budget"] = payload["budget"]
    return out


@dataclass(frozen=True, slots=True)
class BidOutcome:
    """What a round decided for a bid that bought nothing (or what to record of one that
    did, whose jobs are written on their own)."""

    bid_id: str
    state: str
    result: dict[str, Any]


class MarketStore:
    def __init__(self, engine: Engine, accounts: AccountStore) -> None:
        self.engine = engine
        self.accounts = accounts
        self._session = sessionmaker(engine, expire_on_commit=False)

    # ---- bids ------------------------------------------------------------------------------

    def add_bid(self, tenant: str, body: dict[str, Any], now_s: float, round_no: int,
                admission: Admission, hold_yuan: float) -> MarketBidRow:
        """Accept a bid with its hold, or raise `AccountRefused` (nothing written)."""
        bid_id = f"b{int(now_s):010d}-{secrets.token_hex(3)}"
        with self.engine.begin() as conn:
            verdicts, with_account = self.accounts.admit(conn, [admission])
            if verdicts[0] is not None:
                raise verdicts[0]
            row = {"id": bid_id, "tenant": tenant, "submit_s": now_s, "round_no": round_no,
                   "state": OPEN, "body": json.dumps(body, sort_keys=True),
                   "hold_yuan": hold_yuan, "round_id": None, "result": None}
            conn.execute(MarketBidRow.__table__.insert().values(**row))
            if tenant in with_account:
                self.accounts.write_holds(conn, tenant, [bid_id], admission.needs,
                                          admission.month, now_s)
        found = self.bid(bid_id)
        assert found is not None
        return found

    def bid(self, bid_id: str) -> MarketBidRow | None:
        with self._session() as s:
            return s.get(MarketBidRow, bid_id)

    def bids(self, tenant: str | None = None, state: str | None = None,
             round_id: str | None = None, limit: int = 100) -> list[MarketBidRow]:
        q = select(MarketBidRow)
        if tenant is not None:
            q = q.where(MarketBidRow.tenant == tenant)
        if state is not None:
            q = q.where(MarketBidRow.state == state)
        if round_id is not None:
            q = q.where(MarketBidRow.round_id == round_id)
        with self._session() as s:
            return list(s.scalars(q.order_by(MarketBidRow.submit_s.desc(),
                                             MarketBidRow.id.desc()).limit(limit)))

    def open_bids(self, up_to_round: int) -> list[MarketBidRow]:
        with self._session() as s:
            return list(s.scalars(select(MarketBidRow).where(
                MarketBidRow.state == OPEN, MarketBidRow.round_no <= up_to_round)
                .order_by(MarketBidRow.id)))

    def settle_bid(self, conn: Connection, bid_id: str, state: str, round_id: str,
                   result: dict[str, Any], jobs: Sequence[tuple[str, int, float, float]],
                   at_s: float, keep: tuple[int, float] | None = None) -> bool:
        """In `conn`'s transaction: the bid's outcome, and its hold passed to `jobs`
        ((job id, units, unit-hours, yuan) each; none: released), `keep` (units, fraction)
        of it staying with the bid. False (nothing written) if the bid is no longer open
        (cancelled while its round cleared)."""
        n = conn.execute(update(MarketBidRow).where(
            MarketBidRow.id == bid_id, MarketBidRow.state == OPEN).values(
            state=state, round_id=round_id, result=json.dumps(result, sort_keys=True))).rowcount
        if not n:
            return False
        self.accounts.pass_hold(conn, bid_id, jobs, at_s, f"market bid {state} in {round_id}",
                                keep)
        return True

    def cancel_bid(self, bid_id: str, at_s: float, by: str) -> bool:
        """Cancel an open bid and release what it holds; False if it is not open."""
        with self.engine.begin() as conn:
            row = conn.execute(select(MarketBidRow.result).where(
                MarketBidRow.id == bid_id)).first()
            result = json.loads(row[0]) if row is not None and row[0] else {}
            result.update(cancelled_s=at_s, cancelled_by=by, held_yuan=0.0)
            n = conn.execute(update(MarketBidRow).where(
                MarketBidRow.id == bid_id, MarketBidRow.state == OPEN).values(
                state=CANCELLED, result=json.dumps(result, sort_keys=True))).rowcount
            if not n:
                return False
            self.accounts.pass_hold(conn, bid_id, (), at_s, f"market bid cancelled by {by}")
        return True

    # ---- asks ------------------------------------------------------------------------------

    def add_ask(self, provider: str, site: str, kind: str, reserve: float, units: int,
                by: str, now_s: float) -> MarketAskRow:
        """An ask for the next round that clears; an open ask of the same provider, site and
        kind is replaced."""
        with self.engine.begin() as conn:
            conn.execute(update(MarketAskRow).where(
                MarketAskRow.provider == provider, MarketAskRow.site == site,
                MarketAskRow.kind == kind, MarketAskRow.state == ASK_OPEN)
                .values(state=ASK_REPLACED))
            new_id = conn.execute(MarketAskRow.__table__.insert().values(
                provider=provider, site=site, kind=kind, reserve_yuan_per_unit_h=reserve,
                units=units, posted_by=by, posted_s=now_s, state=ASK_OPEN)
                .returning(MarketAskRow.__table__.c.id)).scalar_one()
        with self._session() as s:
            row = s.get(MarketAskRow, int(new_id))
        assert row is not None
        return row

    def asks(self, state: str | None = None, limit: int = 200) -> list[MarketAskRow]:
        q = select(MarketAskRow)
        if state is not None:
            q = q.where(MarketAskRow.state == state)
        with self._session() as s:
            return list(s.scalars(q.order_by(MarketAskRow.id.desc()).limit(limit)))

    # ---- rounds ----------------------------------------------------------------------------

    def last_round_no(self) -> int:
        with self.engine.connect() as conn:
            got = conn.execute(text("SELECT MAX(round_no) FROM market_rounds")).scalar()
        return int(got) if got is not None else 0

    def record_round(self, round_id: str, round_no: int, at_s: float,
                     payload: dict[str, Any], outcomes: Sequence[BidOutcome],
                     asks_used: Sequence[int]) -> None:
        """The round's record, the outcome of the bids that bought nothing (those that carry
        over keep their holds, the others release them) and the asks it used, in one
        transaction."""
        totals = payload["totals"]
        with self.engine.begin() as conn:
            conn.execute(MarketRoundRow.__table__.insert().values(
                id=round_id, round_no=round_no, at_s=at_s, bids=totals["bids"],
                units_bid=totals["units_bid"], units_traded=totals["units_traded"],
                clear_s=payload["clear_s"], ledger_seq=None,
                payload=json.dumps(payload, sort_keys=True)))
            carried = [o for o in outcomes if o.state == OPEN]
            if carried:  # they bid again in the next round: their holds stay
                conn.execute(update(MarketBidRow).where(
                    MarketBidRow.id == bindparam("b_id"), MarketBidRow.state == OPEN).values(
                    round_id=round_id, result=bindparam("b_result")), [
                    {"b_id": o.bid_id, "b_result": json.dumps(o.result, sort_keys=True)}
                    for o in carried])
            closed = [o for o in outcomes if o.state != OPEN]
            held = self._held(conn, [o.bid_id for o in closed])
            for o in closed:
                n = conn.execute(update(MarketBidRow).where(
                    MarketBidRow.id == o.bid_id, MarketBidRow.state == OPEN).values(
                    state=o.state, round_id=round_id,
                    result=json.dumps(o.result, sort_keys=True))).rowcount
                if n and o.bid_id in held:
                    self.accounts.pass_hold(conn, o.bid_id, (), at_s,
                                            f"market bid {o.state} in {round_id}")
            if asks_used:
                conn.execute(update(MarketAskRow).where(MarketAskRow.id.in_(list(asks_used)))
                             .values(state=ASK_USED, round_id=round_id))

    def round_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM market_rounds")).scalar_one())

    @staticmethod
    def _held(conn: Connection, keys: Sequence[str]) -> set[str]:
        """Which of `keys` (bid ids) hold something on an account."""
        out: set[str] = set()
        for k in range(0, len(keys), 500):
            part = list(keys[k:k + 500])
            out.update(r[0] for r in conn.execute(
                select(AccountHoldRow.job_id).where(AccountHoldRow.job_id.in_(part))))
        return out

    def set_ledger_seq(self, round_id: str, seq: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(MarketRoundRow).where(MarketRoundRow.id == round_id)
                         .values(ledger_seq=seq))

    def rounds(self, limit: int = 100, before_no: int | None = None) -> list[MarketRoundRow]:
        q = select(MarketRoundRow)
        if before_no is not None:
            q = q.where(MarketRoundRow.round_no < before_no)
        with self._session() as s:
            return list(s.scalars(q.order_by(MarketRoundRow.round_no.desc()).limit(limit)))

    def round(self, round_id: str) -> MarketRoundRow | None:
        with self._session() as s:
            return s.get(MarketRoundRow, round_id)

    # ---- posted prices ---------------------------------------------------------------------

    def prices(self, hours: Sequence[int]) -> dict[tuple[str, str, str, int], MarketPriceRow]:
        if not hours:
            return {}
        with self._session() as s:
            rows = s.scalars(select(MarketPriceRow).where(
                MarketPriceRow.hour >= min(hours), MarketPriceRow.hour <= max(hours)))
            return {(r.site, r.provider, r.kind, r.hour): r for r in rows}

    def write_prices(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or revise posted prices (each row has every column)."""
        if not rows:
            return
        keys = ("site", "provider", "kind", "hour")
        with self.engine.begin() as conn:
            existing = {
                tuple(r) for r in conn.execute(text(
                    "SELECT site, provider, kind, hour FROM market_prices "
                    "WHERE hour >= :a AND hour <= :b"),
                    {"a": min(r["hour"] for r in rows), "b": max(r["hour"] for r in rows)})}
            new = [r for r in rows if tuple(r[k] for k in keys) not in existing]
            old = [r for r in rows if tuple(r[k] for k in keys) in existing]
            if new:
                conn.execute(MarketPriceRow.__table__.insert(), new)
            if old:
                conn.execute(text(
                    "UPDATE market_prices SET floor_yuan_per_unit_h = :floor_yuan_per_unit_h, "
                    "scarcity_yuan_per_unit_h = :scarcity_yuan_per_unit_h, "
                    "price_yuan_per_unit_h = :price_yuan_per_unit_h, "
                    "utilisation = :utilisation, revised_s = :revised_s, "
                    "revisions = :revisions WHERE site = :site AND provider = :provider "
                    "AND kind = :kind AND hour = :hour"), old)

    def price_history(self, site: str | None, provider: str | None, kind: str | None,
                      h0: int, h1: int, limit: int = 20000) -> list[MarketPriceRow]:
        q = select(MarketPriceRow).where(MarketPriceRow.hour >= h0, MarketPriceRow.hour < h1)
        for col, value in ((MarketPriceRow.site, site), (MarketPriceRow.provider, provider),
                           (MarketPriceRow.kind, kind)):
            if value is not None:
                q = q.where(col == value)
        with self._session() as s:
            return list(s.scalars(q.order_by(MarketPriceRow.site, MarketPriceRow.provider,
                                             MarketPriceRow.kind, MarketPriceRow.hour)
                                  .limit(limit)))


__all__ = ["BID_STATES", "CANCELLED", "EXPIRED", "FILLED", "OPEN", "UNMATCHED",
           "AccountRefused", "BidOutcome", "MarketStore", "ask_out", "bid_out", "round_out"]
