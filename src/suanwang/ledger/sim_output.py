"""The ledger a simulation run writes beside jobs.csv and sites.csv (`simulate --out`), with
its Merkle log's checkpoint for every hour of the run, signed as each hour closes.

The signing key is `$SUANWANG_LEDGER_KEY`, else `suanwang-data/ledger.key` (written by
`suanwang ledger keygen`), else a key of the run's own, generated into the run folder
(`ledger.key`, mode 0600): a simulation is its own operator. Either way `ledger.pub` in the
run folder is the verifier key. A forger with the key can sign a rewritten past, but not make
it consistent with a checkpoint someone kept (`suanwang ledger consistency`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from suanwang.ledger.allocation import DEFAULT_RULE, GreenRule
from suanwang.ledger.build import (
    HOUR_S_INT,
    MARKET_MG_PER_KWH,
    LedgerColumns,
    bulk_lines,
    columns_from_result,
    hour_label,
)
from suanwang.ledger.chain import Chain
from suanwang.ledger.checkpoint import KEY_FILE, find_signer, write_keys
from suanwang.ledger.factors import RESIDUAL_MIX_G_PER_KWH, RESIDUAL_MIX_SOURCE
from suanwang.ledger.merkle import HASH_SIZE, Frontier, leaf_hash
from suanwang.ledger.note import Signer
from suanwang.ledger.store import FileLedger, HourCheckpoint, sign_hour
from suanwang.ledger.sums import sum_leaf, sum_root, sum_tree, summary_leaf, summary_line

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
        "summaries": "per site-hour a Merkle-sum tree of its records (green and facility "
                     "µkWh) and a summary (supply, allocated, metered, sum root) in "
                     "ledger.summaries.jsonl, a second RFC 9162 log whose size and root each "
                     "checkpoint carries on the line 'summaries <size> <base64 root>'",
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
        (out_dir / KEY_FILE).unlink(missing_ok=True)  # a run key of an earlier run here
        return found
    from suanwang.ledger.checkpoint import read_signer
    key, _ = write_keys(out_dir, RUN_KEY_NAME, force=True)
    return read_signer(key)


Summarise = Callable[[int, list[bytes]], list[str]]
"""(hour, the record hashes so far) -> the summary lines of that hour's site-hours."""


def hourly_checkpoints(lines: Iterable[str], hour_ends: list[int], signer: Signer,
                       closed_until: list[str], out: list[HourCheckpoint],
                       frontier: Frontier | None = None,
                       summarise: Summarise | None = None,
                       summaries: list[str] | None = None) -> Iterator[str]:
    """Pass `lines` through, appending each to the Merkle log; when the log reaches
    `hour_ends[h]` records (the records of hours up to h), sign hour h's checkpoint into
    `out`. With `summarise`, the hour's site-hour summaries go into `summaries` and their log,
    whose size and root the checkpoint carries."""
    f = Frontier() if frontier is None else frontier
    sf = Frontier() if summarise is not None else None
    hashes: list[bytes] = []
    h = 0

    def close() -> None:
        nonlocal h
        while h < len(hour_ends) and hour_ends[h] == f.size:
            if summarise is not None and sf is not None and summaries is not None:
                for line in summarise(h, hashes):
                    summaries.append(line)
                    sf.append(summary_leaf(line))
            out.append(sign_hour(signer, h, closed_until[h], f, sf))
            h += 1

    close()
    for line in lines:
        digest = bytes.fromhex(line[9:73])
        hashes.append(digest)
        f.append(leaf_hash(digest))
        close()
        yield line


def summariser(cols: LedgerColumns, site_ids: list[str], start: datetime) -> Summarise:
    """The summaries of each hour's site-hours of a run (`sums`), from its columns."""
    heads = cols.starts[:-1]
    group_hour = cols.hour[heads] if len(cols) else np.zeros(0, dtype=np.int64)
    by_hour: dict[int, list[int]] = {}
    for g, hr in enumerate(group_hour.tolist()):
        by_hour.setdefault(hr, []).append(g)
    green, facility = cols.green_ukwh.tolist(), cols.facility_ukwh.tolist()
    starts, supply, site = cols.starts.tolist(), cols.supply_ukwh.tolist(), cols.site.tolist()

    def summarise(h: int, hashes: list[bytes]) -> list[str]:
        out = []
        for g in by_hour.get(h, []):
            a, b = starts[g], starts[g + 1]
            tree = sum_tree([sum_leaf(hashes[k], green[k], facility[k]) for k in range(a, b)])
            out.append(summary_line(site_ids[site[a]], hour_label(start, h), h * HOUR_S_INT,
                                    supply[g], tree.root(), b - a, a))
        return out

    return summarise


def _record_leaves(frontier: Frontier, digests: memoryview) -> None:
    """Append records, given by their hashes (32 bytes each), to the Merkle log: RFC 9162
    leaves, folded into the frontier as `Frontier.append` does, inlined."""
    sha = hashlib.sha256
    stack, size = frontier.hashes, frontier.size
    for k in range(0, len(digests), HASH_SIZE):
        h = sha(b"\x00" + digests[k:k + HASH_SIZE]).digest()
        m = size
        while m & 1:
            h = sha(b"\x01" + stack.pop() + h).digest()
            m >>= 1
        stack.append(h)
        size += 1
    frontier.size = size


def write_sim_ledger(result: SimResult, out_dir: Path, rule: GreenRule = DEFAULT_RULE,
                     site_hours: dict[str, np.ndarray] | None = None,
                     signer: Signer | None = None) -> dict[str, Any]:
    """Write ledger.jsonl, ledger.head.json, the site-hour summaries and the hourly
    checkpoints into `out_dir`; return the head.

    The records are written first (each record's hash kept, 32 bytes); then hour by hour the
    hour's records join the Merkle log, its site-hours' sum trees and summaries are made, and
    its checkpoint is signed: the same files as streaming the lines through
    `hourly_checkpoints` with `summariser`, without the per-line detour."""
    out_dir.mkdir(parents=True, exist_ok=True)
    signer = run_signer(out_dir) if signer is None else signer
    cols = columns_from_result(result, rule, site_hours)
    topo = result.topology
    jobs = result.jobs
    chain = Chain()
    start = result.series.start_utc
    digests = bytearray()
    lines = bulk_lines(cols, chain, job_ids=[j.job_id for j in jobs],
                       tenants=[j.tenant for j in jobs], origins=[j.origin for j in jobs],
                       site_ids=topo.site_ids, pool_kinds=[k.value for k in topo.pool_kind],
                       clock_start=start, market_mg_per_kwh=MARKET_MG_PER_KWH,
                       digests=digests)
    ledger = FileLedger(out_dir)
    head = ledger.write_lines(lines, chain, ledger_meta(rule, hour_label(start, 0)))
    # the hours of the run, closed one after the other: those up to the last record's
    n_hours = int(cols.hour.max()) + 1 if len(cols) else 1
    ends = np.searchsorted(cols.hour, np.arange(n_hours), side="right").tolist()
    group_starts = cols.starts.tolist()
    group_hour = cols.hour[cols.starts[:-1]].tolist() if len(cols) else []
    supply = cols.supply_ukwh.tolist()
    view = memoryview(digests)
    log, summary_log = Frontier(), Frontier()
    checkpoints: list[HourCheckpoint] = []
    summaries: list[str] = []
    done, g = 0, 0
    for h in range(n_hours):
        _record_leaves(log, view[done * HASH_SIZE:ends[h] * HASH_SIZE])
        done = ends[h]
        while g < len(group_hour) and group_hour[g] == h:
            a, b = group_starts[g], group_starts[g + 1]
            root = sum_root([bytes(view[k * HASH_SIZE:(k + 1) * HASH_SIZE])
                             for k in range(a, b)], cols.green_ukwh[a:b].tolist(),
                            cols.facility_ukwh[a:b].tolist())
            line = summary_line(topo.site_ids[int(cols.site[a])], hour_label(start, h),
                                h * HOUR_S_INT,
                                supply[g], root, b - a, a)
            summaries.append(line)
            summary_log.append(summary_leaf(line))
            g += 1
        checkpoints.append(sign_hour(signer, h, hour_label(start, h + 1), log, summary_log))
    ledger.write_summaries(summaries)
    ledger.write_checkpoints(checkpoints, signer.verifier)
    return head
