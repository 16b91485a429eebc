"""Read a file of grid events (YAML or JSON) against a network.

    events:
      - id: yrd-heatwave-shed
        kind: shed                       # shed | cap | fill
        hub: changsanjiao                # or site: wuhu, sites: [a, b], province: Anhui
        start: 2024-06-03T13:00:00+08:00 # aware: with its UTC offset
        end: 2024-06-03T17:00:00+08:00
        target_share: 0.3                # or target_kw: 1500
        price_yuan_per_kwh: 3.0          # optional: paid per kWh delivered
        penalty_yuan_per_kwh: 1.0        # optional: charged per kWh missed
        source: "..."                    # mandatory: who asks, or the document
        assumption: "..."                # optional: the reasoning behind the numbers

Every refusal is an `InputError` naming the file, the field (`events[0].end`), the value and,
for YAML, the line. With `not_before` (the run's start), an event whose window ends at or before
it is refused: its window is in the past.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from suanwang.errors import InputError
from suanwang.grid.event import EventKind, GridEvent, event_sites
from suanwang.model import Network
from suanwang.network.reader import _Reader
from suanwang.text_input import read_input_text
from suanwang.yaml_input import MAX_BYTES, Located, load_yaml_located, refuse_misspelt_keys

EVENT_KEYS = frozenset({"id", "kind", "site", "sites", "province", "hub", "start", "end",
                        "target_kw", "target_share", "price_yuan_per_kwh",
                        "penalty_yuan_per_kwh", "source", "assumption"})


def read_events(path: str | Path, network: Network,
                not_before: datetime | None = None) -> tuple[GridEvent, ...]:
    """The events of the file at `path` (`.json`: JSON; otherwise YAML)."""
    file = Path(path)
    source = str(file)
    if file.suffix.lower() == ".json":
        text = read_input_text(file, max_bytes=MAX_BYTES)
        try:
            located = Located(json.loads(text), {})
        except json.JSONDecodeError as exc:
            raise InputError.file(source, f"line {exc.lineno}, column {exc.colno}: is not "
                                          f"valid JSON: {exc.msg}") from None
    else:
        located = load_yaml_located(file)
        refuse_misspelt_keys(located, EVENT_KEYS | {"events"}, source)
    try:
        return parse_events(located.doc, network, source, not_before)
    except InputError as exc:
        raise located.at_line(exc) from None


def parse_events(doc: Any, network: Network, source: str,
                 not_before: datetime | None = None) -> tuple[GridEvent, ...]:
    r = _Reader(source)
    items = r.seq(doc, "events", "")
    out: list[GridEvent] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        at = f"events[{i}]"
        if not isinstance(item, dict):
            raise r.fail(at, item, "must be a mapping (id, kind, site, start, end, target)")
        for key in item:
            if key not in EVENT_KEYS:
                raise r.fail(f"{at}.{key}", item[key], "unknown field; an event has: "
                             + ", ".join(sorted(EVENT_KEYS)))
        ev_id = r.text(item, "id", at)
        if ev_id in seen:
            raise r.fail(f"{at}.id", ev_id, "appears twice; event ids are unique")
        seen.add(ev_id)
        kind_text = r.text(item, "kind", at)
        if kind_text not in {k.value for k in EventKind}:
            raise r.fail(f"{at}.kind", kind_text, "unknown kind; choose one of: "
                         + ", ".join(k.value for k in EventKind))
        sites = event_sites(network, source, at, site=item.get("site"),
                            sites=item.get("sites"), province=item.get("province"),
                            hub=item.get("hub"))
        area = next(str(item[k]) for k in ("site", "sites", "province", "hub") if k in item)
        start = _time(r, item, "start", at)
        end = _time(r, item, "end", at)
        if not_before is not None and end <= not_before:
            raise r.fail(f"{at}.end", end.isoformat(),
                         f"the window is in the past (the run starts {not_before.isoformat()})")
        numbers: dict[str, float | None] = {}
        for key in ("target_kw", "target_share", "price_yuan_per_kwh", "penalty_yuan_per_kwh"):
            value = item.get(key)
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, int | float)):
                raise r.fail(f"{at}.{key}", value, "must be a number")
            numbers[key] = None if value is None else float(value)
        text = r.text(item, "source", at)
        assumption = item.get("assumption", "")
        if not isinstance(assumption, str):
            raise r.fail(f"{at}.assumption", assumption, "must be text")
        try:
            out.append(GridEvent(
                id=ev_id, sites=sites, kind=EventKind(kind_text), start=start, end=end,
                target_kw=numbers["target_kw"], target_share=numbers["target_share"],
                price_yuan_per_kwh=numbers["price_yuan_per_kwh"] or 0.0,
                penalty_yuan_per_kwh=numbers["penalty_yuan_per_kwh"] or 0.0,
                source=text, assumption=assumption, area=area))
        except InputError as exc:  # re-say it at the file and the event's field path
            raise InputError(source, f"{at}.{exc.field}", exc.value, exc.problem) from None
    return tuple(out)


def _time(r: _Reader, item: dict[str, Any], key: str, at: str) -> datetime:
    value = r.get(item, key, at)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise r.fail(f"{at}.{key}", value, "not a date and time; write e.g. "
                                               "2024-06-03T13:00:00+08:00") from None
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise r.fail(f"{at}.{key}", value if not isinstance(value, datetime)
                     else value.isoformat(), "must be a date and time with its UTC offset, "
                                             "e.g. 2024-06-03T13:00:00+08:00")
    return value


SCENARIOS = ("heatwave-shed", "spring-night-fill", "guian-cap", "issue-14")


def scenario_path(name: str) -> Path:
    """The bundled scenario file of that name (`SCENARIOS`), for the national network."""
    from importlib import resources

    return Path(str(resources.files("suanwang.grid") / "data" / f"{name}.yaml"))
