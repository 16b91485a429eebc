"""Event records: what the platform settled or cleared, in the same hash chain as the energy
records (grid-event settlements, 算电协同; market clearings, 算力交易).

An energy record (`record.LedgerRecord`) says what a job drew at a site in an hour. An event
record says what the platform decided about money or power at one instant: a grid event's
measured delivery and its credit or penalty, a call auction round's prices and fills. It is
chained exactly like an energy record (`seq`, `prev`, its own `hash`), so deleting, changing or
moving one breaks the chain and the Merkle log's roots the same way.

Canonical body (what the hash covers), keys in sorted order, no whitespace, UTF-8:

    {"at":"<ISO 8601, Beijing time, to the second>","at_s":<Unix seconds>,
     "payload":<the event's JSON object>,"prev":"<hex>","ref":"<event or round id>",
     "seq":<n>,"type":"grid_settlement"|"market_clearing"}

The payload is a JSON object serialised canonically (`canonical_json`: keys sorted, no
whitespace, non-ASCII as is, no NaN or infinity; numbers as Python's `json` writes them), so
`ledger verify` can re-encode it and compare bytes. An energy record has no `type` key and
an event record no `job` key: `decode_entry` tells them apart by that.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from suanwang.ledger.record import LedgerRecord, decode_body, encode_record, json_str

EVENT_TYPES = ("grid_settlement", "market_clearing")
EVENT_FIELDS = ("at", "at_s", "payload", "prev", "ref", "seq", "type")
_EVENT_FIELD_SET = frozenset(EVENT_FIELDS)
MAX_REF_CHARS = 128
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
BEIJING = timezone(timedelta(hours=8))

EVENT_TEMPLATE = '{"at":%s,"at_s":%d,"payload":%s,"prev":"%s","ref":%s,"seq":%d,"type":%s}'


def _check_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"payload{where} is {value!r}: not a finite number")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"payload{where} has a key {k!r} that is not text")
            _check_finite(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_finite(v, f"{where}[{i}]")


def canonical_json(payload: dict[str, Any]) -> str:
    """The payload's one canonical text; ValueError/TypeError if it is not a JSON object of
    finite numbers, text, booleans, null, lists and objects with text keys."""
    if not isinstance(payload, dict):
        raise TypeError(f"payload must be a JSON object, not {type(payload).__name__}")
    _check_finite(payload, "")
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    if len(text.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is {len(text.encode('utf-8')):,} bytes, over the "
                         f"{MAX_PAYLOAD_BYTES:,} an event record may hold")
    return text


def at_label(at_s: int) -> str:
    """Unix seconds as ISO 8601 in Beijing time, to the second."""
    return datetime.fromtimestamp(at_s, UTC).astimezone(BEIJING).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A settlement or clearing; `seq` and `prev` are given by the chain when it is appended."""

    type: str  # one of EVENT_TYPES
    ref: str  # the grid event's or the market round's id
    at_s: int  # when it was settled or cleared, Unix seconds
    at: str  # the same instant, ISO 8601 in Beijing time
    payload_json: str  # canonical JSON object (`canonical_json`)

    @property
    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.payload_json)
        return out

    @classmethod
    def make(cls, type: str, ref: str, at_s: int, payload: dict[str, Any]) -> EventRecord:
        """Validated: ValueError/TypeError naming the field and the value."""
        if type not in EVENT_TYPES:
            raise ValueError(f"type {type!r} is not one of {', '.join(EVENT_TYPES)}")
        if not isinstance(ref, str) or not ref or len(ref) > MAX_REF_CHARS:
            raise ValueError(f"ref {ref!r} must be text of 1 to {MAX_REF_CHARS} characters")
        if isinstance(at_s, bool) or not isinstance(at_s, int) or at_s < 0:
            raise ValueError(f"at_s {at_s!r} must be a whole number of Unix seconds >= 0")
        return cls(type, ref, at_s, at_label(at_s), canonical_json(payload))


def encode_event(e: EventRecord, seq: int, prev: str) -> str:
    return EVENT_TEMPLATE % (json_str(e.at), e.at_s, e.payload_json, prev, json_str(e.ref),
                             seq, json_str(e.type))


def decode_event(obj: dict[str, Any]) -> tuple[int, str, EventRecord]:
    """(seq, prev, record) from a parsed event body; ValueError/TypeError if malformed."""
    if set(obj) != _EVENT_FIELD_SET:
        missing = sorted(_EVENT_FIELD_SET - set(obj))
        extra = sorted(set(obj) - _EVENT_FIELD_SET)
        raise ValueError(f"fields differ from the event format: missing {missing}, "
                         f"extra {extra}")
    for key in ("at", "prev", "ref", "type"):
        if type(obj[key]) is not str:
            raise TypeError(f"{key} must be text, not {obj[key]!r}")
    for key in ("seq", "at_s"):
        if type(obj[key]) is not int:
            raise TypeError(f"{key} must be an integer, not {obj[key]!r}")
    if obj["type"] not in EVENT_TYPES:
        raise ValueError(f"type {obj['type']!r} is not one of {', '.join(EVENT_TYPES)}")
    if not isinstance(obj["payload"], dict):
        raise TypeError(f"payload must be an object, not {obj['payload']!r}")
    if obj["at"] != at_label(obj["at_s"]):
        raise ValueError(f"at {obj['at']!r} is not at_s {obj['at_s']} in Beijing time "
                         f"({at_label(obj['at_s'])})")
    record = EventRecord(obj["type"], obj["ref"], obj["at_s"], obj["at"],
                         canonical_json(obj["payload"]))
    return obj["seq"], obj["prev"], record


AnyRecord = LedgerRecord | EventRecord


def decode_entry(obj: dict[str, Any]) -> tuple[int, str, AnyRecord]:
    """An energy record or an event record, told apart by the `type` key."""
    if "type" in obj:
        return decode_event(obj)
    return decode_body(obj)


def encode_entry(record: AnyRecord, seq: int, prev: str) -> str:
    if isinstance(record, EventRecord):
        return encode_event(record, seq, prev)
    return encode_record(record, seq, prev)
