"""The bulletin of a run: its figures equal independent sums of the ledger (read back as plain
JSON), sites.csv and jobs.csv, and the hand-worked answers of the tiny run."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ledger_support import HAND_PLACEMENT, hand_result, hand_series
from typer.testing import CliRunner

from suanwang.cli import app
from suanwang.energy.series import EnergySeries
from suanwang.errors import InputError
from suanwang.ledger.period import parse_period
from suanwang.model import Network
from suanwang.report.bulletin import write_bulletin
from suanwang.report.figures import bulletin_figures
from suanwang.report.run_files import read_network_json, read_run
from suanwang.sim.output import write_run

runner = CliRunner()


def figures(run_dir: Path, period: str | None = None) -> dict[str, Any]:
    """The bulletin's figures, as bulletin.json holds them (without drawing the charts)."""
    fig = bulletin_figures(read_network_json(run_dir), read_run(run_dir),
                           parse_period(period) if period else None)
    return json.loads(json.dumps(fig))


def ledger(run_dir: Path) -> list[dict[str, Any]]:
    with (run_dir / "ledger.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line, parse_float=Decimal) for line in f]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def near(a: float, b: Decimal | float, tol: float = 1e-6) -> bool:
    return abs(a - float(b)) <= tol


def test_figures_equal_independent_sums(hand_dir: Path) -> None:
    run = figures(hand_dir)["run"]
    recs = ledger(hand_dir)
    t = run["totals"]
    for field in ("facility_kwh", "it_kwh", "green_kwh", "grid_kwh", "co2_location_kg",
                  "co2_market_kg"):
        assert near(t[field], sum(r[field] for r in recs)), field
    assert t["records"] == len(recs)
    for row in run["by_site"]:
        mine = [r for r in recs if r["site"] == row["site"]]
        assert near(row["facility_kwh"], sum((r["facility_kwh"] for r in mine), Decimal(0)))
        assert near(row["green_kwh"], sum((r["green_kwh"] for r in mine), Decimal(0)))
    sites = rows(hand_dir / "sites.csv")
    assert near(run["cost_yuan"], sum(float(r["energy_kwh"]) * float(r["price_yuan_per_kwh"])
                                      for r in sites))
    busy: dict[str, float] = defaultdict(float)
    cap: dict[str, float] = defaultdict(float)
    for r in sites:
        busy[r["pool"]] += float(r["busy_units"])
        cap[r["pool"]] += float(r["capacity_units"])
    for kind, u in run["utilisation"]["by_kind"].items():
        assert near(u, busy[kind] / cap[kind])
    # jobs.csv costs the same energy at the same prices
    jobs = rows(hand_dir / "jobs.csv")
    assert near(run["cost_yuan"], sum(float(j["cost_yuan"] or 0) for j in jobs), 1e-5)


def test_hand_worked_answers(hand_dir: Path) -> None:
    run = figures(hand_dir)["run"]
    t = run["totals"]
    assert (t["facility_kwh"], t["green_kwh"], t["co2_location_kg"]) == (5.1, 3.87, 0.888)
    assert t["jobs"] == 3 and run["jobs"] == 3 and run["hours"] == 3
    assert run["period"]["label"] == "2024-06-01"
    # east's work (A and B) all ran at the western site; south's (C) at `local`, in the east
    flows = {f["origin"]: f for f in run["flows"]}
    assert (flows["east"]["facility_kwh"], flows["east"]["west_kwh"]) == (4.8, 4.8)
    assert (flows["south"]["facility_kwh"], flows["south"]["west_kwh"]) == (0.3, 0.0)
    assert flows["east"]["data_gb_west"] == 15.0
    assert run["east_to_west"]["share"] == pytest.approx(4.8 / 5.1)
    lat = run["latency"]
    assert (lat["realtime"]["jobs"], lat["non_realtime"]["jobs"]) == (1, 2)
    assert lat["realtime"]["facility_kwh"] == pytest.approx(0.3)
    # CO2 avoided, each method on its own, against the national average (no province mapped)
    assert t["avoided_location_kg"] == pytest.approx(5.1 * 0.5366 - 0.888, abs=1e-5)
    assert t["avoided_market_kg"] == pytest.approx(3.87 * 0.5856, abs=1e-5)


def test_pages_show_the_rounded_figures_in_both_languages(hand_dir: Path,
                                                          tmp_path: Path) -> None:
    write_bulletin(read_network_json(hand_dir), read_run(hand_dir), None, tmp_path / "b")
    written = json.loads((tmp_path / "b" / "bulletin.json").read_text(encoding="utf-8"))
    assert written == figures(hand_dir)
    zh = (tmp_path / "b" / "bulletin.zh.md").read_text(encoding="utf-8")
    en = (tmp_path / "b" / "bulletin.en.md").read_text(encoding="utf-8")
    assert "绿电占比75.9%" in zh and "a green share of 75.9%" in en  # 3.87 / 5.1
    assert "东数西算流向" in zh and "East-to-west flows" in en
    assert "两种口径分列，不相加" in zh and "never added" in en
    for chart in ("energy", "hourly", "flows", "capacity"):
        for name, page in ((f"{chart}.png", en), (f"{chart}.zh.png", zh)):
            assert (tmp_path / "b" / name).read_bytes()[:4] == b"\x89PNG", name
            assert f"]({name})" in page


def test_period_filters_and_refuses_one_outside_the_run(
        tiny_net: Network, make_series: Callable[..., EnergySeries], tmp_path: Path) -> None:
    # C moved to start at run hour 16.5 = 00:30 on 2 June, Beijing time; A and B on 1 June
    placement = {**HAND_PLACEMENT, "C": ("local", 16.5 * 3600)}
    write_run(hand_result(tiny_net, hand_series(make_series, tiny_net), placement=placement),
              tmp_path, {})
    assert figures(tmp_path, "2024-06")["run"]["totals"]["facility_kwh"] == 5.1
    first, second = figures(tmp_path, "2024-06-01")["run"], figures(tmp_path, "2024-06-02")["run"]
    assert (first["totals"]["facility_kwh"], second["totals"]["facility_kwh"]) == (4.8, 0.3)
    assert (first["jobs"], second["jobs"]) == (2, 1)
    assert (first["hours"], second["hours"]) == (16, 3)
    with pytest.raises(InputError, match="does not overlap the run"):
        figures(tmp_path, "2024-07")


def test_cli_end_to_end(hand_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "bulletin", "--run", str(hand_dir), "--out",
                                 str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b" / "bulletin.zh.html").is_file()
    path = hand_dir / "ledger.jsonl"
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    result = runner.invoke(app, ["report", "bulletin", "--run", str(hand_dir), "--out",
                                 str(tmp_path / "c")])
    assert result.exit_code == 1 and "does not verify" in result.output
    assert "record 0" in result.output
