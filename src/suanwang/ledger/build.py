"""From what ran to ledger records: split each job's run into hours, meter, allocate green.

Vectorised with numpy over all (job, hour) segments at once; the only Python loop is the one
that writes lines (`bulk_lines`). The same `allocate_segments` serves the service, which hands it
the segments of an hour it has closed.

Order of records: by hour, then site, then pool, then job (the order a live ledger appends them
in as hours close).

Facility energy of a segment = units x kW per unit x PUE x seconds in the hour / 3600. The
segments of a pool-hour are rounded to whole µkWh by largest remainder so that they sum exactly
to the pool-hour's metered energy (sites.csv's `energy_kwh`, six places); IT energy = facility /
PUE, rounded per record.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from suanwang.energy.series import HOUR_S
from suanwang.ledger.allocation import DEFAULT_RULE, GreenRule, GroupedDraws, apportion
from suanwang.ledger.chain import Chain
from suanwang.ledger.factors import RESIDUAL_MIX_G_PER_KWH
from suanwang.ledger.record import BODY_TEMPLATE, json_str
from suanwang.ledger.units import MICRO, fmt_milli, to_micro

if TYPE_CHECKING:
    from suanwang.sim.result import SimResult

BEIJING = timezone(timedelta(hours=8))
HOUR_S_INT = int(HOUR_S)
MARKET_MG_PER_KWH = round(RESIDUAL_MIX_G_PER_KWH * 1000)
LINE_BLOCK = 65_536  # records whose numbers `bulk_lines` formats at a time


@dataclass(frozen=True)
class Segments:
    """Jobs' draws split at hour boundaries (one row per job and hour it drew in)."""

    job: np.ndarray  # int64: index into the caller's job list
    site: np.ndarray  # int64: site index
    pool: np.ndarray  # int64: pool index
    hour: np.ndarray  # int64: hour index on the clock (hour h covers [3600 h, 3600 (h+1)))
    facility_kwh: np.ndarray  # float: energy drawn in the hour, facility side


@dataclass(frozen=True)
class LedgerColumns:
    """The records of a ledger as columns (sorted: hour, site, pool, job)."""

    job: np.ndarray
    site: np.ndarray
    pool: np.ndarray
    hour: np.ndarray
    it_ukwh: np.ndarray
    facility_ukwh: np.ndarray
    green_ukwh: np.ndarray
    location_mg_per_kwh: np.ndarray  # per record: its site's provincial grid factor
    # per site-hour group (records [starts[g], starts[g+1]) ), for checks and reports
    starts: np.ndarray
    supply_ukwh: np.ndarray
    green_share_micro: np.ndarray

    def __len__(self) -> int:
        return len(self.job)


def split_by_hour(job: np.ndarray, site: np.ndarray, pool: np.ndarray, power_kw: np.ndarray,
                  start_s: np.ndarray, end_s: np.ndarray) -> Segments:
    """Each job's constant draw of `power_kw` over [start_s, end_s), split by hour."""
    live = end_s > start_s
    job, site, pool = job[live], site[live], pool[live]
    power_kw, start_s, end_s = power_kw[live], start_s[live], end_s[live]
    h0 = np.floor(start_s / HOUR_S).astype(np.int64)
    h1 = np.maximum(np.ceil(end_s / HOUR_S).astype(np.int64), h0 + 1)
    n = h1 - h0
    first = np.cumsum(n) - n
    rep = np.repeat(np.arange(len(n)), n)
    hour = h0[rep] + (np.arange(int(n.sum())) - first[rep])
    t0 = np.maximum(start_s[rep], hour * HOUR_S)
    t1 = np.minimum(end_s[rep], (hour + 1) * HOUR_S)
    keep = t1 > t0
    rep, hour = rep[keep], hour[keep]
    return Segments(job=job[rep], site=site[rep], pool=pool[rep], hour=hour,
                    facility_kwh=power_kw[rep] * (t1[keep] - t0[keep]) / HOUR_S)


def _group_starts(*keys: np.ndarray) -> np.ndarray:
    """Boundaries of runs of equal keys in sorted arrays: [0, ..., n]."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    return np.concatenate([np.flatnonzero(change), [n]]).astype(np.int64)


def allocate_segments(seg: Segments, *, tenant_of_job: Sequence[str],
                      metered_ukwh: np.ndarray | None, green_share_micro: np.ndarray,
                      pue_of_site: np.ndarray, grid_mg_per_kwh_of_site: np.ndarray,
                      rule: GreenRule = DEFAULT_RULE) -> LedgerColumns:
    """Records of the segments, metered and with green allocated.

    `metered_ukwh[pool, hour]`: the meter of each pool-hour (µkWh); None = the sum of the
    segments. `green_share_micro[site, hour]`: the hour's green share in millionths.
    """
    order = np.lexsort((seg.job, seg.pool, seg.site, seg.hour))
    job, site, pool, hour = seg.job[order], seg.site[order], seg.pool[order], seg.hour[order]
    energy = seg.facility_kwh[order]
    # 1. each pool-hour's segments, in whole µkWh, summing exactly to its meter
    ph = _group_starts(hour, site, pool)
    if metered_ukwh is None:
        sums = np.add.reduceat(energy, ph[:-1]) if len(energy) else np.zeros(0)
        target = np.array([to_micro(float(x)) for x in sums], dtype=np.int64)
    else:
        heads = ph[:-1]
        target = np.asarray(metered_ukwh, dtype=np.int64)[pool[heads], hour[heads]]
    facility = apportion(energy * MICRO, ph, target)
    # 2. each site-hour's green supply, handed out by the rule
    sh = _group_starts(hour, site)
    heads = sh[:-1]
    metered_site_hour = (np.add.reduceat(facility, heads) if len(facility)
                         else np.zeros(0, dtype=np.int64))
    g_micro = np.asarray(green_share_micro, dtype=np.int64)[site[heads], hour[heads]]
    supply = metered_site_hour * g_micro // MICRO
    tenants = [tenant_of_job[j] for j in job.tolist()]
    green = rule.allocate(GroupedDraws(starts=sh, draw_ukwh=facility, supply_ukwh=supply,
                                       tenant=tenants))
    it = np.rint(facility / np.asarray(pue_of_site, dtype=float)[site]).astype(np.int64)
    loc = np.asarray(grid_mg_per_kwh_of_site, dtype=np.int64)[site]
    return LedgerColumns(job=job, site=site, pool=pool, hour=hour, it_ukwh=it,
                         facility_ukwh=facility, green_ukwh=green, location_mg_per_kwh=loc,
                         starts=sh, supply_ukwh=supply, green_share_micro=g_micro)


def columns_from_result(result: SimResult, rule: GreenRule = DEFAULT_RULE,
                        site_hours: dict[str, np.ndarray] | None = None) -> LedgerColumns:
    """The ledger of a simulation run, metered against `result.site_hours()` (sites.csv)."""
    topo = result.topology
    sh = site_hours if site_hours is not None else result.site_hours()
    ran = np.flatnonzero(result.ran)
    units = np.fromiter((result.jobs[i].units for i in ran.tolist()), dtype=float,
                        count=len(ran))
    pool = result.pool[ran].astype(np.int64)
    power = units * np.asarray(topo.pool_kw_facility)[pool]
    seg = split_by_hour(ran.astype(np.int64), result.site[ran].astype(np.int64), pool, power,
                        result.start_s[ran], result.end_s[ran])
    n_pools = len(topo.pools)
    n_hours = len(sh["hour"]) // n_pools if n_pools else 0
    metered = np.array([to_micro(float(x)) for x in sh["energy_kwh"].tolist()],
                       dtype=np.int64).reshape(n_pools, n_hours)
    # the green share per site-hour, as sites.csv prints it (identical for a site's pools)
    g_rows = np.array([to_micro(float(x)) for x in sh["green_share"].tolist()],
                      dtype=np.int64).reshape(n_pools, n_hours)
    green_micro = np.zeros((len(topo.sites), n_hours), dtype=np.int64)
    green_micro[np.asarray(topo.pool_site)] = g_rows
    sites = result.network.sites
    return allocate_segments(
        seg, tenant_of_job=[j.tenant for j in result.jobs], metered_ukwh=metered,
        green_share_micro=green_micro, pue_of_site=np.array([s.pue for s in sites]),
        grid_mg_per_kwh_of_site=np.array([round(s.grid_intensity_g_per_kwh * 1000)
                                          for s in sites]),
        rule=rule)


def hour_label(start: datetime, hour: int) -> str:
    """ISO 8601 start of `hour` in Beijing time, to the minute."""
    return (start + timedelta(hours=hour)).astimezone(BEIJING).isoformat(timespec="minutes")


def _fmt_column(values: np.ndarray, places: int) -> pa.Array:
    """Non-negative integers of 10^-places units as decimals (places 6 or 3): `fmt_micro` /
    `fmt_milli` ("%d.%06d" / "%d.%03d" of the quotient and remainder) for a whole column at
    once, by Arrow's string kernels."""
    if len(values) and int(values.min()) < 0:
        raise ValueError("ledger quantities are never negative")
    q, r = np.divmod(np.asarray(values, dtype=np.int64), 10 ** places)
    whole = pc.cast(pa.array(q), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(r), pa.string()), places, "0")
    return pc.binary_join_element_wise(whole, frac, ".")


def _co2_column(grid_ukwh: np.ndarray, factor_mg_per_kwh: np.ndarray | int) -> np.ndarray:
    """`units.co2_ukg` for a column (int64: grid <= ~1e11 µkWh, factor <= 2e6 mg/kWh)."""
    return (grid_ukwh * factor_mg_per_kwh + MICRO // 2) // MICRO


# BODY_TEMPLATE's literal text around its 17 values (in key order); `prev` and `seq` are values
# 13 and 14: what comes before them and after them is known before the chain reaches a record
_LITERALS = re.split(r"%[sd]", BODY_TEMPLATE)
_PREV, _SEQ = 13, 14
_MIDDLE = _LITERALS[_SEQ]  # between prev and seq: '","seq":'


def _joined(parts: list[pa.Array | str]) -> list[str]:
    """Each row's parts (arrays of equal length, or text common to all rows) concatenated."""
    return pc.binary_join_element_wise(*parts, "").to_pylist()


def bulk_lines(cols: LedgerColumns, chain: Chain, *, job_ids: Sequence[str],
               tenants: Sequence[str], origins: Sequence[str], site_ids: Sequence[str],
               pool_kinds: Sequence[str], clock_start: datetime,
               market_mg_per_kwh: int = MARKET_MG_PER_KWH,
               digests: bytearray | None = None) -> Iterator[str]:
    """The records' lines (each with its newline), chained after `chain`'s head; `chain`
    holds the new head and count once the last line has been taken. With `digests`, each
    record's hash (32 raw bytes) is appended to it as its line is made.

    Fast path of `Chain.append`: the same `BODY_TEMPLATE`, everything but `prev` and `seq`
    filled in a block of records at a time by Arrow's string kernels (each distinct string
    escaped once), so that the chain itself only joins three pieces per record and hashes;
    a test holds it to `encode_body` byte for byte.
    """
    mkt = fmt_milli(market_mg_per_kwh)
    q_site = pa.array([json_str(s) for s in site_ids], type=pa.string())
    q_kind = pa.array([json_str(k) for k in pool_kinds], type=pa.string())
    used = np.unique(cols.job) if len(cols) else np.zeros(0, dtype=np.int64)
    where = np.full(max(len(job_ids), 1), -1, dtype=np.int64)
    where[used] = np.arange(len(used))
    used_list = used.tolist()
    q_job = pa.array([json_str(job_ids[j]) for j in used_list], type=pa.string())
    q_tenant = pa.array([json_str(tenants[j]) for j in used_list], type=pa.string())
    q_origin = pa.array([json_str(origins[j]) for j in used_list], type=pa.string())
    hours = np.unique(cols.hour) if len(cols) else np.zeros(0, dtype=np.int64)
    q_hour = pa.array([json_str(hour_label(clock_start, h)) for h in hours.tolist()],
                      type=pa.string())
    lit = _LITERALS
    seq, prev = chain.count, chain.head
    sha = hashlib.sha256
    for a in range(0, len(cols), LINE_BLOCK):  # a block at a time: bounded memory
        b = min(len(cols), a + LINE_BLOCK)
        fac_u, green_u = cols.facility_ukwh[a:b], cols.green_ukwh[a:b]
        grid = fac_u - green_u
        job = pa.array(where[cols.job[a:b]])
        hour = cols.hour[a:b]
        values: list[pa.Array | str] = [
            _fmt_column(_co2_column(grid, cols.location_mg_per_kwh[a:b]), 6),
            _fmt_column(_co2_column(grid, market_mg_per_kwh), 6),
            _fmt_column(fac_u, 6), _fmt_column(green_u, 6), _fmt_column(grid, 6),
            pc.take(q_hour, pa.array(np.searchsorted(hours, hour))),
            pc.cast(pa.array(hour * HOUR_S_INT), pa.string()),
            _fmt_column(cols.it_ukwh[a:b], 6), pc.take(q_job, job),
            pc.take(q_kind, pa.array(cols.pool[a:b])),
            _fmt_column(cols.location_mg_per_kwh[a:b], 3), mkt, pc.take(q_origin, job),
            "", "",  # prev and seq: filled as the chain goes
            pc.take(q_site, pa.array(cols.site[a:b])), pc.take(q_tenant, job),
        ]
        head: list[pa.Array | str] = []
        for k in range(_PREV):
            head += [lit[k], values[k]]
        head.append(lit[_PREV])
        tail: list[pa.Array | str] = [lit[_SEQ + 1]]
        for k in range(_SEQ + 1, len(values)):
            tail += [values[k], lit[k + 1]]
        for before, after in zip(_joined(head), _joined(tail), strict=True):
            body = f"{before}{prev}{_MIDDLE}{seq}{after}"
            raw = sha(body.encode("utf-8")).digest()
            if digests is not None:
                digests += raw
            prev = raw.hex()
            seq += 1
            yield f'{{"hash":"{prev}",{body[1:]}\n'
    chain.head, chain.count = prev, seq
