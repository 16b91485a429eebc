"""One ledger record: a job's draw at one site in one hour, with its green and grid parts and its
CO2 computed two ways, side by side.

    facility_kwh = it_kwh x PUE                      (what the site's meter counts)
    grid_kwh     = facility_kwh - green_kwh          (green_kwh: the job's share of the
                                                      site-hour's green supply, see allocation)
    co2_location_kg = grid_kwh x location_g_per_kwh / 1000
        location-based: the grid part at the province's average grid factor; the green part
        carries none. (Quantities as defined in issue 8.)
    co2_market_kg   = grid_kwh x market_g_per_kwh / 1000
        market-based: contracted green power and green certificates at zero, the rest at the
        residual-mix factor (see `factors.RESIDUAL_MIX_G_PER_KWH`).

The two CO2 figures are never added to each other or mixed in one total.

Canonical serialisation (what the hash covers): the JSON object of all the fields below plus
`prev` (the previous record's hash) and `seq` (its position, from 0), keys in sorted order, no
whitespace, UTF-8, strings as `json.dumps(..., ensure_ascii=False)` writes them, quantities as
decimals with six places (kWh, kg), factors with three places (g/kWh), integers as integers. The
line in the file is that object with `"hash":"<hex>"` put first. `BODY_TEMPLATE` is the one
definition: `encode_body` fills it for single appends (the service), `build.bulk_lines` column by
column for a simulation run; a test holds the two to the same bytes, and `ledger verify`
re-encodes every record it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from json.encoder import encode_basestring as _encode_basestring  # type: ignore[attr-defined]
from typing import Any

from suanwang.ledger.units import (
    co2_ukg,
    fmt_micro,
    fmt_milli,
    micro_from_json,
    milli_from_json,
)

FIELDS = ("co2_location_kg", "co2_market_kg", "facility_kwh", "green_kwh", "grid_kwh", "hour",
          "hour_start_s", "it_kwh", "job", "kind", "location_g_per_kwh", "market_g_per_kwh",
          "origin", "prev", "seq", "site", "tenant")
_FIELD_SET = frozenset(FIELDS)


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    """What was drawn; `seq` and `prev` are given by the chain when the record is appended."""

    job: str
    tenant: str
    origin: str  # demand region the work came from
    site: str
    kind: str  # compute kind of the pool
    hour_start_s: int  # the hour's start on the run clock (s); the service: Unix seconds
    hour: str  # the hour's start, ISO 8601 in Beijing time, e.g. 2024-06-01T03:00+08:00
    it_ukwh: int  # IT energy, µkWh
    facility_ukwh: int  # facility energy (IT x PUE), µkWh
    green_ukwh: int  # green part of facility energy, µkWh (0 <= green <= facility)
    location_mg_per_kwh: int  # location-based grid factor, mg CO2 per kWh
    market_mg_per_kwh: int  # market-based (residual-mix) factor, mg CO2 per kWh

    @property
    def grid_ukwh(self) -> int:
        return self.facility_ukwh - self.green_ukwh

    @property
    def co2_location_ukg(self) -> int:
        return co2_ukg(self.grid_ukwh, self.location_mg_per_kwh)

    @property
    def co2_market_ukg(self) -> int:
        return co2_ukg(self.grid_ukwh, self.market_mg_per_kwh)


def json_str(text: str) -> str:
    """A JSON string literal, as `json.dumps(text, ensure_ascii=False)` writes it."""
    return _encode_basestring(text)


# The canonical body, keys in sorted order; every %s is an already-formatted JSON value.
BODY_TEMPLATE = (
    '{"co2_location_kg":%s,"co2_market_kg":%s,"facility_kwh":%s,"green_kwh":%s,"grid_kwh":%s,'
    '"hour":%s,"hour_start_s":%d,"it_kwh":%s,"job":%s,"kind":%s,"location_g_per_kwh":%s,'
    '"market_g_per_kwh":%s,"origin":%s,"prev":"%s","seq":%d,"site":%s,"tenant":%s}'
)


def encode_body(seq: int, prev: str, job: str, tenant: str, origin: str, site: str, kind: str,
                hour_start_s: int, hour: str, it_ukwh: int, facility_ukwh: int, green_ukwh: int,
                location_mg_per_kwh: int, market_mg_per_kwh: int) -> str:
    """The canonical body of a record (without its own hash). The bulk writer
    (`build.bulk_lines`) fills the same `BODY_TEMPLATE` column by column; a test holds the two
    to the same bytes."""
    grid = facility_ukwh - green_ukwh
    return BODY_TEMPLATE % (
        fmt_micro(co2_ukg(grid, location_mg_per_kwh)), fmt_micro(co2_ukg(grid, market_mg_per_kwh)),
        fmt_micro(facility_ukwh), fmt_micro(green_ukwh), fmt_micro(grid), json_str(hour),
        hour_start_s, fmt_micro(it_ukwh), json_str(job), json_str(kind),
        fmt_milli(location_mg_per_kwh), fmt_milli(market_mg_per_kwh), json_str(origin), prev,
        seq, json_str(site), json_str(tenant))


def encode_record(record: LedgerRecord, seq: int, prev: str) -> str:
    r = record
    return encode_body(seq, prev, r.job, r.tenant, r.origin, r.site, r.kind, r.hour_start_s,
                       r.hour, r.it_ukwh, r.facility_ukwh, r.green_ukwh,
                       r.location_mg_per_kwh, r.market_mg_per_kwh)


_TEXT = ("job", "tenant", "origin", "site", "kind", "hour", "prev")
_NUMBERS = ("it_kwh", "facility_kwh", "green_kwh", "location_g_per_kwh", "market_g_per_kwh")


def decode_body(obj: dict[str, Any]) -> tuple[int, str, LedgerRecord]:
    """(seq, prev, record) from a parsed body; ValueError/TypeError if malformed."""
    if len(obj) != len(FIELDS) or set(obj) != _FIELD_SET:
        missing = sorted(_FIELD_SET - set(obj))
        extra = sorted(set(obj) - _FIELD_SET)
        raise ValueError(f"fields differ from the format: missing {missing}, extra {extra}")
    for key in _TEXT:
        if type(obj[key]) is not str:
            raise TypeError(f"{key} must be text, not {obj[key]!r}")
    for key in ("seq", "hour_start_s"):
        if type(obj[key]) is not int:
            raise TypeError(f"{key} must be an integer, not {obj[key]!r}")
    for key in _NUMBERS:
        if type(obj[key]) not in (int, float):
            raise TypeError(f"{key} must be a number, not {obj[key]!r}")
    record = LedgerRecord(
        job=obj["job"], tenant=obj["tenant"], origin=obj["origin"], site=obj["site"],
        kind=obj["kind"], hour_start_s=obj["hour_start_s"], hour=obj["hour"],
        it_ukwh=micro_from_json(obj["it_kwh"]),
        facility_ukwh=micro_from_json(obj["facility_kwh"]),
        green_ukwh=micro_from_json(obj["green_kwh"]),
        location_mg_per_kwh=milli_from_json(obj["location_g_per_kwh"]),
        market_mg_per_kwh=milli_from_json(obj["market_g_per_kwh"]),
    )
    return obj["seq"], obj["prev"], record
