"""`suanwang compare` shows the LP bound and every policy's carbon and cost as a ratio to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanwang.cli import app

runner = CliRunner()
SMALL = ["--jobs", "300", "--days", "0.5", "--seed", "3"]


def test_compare_shows_the_bound_and_each_ratio(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compare", *SMALL, "--policies", "nearest,rolling,optimal",
                                 "--forecast-error", "0", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "LP bound" in out and "下界" in out
    assert "× LP bound" in out
    rows = json.loads((tmp_path / "compare.json").read_text(encoding="utf-8"))
    assert [r["policy"] for r in rows] == ["nearest", "rolling", "optimal"]
    bound_t = rows[0]["carbon_bound_t"]
    assert all(r["carbon_bound_t"] == bound_t for r in rows)  # one bound per compare
    for r in rows:
        assert r["carbon_to_bound"] == pytest.approx(r["carbon_t"] / bound_t)
        assert r["cost_to_bound"] == pytest.approx(r["cost_yuan"] / r["cost_bound_yuan"])
        if r["deadline_misses"] == 0 and r["rejected"] == 0:
            assert r["carbon_to_bound"] >= 1 - 1e-9 and r["cost_to_bound"] >= 1 - 1e-9
    by = {r["policy"]: r for r in rows}
    assert by["optimal"]["carbon_t"] < by["nearest"]["carbon_t"]
    # the table prints each ratio as carbon, cost
    nearest = next(line for line in out.splitlines()
                   if line.strip("│ ").startswith("nearest "))  # boxed or plain
    assert f"{by['nearest']['carbon_to_bound']:.2f}, {by['nearest']['cost_to_bound']:.2f}" \
        in nearest


def test_compare_without_the_bound() -> None:
    result = runner.invoke(app, ["compare", *SMALL, "--policies", "greenest", "--no-bound"])
    assert result.exit_code == 0, result.output
    assert "LP bound" not in result.output


def test_simulate_runs_the_offline_plan() -> None:
    result = runner.invoke(app, ["simulate", *SMALL, "--policy", "optimal"])
    assert result.exit_code == 0, result.output
    assert "optimal" in result.output


def test_unknown_policy_lists_offline_ones_too() -> None:
    result = runner.invoke(app, ["compare", *SMALL, "--policies", "nope"])
    assert result.exit_code == 2
    assert "optimal" in result.output and "rolling" in result.output
