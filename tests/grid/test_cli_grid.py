"""`compare --grid-events` and `simulate --grid-events` on the tiny network (a trace of
nearest-first work at local, a 50% shed there and a cap)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from suanwang.cli import app
from tiny_support import TINY_DOC

EVENTS = """\
events:
  - id: shed-local
    kind: shed
    site: local
    start: 2024-06-01T01:00:00+08:00
    end: 2024-06-01T03:00:00+08:00
    target_share: 0.5
    price_yuan_per_kwh: 2.0
    source: test
  - id: cap-local
    kind: cap
    site: local
    start: 2024-06-01T04:00:00+08:00
    end: 2024-06-01T05:00:00+08:00
    target_kw: 3
    source: test
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    net = tmp_path / "tiny.yaml"
    net.write_text(yaml.safe_dump(copy.deepcopy(TINY_DOC), allow_unicode=True), encoding="utf-8")
    rows = ["job_id,tenant,origin,kind,units,duration_s,submit_s,rtt_bound_ms,deadline_s,data_gb"]
    rows += [f"d{i},t,east,intelligent,1,3600,{i * 600},,{i * 600 + 72000},0" for i in range(40)]
    trace = tmp_path / "jobs.csv"
    trace.write_text("\n".join(rows) + "\n", encoding="utf-8")
    events = tmp_path / "events.yaml"
    events.write_text(EVENTS, encoding="utf-8")
    return {"net": net, "trace": trace, "events": events}


def _invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.output


def test_compare_prints_delivery_per_policy_and_event(files: dict[str, Path],
                                                      tmp_path: Path) -> None:
    code, out = _invoke("compare", "--network", str(files["net"]), "--trace",
                        str(files["trace"]), "--policies", "nearest,greenest", "--no-bound",
                        "--energy", "simple", "--grid-events", str(files["events"]),
                        "--out", str(tmp_path / "o"))
    assert code == 0, out
    flat = " ".join(out.split())
    assert "Grid events 电网事件" in flat and "delivered kW" in flat
    assert "shed-local (shed 削峰)" in flat and "cap-local (cap 有序用电)" in flat
    assert "With the grid events against without" in flat
    rows = json.loads((tmp_path / "o" / "compare.json").read_text(encoding="utf-8"))
    assert [r["policy"] for r in rows] == ["nearest", "greenest"]
    for r in rows:
        assert r["latency_violations"] == 0
        shed, cap = r["grid_events"]
        assert not cap["cap_exceeded"]
        assert len(shed["intervals"]) == 8  # 2 h in 15-minute intervals
    nearest, greenest = (r["grid_events"][0] for r in rows)
    # nearest runs the work at local (6 units, 9 kW): half of it is asked and delivered
    assert nearest["requested_kw"] == pytest.approx(4.5)
    assert nearest["delivered_share"] >= 0.95 and nearest["jobs_moved"] > 0
    # greenest runs it at west already: nothing at local to shed, nothing asked
    assert greenest["requested_kw"] == 0 and greenest["delivered_share"] is None


def test_simulate_writes_grid_events_json(files: dict[str, Path], tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    code, out = _invoke("simulate", "--policy", "nearest", "--network", str(files["net"]),
                        "--trace", str(files["trace"]), "--energy", "simple",
                        "--grid-events", str(files["events"]), "--out", str(out_dir))
    assert code == 0, out
    doc = json.loads((out_dir / "grid_events.json").read_text(encoding="utf-8"))
    assert [e["event"] for e in doc["grid_events"]] == ["shed-local", "cap-local"]
    assert doc["without_events"]["deadline_misses"] == 0


def test_bad_events_file_refused_naming_field_and_value(files: dict[str, Path]) -> None:
    files["events"].write_text(EVENTS.replace("target_kw: 3", "target_kw: -3"),
                               encoding="utf-8")
    code, out = _invoke("compare", "--network", str(files["net"]), "--trace",
                        str(files["trace"]), "--policies", "nearest", "--no-bound",
                        "--energy", "simple", "--grid-events", str(files["events"]))
    assert code == 2
    flat = " ".join(out.split())
    assert "events[1].target_kw = -3.0" in flat and "events.yaml" in flat
