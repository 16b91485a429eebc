"""Invoices of a simulated run: one CSV per tenant and month, in FinOps FOCUS columns.

Each finished job is billed by `suanwang.pricing.job_bill`: hour by hour at the price item in
force (time-of-use applied), plus the egress of its input data. The lines are built by
`suanwang.pricing.focus` (shared with the live service's invoices): one line per job, price
item and unit price within a billing month, and one per job for egress. The lines of a job add
up to its `bill_yuan` in jobs.csv, and the invoices of a run to the summary's `bill_yuan`.

Billing months are calendar months in China time (UTC+8).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import timedelta
from pathlib import Path
from typing import Any

from suanwang.core.accounting import slice_bill
from suanwang.pricing.focus import (
    FOCUS_COLUMNS,
    ISSUER,
    UNIT_NAMES,
    BilledJob,
    csv_text,
    focus_lines,
)
from suanwang.sim.invoice_columns import aligned, safe_name, write_invoice_columns
from suanwang.sim.result import SimResult

__all__ = ["FOCUS_COLUMNS", "ISSUER", "UNIT_NAMES", "invoice_lines", "write_invoices",
           "write_invoices_per_job"]


def invoice_lines(result: SimResult) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """FOCUS lines by (tenant, billing month "YYYY-MM")."""
    topo = result.topology
    series = result.series
    clock = series.start_utc
    out: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    if result.slice is None:
        return out
    for i, job in enumerate(result.jobs):
        sl = int(result.slice[i])
        if sl < 0:
            continue
        prov, kind = topo.slices[sl]
        site = result.network.sites[topo.slice_site[sl]]
        bill = slice_bill(topo, series, sl, job, float(result.start_s[i]),
                          float(result.end_s[i]))
        who = BilledJob(tenant=job.tenant, job_id=job.job_id, resource_name=job.workload,
                        provider_id=prov.id, provider_name=prov.name_en, site_id=site.id,
                        site_name=site.name_en, kind=kind, data_gb=job.data_gb,
                        start=clock + timedelta(seconds=float(result.start_s[i])))
        for month, line in focus_lines(who, bill):
            out[(job.tenant, month)].append(line)
    return out


def write_invoices(result: SimResult, out_dir: Path,
                   tenants: Collection[str] | None = None) -> list[Path]:
    """Write invoices/<tenant>_<YYYY-MM>.csv (with `tenants`, only their files); return the
    files written. Computed as columns (`sim.invoice_columns`, the same bytes) when the run's
    clock starts on a whole hour."""
    if aligned(result):
        return write_invoice_columns(result, out_dir, tenants)
    return write_invoices_per_job(result, out_dir, tenants)


def write_invoices_per_job(result: SimResult, out_dir: Path,
                           tenants: Collection[str] | None = None) -> list[Path]:
    """`write_invoices` job by job through `invoice_lines` (the reference)."""
    folder = out_dir / "invoices"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for (tenant, month), lines in sorted(invoice_lines(result).items()):
        if tenants is not None and tenant not in tenants:
            continue
        path = folder / f"{safe_name(tenant)}_{month}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            f.write(csv_text(lines))
        written.append(path)
    return written
