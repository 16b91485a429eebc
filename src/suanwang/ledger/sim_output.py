"""The ledger a simulation run writes beside jobs.csv and sites.csv (`simulate --out`), with
its Merkle log's checkpoint for every hour of the run, signed as each hour closes.

The signing key is `$SUANWANG_LEDGER_KEY`, else `suanwang-data/ledger.key` (written by
`suanwang ledger keygen`), else a key of the run's own, generated into the run folder
(`ledger.key`, mode 0600): a simulation is its own operator. Either way `ledger.pub` in the
run folder is the verifier key. A forger with the key can sign a rewritten past, but not make
it consistent with a checkpoint someone kept (`suanwang ledger consistency`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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
from suanwang.ledger.checkpoint import find_signer, write_keys
from suanwang.ledger.factors import RESIDUAL_MIX_G_PER_KWH, RESIDUAL_MIX_SOURCE
from suanwang.ledger.merkle import Frontier
from suanwang.ledger.note import Signer
from suanwang.ledger.store import FileLedger, HourCheckpoint, line_leaf, sign_hour

DATA_DIR = Path("suanwang-data")  # where `suanwang ledger keygen` puts the operator's key
RUN_KEY_NAME = "suanwang.local/sim"

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
        "merkle": "RFC 9162 Merkle tree over all records in seq order, leaf input = the "
                  "record's hash (32 bytes); a C2SP signed checkpoint (origin, tree size, "
                  "base64 root) every closed hour",
        "green_rule": {"name": rule.name, "description": rule.description,
                       "supply": "floor(metered facility µkWh x green share (6 places)); the "
                                 "records of a site-hour sum exactly to its meter"},
        "location_based": "grid_kwh x the site's provincial grid factor (network.json "
                          "grid_intensity_g_per_kwh); green part zero",
        "market_based": {"g_per_kwh": RESIDUAL_MIX_G_PER_KWH, "source": RESIDUAL_MIX_SOURCE,
                         "rule": "green part zero (contracted green power and certificates), "
                                 "grid part at the residual mix"},
    }


def run_signer(out_dir: Path) -> Signer:
    """The key that signs a run's checkpoints (see the module's doc)."""
    found = find_signer(DATA_DIR)
    if found is not None:
        return found
    from suanwang.ledger.checkpoint import read_signer
    key, _ = write_keys(out_dir, RUN_KEY_NAME, force=True)
    return read_signer(key)


def hourly_checkpoints(lines: Iterable[str], hour_ends: list[int], signer: Signer,
                       closed_until: list[str], out: list[HourCheckpoint],
                       frontier: Frontier | None = None) -> Iterator[str]:
    """Pass `lines` through, appending each to the Merkle log; when the log reaches
    `hour_ends[h]` records (the records of hours up to h), sign hour h's checkpoint into
    `out`."""
    f = Frontier() if frontier is None else frontier
    h = 0

    def close() -> None:
        nonlocal h
        while h < len(hour_ends) and hour_ends[h] == f.size:
            out.append(sign_hour(signer, h, closed_until[h], f))
            h += 1

    close()
    for line in lines:
        f.append(line_leaf(line))
        close()
        yield line


def write_sim_ledger(result: SimResult, out_dir: Path, rule: GreenRule = DEFAULT_RULE,
                     site_hours: dict[str, np.ndarray] | None = None,
                     signer: Signer | None = None) -> dict[str, Any]:
    """Write ledger.jsonl, ledger.head.json and the hourly checkpoints into `out_dir`;
    return the head."""
    out_dir.mkdir(parents=True, exist_ok=True)
    signer = run_signer(out_dir) if signer is None else signer
    cols = columns_from_result(result, rule, site_hours)
    topo = result.topology
    jobs = result.jobs
    chain = Chain()
    start = result.series.start_utc
    lines = bulk_lines(cols, chain, job_ids=[j.job_id for j in jobs],
                       tenants=[j.tenant for j in jobs], origins=[j.origin for j in jobs],
                       site_ids=topo.site_ids, pool_kinds=[k.value for k in topo.pool_kind],
                       clock_start=start, market_mg_per_kwh=MARKET_MG_PER_KWH)
    # the hours of the run, closed one after the other: those up to the last record's
    n_hours = int(cols.hour.max()) + 1 if len(cols) else 1
    ends = np.searchsorted(cols.hour, np.arange(n_hours), side="right").tolist()
    checkpoints: list[HourCheckpoint] = []
    ledger = FileLedger(out_dir)
    head = ledger.write_lines(
        hourly_checkpoints(lines, ends, signer, [hour_label(start, h + 1)
                                                 for h in range(n_hours)], checkpoints),
        chain, ledger_meta(rule, hour_label(start, 0)))
    ledger.write_checkpoints(checkpoints, signer.verifier)
    return head
