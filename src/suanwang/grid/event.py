"""A grid event (电网事件): a request of the power grid to a site or a group of sites.

- `shed` (需求响应削峰): reduce facility power by a target below the baseline;
- `cap` (有序用电): a hard ceiling on facility power; nothing may be placed above it;
- `fill` (消纳): raise facility power by a target above the baseline (absorb surplus wind or
  solar output that would otherwise be curtailed).

The target is either `target_kw` (kW of facility power, units busy x kW per unit x PUE, as
`core.accounting` counts it) or `target_share`, a fraction of the sites' baseline facility
power over the window (shed and fill: the change asked for; cap: the ceiling), turned into kW
once the baseline is known (`grid.calendar`). A shed or fill of several sites splits its kW
target among them in proportion to their baseline power; a cap applies to each site.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from suanwang.errors import InputError
from suanwang.model import Network


class EventKind(StrEnum):
    SHED = "shed"  # 削峰: reduce power by the target (soft: yields to deadlines and real time)
    CAP = "cap"  # 有序用电: hard ceiling on power
    FILL = "fill"  # 填谷 / 消纳: raise power by the target


EVENT_KIND_NAMES_ZH: dict[EventKind, str] = {
    EventKind.SHED: "削峰", EventKind.CAP: "有序用电", EventKind.FILL: "填谷消纳"}


@dataclass(frozen=True, slots=True)
class GridEvent:
    """One event, validated on construction (`InputError` naming the field and value)."""

    id: str
    sites: tuple[str, ...]  # site ids the event applies to
    kind: EventKind
    start: datetime  # window start, aware
    end: datetime  # window end, aware, after start
    target_kw: float | None = None  # kW of facility power (see the module docstring)
    target_share: float | None = None  # or a fraction of the baseline power, 0..1 (fill: >0)
    price_yuan_per_kwh: float = 0.0  # paid to the platform per kWh delivered
    penalty_yuan_per_kwh: float = 0.0  # charged per kWh of the target missed
    source: str = ""  # who asked, or the document the numbers come from
    assumption: str = ""  # reasoning behind numbers that have no document
    area: str = ""  # the site, province or hub as written in the request

    def __post_init__(self) -> None:
        where = f"grid event {self.id!r}"

        def fail(field: str, value: object, problem: str) -> InputError:
            return InputError(where, field, value, problem)

        if not isinstance(self.id, str) or not self.id.strip():
            raise InputError("grid event", "id", self.id, "must be non-empty text")
        if not isinstance(self.kind, EventKind):
            try:
                object.__setattr__(self, "kind", EventKind(self.kind))
            except ValueError:
                raise fail("kind", self.kind, "unknown kind; choose one of: "
                           + ", ".join(k.value for k in EventKind)) from None
        if not self.sites:
            raise fail("sites", self.sites, "an event names at least one site")
        for name in ("start", "end"):
            t = getattr(self, name)
            if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
                raise fail(name, t, "must be a date and time with its UTC offset, e.g. "
                                    "2024-06-03T13:00:00+08:00")
        if self.end <= self.start:
            raise fail("end", self.end.isoformat(),
                       f"must be after start ({self.start.isoformat()})")
        if (self.target_kw is None) == (self.target_share is None):
            raise fail("target_kw", self.target_kw, "give exactly one of target_kw and "
                                                    "target_share")
        if self.target_kw is not None:
            _finite(fail, "target_kw", self.target_kw, lo=0.0)
        if self.target_share is not None:
            _finite(fail, "target_share", self.target_share, lo=0.0,
                    hi=None if self.kind == EventKind.FILL else 1.0)
        _finite(fail, "price_yuan_per_kwh", self.price_yuan_per_kwh, lo=0.0)
        _finite(fail, "penalty_yuan_per_kwh", self.penalty_yuan_per_kwh, lo=0.0)

    @property
    def hard(self) -> bool:
        return self.kind == EventKind.CAP


def _finite(fail: object, field: str, value: object, lo: float,
            hi: float | None = None) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value == value \
        and abs(value) != float("inf")
    if not ok:
        raise fail(field, value, "must be a finite number")  # type: ignore[operator]
    if value < lo:  # type: ignore[operator]
        raise fail(field, value, f"must be >= {lo:g} (negative targets and prices are "  # type: ignore[operator]
                                 "refused)")
    if hi is not None and value > hi:  # type: ignore[operator]
        raise fail(field, value, f"must be <= {hi:g}")  # type: ignore[operator]


def event_sites(network: Network, source: str, field: str, *, site: str | None = None,
                sites: list[str] | None = None, province: str | None = None,
                hub: str | None = None) -> tuple[str, ...]:
    """The site ids an event names by one of site, sites, province (every site of it) or hub;
    `InputError` naming `field` and the value if it names none the network knows."""
    given = [(k, v) for k, v in (("site", site), ("sites", sites), ("province", province),
                                 ("hub", hub)) if v is not None]
    if len(given) != 1:
        raise InputError(source, field, [k for k, _ in given] or None,
                         "name exactly one of site, sites, province, hub")
    key, value = given[0]
    known = [s.id for s in network.sites]
    if key in ("site", "sites"):
        names = [value] if key == "site" else value
        if not isinstance(names, list) or not names:
            raise InputError(source, f"{field}.{key}", value, "must be a non-empty list of "
                                                              "site ids")
        for i, name in enumerate(names):
            if name not in known:
                at = f"{field}.{key}" + ("" if key == "site" else f"[{i}]")
                raise InputError(source, at, name, "unknown site; the network's sites are: "
                                 + ", ".join(known))
        return tuple(dict.fromkeys(names))
    if key == "province":
        found = tuple(s.id for s in network.sites if s.province_en == value)
        if not found:
            provinces = sorted({s.province_en for s in network.sites})
            raise InputError(source, f"{field}.province", value,
                             "no site of the network is in this province; provinces with "
                             "sites: " + ", ".join(provinces))
        return found
    found = tuple(s.id for s in network.sites if s.hub_id == value)
    if not found:
        raise InputError(source, f"{field}.hub", value, "unknown hub; the network's hubs are: "
                         + ", ".join(h.id for h in network.hubs))
    return found
