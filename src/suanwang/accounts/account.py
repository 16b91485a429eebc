"""A tenant's account and the operations on it.

Limits, all optional:
- `units_at_once[kind]`: units the tenant's running and placed jobs may hold at once;
- `unit_h_per_month[kind]`: unit-hours per calendar month (China time), counting settled jobs
  and the holds of placed ones;
- `carbon_kg_per_month`: kg CO2 per month, on the `carbon_basis` the tenant chose
  (`location`: the grid's average factor, or `market`: net of the green power it was
  allocated, as the ledger counts them side by side); both are always recorded.

A job is checked (`check`) before it is placed: the answer names the first limit it would
break and by how much. `hold` reserves its worst-case bill against the balance and its units
and unit-hours against the limits; `settle` charges the actual bill and usage when it ends and
frees the hold; `release` frees a hold without a charge (a job cancelled before it ran). The
balance never goes below zero through a hold: a job whose worst case exceeds what is available
is refused. Every change appends an `Entry` to the account's record.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from suanwang.model import Kind
from suanwang.pricing.tariff import CHINA_TZ

LOCATION, MARKET = "location", "market"


def month_of(t: datetime) -> str:
    return f"{t.astimezone(CHINA_TZ):%Y-%m}"


def month_start(month: str) -> datetime:
    """The first instant of a month written "YYYY-MM" (China time)."""
    return datetime.strptime(month, "%Y-%m").replace(tzinfo=CHINA_TZ)


@dataclass(frozen=True, slots=True)
class Limits:
    units_at_once: tuple[tuple[Kind, int], ...] = ()
    unit_h_per_month: tuple[tuple[Kind, float], ...] = ()
    carbon_kg_per_month: float | None = None
    carbon_basis: str = LOCATION

    def __post_init__(self) -> None:
        if self.carbon_basis not in (LOCATION, MARKET):
            raise ValueError(f"carbon_basis must be {LOCATION!r} or {MARKET!r}, "
                             f"got {self.carbon_basis!r}")
        for k, v in (*self.units_at_once, *self.unit_h_per_month):
            if v < 0:
                raise ValueError(f"limit for {k.value} must be >= 0, got {v}")
        if self.carbon_kg_per_month is not None and self.carbon_kg_per_month < 0:
            raise ValueError(f"carbon_kg_per_month must be >= 0, got "
                             f"{self.carbon_kg_per_month}")


@dataclass(frozen=True, slots=True)
class Hold:
    job_id: str
    kind: Kind
    units: int
    unit_h: float
    yuan: float
    month: str
    carbon_kg: float  # the job's expected carbon on the account's basis


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    what: str  # "open", "top_up", "limits", "hold", "settle", "release"
    yuan: float  # change of the balance (settle: -bill; top_up: +amount), 0 otherwise
    job_id: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Refusal:
    limit: str  # e.g. "balance", "units at once (intelligent)"
    needed: float
    available: float
    unit: str

    @property
    def over_by(self) -> float:
        return self.needed - self.available

    def __str__(self) -> str:
        return (f"over the {self.limit} limit by {self.over_by:,.4g} {self.unit} "
                f"(needs {self.needed:,.4g}, {self.available:,.4g} available)")


@dataclass(frozen=True, slots=True)
class Account:
    tenant: str
    balance_yuan: float
    limits: Limits = Limits()
    holds: tuple[Hold, ...] = ()
    # settled use: ((month, kind), unit-hours) and ((month, basis), kg CO2)
    used_unit_h: tuple[tuple[tuple[str, Kind], float], ...] = ()
    used_carbon_kg: tuple[tuple[tuple[str, str], float], ...] = ()
    record: tuple[Entry, ...] = field(default=())

    @property
    def held_yuan(self) -> float:
        return sum(h.yuan for h in self.holds)

    @property
    def available_yuan(self) -> float:
        return self.balance_yuan - self.held_yuan

    def unit_h(self, month: str, kind: Kind) -> float:
        """Unit-hours of `kind` in `month`: settled plus held."""
        return (dict(self.used_unit_h).get((month, kind), 0.0)
                + sum(h.unit_h for h in self.holds if h.month == month and h.kind == kind))

    def carbon_kg(self, month: str, basis: str | None = None) -> float:
        """kg CO2 in `month` on `basis` (default: the budget's): settled plus held."""
        b = basis or self.limits.carbon_basis
        held = sum(h.carbon_kg for h in self.holds if h.month == month) \
            if b == self.limits.carbon_basis else 0.0
        return dict(self.used_carbon_kg).get((month, b), 0.0) + held

    def units_now(self, kind: Kind) -> int:
        return sum(h.units for h in self.holds if h.kind == kind)


def open_account(tenant: str, at: datetime, balance_yuan: float = 0.0,
                 limits: Limits | None = None) -> Account:
    if balance_yuan < 0:
        raise ValueError(f"balance_yuan must be >= 0, got {balance_yuan}")
    return Account(tenant, balance_yuan, limits or Limits(),
                   record=(Entry(at, "open", balance_yuan, note=tenant),))


def top_up(acc: Account, yuan: float, at: datetime, by: str = "") -> Account:
    if not yuan > 0:
        raise ValueError(f"a top-up must be > 0 yuan, got {yuan}")
    return replace(acc, balance_yuan=acc.balance_yuan + yuan,
                   record=(*acc.record, Entry(at, "top_up", yuan, note=by)))


def set_limits(acc: Account, limits: Limits, at: datetime, by: str = "") -> Account:
    return replace(acc, limits=limits,
                   record=(*acc.record, Entry(at, "limits", 0.0, note=f"{by}: {limits}")))


def check(acc: Account, kind: Kind, units: int, duration_s: float, worst_yuan: float,
          at: datetime, carbon_kg: float = 0.0) -> Refusal | None:
    """The first limit a job would break if placed now, or None."""
    lim = acc.limits
    cap = dict(lim.units_at_once).get(kind)
    if cap is not None and acc.units_now(kind) + units > cap:
        return Refusal(f"units at once ({kind.value})", units, cap - acc.units_now(kind),
                       "units")
    month = month_of(at)
    monthly = dict(lim.unit_h_per_month).get(kind)
    unit_h = units * duration_s / 3600.0
    if monthly is not None and acc.unit_h(month, kind) + unit_h > monthly + 1e-9:
        return Refusal(f"unit-hours per month ({kind.value}, {month})", unit_h,
                       monthly - acc.unit_h(month, kind), "unit-hours")
    if lim.carbon_kg_per_month is not None and (
            acc.carbon_kg(month) + carbon_kg > lim.carbon_kg_per_month + 1e-9):
        return Refusal(f"carbon budget ({lim.carbon_basis}-based, {month})", carbon_kg,
                       lim.carbon_kg_per_month - acc.carbon_kg(month), "kg CO2")
    if worst_yuan > acc.available_yuan + 1e-9:
        return Refusal("balance", worst_yuan, acc.available_yuan, "yuan")
    return None


def hold(acc: Account, job_id: str, kind: Kind, units: int, duration_s: float,
         worst_yuan: float, at: datetime, carbon_kg: float = 0.0) -> Account:
    """Reserve a placed job's worst case; raises `ValueError` naming the limit if it breaks
    one (call `check` first to answer the tenant)."""
    if any(h.job_id == job_id for h in acc.holds):
        raise ValueError(f"job {job_id} already holds funds on {acc.tenant}")
    refusal = check(acc, kind, units, duration_s, worst_yuan, at, carbon_kg)
    if refusal is not None:
        raise ValueError(f"job {job_id}: {refusal}")
    h = Hold(job_id, kind, units, units * duration_s / 3600.0, worst_yuan, month_of(at),
             carbon_kg)
    return replace(acc, holds=(*acc.holds, h),
                   record=(*acc.record, Entry(at, "hold", 0.0, job_id,
                                              f"{worst_yuan:.6f} yuan held")))


def _take_hold(acc: Account, job_id: str) -> tuple[Hold, tuple[Hold, ...]]:
    for i, h in enumerate(acc.holds):
        if h.job_id == job_id:
            return h, acc.holds[:i] + acc.holds[i + 1:]
    raise KeyError(f"job {job_id} holds nothing on {acc.tenant}")


def settle(acc: Account, job_id: str, bill_yuan: float, unit_h: float, at: datetime,
           carbon_location_kg: float = 0.0, carbon_market_kg: float = 0.0) -> Account:
    """Charge a finished job: its bill from the balance, its unit-hours and carbon (both
    bases) to the month it was placed in; its hold is freed."""
    h, rest = _take_hold(acc, job_id)
    used = dict(acc.used_unit_h)
    used[(h.month, h.kind)] = used.get((h.month, h.kind), 0.0) + unit_h
    carbon = dict(acc.used_carbon_kg)
    for basis, kg in ((LOCATION, carbon_location_kg), (MARKET, carbon_market_kg)):
        carbon[(h.month, basis)] = carbon.get((h.month, basis), 0.0) + kg
    return replace(acc, balance_yuan=acc.balance_yuan - bill_yuan, holds=rest,
                   used_unit_h=tuple(sorted(used.items(), key=lambda x: (x[0][0], x[0][1]))),
                   used_carbon_kg=tuple(sorted(carbon.items())),
                   record=(*acc.record, Entry(at, "settle", -bill_yuan, job_id,
                                              f"held {h.yuan:.6f}")))


def release(acc: Account, job_id: str, at: datetime, why: str = "") -> Account:
    _, rest = _take_hold(acc, job_id)
    return replace(acc, holds=rest,
                   record=(*acc.record, Entry(at, "release", 0.0, job_id, why)))
