"""Tenant accounts in the service's database (issue 12): the rules are `suanwang.accounts`
(pure functions on an `Account`); this module loads an account's state into one, and writes
what changed, in the transaction of the event that changed it:

- a submission is checked and its jobs' holds written in the transaction that accepts the
  jobs (`admit`, called by `Store._insert`): a refused request commits nothing;
- a job's hold is set to its provider's worst case when it is placed, and settled (bill
  debited, unit-hours and carbon of both bases counted to the month) or released (cancelled,
  rejected) in the transaction that records its end (`on_transitions`, from `Store.apply`);
- an operator's opening, top-up or change of limits is one transaction with its entry.

Every transaction that reads an account for a decision first takes its row's write lock
(an UPDATE that changes nothing; tenants in sorted order), so two API replicas cannot both
spend the same balance, and SQLite's writer lock is held from the first read.

A tenant without an account has no limits (the service's behaviour before accounts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine

from suanwang.accounts.account import (
    LOCATION,
    MARKET,
    Account,
    Hold,
    Limits,
    Refusal,
    check,
    month_start,
)
from suanwang.model import Kind
from suanwang.service.account_needs import Need

CO2_KEY = {LOCATION: "co2:location", MARKET: "co2:market"}
BALANCE_LIMIT = "balance"
CHUNK = 500  # ids per IN list


class AccountRefused(Exception):
    """A submission over one of its tenant's limits; `index` is the job in a batch."""

    def __init__(self, tenant: str, refusal: Refusal, index: int | None = None) -> None:
        self.tenant = tenant
        self.refusal = refusal
        self.index = index
        where = f"job {index} of the batch: " if index is not None else ""
        super().__init__(f"{where}tenant {tenant} is {refusal}")

    @property
    def limit_key(self) -> str:
        """The limit as a short fixed name (a metric's label): balance, units_at_once,
        unit_h_per_month or carbon_per_month."""
        lim = self.refusal.limit
        for prefix, key in (("units at once", "units_at_once"),
                            ("unit-hours per month", "unit_h_per_month"),
                            ("carbon budget", "carbon_per_month")):
            if lim.startswith(prefix):
                return key
        return BALANCE_LIMIT

    @property
    def status_code(self) -> int:
        """402 when money is short, 409 when a quota or the carbon budget is spent."""
        return 402 if self.refusal.limit == BALANCE_LIMIT else 409

    def body(self) -> dict[str, Any]:
        r = self.refusal
        return {"detail": str(self), "limit": r.limit, "needed": r.needed,
                "available": r.available, "over_by": r.over_by, "unit": r.unit,
                **({"job_index": self.index} if self.index is not None else {})}


class AccountExists(Exception):
    pass


class NoAccount(KeyError):
    pass


def limits_to_json(lim: Limits) -> dict[str, Any]:
    return {"units_at_once": {k.value: v for k, v in lim.units_at_once},
            "unit_h_per_month": {k.value: v for k, v in lim.unit_h_per_month},
            "carbon_kg_per_month": lim.carbon_kg_per_month,
            "carbon_basis": lim.carbon_basis}


def limits_from_json(raw: dict[str, Any]) -> Limits:
    return Limits(
        units_at_once=tuple((Kind(k), int(v)) for k, v in
                            sorted((raw.get("units_at_once") or {}).items())),
        unit_h_per_month=tuple((Kind(k), float(v)) for k, v in
                               sorted((raw.get("unit_h_per_month") or {}).items())),
        carbon_kg_per_month=raw.get("carbon_kg_per_month"),
        carbon_basis=raw.get("carbon_basis") or LOCATION)


@dataclass(slots=True)
class Admission:
    """One request's jobs to admit: their tenant, the month they are accepted in (China
    time) and how to compute what each would hold (only done if the tenant has an
    account)."""

    tenant: str
    month: str
    make_needs: Callable[[str], Sequence[Need]]  # carbon basis -> each job's need
    needs: Sequence[Need] = ()  # set by `admit` for a tenant with an account


def _json_load(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else json.loads(value or "{}")


class AccountStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    # ---- reading ---------------------------------------------------------------------------

    def _lock(self, conn: Connection, tenants: Iterable[str]) -> set[str]:
        """Take the write lock of these tenants' accounts; the tenants that have one."""
        found: set[str] = set()
        for t in sorted(set(tenants)):
            n = conn.execute(text("UPDATE accounts SET balance_yuan = balance_yuan "
                                  "WHERE tenant = :t"), {"t": t}).rowcount
            if n:
                found.add(t)
        return found

    def load(self, conn: Connection, tenant: str, month: str) -> Account | None:
        """The account as the rules see it: balance, limits, the holds of its jobs (summed by
        kind and month) and the settled use of `month`."""
        row = conn.execute(text("SELECT balance_yuan, limits FROM accounts WHERE tenant = :t"),
                           {"t": tenant}).first()
        if row is None:
            return None
        holds = tuple(
            Hold("", Kind(k), int(u or 0), float(uh or 0.0), float(y or 0.0), m,
                 float(c or 0.0))
            for k, m, u, uh, y, c in conn.execute(text(
                "SELECT kind, month, SUM(units), SUM(unit_h), SUM(yuan), SUM(carbon_kg) "
                "FROM account_holds WHERE tenant = :t GROUP BY kind, month"), {"t": tenant}))
        used_h: list[tuple[tuple[str, Kind], float]] = []
        used_c: list[tuple[tuple[str, str], float]] = []
        for m, key, amount in conn.execute(text(
                "SELECT month, key, amount FROM account_usage WHERE tenant = :t AND month = :m"),
                {"t": tenant, "m": month}):
            if key.startswith("co2:"):
                used_c.append(((m, key[4:]), float(amount)))
            else:
                used_h.append(((m, Kind(key)), float(amount)))
        return Account(tenant, float(row[0]), limits_from_json(_json_load(row[1])), holds,
                       tuple(used_h), tuple(used_c))

    def view(self, tenant: str, at_month: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            acc = self.load(conn, tenant, at_month)
            if acc is None:
                return None
            n_holds = conn.execute(text("SELECT COUNT(*) FROM account_holds WHERE tenant = :t"),
                                   {"t": tenant}).scalar_one()
        return account_out(acc, at_month, int(n_holds))

    def balances(self) -> list[tuple[str, float, float, int]]:
        """(tenant, balance, held, jobs holding) of every account."""
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT a.tenant, a.balance_yuan, COALESCE(SUM(h.yuan), 0), COUNT(h.job_id) "
                "FROM accounts a LEFT JOIN account_holds h ON h.tenant = a.tenant "
                "GROUP BY a.tenant, a.balance_yuan ORDER BY a.tenant")).all()
        return [(r[0], float(r[1]), float(r[2]), int(r[3])) for r in rows]

    def tenants(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT tenant FROM accounts "
                                                    "ORDER BY tenant"))]

    def entries(self, tenant: str, after_id: int = 0, limit: int = 100
                ) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT id, at_s, what, yuan, balance_yuan, job_id, actor, note "
                "FROM account_entries WHERE tenant = :t AND id > :a ORDER BY id LIMIT :n"),
                {"t": tenant, "a": after_id, "n": limit}).all()
        return [{"id": int(r[0]), "at_s": r[1], "what": r[2], "yuan": r[3],
                 "balance_yuan": r[4], "job_id": r[5], "by": r[6], "note": r[7]}
                for r in rows]

    def debits(self, tenant: str | None = None) -> float:
        """The yuan settled (debited for jobs) in all, or of one tenant."""
        q = "SELECT COALESCE(SUM(-yuan), 0) FROM account_entries WHERE what = 'settle'"
        with self.engine.connect() as conn:
            if tenant is None:
                return float(conn.execute(text(q)).scalar_one())
            return float(conn.execute(text(q + " AND tenant = :t"), {"t": tenant})
                         .scalar_one())

    # ---- operators -------------------------------------------------------------------------

    def _entry(self, conn: Connection, tenant: str, at_s: float, what: str, yuan: float,
               balance: float, job_id: str = "", by: str = "", note: str = "") -> None:
        conn.execute(text(
            "INSERT INTO account_entries (tenant, at_s, what, yuan, balance_yuan, job_id, actor, "
            "note) VALUES (:t, :at, :w, :y, :b, :j, :by, :n)"),
            {"t": tenant, "at": at_s, "w": what, "y": yuan, "b": balance, "j": job_id,
             "by": by, "n": note})

    def open(self, tenant: str, balance_yuan: float, limits: Limits, at_s: float,
             by: str) -> None:
        if balance_yuan < 0:
            raise ValueError(f"balance_yuan must be >= 0, got {balance_yuan}")
        with self.engine.begin() as conn:
            if conn.execute(text("SELECT 1 FROM accounts WHERE tenant = :t"),
                            {"t": tenant}).first() is not None:
                raise AccountExists(f"tenant {tenant} has an account already")
            conn.execute(text("INSERT INTO accounts (tenant, balance_yuan, limits, created_s) "
                              "VALUES (:t, :b, :l, :at)"),
                         {"t": tenant, "b": balance_yuan, "at": at_s,
                          "l": _dumps(limits_to_json(limits))})
            self._entry(conn, tenant, at_s, "open", balance_yuan, balance_yuan, by=by,
                        note=f"limits {_dumps(limits_to_json(limits))}")

    def top_up(self, tenant: str, yuan: float, at_s: float, by: str, note: str = "") -> None:
        if not yuan > 0:
            raise ValueError(f"a top-up must be > 0 yuan, got {yuan}")
        with self.engine.begin() as conn:
            if not self._lock(conn, [tenant]):
                raise NoAccount(tenant)
            conn.execute(text("UPDATE accounts SET balance_yuan = balance_yuan + :y "
                              "WHERE tenant = :t"), {"y": yuan, "t": tenant})
            balance = conn.execute(text("SELECT balance_yuan FROM accounts WHERE tenant = :t"),
                                   {"t": tenant}).scalar_one()
            self._entry(conn, tenant, at_s, "top_up", yuan, float(balance), by=by, note=note)

    def set_limits(self, tenant: str, limits: Limits, at_s: float, by: str) -> None:
        with self.engine.begin() as conn:
            if not self._lock(conn, [tenant]):
                raise NoAccount(tenant)
            raw = _dumps(limits_to_json(limits))
            conn.execute(text("UPDATE accounts SET limits = :l WHERE tenant = :t"),
                         {"l": raw, "t": tenant})
            balance = conn.execute(text("SELECT balance_yuan FROM accounts WHERE tenant = :t"),
                                   {"t": tenant}).scalar_one()
            self._entry(conn, tenant, at_s, "limits", 0.0, float(balance), by=by, note=raw)

    # ---- jobs ------------------------------------------------------------------------------

    def admit(self, conn: Connection, requests: Sequence[Admission]
              ) -> tuple[list[AccountRefused | None], set[str]]:
        """Check requests in order against their tenants' accounts (each admitted request's
        holds count against the next): per request None (admitted) or why not, and the
        tenants that have an account. Nothing is written: `write_holds` writes the holds of
        the admitted ones once their jobs are numbered."""
        with_account = self._lock(conn, [r.tenant for r in requests])
        if not with_account:
            return [None] * len(requests), with_account
        accounts: dict[tuple[str, str], Account | None] = {}
        out: list[AccountRefused | None] = []
        for r in requests:
            if r.tenant not in with_account:
                out.append(None)
                continue
            key = (r.tenant, r.month)
            if key not in accounts:
                accounts[key] = self.load(conn, r.tenant, r.month)
            trial = accounts[key]
            assert trial is not None
            refused: AccountRefused | None = None
            r.needs = r.make_needs(trial.limits.carbon_basis)
            for k, need in enumerate(r.needs):
                refusal = _check(trial, need, r.month)
                if refusal is not None:
                    refused = AccountRefused(r.tenant, refusal,
                                             k if len(r.needs) > 1 else None)
                    break
                trial = _with_hold(trial, need, r.month)
            if refused is None:
                accounts[key] = trial
            out.append(refused)
        return out, with_account

    def write_holds(self, conn: Connection, tenant: str, job_ids: Sequence[str],
                    needs: Sequence[Need], month: str, at_s: float) -> None:
        """The holds of admitted jobs, and an entry each (only for a tenant with an account:
        the caller passes admitted requests whose tenant has one)."""
        balance = conn.execute(text("SELECT balance_yuan FROM accounts WHERE tenant = :t"),
                               {"t": tenant}).scalar()
        if balance is None:
            return
        conn.execute(text(
            "INSERT INTO account_holds (job_id, tenant, kind, units, unit_h, yuan, month, "
            "carbon_kg) VALUES (:j, :t, :k, :u, :uh, :y, :m, :c)"),
            [{"j": j, "t": tenant, "k": n.kind.value, "u": n.units, "uh": n.unit_h,
              "y": n.worst_yuan, "m": month, "c": n.carbon_kg}
             for j, n in zip(job_ids, needs, strict=True)])
        conn.execute(text(
            "INSERT INTO account_entries (tenant, at_s, what, yuan, balance_yuan, job_id, actor, "
            "note) VALUES (:t, :at, 'hold', 0, :b, :j, '', :n)"),
            [{"t": tenant, "at": at_s, "b": float(balance), "j": j,
              "n": f"{n.worst_yuan:.6f} yuan, {n.units} {n.kind.value} units, "
                   f"{n.unit_h:.6g} unit-h, {n.carbon_kg:.6g} kg CO2 held"}
             for j, n in zip(job_ids, needs, strict=True)])

    def on_transitions(self, conn: Connection, ends: dict[str, dict[str, Any]],
                       placed: dict[str, float], at_s: dict[str, float]) -> None:
        """In the transaction recording them: settle or release the holds of jobs that
        ended (`ends`: job id -> the job's final fields, with `state`), and set the holds of
        jobs just placed to their provider's worst case (`placed`: job id -> yuan)."""
        ids = list({*ends, *placed})
        holds: dict[str, Any] = {}
        for k in range(0, len(ids), CHUNK):
            part = ids[k:k + CHUNK]
            names = ", ".join(f":i{n}" for n in range(len(part)))
            for row in conn.execute(text(
                    "SELECT job_id, tenant, kind, month, yuan FROM account_holds "
                    f"WHERE job_id IN ({names})"), {f"i{n}": v for n, v in enumerate(part)}):
                holds[row[0]] = row
        if not holds:
            return
        self._lock(conn, [h[1] for h in holds.values()])
        for job_id, h in sorted(holds.items()):
            if job_id in ends:
                self._end(conn, job_id, h, ends[job_id], at_s.get(job_id, 0.0))
            elif job_id in placed:
                conn.execute(text("UPDATE account_holds SET yuan = :y WHERE job_id = :j"),
                             {"y": placed[job_id], "j": job_id})

    def _end(self, conn: Connection, job_id: str, hold: Any, fields: dict[str, Any],
             at_s: float) -> None:
        _, tenant, kind, month, held = hold
        conn.execute(text("DELETE FROM account_holds WHERE job_id = :j"), {"j": job_id})
        charged = fields.get("energy_kwh") is not None
        if not charged:  # cancelled, rejected, or ended before it ran: nothing is owed
            balance = conn.execute(text("SELECT balance_yuan FROM accounts WHERE tenant = :t"),
                                   {"t": tenant}).scalar_one()
            self._entry(conn, tenant, at_s, "release", 0.0, float(balance), job_id,
                        note=f"{fields.get('state', '')}: {float(held):.6f} yuan released")
            return
        bill = float(fields.get("bill_yuan") or 0.0)
        unit_h = float(fields.get("unit_h") or 0.0)
        conn.execute(text("UPDATE accounts SET balance_yuan = balance_yuan - :y "
                          "WHERE tenant = :t"), {"y": bill, "t": tenant})
        for key, amount in ((kind, unit_h),
                            (CO2_KEY[LOCATION], float(fields.get("carbon_kg") or 0.0)),
                            (CO2_KEY[MARKET], float(fields.get("carbon_market_kg") or 0.0))):
            self._add_usage(conn, tenant, month, key, amount)
        balance = conn.execute(text("SELECT balance_yuan FROM accounts WHERE tenant = :t"),
                               {"t": tenant}).scalar_one()
        posted = fields.get("posted_yuan_per_unit_h")
        at = (f" at the posted price {float(posted):.6g} yuan/unit-h" if posted is not None
              else "")
        self._entry(conn, tenant, at_s, "settle", -bill, float(balance), job_id,
                    note=f"{fields.get('state', '')}: bill {bill:.6f} yuan{at} "
                         f"(held {float(held):.6f}), {unit_h:.6g} unit-h")

    # ---- market bids (issue 13): a bid's hold passes to the jobs it buys, or is released --

    def pass_hold(self, conn: Connection, key: str, jobs: Sequence[tuple[str, int, float,
                                                                       float]],
                  at_s: float, note: str, keep: tuple[int, float] | None = None) -> None:
        """Replace the hold under `key` (a market bid's id) by holds of the jobs it bought:
        (job id, units, unit-hours, yuan) each, in the bid's kind and month, with its carbon
        shared by unit-hours; `keep` = (units, fraction): that much of the hold stays under
        `key` (the part of a bid that carries over to the next round); the rest is released.
        Nothing happens without such a hold (the tenant has no account)."""
        row = conn.execute(text("SELECT tenant, kind, month, yuan, unit_h, carbon_kg "
                                "FROM account_holds WHERE job_id = :j"), {"j": key}).first()
        if row is None:
            return
        tenant, kind, month, held, unit_h, carbon = row
        self._lock(conn, [tenant])
        kept = 0.0
        if keep is not None and keep[0] > 0:
            units, frac = keep
            kept = float(held) * frac
            conn.execute(text("UPDATE account_holds SET units = :u, unit_h = :uh, yuan = :y, "
                              "carbon_kg = :c WHERE job_id = :j"),
                         {"u": units, "uh": float(unit_h) * frac, "y": kept,
                          "c": float(carbon) * frac, "j": key})
        else:
            conn.execute(text("DELETE FROM account_holds WHERE job_id = :j"), {"j": key})
        if jobs:
            conn.execute(text(
                "INSERT INTO account_holds (job_id, tenant, kind, units, unit_h, yuan, month, "
                "carbon_kg) VALUES (:j, :t, :k, :u, :uh, :y, :m, :c)"),
                [{"j": j, "t": tenant, "k": kind, "u": u, "uh": uh, "y": y, "m": month,
                  "c": float(carbon) * uh / float(unit_h) if unit_h else 0.0}
                 for j, u, uh, y in jobs])
        balance = conn.execute(text("SELECT balance_yuan FROM accounts WHERE tenant = :t"),
                               {"t": tenant}).scalar_one()
        moved = sum(y for _, _, _, y in jobs)
        still = f"{kept:.6f} still held by the bid, " if keep is not None and kept else ""
        self._entry(conn, tenant, at_s, "release", 0.0, float(balance), key,
                    note=f"{note}: {float(held):.6f} yuan held by the bid; "
                         f"{moved:.6f} passed to {len(jobs)} job(s), {still}"
                         f"{float(held) - moved - kept:.6f} released")

    def _add_usage(self, conn: Connection, tenant: str, month: str, key: str,
                   amount: float) -> None:
        n = conn.execute(text("UPDATE account_usage SET amount = amount + :a "
                              "WHERE tenant = :t AND month = :m AND key = :k"),
                         {"a": amount, "t": tenant, "m": month, "k": key}).rowcount
        if not n:
            conn.execute(text("INSERT INTO account_usage (tenant, month, key, amount) "
                              "VALUES (:t, :m, :k, :a)"),
                         {"a": amount, "t": tenant, "m": month, "k": key})


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _check(acc: Account, need: Need, month: str) -> Refusal | None:
    """`accounts.check` of one job in `month` (the rules take a time; its month is enough)."""
    return check(acc, need.kind, need.units, need.duration_s, need.worst_yuan,
                 month_start(month), need.carbon_kg)


def _with_hold(acc: Account, need: Need, month: str) -> Account:
    h = Hold("", need.kind, need.units, need.unit_h, need.worst_yuan, month, need.carbon_kg)
    return replace(acc, holds=(*acc.holds, h))


def account_out(acc: Account, month: str, holds: int) -> dict[str, Any]:
    lim = acc.limits
    kinds = sorted({k for k, _ in (*lim.units_at_once, *lim.unit_h_per_month)}
                   | {h.kind for h in acc.holds} | {k for (_, k), _ in acc.used_unit_h},
                   key=lambda k: k.value)
    return {
        "tenant": acc.tenant, "balance_yuan": acc.balance_yuan, "held_yuan": acc.held_yuan,
        "available_yuan": acc.available_yuan, "jobs_holding": holds,
        "limits": limits_to_json(lim), "month": month,
        "usage": {
            "units_now": {k.value: acc.units_now(k) for k in kinds},
            "unit_h": {k.value: acc.unit_h(month, k) for k in kinds},
            "carbon_kg": {b: acc.carbon_kg(month, b) for b in (LOCATION, MARKET)},
        },
    }
