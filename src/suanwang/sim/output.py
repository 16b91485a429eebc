"""Files a run writes with `--out DIR`: jobs.csv, sites.csv, summary.json, network.json, and
invoices/ (the tenants' bills, one FOCUS CSV per tenant and month, `suanwang.sim.invoices`).

jobs.csv has one row per job; a cell is empty where a value does not apply (no deadline for a
real-time job, no site for a rejected one). sites.csv has one row per site, pool and hour.
network.json is the resolved network (every unit's kW, each site's PUE), so anyone can
recompute a job's energy: units * kw_per_unit * pue * (end_s - start_s) / 3600.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from suanwang.ledger.sim_output import write_sim_ledger
from suanwang.network.loader import network_to_dict
from suanwang.sim.invoices import write_invoices
from suanwang.sim.result import SimResult

JOB_COLUMNS = (
    "job_id", "tenant", "origin", "kind", "units", "submit_s", "start_s", "end_s", "site",
    "rtt_ms", "rtt_bound_ms", "deadline_s", "data_gb", "energy_kwh", "green_kwh", "carbon_kg",
    "cost_yuan", "wait_s", "status", "workload", "placed_s", "transfer_s", "deferrals", "reason",
    "provider", "bill_yuan",
)
SITE_COLUMNS = (
    "site", "pool", "hour_start_s", "busy_units", "capacity_units", "energy_kwh", "green_share",
    "intensity_g_per_kwh", "price_yuan_per_kwh",
)


def _cell(x: float | None, digits: int = 6) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    text = f"{float(x):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def write_jobs_csv(result: SimResult, path: Path) -> None:
    site_ids = result.topology.site_ids
    wait = result.wait_s().tolist()
    cols = [a.tolist() for a in (result.site, result.start_s, result.end_s, result.rtt_ms,
                                 result.energy_kwh, result.green_kwh, result.carbon_kg,
                                 result.cost_yuan, result.placed_s, result.transfer_s,
                                 result.deferrals, result.bill_yuan)]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(JOB_COLUMNS)
        for i, j in enumerate(result.jobs):
            site, start, end, rtt, energy, green, carbon, cost, placed, transfer, defer, bill = (
                c[i] for c in cols)
            ran = site >= 0
            w.writerow((
                j.job_id, j.tenant, j.origin, j.kind.value, j.units, _cell(j.submit_s),
                _cell(start), _cell(end), site_ids[site] if ran else "", _cell(rtt),
                _cell(j.rtt_bound_ms), _cell(j.deadline_s), _cell(j.data_gb),
                _cell(energy), _cell(green), _cell(carbon), _cell(cost),
                _cell(wait[i]), result.status[i], j.workload, _cell(placed),
                _cell(transfer), defer, result.reasons.get(i, ""), result.provider_of(i),
                _cell(bill) if ran else "",
            ))


def write_sites_csv(result: SimResult, path: Path) -> None:
    sh = result.site_hours()
    topo = result.topology
    cols = [sh[k].tolist() for k in ("site", "pool", "hour", "busy_units", "capacity_units",
                                     "energy_kwh", "green_share", "intensity_g_per_kwh",
                                     "price_yuan_per_kwh")]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(SITE_COLUMNS)
        for site, pool, hour, busy, cap, energy, green, intensity, price in zip(
                *cols, strict=True):
            w.writerow((topo.site_ids[site], topo.pool_kind[pool].value, int(hour * 3600),
                        _cell(busy), cap, _cell(energy), _cell(green), _cell(intensity, 3),
                        _cell(price, 4)))


def write_run(result: SimResult, out_dir: Path, run_info: dict[str, Any]) -> dict[str, Any]:
    """Write the files of a run (and its ledger, ledger.jsonl); return the summary written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jobs_csv(result, out_dir / "jobs.csv")
    write_sites_csv(result, out_dir / "sites.csv")
    write_sim_ledger(result, out_dir)
    write_invoices(result, out_dir)
    summary = {**run_info, **result.summary()}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False),
                                          encoding="utf-8")
    (out_dir / "network.json").write_text(
        json.dumps(network_to_dict(result.network), indent=2, ensure_ascii=False),
        encoding="utf-8")
    return summary
