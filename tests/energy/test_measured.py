"""Measured series: they take precedence over the model; bad files are refused naming the row
and the field."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from suanwang.energy.measured import apply_measured, read_measured
from suanwang.energy.supply import physical_energy_series
from suanwang.errors import InputError
from suanwang.model import Network
from suanwang.network.loader import load_network

BEIJING = timezone(timedelta(hours=8))
START = datetime(2024, 6, 1, tzinfo=BEIJING)
HEADER = ["timestamp", "site", "green_share", "intensity_g_per_kwh", "price_yuan_per_kwh"]


@pytest.fixture(scope="module")
def national() -> Network:
    return load_network()


def hour(k: int) -> str:
    """Run hour k as written in a file, in Beijing time."""
    return (START + timedelta(hours=k)).isoformat()


def write_csv(path: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


# ---- precedence ---------------------------------------------------------------------------


def test_measured_values_replace_the_models_where_the_file_has_them(
        tmp_path: Path, national: Network) -> None:
    model = physical_energy_series(national, START, 72, seed=0)
    rows: list[list[object]] = [[hour(k), "horinger", 0.5, "note"] for k in range(19, 9, -1)]
    path = write_csv(tmp_path / "m.csv", rows, ["timestamp", "site", "green_share", "comment"])
    measured = read_measured(path, national)
    assert measured.columns == ("green_share",)
    series = apply_measured(model, measured, national)
    i = series.site_index("horinger")
    grid = national.site("horinger").grid_intensity_g_per_kwh
    np.testing.assert_array_equal(series.green_share[i, 10:20], 0.5)
    np.testing.assert_allclose(series.intensity_g_per_kwh[i, 10:20], 0.5 * grid)
    # the rest is the model's
    np.testing.assert_array_equal(series.green_share[i, :10], model.green_share[i, :10])
    np.testing.assert_array_equal(series.green_share[i, 20:], model.green_share[i, 20:])
    others = [j for j in range(len(national.sites)) if j != i]
    np.testing.assert_array_equal(series.green_share[others], model.green_share[others])
    np.testing.assert_array_equal(series.price_yuan_per_kwh, model.price_yuan_per_kwh)
    # integrals are recomputed, not taken from the model's cache
    got = series.integral("green_share", np.array([i]), np.array([20 * 3600.0]))
    want = (model.green_share[i, :10].sum() + 10 * 0.5) * 3600.0
    assert got[0] == pytest.approx(want)


def test_parquet_with_timestamps_and_all_three_columns(tmp_path: Path,
                                                       national: Network) -> None:
    model = physical_energy_series(national, START, 48, seed=0)
    times = [START + timedelta(hours=k) for k in range(40, 60)]  # runs past the end
    table = pa.table({
        "timestamp": pa.array(times, type=pa.timestamp("s", tz="Asia/Shanghai")),
        "site": ["wuhu"] * 20,
        "green_share": [0.9] * 20,
        "intensity_g_per_kwh": [123.0] * 20,
        "price_yuan_per_kwh": [0.7] * 20,
    })
    pq.write_table(table, tmp_path / "m.parquet")
    series = apply_measured(model, read_measured(tmp_path / "m.parquet", national), national)
    i = series.site_index("wuhu")
    np.testing.assert_array_equal(series.green_share[i, 40:], 0.9)
    np.testing.assert_array_equal(series.intensity_g_per_kwh[i, 40:], 123.0)
    np.testing.assert_array_equal(series.price_yuan_per_kwh[i, 40:], 0.7)
    np.testing.assert_array_equal(series.green_share[i, :40], model.green_share[i, :40])


def test_utc_and_beijing_timestamps_name_the_same_hour(tmp_path: Path,
                                                       national: Network) -> None:
    model = physical_energy_series(national, START, 24, seed=0)
    utc = (START + timedelta(hours=3)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = write_csv(tmp_path / "m.csv", [[utc, "tianfu", 0.25, 1.0, 0.5]])
    series = apply_measured(model, read_measured(path, national), national)
    assert series.green_share[series.site_index("tianfu"), 3] == 0.25


# ---- refusals ------------------------------------------------------------------------------

GOOD = [hour(0), "horinger", 0.8, 100.0, 0.32]

# (rows after the header, the field the error names, a word of the problem)
BAD_FILES: list[tuple[list[list[object]], str, str]] = [
    # gaps and duplicates
    ([GOOD, [hour(2), "horinger", 0.8, 100.0, 0.32]], "row 2, column timestamp", "gap"),
    ([GOOD, [hour(1), "horinger", 0.8, 100, 0.32], [hour(1), "horinger", 0.7, 90, 0.32]],
     "row 3, column timestamp", "duplicate"),
    # units out of range
    ([GOOD, [hour(1), "horinger", 80, 100.0, 0.32]], "row 2, column green_share",
     "not a percentage"),
    ([[hour(0), "horinger", 0.8, 100.0, 320.0]], "row 1, column price_yuan_per_kwh",
     "not per MWh"),
    ([[hour(0), "horinger", 0.8, -5.0, 0.3]], "row 1, column intensity_g_per_kwh",
     "out of range"),
    ([[hour(0), "horinger", "", 100.0, 0.3]], "row 1, column green_share", "missing"),
    # timestamps
    ([["2024-06-01T00:00:00", "horinger", 0.8, 100.0, 0.32]], "row 1, column timestamp",
     "no time zone"),
    ([["2024-06-01T00:30:00+08:00", "horinger", 0.8, 100.0, 0.32]],
     "row 1, column timestamp", "start of an hour"),
    ([["yesterday", "horinger", 0.8, 100.0, 0.32]], "row 1, column timestamp", "ISO 8601"),
    # sites
    ([GOOD, [hour(1), "atlantis", 0.8, 100.0, 0.32]], "row 2, column site", "unknown site"),
]


@pytest.mark.parametrize(("rows", "field", "problem"), BAD_FILES)
def test_bad_measured_files_are_refused_naming_row_and_field(
        rows: list[list[object]], field: str, problem: str, tmp_path: Path,
        national: Network) -> None:
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(InputError) as err:
        read_measured(path, national)
    assert err.value.field == field
    assert problem in err.value.problem
    assert str(path) in str(err.value)


@pytest.mark.parametrize(("header", "field", "problem"), [
    (["time", "site", "green_share"], "column timestamp", "missing from the header"),
    (["timestamp", "site", "co2"], "header", "at least one of"),
])
def test_missing_columns_are_refused(header: list[str], field: str, problem: str,
                                     tmp_path: Path, national: Network) -> None:
    path = write_csv(tmp_path / "bad.csv", [[hour(0), "horinger", 0.5]], header)
    with pytest.raises(InputError) as err:
        read_measured(path, national)
    assert err.value.field == field
    assert problem in err.value.problem


def test_naive_parquet_timestamps_are_refused(tmp_path: Path, national: Network) -> None:
    table = pa.table({"timestamp": pa.array([datetime(2024, 6, 1)], type=pa.timestamp("s")),
                      "site": ["horinger"], "green_share": [0.5]})
    pq.write_table(table, tmp_path / "naive.parquet")
    with pytest.raises(InputError) as err:
        read_measured(tmp_path / "naive.parquet", national)
    assert err.value.field == "row 1, column timestamp"
    assert "no time zone" in err.value.problem


def test_a_file_off_the_runs_hour_grid_is_refused(tmp_path: Path, national: Network) -> None:
    model = physical_energy_series(national, START + timedelta(minutes=30), 24, seed=0)
    path = write_csv(tmp_path / "m.csv", [GOOD])
    with pytest.raises(InputError) as err:
        apply_measured(model, read_measured(path, national), national)
    assert err.value.field == "row 1, column timestamp"
    assert "hour grid" in err.value.problem
