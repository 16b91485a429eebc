"""The ledger a simulation run writes beside jobs.csv and sites.csv (`simulate --out`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from suanwang.ledger.allocation import DEFAULT_RULE, GreenRule
from suanwang.ledger.build import (
    MARKET_MG_PER_KWH,
    bulk_lines,
    columns_from_result,
    hour_label,
)
from suanwang.ledger.chain import Chain
from suanwang.ledger.factors import RESIDUAL_MIX_G_PER_KWH, RESIDUAL_MIX_SOURCE
from suanwang.ledger.store import FileLedger

if TYPE_CHECKING:
    from suanwang.sim.result import SimResult


def ledger_meta(rule: GreenRule, clock_start: str) -> dict[str, Any]:
    """What the records mean, kept in the head file."""
    return {
        "clock_start": clock_start,
        "order": "by hour, then site, then pool, then job",
        "units": "kWh and kg with six decimals (integers of µkWh and µkg inside: sums are "
                 "exact); factors in g/kWh with three decimals",
        "hash": "SHA-256 of the record's canonical body (the line without its leading hash "
                "member), which includes prev, the previous record's hash",
        "green_rule": {"name": rule.name, "description": rule.description,
                       "supply": "floor(metered facility µkWh x green share (6 places)); the "
                                 "records of a site-hour sum exactly to its meter"},
        "location_based": "grid_kwh x the site's provincial grid factor (network.json "
                          "grid_intensity_g_per_kwh); green part zero",
        "market_based": {"g_per_kwh": RESIDUAL_MIX_G_PER_KWH, "source": RESIDUAL_MIX_SOURCE,
                         "rule": "green part zero (contracted green power and certificates), "
                                 "grid part at the residual mix"},
    }


def write_sim_ledger(result: SimResult, out_dir: Path, rule: GreenRule = DEFAULT_RULE,
                     site_hours: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Write ledger.jsonl and ledger.head.json into `out_dir`; return the head."""
    cols = columns_from_result(result, rule, site_hours)
    topo = result.topology
    jobs = result.jobs
    chain = Chain()
    start = result.series.start_utc
    lines = bulk_lines(cols, chain, job_ids=[j.job_id for j in jobs],
                       tenants=[j.tenant for j in jobs], origins=[j.origin for j in jobs],
                       site_ids=topo.site_ids, pool_kinds=[k.value for k in topo.pool_kind],
                       clock_start=start, market_mg_per_kwh=MARKET_MG_PER_KWH)
    return FileLedger(out_dir).write_lines(lines, chain, ledger_meta(rule, hour_label(start, 0)))
