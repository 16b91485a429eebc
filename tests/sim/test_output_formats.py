"""`simulate --out` as files: jobs.csv byte for byte as the per-row writer wrote it, jobs.parquet
holding the same rows and values, --no-ledger / --no-invoices leaving the rest unchanged, and
the same files for the same seed."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from suanwang.cli import app
from suanwang.sim.csv_columns import float_cells, quote, text_cells
from suanwang.sim.job_table import JOB_COLUMN_TYPES
from suanwang.sim.output import JOB_COLUMNS
from suanwang.sim.output_cells import number_cell

runner = CliRunner()
SMALL = ["--policy", "greenest", "--jobs", "600", "--days", "1", "--seed", "3"]


def simulate(out: Path, *extra: str) -> str:
    result = runner.invoke(app, ["simulate", *SMALL, "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("full")
    simulate(out, "--format", "both", "--ledger")
    return out


# ---- cells: the vectorised formatting against the per-value rule -------------------------

TRICKY = [0.0, -0.0, 1.0, -1.0, 0.5, 1 / 128, 3 / 128, -1 / 128, 2.5e-7, 4.9999995e-7,
          5e-7, -4e-7, 1e-12, 0.1, 0.7, 1.0000005, 123456.0000005, 999999.9999995,
          2.675, 1e9 + 0.25, 4.6e9, 1e15, 1e20, -1e20, float("inf"), float("-inf"),
          float("nan"), 86400.0, 604800.123456789]


@pytest.mark.parametrize("digits", [3, 4, 6])
def test_float_cells_are_the_per_value_rule(digits: int) -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate([np.array(TRICKY), rng.random(2000) * 1000,
                             np.round(rng.random(500) * 1e4) / 2 ** rng.integers(0, 12, 500),
                             -rng.random(200) * 1e-6, rng.random(200) * 1e8])
    got = float_cells(values, digits).to_pylist()
    assert got == [number_cell(v, digits) for v in values.tolist()]


def test_nan_is_an_empty_cell_and_negative_zero_is_zero() -> None:
    assert float_cells(np.array([math.nan, -0.0, -1e-9, 2.5])).to_pylist() == ["", "0", "0",
                                                                                "2.5"]


@pytest.mark.parametrize("text", ["plain", "", "a,b", 'say "hi"', "two\nlines", "cr\rhere",
                                  " spaced ", "中文,逗号", "'single'"])
def test_text_cells_quote_as_csv_writer(text: str) -> None:
    buf = io.StringIO()
    csv.writer(buf).writerow([text, "x"])
    assert buf.getvalue() == quote(text) + ",x\r\n"
    assert text_cells([text, "x"]).to_pylist() == [quote(text), "x"]


# ---- jobs.csv: byte for byte as the per-row writer ---------------------------------------

def per_row_csv(rows: list[dict[str, object]]) -> bytes:
    """jobs.csv as `csv.writer` writes it from each job's values, one cell at a time (the
    writer before the columnar one)."""
    kinds = dict(JOB_COLUMN_TYPES)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(JOB_COLUMNS)
    for row in rows:
        w.writerow([number_cell(row[c]) if kinds[c] == "float"  # type: ignore[arg-type]
                    else "" if row[c] is None else row[c] for c in JOB_COLUMNS])
    return buf.getvalue().encode("utf-8")


def parquet_rows(path: Path) -> list[dict[str, object]]:
    return pq.read_table(path).to_pylist()


def test_jobs_csv_is_the_per_row_writer_byte_for_byte(full_run: Path) -> None:
    rows = parquet_rows(full_run / "jobs.parquet")
    assert len(rows) == 600
    assert (full_run / "jobs.csv").read_bytes() == per_row_csv(rows)


# ---- jobs.parquet: the same columns, rows and values ---------------------------------------

def test_parquet_has_the_columns_and_types_of_jobs_csv(full_run: Path) -> None:
    schema = pq.read_schema(full_run / "jobs.parquet")
    assert tuple(schema.names) == JOB_COLUMNS
    want = {"str": "string", "int": "int64", "float": "double"}
    assert [str(schema.field(n).type) for n in JOB_COLUMNS] == [
        want[k] for _, k in JOB_COLUMN_TYPES]


def test_parquet_and_csv_hold_the_same_rows_and_values(full_run: Path) -> None:
    with (full_run / "jobs.csv").open(encoding="utf-8", newline="") as f:
        csv_rows = list(csv.DictReader(f))
    pq_rows = parquet_rows(full_run / "jobs.parquet")
    assert len(csv_rows) == len(pq_rows) == 600
    kinds = dict(JOB_COLUMN_TYPES)
    some_empty = set()
    for c_row, p_row in zip(csv_rows, pq_rows, strict=True):
        for name in JOB_COLUMNS:
            cell, value = c_row[name], p_row[name]
            if cell == "":
                assert value is None, (name, c_row["job_id"])
                some_empty.add(name)
            elif kinds[name] == "float":
                assert cell == number_cell(value), name  # the CSV rounds to six places
            elif kinds[name] == "int":
                assert int(cell) == value, name
            else:
                assert cell == value, name
    assert {"deadline_s", "rtt_bound_ms"} <= some_empty  # both latency classes ran


def test_parquet_only_writes_no_csv(tmp_path: Path, full_run: Path) -> None:
    text = simulate(tmp_path, "--format", "parquet")
    assert "jobs.parquet" in text
    assert not (tmp_path / "jobs.csv").exists()
    assert pq.read_table(tmp_path / "jobs.parquet").drop_columns([]).equals(
        pq.read_table(full_run / "jobs.parquet"))


def test_unknown_format_is_named(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", *SMALL, "--out", str(tmp_path), "--format", "xls"])
    assert result.exit_code != 0
    assert "'xls'" in result.output and "parquet" in result.output


# ---- --no-ledger, --no-invoices ----------------------------------------------------------

def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def without_timing(summary: bytes) -> dict[str, object]:
    d = json.loads(summary)
    return {k: v for k, v in d.items() if k not in ("wall_s", "jobs_per_s")}


def test_no_ledger_writes_no_ledger_and_the_rest_unchanged(tmp_path: Path,
                                                            full_run: Path) -> None:
    text = simulate(tmp_path, "--format", "both", "--no-ledger")
    assert "ledger.jsonl" not in text and "invoices/" in text
    full, lean = files_of(full_run), files_of(tmp_path)
    assert not any(name.startswith("ledger") for name in lean)
    assert any(name.startswith("ledger") for name in full)
    kept = {n for n in full if not n.startswith("ledger")}
    assert set(lean) == kept
    for name in kept - {"summary.json", "jobs.parquet"}:
        assert lean[name] == full[name], name
    assert without_timing(lean["summary.json"]) == without_timing(full["summary.json"])
    assert pq.read_table(tmp_path / "jobs.parquet").equals(
        pq.read_table(full_run / "jobs.parquet"))
    code = runner.invoke(app, ["ledger", "verify", str(tmp_path)]).exit_code
    assert code != 0  # nothing to verify


def test_the_ledger_is_written_only_when_asked_for(tmp_path: Path, full_run: Path) -> None:
    text = simulate(tmp_path)
    assert "ledger.jsonl" not in text and "invoices/" in text
    assert not any(p.name.startswith("ledger") for p in tmp_path.iterdir())
    assert (tmp_path / "jobs.csv").read_bytes() == (full_run / "jobs.csv").read_bytes()


def test_no_invoices_writes_no_invoices(tmp_path: Path, full_run: Path) -> None:
    simulate(tmp_path, "--no-invoices", "--no-ledger")
    assert not (tmp_path / "invoices").exists()
    assert (full_run / "invoices").is_dir() and any((full_run / "invoices").iterdir())
    assert (tmp_path / "jobs.csv").read_bytes() == (full_run / "jobs.csv").read_bytes()


def test_the_ledger_written_with_the_run_verifies(full_run: Path) -> None:
    result = runner.invoke(app, ["ledger", "verify", str(full_run)])
    assert result.exit_code == 0, result.output
    n = sum(1 for _ in (full_run / "ledger.jsonl").open(encoding="utf-8"))
    assert "OK" in result.output and f"{n:,} records" in result.output


# ---- determinism -------------------------------------------------------------------------

def test_same_seed_same_files(tmp_path: Path, full_run: Path) -> None:
    simulate(tmp_path, "--format", "both", "--ledger")
    again, first = files_of(tmp_path), files_of(full_run)
    assert set(again) == set(first)
    # the run key is generated per run, so the checkpoints' signatures differ; all else not
    signed = {"ledger.key", "ledger.pub", "ledger.checkpoint", "ledger.checkpoints.jsonl",
              "summary.json", "jobs.parquet"}
    for name in set(first) - signed:
        assert again[name] == first[name], name
    assert pq.read_table(tmp_path / "jobs.parquet").equals(
        pq.read_table(full_run / "jobs.parquet"))
