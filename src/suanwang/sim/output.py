"""Files a run writes with `--out DIR`: jobs.csv, sites.csv, summary.json, network.json, and
invoices/ (the tenants' bills, one FOCUS CSV per tenant and month, `suanwang.sim.invoices`).

jobs.csv has one row per job; a cell is empty where a value does not apply (no deadline for a
real-time job, no site for a rejected one). sites.csv has one row per site, pool and hour.
network.json is the resolved network (every unit's kW, each site's PUE), so anyone can
recompute a job's energy: units * kw_per_unit * pue * (end_s - start_s) / 3600.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from suanwang.ledger.sim_output import write_sim_ledger
from suanwang.memory_trim import give_back
from suanwang.network.loader import network_to_dict
from suanwang.sim.beside import beside, can_fork
from suanwang.sim.csv_columns import float_cells, header, int_cells, text_cells, write_rows
from suanwang.sim.invoices import write_invoices
from suanwang.sim.job_table import (
    JOB_COLUMN_TYPES,
    JOB_COLUMNS,
    Coded,
    Column,
    JobTable,
    job_table,
)
from suanwang.sim.result import SimResult

__all__ = [
    "FORMATS",
    "JOB_COLUMNS",
    "SITE_COLUMNS",
    "run_files",
    "write_jobs",
    "write_jobs_csv",
    "write_jobs_parquet",
    "write_run",
    "write_sites_csv",
]

SITE_COLUMNS = (
    "site", "pool", "hour_start_s", "busy_units", "capacity_units", "energy_kwh", "green_share",
    "intensity_g_per_kwh", "price_yuan_per_kwh",
)
FORMATS = ("csv", "parquet", "both")
JOB_BLOCK_ROWS = 50_000  # jobs whose rows are built at a time: bounds the memory
FORK_MIN_JOBS = 100_000  # from this many jobs on, invoices are written beside the rest
CHILD_INVOICE_SHARE = 0.75  # of the billed jobs, whose invoices the child writes


def _text(col: Column) -> pa.Array:
    """A text column as CSV cells."""
    if isinstance(col, Coded):
        names = text_cells([*col.names, ""])
        return pc.take(names, pa.array(np.where(col.codes < 0, len(col.names), col.codes),
                                        type=pa.int64()))
    return text_cells(col)  # type: ignore[arg-type]


def _cells(table: JobTable) -> list[pa.Array]:
    out = []
    for name, kind in JOB_COLUMN_TYPES:
        col = table.columns[name]
        if kind == "float":
            out.append(float_cells(np.asarray(col)))
        elif kind == "int":
            out.append(int_cells(np.asarray(col)))
        else:
            out.append(_text(col))
    return out


PARQUET_SCHEMA = pa.schema([(name, {"str": pa.string(), "int": pa.int64(),
                                    "float": pa.float64()}[kind])
                            for name, kind in JOB_COLUMN_TYPES])


def _nullable_text(col: Column) -> pa.Array:
    """A text column with null for "" (jobs.parquet)."""
    if isinstance(col, Coded):
        names = pa.array([*(v if v else None for v in col.names), None], type=pa.string())
        return pc.take(names, pa.array(np.where(col.codes < 0, len(col.names), col.codes),
                                        type=pa.int64()))
    if isinstance(col, pa.Array):
        return pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)
    return pa.array([v if v else None for v in col], type=pa.string())


def _arrow_table(table: JobTable) -> pa.Table:
    """The block as Arrow columns: null where jobs.csv has an empty cell."""
    arrays = []
    for name, kind in JOB_COLUMN_TYPES:
        col = table.columns[name]
        if kind == "float":
            values = np.asarray(col, dtype=np.float64)
            arrays.append(pa.array(values, type=pa.float64(), mask=np.isnan(values)))
        elif kind == "int":
            arrays.append(pa.array(np.asarray(col, dtype=np.int64), type=pa.int64()))
        else:
            arrays.append(_nullable_text(col))
    return pa.Table.from_arrays(arrays, schema=PARQUET_SCHEMA)


def write_jobs(result: SimResult, csv_path: Path | None = None,
               parquet_path: Path | None = None) -> None:
    """jobs.csv at `csv_path` and/or jobs.parquet at `parquet_path`, a block of jobs at a time
    (the columns of a block taken from the jobs, formatted, written, let go).

    jobs.csv: a header and one row per job. jobs.parquet: the columns of jobs.csv in its
    order, numbers at full precision, null where jobs.csv has an empty cell (text columns
    too: "" is written as null), one row group per block."""
    import pyarrow.parquet as pq

    n = len(result.job_columns)
    csv_file = csv_path.open("wb") if csv_path is not None else None
    parquet = (pq.ParquetWriter(parquet_path, PARQUET_SCHEMA, compression="zstd")
               if parquet_path is not None else None)
    try:
        if csv_file is not None:
            csv_file.write(header(JOB_COLUMNS))
        for a in range(0, n, JOB_BLOCK_ROWS):
            block = job_table(result, a, min(n, a + JOB_BLOCK_ROWS))
            if csv_file is not None:
                write_rows(csv_file, _cells(block))
            if parquet is not None:
                parquet.write_table(_arrow_table(block))
        if parquet is not None and n == 0:
            parquet.write_table(PARQUET_SCHEMA.empty_table())
    finally:
        if csv_file is not None:
            csv_file.close()
        if parquet is not None:
            parquet.close()


def write_jobs_csv(result: SimResult, path: Path) -> None:
    write_jobs(result, csv_path=path)


def write_jobs_parquet(result: SimResult, path: Path) -> None:
    write_jobs(result, parquet_path=path)


def write_sites_csv(result: SimResult, path: Path) -> None:
    sh = result.site_hours()
    topo = result.topology
    site_ids = np.asarray(topo.site_ids, dtype=object)
    kinds = np.asarray([k.value for k in topo.pool_kind], dtype=object)
    cols = [
        text_cells(site_ids[sh["site"]].tolist()), text_cells(kinds[sh["pool"]].tolist()),
        int_cells((sh["hour"] * 3600).astype(np.int64)), float_cells(sh["busy_units"]),
        int_cells(np.asarray(sh["capacity_units"])), float_cells(sh["energy_kwh"]),
        float_cells(sh["green_share"]), float_cells(sh["intensity_g_per_kwh"], 3),
        float_cells(sh["price_yuan_per_kwh"], 4),
    ]
    with path.open("wb") as f:
        f.write(header(SITE_COLUMNS))
        write_rows(f, cols)


def write_run(result: SimResult, out_dir: Path, run_info: dict[str, Any], *,
              fmt: str = "csv", ledger: bool = True, invoices: bool = True) -> dict[str, Any]:
    """Write the files of a run: jobs.csv and/or jobs.parquet (`fmt`: csv, parquet or both),
    sites.csv, summary.json, network.json, its ledger (ledger.jsonl and its checkpoints)
    unless `ledger` is False, and invoices/ unless `invoices` is False; return the summary
    written.

    From `FORK_MIN_JOBS` jobs on, a child process writes most tenants' invoices
    (`CHILD_INVOICE_SHARE` of the billed jobs) while this one writes the rest: the same files,
    on two cores (`sim.beside`)."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: choose one of {', '.join(FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    fork = invoices and can_fork() and len(result.job_columns) >= FORK_MIN_JOBS
    child_tenants, own_tenants = split_tenants(result, CHILD_INVOICE_SHARE) if fork \
        else ([], [])
    if fork:
        give_back()  # (what the run freed: neither process should hold it)

    def child_task() -> None:
        if child_tenants:
            write_invoices(result, out_dir, child_tenants)

    with beside(child_task, fork=fork):
        write_jobs(result, out_dir / "jobs.csv" if fmt in ("csv", "both") else None,
                   out_dir / "jobs.parquet" if fmt in ("parquet", "both") else None)
        write_sites_csv(result, out_dir / "sites.csv")
        if ledger:
            write_sim_ledger(result, out_dir)
        if invoices and not fork:
            write_invoices(result, out_dir)
        elif invoices:
            write_invoices(result, out_dir, own_tenants)
        summary = {**run_info, **result.summary()}
        (out_dir / "summary.json").write_text(
            json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
        (out_dir / "network.json").write_text(
            json.dumps(network_to_dict(result.network), indent=2, ensure_ascii=False),
            encoding="utf-8")
    return summary


def split_tenants(result: SimResult, share: float) -> tuple[list[str], list[str]]:
    """The tenants in two groups, the first with about `share` of the billed jobs (tenants
    taken largest first while the group is below its share)."""
    cols = result.job_columns
    billed = np.asarray(result.slice) >= 0 if result.slice is not None \
        else np.zeros(len(cols), dtype=bool)
    counts = np.bincount(cols.tenant_code[billed], minlength=len(cols.tenants))
    total = max(1, int(counts.sum()))
    first: list[str] = []
    second: list[str] = []
    taken = 0
    for k in np.argsort(-counts, kind="stable").tolist():
        if taken + counts[k] / 2 <= share * total:
            first.append(cols.tenants[k])
            taken += int(counts[k])
        else:
            second.append(cols.tenants[k])
    return first, second


def run_files(fmt: str = "csv", ledger: bool = True, invoices: bool = True) -> list[str]:
    """The names `write_run` writes with these options (the ledger's side files aside)."""
    jobs = {"csv": ["jobs.csv"], "parquet": ["jobs.parquet"],
            "both": ["jobs.csv", "jobs.parquet"]}[fmt]
    return [*jobs, "sites.csv", "summary.json", "network.json",
            *(["ledger.jsonl"] if ledger else []), *(["invoices/"] if invoices else [])]
