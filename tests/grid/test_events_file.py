"""Grid event files: read against the tiny network; bad events refused naming field and value."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from suanwang.errors import InputError
from suanwang.grid.event import EventKind, GridEvent
from suanwang.grid.events_file import SCENARIOS, read_events, scenario_path
from suanwang.model import Network
from suanwang.network.loader import load_network
from suanwang.sim.runner import DEFAULT_START

GOOD = """\
events:
  - id: shed-local
    kind: shed
    site: local
    start: 2024-06-01T10:00:00+08:00
    end: 2024-06-01T12:00:00+08:00
    target_kw: 5
    price_yuan_per_kwh: 2.5
    source: test
  - id: cap-mid
    kind: cap
    province: Guizhou
    start: 2024-06-01T02:00:00Z
    end: 2024-06-01T03:00:00Z
    target_kw: 3
    source: test
    assumption: hand-made
"""


def _write(tmp_path: Path, text: str, name: str = "events.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_reads_sites_kinds_and_aware_windows(tmp_path: Path, tiny_net: Network) -> None:
    events = read_events(_write(tmp_path, GOOD), tiny_net)
    assert [e.id for e in events] == ["shed-local", "cap-mid"]
    shed, cap = events
    assert shed.kind == EventKind.SHED and shed.sites == ("local",)
    assert shed.start == datetime(2024, 6, 1, 2, tzinfo=UTC)
    assert shed.target_kw == 5.0 and shed.price_yuan_per_kwh == 2.5
    assert cap.kind == EventKind.CAP and cap.hard and cap.sites == ("mid",)
    assert cap.assumption == "hand-made"


def test_json_file_reads_the_same(tmp_path: Path, tiny_net: Network) -> None:
    doc = {"events": [{"id": "f", "kind": "fill", "hub": "west-hub",
                       "start": "2024-06-01T00:00:00+00:00", "end": "2024-06-01T04:00:00+00:00",
                       "target_share": 1.5, "source": "test"}]}
    (ev,) = read_events(_write(tmp_path, json.dumps(doc), "e.json"), tiny_net)
    assert ev.kind == EventKind.FILL and ev.sites == ("west",) and ev.target_share == 1.5


# ---- refusals: each names the field and the value --------------------------------------------

@pytest.mark.parametrize(("old", "new", "field", "value"), [
    ("site: local", "site: nowhere", "events[0].site", "'nowhere'"),
    ("target_kw: 5", "target_kw: -5", "events[0].target_kw", "-5.0"),
    ("end: 2024-06-01T12:00:00+08:00", "end: 2024-06-01T09:00:00+08:00", "events[0].end",
     "2024-06-01T09:00:00+08:00"),
    ("kind: shed", "kind: boost", "events[0].kind", "'boost'"),
    ("province: Guizhou", "province: Tibet", "events[1].province", "'Tibet'"),
    ("start: 2024-06-01T10:00:00+08:00", "start: 2024-06-01 10:00", "events[0].start", "10:00"),
    ("price_yuan_per_kwh: 2.5", "price_yuan_per_kwh: -1", "events[0].price_yuan_per_kwh",
     "-1.0"),
])
def test_bad_event_refused_naming_field_and_value(tmp_path: Path, tiny_net: Network, old: str,
                                                  new: str, field: str, value: str) -> None:
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(InputError) as err:
        read_events(path, tiny_net)
    assert err.value.field == field
    assert value in str(err.value) and str(path) in str(err.value)
    assert "line " in str(err.value)


def test_window_in_the_past_refused(tmp_path: Path, tiny_net: Network) -> None:
    with pytest.raises(InputError, match=r"events\[1\]\.end .* in the past"):
        read_events(_write(tmp_path, GOOD), tiny_net,
                    not_before=datetime(2024, 6, 1, 3, tzinfo=UTC))


def test_both_targets_refused(tmp_path: Path, tiny_net: Network) -> None:
    with pytest.raises(InputError, match="exactly one of target_kw and target_share"):
        read_events(_write(tmp_path, GOOD.replace("target_kw: 5", "target_kw: 5\n"
                                                  "    target_share: 0.2")), tiny_net)


def test_event_object_validates_itself() -> None:
    t = datetime(2024, 6, 1, tzinfo=UTC)
    with pytest.raises(InputError, match="end"):
        GridEvent("x", ("local",), EventKind.CAP, t, t, target_kw=1.0)
    with pytest.raises(InputError, match="kind = 'max'"):
        GridEvent("x", ("local",), "max", t, t.replace(hour=1), target_kw=1.0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="start"):
        GridEvent("x", ("local",), EventKind.CAP, datetime(2024, 6, 1),
                  t.replace(hour=1), target_kw=1.0)


@pytest.mark.parametrize("name", SCENARIOS)
def test_bundled_scenarios_read_on_the_national_network(name: str) -> None:
    events = read_events(scenario_path(name), load_network(None), not_before=DEFAULT_START)
    assert events and all(e.source and e.assumption for e in events)
