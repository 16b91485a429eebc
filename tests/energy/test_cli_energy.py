"""The energy CLI as a user sees it: `energy plot`, `energy supply`, and the `--energy` and
`--energy-series` options of simulate and compare."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanwang.cli import app

runner = CliRunner()
SMALL = ["--jobs", "400", "--days", "1", "--seed", "3"]
BEIJING = timezone(timedelta(hours=8))
START = datetime(2024, 6, 1, tzinfo=BEIJING)  # the runs' start


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


# ---- energy plot ---------------------------------------------------------------------------


def test_plot_writes_a_png_of_a_week_named_for_the_site(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, text = invoke("energy", "plot", "--site", "horinger", "--days", "7")
    assert code == 0, text
    out = Path("horinger-energy.png")
    assert f"wrote {out}" in text and "green share" in text
    data = (tmp_path / out).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # three panels of a week, not an empty canvas


@pytest.mark.parametrize(("args", "expected"), [
    (["--site", "atlantis"], ["atlantis", "unknown site", "horinger"]),
    (["--start", "2024-06-01T00:00"], ["--start", "UTC offset"]),
    (["--start", "June"], ["--start", "not a date"]),
])
def test_plot_errors_say_what_to_fix(args: list[str], expected: list[str],
                                     tmp_path: Path) -> None:
    code, text = invoke("energy", "plot", *args, "--out", str(tmp_path / "x.png"))
    assert code == 2
    for word in expected:
        assert word in text
    assert not (tmp_path / "x.png").exists()


# ---- energy supply -------------------------------------------------------------------------


def test_supply_lists_contracts_and_green_shares() -> None:
    code, text = invoke("energy", "supply")
    assert code == 0, text
    for word in ("horinger", "和林格尔新区", "129.1", "320", "160", "45", "80%", "Guangdong",
                 "min(1,"):
        assert word in text


# ---- simulate / compare with --energy and --energy-series ----------------------------------


def test_measured_series_take_precedence_in_a_run(tmp_path: Path) -> None:
    measured = tmp_path / "measured.csv"
    with measured.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "site", "green_share"])
        for k in range(48):
            w.writerow([(START + timedelta(hours=k)).isoformat(), "horinger", 0.123])
    out = tmp_path / "run"
    code, text = invoke("simulate", "--policy", "greenest", *SMALL, "--out", str(out),
                        "--energy-series", str(measured))
    assert code == 0, text
    with (out / "sites.csv").open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["site"] == "horinger"]
    in_file = [r for r in rows if float(r["hour_start_s"]) < 48 * 3600]
    assert in_file and all(float(r["green_share"]) == pytest.approx(0.123) for r in in_file)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["energy"] == f"physical + measured {measured}"


def test_a_bad_measured_file_stops_the_run_naming_row_and_field(tmp_path: Path) -> None:
    measured = tmp_path / "measured.csv"
    measured.write_text("timestamp,site,green_share\n"
                        "2024-06-01T00:00:00+08:00,horinger,0.5\n"
                        "2024-06-01T01:00:00+08:00,horinger,85\n", encoding="utf-8")
    code, text = invoke("compare", *SMALL, "--policies", "nearest",
                        "--energy-series", str(measured))
    assert code == 2
    text = " ".join(text.split())  # the console wraps long lines
    assert "row 2, column green_share = '85'" in text and "not a percentage" in text


def test_compare_runs_on_either_model_and_they_differ(tmp_path: Path) -> None:
    results = {}
    for model in ("simple", "physical"):
        out = tmp_path / model
        code, text = invoke("compare", *SMALL, "--policies", "nearest,greenest",
                            "--energy", model, "--out", str(out))
        assert code == 0, text
        rows = json.loads((out / "compare.json").read_text(encoding="utf-8"))
        assert {r["energy"] for r in rows} == {model}
        results[model] = {r["policy"]: r for r in rows}
    assert results["simple"]["nearest"]["carbon_t"] != results["physical"]["nearest"]["carbon_t"]
    for model in results:  # going west cuts carbon on either model
        assert results[model]["greenest"]["carbon_t"] < results[model]["nearest"]["carbon_t"]


def test_an_unknown_energy_model_is_refused_with_the_choices() -> None:
    code, text = invoke("simulate", *SMALL, "--energy", "sine")
    assert code == 2
    assert "sine" in text and "physical, simple" in text
