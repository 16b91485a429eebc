"""The suanwang job file: a table of jobs, one row per `Job`, as CSV or Parquet.

Schema (one column per `Job` field; extra columns are ignored, but a known column written
differently, `Data_GB` or `deadline-s`, is refused rather than ignored):

| column         | type  | required | rule                                                         |
| -------------- | ----- | -------- | ------------------------------------------------------------ |
| `job_id`       | text  | yes      | non-empty, unique in the file                                |
| `tenant`       | text  | yes      | non-empty                                                    |
| `origin`       | text  | yes      | a region id of the network (`bth`, `yrd`, `gba`, `cc`, ...)  |
| `kind`         | text  | yes      | `general`, `intelligent` or `hpc`                            |
| `units`        | int   | yes      | >= 1 (cores, accelerators or nodes, by kind)                 |
| `duration_s`   | float | yes      | > 0, seconds of compute                                      |
| `submit_s`     | float | yes      | >= 0, seconds on the run's clock                             |
| `rtt_bound_ms` | float | yes*     | > 0, or empty; set for real-time jobs                        |
| `deadline_s`   | float | yes*     | > `submit_s`, or empty; set for non-real-time jobs           |
| `data_gb`      | float | no       | >= 0; column optional, an empty cell or no column means 0    |
| `workload`     | text  | no       | free text (e.g. `llm-training`); empty or no column means "" |
| `max_price_yuan_per_unit_h` | float | no | > 0, or empty: a cap on the provider's price      |
| `max_bill_yuan` | float | no      | > 0, or empty: a cap on the job's expected bill              |
| `providers_allow` | text | no     | provider ids separated by `;`: only these (empty: any)       |
| `providers_deny` | text | no      | provider ids separated by `;`: never these                   |
| `providers_prefer` | text | no    | provider ids separated by `;`: these first, in this order    |

(*) Both columns must be in the header, and each row gives exactly one of them.
A deadline only has to lie after the submission (`deadline_s > submit_s`); it may be shorter than
`submit_s + duration_s`, in which case the job is late whatever the scheduler does.

Rows are numbered from 1, counting data rows only (the header is not a row; blank CSV lines are
not counted). A refused file raises `InputError` naming the file, the row and column
(`row 17, column units`) and the offending value. In CSV an empty cell is an empty value; in
Parquet a null (or a NaN in a float column) is.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from suanwang.bounds import JOB, MAX_RUN_S, Bound
from suanwang.errors import InputError
from suanwang.model import Job, Kind, Network
from suanwang.text_input import open_input_text

REQUIRED_COLUMNS: tuple[str, ...] = (
    "job_id",
    "tenant",
    "origin",
    "kind",
    "units",
    "duration_s",
    "submit_s",
    "rtt_bound_ms",
    "deadline_s",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("data_gb", "workload")
COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# what a tenant asks of the providers: optional, written only when some job has them
ASK_COLUMNS: tuple[str, ...] = ("max_price_yuan_per_unit_h", "max_bill_yuan",
                                "providers_allow", "providers_deny", "providers_prefer")

PARQUET_SUFFIXES = (".parquet", ".pq")

_PARQUET_SCHEMA = pa.schema(
    [
        ("job_id", pa.string()),
        ("tenant", pa.string()),
        ("origin", pa.string()),
        ("kind", pa.string()),
        ("units", pa.int64()),
        ("duration_s", pa.float64()),
        ("submit_s", pa.float64()),
        ("rtt_bound_ms", pa.float64()),
        ("deadline_s", pa.float64()),
        ("data_gb", pa.float64()),
        ("workload", pa.string()),
        ("max_price_yuan_per_unit_h", pa.float64()),
        ("max_bill_yuan", pa.float64()),
        ("providers_allow", pa.string()),
        ("providers_deny", pa.string()),
        ("providers_prefer", pa.string()),
    ]
)


# --------------------------------------------------------------------------------------------
# Typed access to one row of a table (shared with the trace readers)
# --------------------------------------------------------------------------------------------


def is_empty(value: object) -> bool:
    """True for a missing cell: None, blank text, or a float NaN."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


@dataclass(frozen=True, slots=True)
class Row:
    """One data row of a table; typed getters raise `InputError` naming file, row and column."""

    source: str
    index: int  # 1-based, counting data rows only
    cells: Mapping[str, object]

    def field(self, column: str) -> str:
        return f"row {self.index}, column {column}"

    def fail(self, column: str, problem: str) -> InputError:
        return InputError(self.source, self.field(column), self.cells.get(column), problem)

    def text(self, column: str) -> str:
        value = self.cells.get(column)
        if is_empty(value):
            raise self.fail(column, "missing; must be non-empty text")
        if not isinstance(value, str):
            raise self.fail(column, "must be text")
        return value.strip()

    def optional_text(self, column: str, default: str = "") -> str:
        return default if is_empty(self.cells.get(column)) else self.text(column)

    def integer(self, column: str, *, minimum: int | None = None,
                bound: Bound | None = None) -> int:
        """A whole number, >= `minimum`, in `bound` (default: `bounds.JOB[column]` if any)."""
        bound = bound or JOB.get(column)
        expected = f": {bound.expected()}" if bound else ""
        value = self.cells.get(column)
        if is_empty(value):
            raise self.fail(column, f"missing; must be an integer{expected}")
        out = _to_int(value)
        number = _to_float(value) if out is None else None
        if number is not None and math.isfinite(number) and number.is_integer():
            out = int(number)  # written as 1e3 or 8.0
        if out is None:
            problem = bound.problem(number) if bound and number is not None else None
            raise self.fail(column, problem or f"must be an integer{expected}")
        if minimum is not None and out < minimum:
            raise self.fail(column, f"must be >= {minimum}{expected}")
        problem = bound.problem(out) if bound else None
        if problem:
            raise self.fail(column, problem)
        return out

    def number(
        self, column: str, *, minimum: float | None = None, above: float | None = None,
        bound: Bound | None = None,
    ) -> float:
        """A finite number, >= `minimum` and > `above` when they are given, in `bound`
        (default: `bounds.JOB[column]` if any). Negative zero is read as zero."""
        bound = bound or JOB.get(column)
        expected = bound.expected() if bound else "a finite number"
        value = self.cells.get(column)
        if is_empty(value):
            raise self.fail(column, f"missing; must be {expected}")
        out = _to_float(value)
        if out is None or not math.isfinite(out):
            problem = bound.problem(out) if bound and out is not None else None
            raise self.fail(column, problem or f"must be {expected}")
        if minimum is not None and out < minimum:
            raise self.fail(column, f"must be >= {minimum:g}: {expected}")
        if above is not None and out <= above:
            raise self.fail(column, f"must be > {above:g}: {expected}")
        problem = bound.problem(out) if bound else None
        if problem:
            raise self.fail(column, problem)
        return out + 0.0

    def optional_number(
        self, column: str, *, minimum: float | None = None, above: float | None = None,
        bound: Bound | None = None,
    ) -> float | None:
        if is_empty(self.cells.get(column)):
            return None
        return self.number(column, minimum=minimum, above=above, bound=bound)


def _to_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _to_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            return float(value.strip())
    except (ValueError, OverflowError):
        return None
    return None


@dataclass(frozen=True, slots=True)
class Table:
    """A table read from a file: its header and its data rows, not yet validated."""

    source: str
    header: tuple[str, ...]
    rows: Sequence[Mapping[str, object]]

    def require(self, columns: Iterable[str]) -> None:
        """Raise `InputError` naming the file and the first missing column, if any."""
        missing = [c for c in columns if c not in self.header]
        if missing:
            raise InputError(
                self.source,
                f"column {missing[0]}",
                None,
                f"missing from the header (missing: {', '.join(missing)}; "
                f"header: {', '.join(self.header)})",
            )

    def refuse_misspelt(self, known: Iterable[str]) -> None:
        """Refuse a column that is a known one written differently (`Data_GB`, `deadline-s`):
        extra columns are ignored, so a misspelt optional one would silently read as empty."""
        by_form = {_column_form(c): c for c in known}
        for column in self.header:
            meant = by_form.get(_column_form(column))
            if meant is not None and meant != column:
                raise InputError(self.source, f"column {column}", column,
                                 f"did you mean {meant}? column names are exact (lower case, "
                                 "with _); this one would be ignored")

    def __iter__(self) -> Iterator[Row]:
        for index, cells in enumerate(self.rows, start=1):
            yield Row(self.source, index, cells)


def _csv_records(path: Path) -> Iterator[list[str]]:
    """The records of a CSV file (after the text rule); a malformed one (a field past the csv
    module's limit, a stray quote) raises `InputError` naming the line."""
    with open_input_text(path) as f:
        reader = csv.reader(f)
        try:
            yield from reader
        except csv.Error as exc:
            raise InputError.file(path, f"line {reader.line_num}: not valid CSV: {exc}"
                                  ) from None


def _column_form(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def read_csv_header(path: Path) -> tuple[str, ...]:
    """The header of a CSV file (stripped column names); `InputError` if the file is empty."""
    records = _csv_records(path)
    first = next(records, None)
    records.close()
    if first is None:
        raise InputError(str(path), "header", None, "the file is empty")
    return tuple(c.strip() for c in first)


def read_csv_table(path: Path) -> Table:
    """All rows of a CSV file as dicts keyed by the header. Blank lines are skipped.

    A row with a different number of fields than the header raises `InputError`.
    """
    source = str(path)
    reader = _csv_records(path)
    first = next(reader, None)
    if first is None:
        raise InputError(source, "header", None, "the file is empty")
    header = tuple(c.strip() for c in first)
    rows: list[dict[str, object]] = []
    for fields in reader:
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if len(fields) != len(header):
            raise InputError(
                source,
                f"row {len(rows) + 1}",
                ",".join(fields)[:200],
                f"has {len(fields)} fields; the header has {len(header)}",
            )
        rows.append(dict(zip(header, fields, strict=True)))
    return Table(source, header, rows)


def read_parquet_table(path: Path) -> Table:
    """All rows of a Parquet file as dicts keyed by column name."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(
            str(path), "file", path.name, f"not a readable Parquet file: {exc}"
        ) from exc
    return Table(str(path), tuple(table.column_names), table.to_pylist())


def read_table(path: Path) -> Table:
    """A CSV table, or a Parquet one when the suffix is `.parquet` / `.pq`."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return read_parquet_table(path)
    return read_csv_table(path)


# --------------------------------------------------------------------------------------------
# Jobs
# --------------------------------------------------------------------------------------------


def read_jobs(path: str | Path, network: Network) -> list[Job]:
    """Read a job file (CSV, or Parquet when the suffix is `.parquet`/`.pq`) into `Job`s.

    Every row is validated against the schema in the module docstring and against `network`
    (the origin must be one of its region ids). Rows are numbered from 1 counting data rows only,
    so `row 1` is the first line after the header. A refusal raises `InputError` naming the file,
    `row N, column C` and the value.

    Returns the jobs sorted by `submit_s`, then `job_id` (a stable sort).
    """
    table = read_table(Path(path))
    table.refuse_misspelt(COLUMNS)
    table.require(REQUIRED_COLUMNS)
    region_ids = tuple(r.id for r in network.regions)
    provider_ids = network.provider_ids()
    jobs: list[Job] = []
    first_row_of: dict[str, int] = {}
    for row in table:
        job = _job_from_row(row, region_ids, provider_ids)
        if job.job_id in first_row_of:
            raise row.fail(
                "job_id", f"duplicate: the same job_id is on row {first_row_of[job.job_id]}"
            )
        first_row_of[job.job_id] = row.index
        jobs.append(job)
    return sort_jobs(jobs)


def sort_jobs(jobs: Iterable[Job]) -> list[Job]:
    """Jobs in submission order, ties broken by `job_id` (stable)."""
    return sorted(jobs, key=lambda j: (j.submit_s, j.job_id))


def _job_from_row(row: Row, region_ids: Sequence[str],
                  provider_ids: Sequence[str] = ()) -> Job:
    submit_s = row.number("submit_s", minimum=0.0)
    rtt_bound_ms, deadline_s = _latency_fields(row, submit_s)
    span = run_span_problem(submit_s, row.number("duration_s", above=0.0))
    if span:
        raise row.fail("duration_s", span)
    return Job(
        job_id=row.text("job_id"),
        tenant=row.text("tenant"),
        origin=_origin(row, region_ids),
        kind=_kind(row),
        units=row.integer("units", minimum=1),
        duration_s=row.number("duration_s", above=0.0),
        submit_s=submit_s,
        rtt_bound_ms=rtt_bound_ms,
        deadline_s=deadline_s,
        data_gb=row.optional_number("data_gb", minimum=0.0) or 0.0,
        workload=row.optional_text("workload"),
        max_price_yuan_per_unit_h=row.optional_number("max_price_yuan_per_unit_h", above=0.0),
        max_bill_yuan=row.optional_number("max_bill_yuan", above=0.0),
        providers_allow=_providers(row, "providers_allow", provider_ids),
        providers_deny=_providers(row, "providers_deny", provider_ids),
        providers_prefer=_providers(row, "providers_prefer", provider_ids),
    )


def run_span_problem(submit_s: float, duration_s: float) -> str | None:
    """Why a job ending at submit_s + duration_s is refused (past `bounds.MAX_RUN_S`), or None."""
    if submit_s + duration_s <= MAX_RUN_S:
        return None
    return (f"the job would end at submit_s + duration_s = {submit_s + duration_s:g} s, past "
            f"the longest run ({MAX_RUN_S:g} s = {MAX_RUN_S / 86400:g} days)")


def _providers(row: Row, column: str, known: Sequence[str]) -> tuple[str, ...]:
    """Provider ids separated by `;` (or spaces); each must be a provider of the network."""
    text = row.optional_text(column)
    ids = tuple(x for x in text.replace(";", " ").split() if x)
    for x in ids:
        if x not in known:
            raise row.fail(column, f"unknown provider {x!r}; known: {', '.join(known)}")
    if len(set(ids)) != len(ids):
        raise row.fail(column, "a provider is listed twice")
    return ids


def _origin(row: Row, region_ids: Sequence[str]) -> str:
    origin = row.text("origin")
    if origin not in region_ids:
        raise row.fail("origin", f"unknown region; known region ids: {', '.join(region_ids)}")
    return origin


def _kind(row: Row) -> Kind:
    name = row.text("kind")
    try:
        return Kind(name)
    except ValueError:
        known = ", ".join(k.value for k in Kind)
        raise row.fail("kind", f"unknown kind; must be one of: {known}") from None


def _latency_fields(row: Row, submit_s: float) -> tuple[float | None, float | None]:
    rtt_bound_ms = row.optional_number("rtt_bound_ms", above=0.0)
    deadline_s = row.optional_number("deadline_s")
    if (rtt_bound_ms is None) == (deadline_s is None):
        which = "neither is given" if rtt_bound_ms is None else "both are given"
        raise InputError(
            row.source,
            f"row {row.index}, columns rtt_bound_ms and deadline_s",
            (row.cells.get("rtt_bound_ms"), row.cells.get("deadline_s")),
            f"{which}; give exactly one (rtt_bound_ms: real-time job, deadline_s: batch job)",
        )
    if deadline_s is not None and deadline_s <= submit_s:
        raise row.fail("deadline_s", f"must be > submit_s ({submit_s:g})")
    return rtt_bound_ms, deadline_s


def write_jobs(jobs: Iterable[Job], path: str | Path) -> None:
    """Write jobs in the job-file schema: CSV for `.csv`, Parquet for `.parquet`/`.pq`.

    Floats are written exactly (shortest round-tripping text in CSV, float64 in Parquet), so
    `read_jobs(write_jobs(jobs))` gives back equal jobs (in submission order).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    records = [_job_record(j) for j in jobs]
    # the tenant's provider asks are written only when some job has them
    columns = COLUMNS + tuple(c for c in ASK_COLUMNS
                              if any(r[c] not in (None, "") for r in records))
    if suffix in PARQUET_SUFFIXES:
        schema = pa.schema([f for f in _PARQUET_SCHEMA if f.name in columns])
        pq.write_table(pa.Table.from_pylist(
            [{c: r[c] for c in columns} for r in records], schema=schema), path)
    elif suffix == ".csv":
        _write_csv(records, path, columns)
    else:
        raise InputError(str(path), "suffix", path.suffix, "must be .csv or .parquet")


def _job_record(job: Job) -> dict[str, object]:
    return {
        "job_id": job.job_id,
        "tenant": job.tenant,
        "origin": job.origin,
        "kind": job.kind.value,
        "units": job.units,
        "duration_s": float(job.duration_s),
        "submit_s": float(job.submit_s),
        "rtt_bound_ms": None if job.rtt_bound_ms is None else float(job.rtt_bound_ms),
        "deadline_s": None if job.deadline_s is None else float(job.deadline_s),
        "data_gb": float(job.data_gb),
        "workload": job.workload,
        "max_price_yuan_per_unit_h": None if job.max_price_yuan_per_unit_h is None
        else float(job.max_price_yuan_per_unit_h),
        "max_bill_yuan": None if job.max_bill_yuan is None else float(job.max_bill_yuan),
        "providers_allow": ";".join(job.providers_allow),
        "providers_deny": ";".join(job.providers_deny),
        "providers_prefer": ";".join(job.providers_prefer),
    }


def _write_csv(records: list[dict[str, object]], path: Path,
               columns: tuple[str, ...] = COLUMNS) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for record in records:
            writer.writerow(_csv_cell(record[c]) for c in columns)


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)
