"""Tables of the live service (SQLAlchemy 2). The schema is created by Alembic migrations
(`suanwang.service.migrations`), never by `create_all`, so SQLite and PostgreSQL databases
are upgraded the same way."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class TenantRow(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # "tenant" or "operator"
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)


class JobRow(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)  # acceptance order
    tenant: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    origin: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    units: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    submit_s: Mapped[float] = mapped_column(Float)
    rtt_bound_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    deadline_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    data_gb: Mapped[float] = mapped_column(Float, default=0.0)
    workload: Mapped[str] = mapped_column(String(64), default="")
    command: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    site: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rtt_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    placed_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    start_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    defer_until_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    energy_kwh: Mapped[float | None] = mapped_column(Float, nullable=True)
    green_kwh: Mapped[float | None] = mapped_column(Float, nullable=True)
    carbon_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    cost_yuan: Mapped[float | None] = mapped_column(Float, nullable=True)
    # the same run at the nearest site that could serve it (revision 0002)
    baseline_site: Mapped[str | None] = mapped_column(String(64), nullable=True)
    baseline_carbon_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    baseline_cost_yuan: Mapped[float | None] = mapped_column(Float, nullable=True)
    # what it runs and how it ran on the site's engine (revision 0003)
    env: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    workdir: Mapped[str | None] = mapped_column(String(500), nullable=True)
    max_retries: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    exec_handle: Mapped[str | None] = mapped_column(String(200), nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    log_tail: Mapped[str | None] = mapped_column(Text, nullable=True)
    # its provider and bill, and what its tenant asked of the providers (revision 0007)
    provider: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    bill_yuan: Mapped[float | None] = mapped_column(Float, nullable=True)
    egress_yuan: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_price_yuan_per_unit_h: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_bill_yuan: Mapped[float | None] = mapped_column(Float, nullable=True)
    providers: Mapped[dict[str, list[str]] | None] = mapped_column(JSON, nullable=True)
    # a job the call auction placed: its bid, round and clearing price (revision 0011)
    market_bid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    market_round: Mapped[str | None] = mapped_column(String(32), nullable=True)
    market_price_yuan_per_unit_h: Mapped[float | None] = mapped_column(Float, nullable=True)
    __table_args__ = (UniqueConstraint("tenant", "idempotency_key", name="uq_jobs_idempotency"),
                      Index("ix_jobs_tenant_seq", "tenant", "seq"))


class JobEventRow(Base):
    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(64), ForeignKey("jobs.id"), index=True)
    at_s: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    site: Mapped[str | None] = mapped_column(String(64), nullable=True)


class SiteStateRow(Base):
    __tablename__ = "site_state"
    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    drained: Mapped[bool] = mapped_column(Boolean, default=False)


class MetaRow(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class CommandRow(Base):
    """An operator action made on an API replica (revision 0005), applied in id order by the
    scheduler that leads, which sets `applied_wall_s` and `result` (JSON)."""

    __tablename__ = "commands"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    created_wall_s: Mapped[float] = mapped_column(Float)
    applied_wall_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)


class LedgerEntryRow(Base):
    """One ledger record (revision 0004): `line` is the record's text exactly as the chain
    wrote it (what the hash covers); the other columns are copies for filtering."""

    __tablename__ = "ledger_entries"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    line: Mapped[str] = mapped_column(Text)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    tenant: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64))
    hour: Mapped[int] = mapped_column(Integer)  # the run clock's hour index
    __table_args__ = (Index("ix_ledger_entries_tenant_seq", "tenant", "seq"),)


class LedgerHeadRow(Base):
    """The ledger's head (one row, id 1): record count, last hash, and the first run-clock
    hour not yet closed (hours before it have all their records)."""

    __tablename__ = "ledger_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    records: Mapped[int] = mapped_column(BigInteger)
    head: Mapped[str] = mapped_column(String(64))
    next_hour: Mapped[int] = mapped_column(Integer)


class AccountRow(Base):
    """A tenant's prepaid account (revision 0008): its balance and limits (JSON, the fields of
    `accounts.Limits`). Holds and settled use are rows of their own."""

    __tablename__ = "accounts"
    tenant: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"), primary_key=True)
    balance_yuan: Mapped[float] = mapped_column(Float)
    limits: Mapped[dict[str, object]] = mapped_column(JSON)
    created_s: Mapped[float] = mapped_column(Float)  # run clock


class AccountEntryRow(Base):
    """One change of an account, in order: open, top_up, limits (by an operator), hold,
    settle, release (by the service for a job)."""

    __tablename__ = "account_entries"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), ForeignKey("accounts.tenant"))
    at_s: Mapped[float] = mapped_column(Float)  # run clock
    what: Mapped[str] = mapped_column(String(16))
    yuan: Mapped[float] = mapped_column(Float)  # change of the balance (0: none)
    balance_yuan: Mapped[float] = mapped_column(Float)  # the balance after it
    job_id: Mapped[str] = mapped_column(String(64), default="")
    actor: Mapped[str] = mapped_column(String(64), default="")  # who made the change
    note: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (Index("ix_account_entries_tenant_id", "tenant", "id"),)


class AccountHoldRow(Base):
    """What an accepted job holds until it ends: its worst-case bill against the balance,
    its units and unit-hours against the quotas, its expected carbon against the budget."""

    __tablename__ = "account_holds"
    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), ForeignKey("accounts.tenant"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    units: Mapped[int] = mapped_column(Integer)
    unit_h: Mapped[float] = mapped_column(Float)
    yuan: Mapped[float] = mapped_column(Float)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM, China time
    carbon_kg: Mapped[float] = mapped_column(Float)


class AccountUsageRow(Base):
    """Settled use per tenant and month: unit-hours of a kind (`key` = the kind) or kg CO2 on
    one basis (`key` = "co2:location" | "co2:market")."""

    __tablename__ = "account_usage"
    tenant: Mapped[str] = mapped_column(String(64), ForeignKey("accounts.tenant"),
                                        primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    key: Mapped[str] = mapped_column(String(24), primary_key=True)
    amount: Mapped[float] = mapped_column(Float)


class SchedulerLogRow(Base):
    """One input to the live scheduling core or one decision it took, in order (revision
    0009; `service.scheduler_log`): what `suanwang replay` feeds back and checks."""

    __tablename__ = "scheduler_log"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    clock: Mapped[float] = mapped_column(Float)  # the core's now_s (run seconds)
    body: Mapped[str] = mapped_column(Text)  # JSON


class MarketBidRow(Base):
    """A tenant's sealed bid (revision 0011) for the round `round_no` (the 15-minute boundary
    of the run clock it is cleared at); `body` is the bid as accepted (JSON), `result` its
    fills and unmatched reasons once cleared. State: open, matched, partial, unmatched."""

    __tablename__ = "market_bids"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id"), index=True)
    submit_s: Mapped[float] = mapped_column(Float)
    round_no: Mapped[int] = mapped_column(Integer, index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    body: Mapped[str] = mapped_column(Text)
    hold_yuan: Mapped[float] = mapped_column(Float)
    round_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)


class MarketAskRow(Base):
    """A provider's ask for the next round that clears (revision 0011): state open, used
    (by `round_id`) or replaced (by a later ask of the same provider, site and kind)."""

    __tablename__ = "market_asks"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    reserve_yuan_per_unit_h: Mapped[float] = mapped_column(Float)
    units: Mapped[int] = mapped_column(Integer)
    posted_by: Mapped[str] = mapped_column(String(64))
    posted_s: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), index=True)
    round_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class MarketRoundRow(Base):
    """One cleared round (revision 0011): `payload` is its clearing record (JSON), the same
    as the ledger's `market_clearing` event (`ledger_seq`)."""

    __tablename__ = "market_rounds"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    round_no: Mapped[int] = mapped_column(Integer, unique=True)
    at_s: Mapped[float] = mapped_column(Float)
    bids: Mapped[int] = mapped_column(Integer)
    units_bid: Mapped[int] = mapped_column(Integer)
    units_traded: Mapped[int] = mapped_column(Integer)
    clear_s: Mapped[float] = mapped_column(Float)
    ledger_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    payload: Mapped[str] = mapped_column(Text)


class MarketPriceRow(Base):
    """The posted price of one (site, provider, kind, run-clock hour), as last revised
    (revision 0011; the rule: `service.posted_prices`)."""

    __tablename__ = "market_prices"
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    floor_yuan_per_unit_h: Mapped[float] = mapped_column(Float)
    scarcity_yuan_per_unit_h: Mapped[float] = mapped_column(Float)
    price_yuan_per_unit_h: Mapped[float] = mapped_column(Float)
    utilisation: Mapped[float] = mapped_column(Float)
    first_posted_s: Mapped[float] = mapped_column(Float)
    revised_s: Mapped[float] = mapped_column(Float)
    revisions: Mapped[int] = mapped_column(Integer)


def make_engine(url: str, schema: str | None = None) -> Engine:
    """An engine for `url`; SQLite files get WAL, a busy timeout and foreign keys.
    On PostgreSQL, `schema` (if given) is put first on the search path."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    args = {"options": f"-csearch_path={schema}"} if schema else {}
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True,
                         connect_args=args)
