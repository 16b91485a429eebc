"""Grid events of the live service in its database (revision 0010): the event as posted, its
state, the baseline frozen at notice time and the settlement after its end.

States: `posted` (stored; the scheduler has not frozen its baseline yet: an API replica's
event waiting for the leader), `notified` (baseline frozen, the ceilings or fill levels in the
scheduler's power calendar), `cancelled` (withdrawn before its start), `settled`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Float, String, Text, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from suanwang.service.db import Base, JobRow
from suanwang.service.states import FAILED, FINISHED, PLACED, RUNNING

POSTED, NOTIFIED, CANCELLED, SETTLED = "posted", "notified", "cancelled", "settled"
LIVE_STATES = (POSTED, NOTIFIED)  # the scheduler holds them (or is to)
RAN_STATES = (PLACED, RUNNING, FINISHED, FAILED)  # a job's states that drew power


class GridEventRow(Base):
    __tablename__ = "grid_events"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), index=True)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    month: Mapped[str] = mapped_column(String(7), index=True)
    posted_by: Mapped[str] = mapped_column(String(64))
    posted_s: Mapped[float] = mapped_column(Float)
    event: Mapped[str] = mapped_column(Text)
    notice_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    plan: Mapped[str | None] = mapped_column(Text, nullable=True)
    baseline_jobs: Mapped[str | None] = mapped_column(Text, nullable=True)
    settled_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    settlement: Mapped[str | None] = mapped_column(Text, nullable=True)
    ledger_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class GridEventExists(ValueError):
    pass


def row_view(row: GridEventRow) -> dict[str, Any]:
    """A stored event as the API shows it (JSON columns decoded)."""
    return {"id": row.id, "kind": row.kind, "state": row.state, "start_s": row.start_s,
            "end_s": row.end_s, "month": row.month, "posted_by": row.posted_by,
            "posted_s": row.posted_s, **json.loads(row.event), "notice_s": row.notice_s,
            "plan": json.loads(row.plan) if row.plan else None,
            "settled_s": row.settled_s,
            "settlement": json.loads(row.settlement) if row.settlement else None,
            "ledger_seq": row.ledger_seq}


class GridStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._session = sessionmaker(engine, expire_on_commit=False)

    def add(self, row: GridEventRow) -> None:
        try:
            with self._session.begin() as s:
                s.add(row)
        except IntegrityError:
            raise GridEventExists(f"a grid event {row.id!r} exists already") from None

    def get(self, event_id: str) -> GridEventRow | None:
        with self._session() as s:
            return s.get(GridEventRow, event_id)

    def list(self, state: str | None = None, month: str | None = None,
             limit: int = 1000) -> list[GridEventRow]:
        q = select(GridEventRow)
        if state is not None:
            q = q.where(GridEventRow.state == state)
        if month is not None:
            q = q.where(GridEventRow.month == month)
        with self._session() as s:
            return list(s.scalars(q.order_by(GridEventRow.start_s, GridEventRow.id)
                                  .limit(limit)))

    def live(self) -> list[GridEventRow]:
        with self._session() as s:
            return list(s.scalars(select(GridEventRow).where(
                GridEventRow.state.in_(LIVE_STATES)).order_by(GridEventRow.posted_s)))

    def set(self, event_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(GridEventRow).where(GridEventRow.id == event_id)
                         .values(**values))

    def cancel(self, event_id: str, only_before_s: float) -> bool:
        """Cancel a posted or notified event whose start is after `only_before_s`; whether
        it was (one transaction: never a settled or started one)."""
        with self.engine.begin() as conn:
            done = conn.execute(update(GridEventRow).where(
                GridEventRow.id == event_id, GridEventRow.state.in_(LIVE_STATES),
                GridEventRow.start_s > only_before_s).values(state=CANCELLED))
            return bool(done.rowcount)

    def jobs_by_id(self, ids: Sequence[str]) -> dict[str, JobRow]:
        out: dict[str, JobRow] = {}
        with self._session() as s:
            for k in range(0, len(ids), 500):
                for r in s.scalars(select(JobRow).where(JobRow.id.in_(ids[k:k + 500]))):
                    out[r.id] = r
        return out

    def jobs_at(self, sites: Sequence[str], start_s: float, end_s: float) -> list[JobRow]:
        """Jobs that ran (or are running) at `sites` during [start_s, end_s)."""
        with self._session() as s:
            return list(s.scalars(select(JobRow).where(
                JobRow.site.in_(list(sites)), JobRow.start_s.is_not(None),
                JobRow.state.in_(RAN_STATES),
                JobRow.start_s < end_s,
                (JobRow.end_s.is_(None)) | (JobRow.end_s > start_s))))


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
