"""`suanwang sweep`: every point of the grid run once, its figures those `simulate` gives for
the same point, the same in this process and on Ray's workers; bad lists refused by name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from suanwang.cli import app
from suanwang.network.loader import load_network
from suanwang.sim.runner import DEFAULT_START, energy_for, run
from suanwang.sim.sweep import SweepError, SweepSpec
from suanwang.workload.synthetic import synthetic_jobs

GRID = ["--policies", "nearest,greenest", "--seeds", "0,3", "--loads", "0.4",
        "--forecast-errors", "0,1", "--days", "0.3", "--jobs", "300"]
# what differs between two runs of the same point: where and how fast it ran
CIRCUMSTANCE = {"task_s", "host_pid", "wall_s", "jobs_per_s"}


def sweep(tmp_path: Path, *extra: str) -> tuple[int, str, list[dict[str, Any]]]:
    out = tmp_path / "sweep"
    res = CliRunner().invoke(app, ["sweep", "--out", str(out), *GRID, *extra])
    rows = pq.read_table(out / "sweep.parquet").to_pylist() if res.exit_code == 0 else []
    return res.exit_code, res.output, rows


def figures(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in CIRCUMSTANCE}


@pytest.fixture(scope="module")
def here(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, list[dict[str, Any]]]:
    return sweep(tmp_path_factory.mktemp("here"), "--workers", "0")


def test_every_point_once_with_the_figures_simulate_gives(
        here: tuple[int, str, list[dict[str, Any]]]) -> None:
    code, out, rows = here
    assert code == 0, out
    points = [(r["policy"], r["seed"], r["load"], r["forecast_error"]) for r in rows]
    assert len(points) == 2 * 2 * 1 * 2 and len(set(points)) == len(points)
    net = load_network(None)
    for r in rows[:: 3]:  # a few, against the simulator called directly
        demand = synthetic_jobs(net, 300, 0.3, seed=r["seed"], load=r["load"],
                                start_utc=DEFAULT_START)
        series = energy_for(net, demand, r["seed"], DEFAULT_START)
        s = run(net, demand, r["policy"], seed=r["seed"], series=series,
                forecast_error=r["forecast_error"]).summary()
        assert r["jobs"] == s["jobs"] == 300
        for k in ("carbon_t", "cost_yuan", "bill_yuan", "energy_kwh", "mean_wait_s",
                  "latency_violations", "deadline_misses", "rejected"):
            assert r[k] == pytest.approx(s[k], rel=1e-12, abs=1e-9), k
    # the printed table: one line per (policy, load, forecast error), over both seeds
    assert "sweep: 8 runs of 300 jobs" in out
    assert sum(1 for line in out.splitlines() if line.startswith(("nearest", "greenest"))) == 4


def test_the_plot_is_a_png(here: tuple[int, str, list[dict[str, Any]]],
                           tmp_path_factory: pytest.TempPathFactory) -> None:
    code, out, _ = here
    assert code == 0, out
    png = Path(out.split("sweep.parquet")[0].split("wrote ")[-1]) / "sweep.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ray_workers_give_the_same_figures(here: tuple[int, str, list[dict[str, Any]]],
                                           tmp_path: Path) -> None:
    if not os.environ.get("CI"):
        pytest.importorskip("ray", reason="Ray is not installed (pip install ray)")
    code, out, rows = sweep(tmp_path, "--workers", "2")
    assert code == 0, out
    assert [figures(r) for r in rows] == [figures(r) for r in here[2]]
    assert "a local Ray with 2 CPUs" in out


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--policies", "nearest,bogus", "policies: unknown policy 'bogus'"),
    ("--seeds", "0,x", "--seeds: 'x' is not a whole number"),
    ("--seeds", "1,1", "seeds: 1 is given twice"),
    ("--seeds", "-2", "seeds: -2 is not a seed"),
    ("--loads", "0.5,9", "loads: 9.0 is out of range"),
    ("--loads", "nan", "loads: nan is out of range"),
    ("--forecast-errors", "-1", "forecast-errors: -1.0 is out of range"),
    ("--forecast-errors", ",", "forecast-errors: give at least one value"),
    ("--days", "0", "days: 0.0 is out of range"),
])
def test_a_bad_grid_is_refused_naming_the_field(tmp_path: Path, flag: str, value: str,
                                                message: str) -> None:
    args = list(GRID)
    args[args.index(flag) + 1] = value
    res = CliRunner().invoke(app, ["sweep", "--out", str(tmp_path / "s"), *args,
                                   "--workers", "0"])
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split()), res.output
    assert not (tmp_path / "s").exists()  # nothing run, nothing written


def test_a_grid_far_too_large_is_refused() -> None:
    with pytest.raises(SweepError, match="the grid has 20,000 points"):
        SweepSpec.make(["nearest", "greenest"], list(range(100)), [0.1 * i for i in range(1, 11)],
                       [0.1 * i for i in range(10)], 1.0, 100)
