"""The job-file schema: round trips, validation errors, ordering."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from suanwang.errors import InputError
from suanwang.model import Job, Kind, Network
from suanwang.network.loader import load_network
from suanwang.workload.jobfile import COLUMNS, REQUIRED_COLUMNS, read_jobs, sort_jobs, write_jobs


@pytest.fixture(scope="module")
def network() -> Network:
    return load_network()


JOBS: list[Job] = [
    Job("rt-1", "tenant-a", "bth", Kind.GENERAL, 4, 0.1, 10.0, rtt_bound_ms=5.0),
    Job("b-1", "tenant-b", "yrd", Kind.INTELLIGENT, 64, 3600.0, 0.0, deadline_s=86_400.5),
    Job(
        "hpc,1",
        "科研院所",
        "gba",
        Kind.HPC,
        2,
        1e-7 + 12.0,
        10.0,
        deadline_s=1.5e8,  # within the longest run allowed (bounds.JOB)
        data_gb=1234.5678,
        workload='weather "ensemble", 51 members',
    ),
    Job("rt-0", "tenant-a", "cc", Kind.INTELLIGENT, 1, 2.5, 10.0, rtt_bound_ms=30.0, data_gb=0.0),
]

GOOD_ROW: dict[str, str] = {
    "job_id": "j1",
    "tenant": "t",
    "origin": "bth",
    "kind": "general",
    "units": "2",
    "duration_s": "60",
    "submit_s": "0",
    "rtt_bound_ms": "10",
    "deadline_s": "",
    "data_gb": "0",
    "workload": "",
}


def write_csv(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def rows_with(row_2: dict[str, str]) -> list[dict[str, str]]:
    """A valid first row, then `GOOD_ROW` updated by `row_2` as the second row."""
    return [GOOD_ROW, {**GOOD_ROW, "job_id": "j2", **row_2}]


# --------------------------------------------------------------------------------------------
# Round trips and ordering
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_gives_back_equal_jobs_in_submission_order(
    tmp_path: Path, network: Network, suffix: str
) -> None:
    path = tmp_path / f"jobs{suffix}"
    write_jobs(JOBS, path)
    assert read_jobs(path, network) == sort_jobs(JOBS)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_read_sorts_by_submit_then_job_id(tmp_path: Path, network: Network, suffix: str) -> None:
    path = tmp_path / f"jobs{suffix}"
    write_jobs(JOBS, path)
    ids = [j.job_id for j in read_jobs(path, network)]
    assert ids == ["b-1", "hpc,1", "rt-0", "rt-1"]


def test_optional_columns_may_be_absent(tmp_path: Path, network: Network) -> None:
    path = write_csv(tmp_path / "jobs.csv", [GOOD_ROW], REQUIRED_COLUMNS)
    (job,) = read_jobs(path, network)
    assert (job.data_gb, job.workload, job.realtime) == (0.0, "", True)


def test_a_deadline_only_needs_to_follow_submission(tmp_path: Path, network: Network) -> None:
    row = {**GOOD_ROW, "submit_s": "100", "duration_s": "500", "rtt_bound_ms": ""}
    path = write_csv(tmp_path / "jobs.csv", [{**row, "deadline_s": "100.5"}])
    (job,) = read_jobs(path, network)
    assert job.deadline_s == 100.5 and not job.realtime


def test_parquet_nulls_are_empty_values(tmp_path: Path, network: Network) -> None:
    path = tmp_path / "jobs.parquet"
    write_jobs(JOBS[:1], path)
    table = pq.read_table(path)
    assert table.column("deadline_s").null_count == 1
    assert read_jobs(path, network)[0].deadline_s is None


def test_write_refuses_an_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="suffix"):
        write_jobs(JOBS, tmp_path / "jobs.json")


# --------------------------------------------------------------------------------------------
# Refusals: each names the file, row N (1-based data rows) and column, and the value
# --------------------------------------------------------------------------------------------

BAD_ROWS = [
    # (case, second row's changes, field expected in the message, value expected in it)
    ("bad int", {"units": "two"}, "row 2, column units", "'two'"),
    ("fractional units", {"units": "1.5"}, "row 2, column units", "'1.5'"),
    ("zero units", {"units": "0"}, "row 2, column units", "'0'"),
    ("negative duration", {"duration_s": "-5"}, "row 2, column duration_s", "'-5'"),
    ("zero duration", {"duration_s": "0"}, "row 2, column duration_s", "'0'"),
    ("infinite duration", {"duration_s": "inf"}, "row 2, column duration_s", "'inf'"),
    ("negative submit", {"submit_s": "-1"}, "row 2, column submit_s", "'-1'"),
    ("unknown kind", {"kind": "quantum"}, "row 2, column kind", "'quantum'"),
    ("unknown origin", {"origin": "xj"}, "row 2, column origin", "'xj'"),
    ("empty tenant", {"tenant": " "}, "row 2, column tenant", "' '"),
    ("zero rtt bound", {"rtt_bound_ms": "0"}, "row 2, column rtt_bound_ms", "'0'"),
    (
        "both latency fields",
        {"rtt_bound_ms": "10", "deadline_s": "99"},
        "row 2, columns rtt_bound_ms and deadline_s",
        "('10', '99')",
    ),
    (
        "neither latency field",
        {"rtt_bound_ms": "", "deadline_s": ""},
        "row 2, columns rtt_bound_ms and deadline_s",
        "('', '')",
    ),
    (
        "deadline at submission",
        {"rtt_bound_ms": "", "submit_s": "50", "deadline_s": "50"},
        "row 2, column deadline_s",
        "'50'",
    ),
    ("negative data", {"data_gb": "-0.1"}, "row 2, column data_gb", "'-0.1'"),
    ("duplicate id", {"job_id": "j1"}, "row 2, column job_id", "'j1'"),
]


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [case[1:] for case in BAD_ROWS],
    ids=[case[0] for case in BAD_ROWS],
)
def test_a_bad_value_names_file_row_column_and_value(
    tmp_path: Path, network: Network, changes: dict[str, str], field: str, value: str
) -> None:
    path = write_csv(tmp_path / "jobs.csv", rows_with(changes))
    with pytest.raises(InputError) as caught:
        read_jobs(path, network)
    message = str(caught.value)
    assert str(path) in message
    assert f"{field} = {value}" in message
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("changes", "hint"),
    [
        ({"origin": "xj"}, "bth, yrd, gba, cc"),
        ({"kind": "quantum"}, "general, intelligent, hpc"),
        ({"job_id": "j1"}, "row 1"),
    ],
    ids=["origin lists regions", "kind lists kinds", "duplicate names first row"],
)
def test_refusals_say_what_is_allowed(
    tmp_path: Path, network: Network, changes: dict[str, str], hint: str
) -> None:
    path = write_csv(tmp_path / "jobs.csv", rows_with(changes))
    with pytest.raises(InputError, match=hint):
        read_jobs(path, network)


@pytest.mark.parametrize("column", REQUIRED_COLUMNS)
def test_a_missing_column_is_named(tmp_path: Path, network: Network, column: str) -> None:
    columns = tuple(c for c in COLUMNS if c != column)
    path = write_csv(tmp_path / "jobs.csv", [GOOD_ROW], columns)
    with pytest.raises(InputError) as caught:
        read_jobs(path, network)
    assert caught.value.field == f"column {column}"
    assert str(path) in str(caught.value)


def test_a_row_with_too_many_fields_is_refused(tmp_path: Path, network: Network) -> None:
    path = write_csv(tmp_path / "jobs.csv", [GOOD_ROW])
    with path.open("a", encoding="utf-8") as f:
        f.write("j2,t,bth,general,1,1,0,5,,0,,extra\n")
    with pytest.raises(InputError, match="row 2"):
        read_jobs(path, network)


def test_blank_lines_are_not_counted_as_rows(tmp_path: Path, network: Network) -> None:
    path = write_csv(tmp_path / "jobs.csv", [GOOD_ROW])
    with path.open("a", encoding="utf-8") as f:
        f.write("\nj2,t,bth,general,x,1,0,5,,0,\n")
    with pytest.raises(InputError, match="row 2, column units"):
        read_jobs(path, network)


def test_an_empty_file_is_refused(tmp_path: Path, network: Network) -> None:
    path = tmp_path / "jobs.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        read_jobs(path, network)


# fmt: off
PARQUET_BAD = [
    ("float units", "units", pa.float64(), [2.0, 1.5], "row 2, column units", "1.5"),
    ("unknown origin", "origin", pa.string(), ["bth", "mars"], "row 2, column origin", "'mars'"),
    ("NaN duration", "duration_s", pa.float64(), [1.0, float("nan")], "row 2, column duration_s",
     "nan"),
]
# fmt: on


@pytest.mark.parametrize(
    ("column", "arrow_type", "values", "field", "value"),
    [case[1:] for case in PARQUET_BAD],
    ids=[case[0] for case in PARQUET_BAD],
)
def test_parquet_refusals_name_row_and_column(
    tmp_path: Path,
    network: Network,
    column: str,
    arrow_type: pa.DataType,
    values: list[object],
    field: str,
    value: str,
) -> None:
    path = tmp_path / "jobs.parquet"
    write_jobs([JOBS[0], Job("x", "t", "bth", Kind.GENERAL, 1, 1.0, 20.0, rtt_bound_ms=5.0)], path)
    table = pq.read_table(path)
    index = table.column_names.index(column)
    table = table.set_column(index, column, pa.array(values, type=arrow_type))
    pq.write_table(table, path)
    with pytest.raises(InputError) as caught:
        read_jobs(path, network)
    assert f"{field} = {value}" in str(caught.value)
