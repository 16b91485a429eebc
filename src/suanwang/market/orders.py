"""Orders of the call auction: a tenant's `Bid` for one job and a provider's `Ask`.

Both are validated when built; an error names the order, the field and the value
(`suanwang.errors.InputError`). Prices are yuan per unit-hour (CPU core-hour, accelerator
card-hour, HPC node-hour) unless the name says `total`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from suanwang.errors import InputError
from suanwang.model import Kind


def _fail(order: str, field: str, value: object, problem: str) -> InputError:
    return InputError(order, field, value, problem)


def _positive(order: str, field: str, value: object, *, whole: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(order, field, value, "must be a number")
    if not math.isfinite(value) or value <= 0:
        raise _fail(order, field, value, "must be a finite number > 0")
    if whole and value != int(value):
        raise _fail(order, field, value, "must be a whole number of units")


def _non_negative(order: str, field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(order, field, value, "must be a number")
    if not math.isfinite(value) or value < 0:
        raise _fail(order, field, value, "must be a finite number >= 0")


def _text(order: str, field: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise _fail(order, field, value, "must be a non-empty text")


def _kind(order: str, obj: Bid | Ask) -> None:
    """Check `obj.kind` (a `Kind`, or its value as text, which is converted)."""
    value: object = obj.kind
    if isinstance(value, str) and not isinstance(value, Kind):
        try:
            object.__setattr__(obj, "kind", Kind(value))
            return
        except ValueError:
            pass
    if not isinstance(value, Kind):
        raise _fail(order, "kind", value,
                    f"unknown kind; known: {', '.join(k.value for k in Kind)}")


@dataclass(frozen=True, slots=True)
class Bid:
    """A tenant's sealed bid for one deferrable job in the round's window.

    The job: `units` of `kind` for `duration_s`, its input `data_gb` leaving from `origin`.
    It carries either `rtt_bound_ms` (real-time: the region-to-site round trip must not exceed
    it) or `deadline_s` (seconds after the window opens by which the job must end), not both.
    Its price limit is either `limit_yuan_per_unit_h` or `limit_total_yuan` (the most the
    tenant pays for the whole job, compute and transit), not both; the mechanism treats the
    limit as the tenant's value. `carbon_cap_kg`, when given, bounds the job's location-based
    CO2 (the site's non-green share at its grid factor).
    """

    bid_id: str
    tenant: str
    origin: str  # region id
    kind: Kind
    units: int
    duration_s: float
    rtt_bound_ms: float | None = None
    deadline_s: float | None = None
    limit_yuan_per_unit_h: float | None = None
    limit_total_yuan: float | None = None
    data_gb: float = 0.0
    carbon_cap_kg: float | None = None
    workload: str = ""  # the class of work (informative)

    def __post_init__(self) -> None:
        o = f"bid {self.bid_id!r}"
        _text("bid", "bid_id", self.bid_id)
        _text(o, "tenant", self.tenant)
        _text(o, "origin", self.origin)
        _kind(o, self)
        _positive(o, "units", self.units, whole=True)
        _positive(o, "duration_s", self.duration_s)
        _non_negative(o, "data_gb", self.data_gb)
        if (self.rtt_bound_ms is None) == (self.deadline_s is None):
            raise _fail(o, "rtt_bound_ms", self.rtt_bound_ms,
                        "give exactly one of rtt_bound_ms (real-time) and deadline_s "
                        f"(deferrable); deadline_s = {self.deadline_s!r}")
        if self.rtt_bound_ms is not None:
            _positive(o, "rtt_bound_ms", self.rtt_bound_ms)
        if self.deadline_s is not None:
            _positive(o, "deadline_s", self.deadline_s)
            if self.deadline_s < self.duration_s:
                raise _fail(o, "deadline_s", self.deadline_s,
                            f"earlier than the job's duration_s ({self.duration_s:g})")
        if (self.limit_yuan_per_unit_h is None) == (self.limit_total_yuan is None):
            raise _fail(o, "limit_yuan_per_unit_h", self.limit_yuan_per_unit_h,
                        "give exactly one of limit_yuan_per_unit_h and limit_total_yuan; "
                        f"limit_total_yuan = {self.limit_total_yuan!r}")
        if self.limit_yuan_per_unit_h is not None:
            _positive(o, "limit_yuan_per_unit_h", self.limit_yuan_per_unit_h)
        if self.limit_total_yuan is not None:
            _positive(o, "limit_total_yuan", self.limit_total_yuan)
        if self.carbon_cap_kg is not None:
            _non_negative(o, "carbon_cap_kg", self.carbon_cap_kg)

    @property
    def unit_h(self) -> float:
        """Unit-hours the job uses."""
        return self.units * self.duration_s / 3600.0

    @property
    def value_yuan_per_unit_h(self) -> float:
        """The price limit per unit-hour (a total limit spread over the job's unit-hours)."""
        if self.limit_yuan_per_unit_h is not None:
            return self.limit_yuan_per_unit_h
        assert self.limit_total_yuan is not None
        return self.limit_total_yuan / self.unit_h

    @property
    def data_gb_per_unit_h(self) -> float:
        return self.data_gb / self.unit_h


@dataclass(frozen=True, slots=True)
class Ask:
    """A provider's sealed ask at one site for one kind: `units` offered for the window at no
    less than `reserve_yuan_per_unit_h` (its cost: energy + wear, or what it declares)."""

    provider_id: str
    site_id: str
    kind: Kind
    reserve_yuan_per_unit_h: float
    units: int
    # the provider's posted (list) price, public: used only to route bids to sites, never as
    # the reserve; None routes by transit cost alone
    list_yuan_per_unit_h: float | None = None

    def __post_init__(self) -> None:
        _text("ask", "provider_id", self.provider_id)
        o = f"ask {self.provider_id!r}"
        _text(o, "site_id", self.site_id)
        _kind(o, self)
        o = f"ask {self.ask_id!r}"
        _non_negative(o, "reserve_yuan_per_unit_h", self.reserve_yuan_per_unit_h)
        _positive(o, "units", self.units, whole=True)
        if self.list_yuan_per_unit_h is not None:
            _non_negative(o, "list_yuan_per_unit_h", self.list_yuan_per_unit_h)

    @property
    def ask_id(self) -> str:
        return f"{self.provider_id}@{self.site_id}/{self.kind.value}"


def check_unique(bids: list[Bid] | tuple[Bid, ...], asks: list[Ask] | tuple[Ask, ...]) -> None:
    """Refuse a second bid with the same id or a second ask of a provider, site and kind."""
    seen: set[str] = set()
    for b in bids:
        if b.bid_id in seen:
            raise _fail(f"bid {b.bid_id!r}", "bid_id", b.bid_id, "duplicate bid id")
        seen.add(b.bid_id)
    seen = set()
    for a in asks:
        if a.ask_id in seen:
            raise _fail(f"ask {a.ask_id!r}", "provider_id", a.provider_id,
                        "a second ask of this provider for the same site and kind")
        seen.add(a.ask_id)
