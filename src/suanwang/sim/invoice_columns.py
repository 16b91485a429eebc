"""The invoices of a simulated run computed as columns: every job's bill pieces, FOCUS lines and
invoice files at once, the same bytes as `sim.invoices.invoice_lines` builds job by job
through `pricing.job_bill` and `pricing.focus.focus_lines` (the per-job reference, and the
path taken when a run's clock does not start on a whole hour).

A job's run [start, end) (datetimes to the microsecond, as `timedelta(seconds=...)` rounds) is
cut at whole hours into pieces; a piece is billed at the price in force at its start, hour h of
`pricing.tariff.hourly_unit_prices` (or the electricity cost of a unit in clock hour h for an
energy-priced provider, with `job_bill`'s own rule for h). Pieces of one job with the same
item, unit price and billing month make one usage line, summed in time order as Python sums
them; lines follow each other job by job, a job's lines in order of their first piece, then its
egress line.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from suanwang.pricing.bill import ENERGY_ITEM
from suanwang.pricing.focus import ISSUER, UNIT_NAMES, csv_text
from suanwang.pricing.tariff import hourly_unit_prices
from suanwang.sim.csv_columns import float_cells, quote, text_cells, write_text
from suanwang.sim.result import SimResult

US = 1_000_000  # microseconds per second
HOUR_US = 3600 * US
CHINA_OFFSET_US = 8 * HOUR_US
BLOCK_LINES = 100_000  # invoice lines formatted at a time
JOB_BLOCK = 200_000  # jobs whose bills are computed at a time: bounded memory


def safe_name(tenant: str) -> str:
    """The tenant as it appears in an invoice file's name."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in tenant)


def aligned(result: SimResult) -> bool:
    """Whether the columns apply: the run's clock starts on a whole hour, and no two tenants
    share a file name."""
    start = result.series.start_utc
    if start.minute or start.second or start.microsecond:
        return False
    tenants = result.job_columns.tenants
    return len({safe_name(t) for t in tenants}) == len(tenants)


def _micros(seconds: np.ndarray) -> np.ndarray:
    """`timedelta(seconds=x)` in whole microseconds: the integer part exactly, the fraction
    times 10^6 rounded half to even."""
    whole = np.trunc(seconds)
    return whole.astype(np.int64) * US + np.rint((seconds - whole) * US).astype(np.int64)


def _iso(epoch_us: np.ndarray) -> pa.Array:
    """`datetime.isoformat()` in China time: seconds, then ".ffffff" only where nonzero."""
    local = epoch_us + CHINA_OFFSET_US
    # Arrow casts a timestamp to "YYYY-MM-DD HH:MM:SS[.ffffff]" (the fraction by its unit)
    text = pc.cast(pa.array(local // US, type=pa.timestamp("s")), pa.string())
    frac = local % US != 0
    if frac.any():
        fine = pc.cast(pa.array(local, type=pa.timestamp("us")), pa.string())
        text = pc.if_else(pa.array(frac), fine, text)
    text = pc.replace_substring(text, " ", "T", max_replacements=1)
    return pc.binary_join_element_wise(text, "+08:00", "")


def _month(epoch_us: np.ndarray) -> np.ndarray:
    """Billing month (China time) as months since 1970-01."""
    local = (epoch_us + CHINA_OFFSET_US).astype("datetime64[us]")
    return local.astype("datetime64[M]").astype(np.int64)


def _month_start_us(month: np.ndarray) -> np.ndarray:
    return month.astype("datetime64[M]").astype("datetime64[us]").astype(np.int64) \
        - CHINA_OFFSET_US


@dataclass(frozen=True)
class Lines:
    """Invoice lines as columns (one entry per line, in the order they are written)."""

    job: np.ndarray  # index into result.jobs
    slice: np.ndarray  # provider pool (Topology.slices)
    egress: np.ndarray  # bool: the egress line of its job, else a usage line
    month: np.ndarray  # billing month, months since 1970-01
    item: np.ndarray  # usage: price item code (into `item_ids`); egress: -1
    price: np.ndarray  # usage: yuan per unit-hour; egress: yuan per GB
    quantity: np.ndarray  # usage: unit-hours; egress: GB
    cost: np.ndarray
    start_us: np.ndarray  # charge period, Unix microseconds
    end_us: np.ndarray
    item_ids: list[str]

    def take(self, index: np.ndarray) -> Lines:
        """These lines in the order `index` gives."""
        return replace(self, **{f.name: getattr(self, f.name)[index] for f in fields(self)
                                if f.name != "item_ids"})


def _pieces(result: SimResult, billed: np.ndarray, hours: int) -> dict[str, np.ndarray]:
    """Every billed job's pieces, job by job in `billed` order and in time order."""
    topo = result.topology
    clock_us = int(result.series.start_utc.timestamp()) * US
    sl = np.asarray(result.slice)[billed].astype(np.int64)
    t0 = _micros(np.asarray(result.start_s)[billed])  # since the clock's start
    t1 = _micros(np.asarray(result.end_s)[billed])
    energy_row = np.asarray([p.energy_priced for p, _ in topo.slices], dtype=bool)[sl]
    # the hour whose end is the first cut: job_bill's floor(hours + 1e-9) when energy-priced
    secs = t0 / float(US)
    h0 = np.where(energy_row, np.floor(secs / 3600.0 + 1e-9).astype(np.int64), t0 // HOUR_US)
    first_cut = (h0 + 1) * HOUR_US
    extra = np.where(t1 > first_cut, -((first_cut - t1) // HOUR_US), 0)  # pieces after 1st
    n = np.where(t1 > t0, 1 + extra, 0)
    total = int(n.sum())
    job = np.repeat(np.arange(len(billed)), n)
    first = np.cumsum(n) - n
    k = np.arange(total) - first[job]  # piece number within its job
    start = np.where(k == 0, t0[job], first_cut[job] + (k - 1) * HOUR_US)
    end = np.minimum(first_cut[job] + k * HOUR_US, t1[job])
    hour = h0[job] + k
    return {"job": job, "start": start + clock_us, "end": end + clock_us, "hour": hour,
            "dur": end - start, "slice": sl[job], "energy": energy_row[job],
            "clock_us": np.int64(clock_us), "hours": np.int64(hours)}


def _price_tables(result: SimResult, hours: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(slices, hours) price and item code of the hour, and the item ids of the codes."""
    topo = result.topology
    series = result.series
    clock = series.start_utc
    price = np.zeros((len(topo.slices), hours))
    item = np.zeros((len(topo.slices), hours), dtype=np.int64)
    codes: dict[str, int] = {ENERGY_ITEM: 0}  # code 0: the energy item (and its line text)
    for r, (prov, kind) in enumerate(topo.slices):
        if prov.energy_priced:
            kw = topo.pool_kw_facility[topo.slice_pool[r]]
            row = kw * np.asarray(series.price_yuan_per_kwh[topo.slice_site[r]], dtype=float)
            price[r] = row[np.clip(np.arange(hours), 0, len(row) - 1)]
            continue
        if not prov.items(kind):
            continue  # never billed: job_bill would fail on it as the reference does
        prices, ids = hourly_unit_prices(prov, kind, clock, hours)
        price[r] = prices
        item[r] = [codes.setdefault(i, len(codes)) for i in ids]
    return price, item, list(codes)


def billed_jobs(result: SimResult) -> np.ndarray:
    """Indexes of the jobs that ran (with a provider), in job order."""
    if result.slice is None:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.asarray(result.slice) >= 0)


def price_tables(result: SimResult) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """`_price_tables` over the hours of the run's billed jobs."""
    billed = billed_jobs(result)
    last_end_s = float(np.nanmax(np.asarray(result.end_s)[billed])) if len(billed) else 0.0
    return _price_tables(result, int(np.ceil(last_end_s / 3600.0)) + 2)


def invoice_columns(result: SimResult, billed: np.ndarray | None = None,
                    tables: tuple[np.ndarray, np.ndarray, list[str]] | None = None) -> Lines:
    """The invoice lines of the `billed` jobs (default: all that ran), job by job."""
    cols = result.job_columns
    billed = billed_jobs(result) if billed is None else billed
    price_tab, item_tab, item_ids = price_tables(result) if tables is None else tables
    empty = np.zeros(0, dtype=np.int64)
    if len(billed) == 0:
        z = np.zeros(0)
        return Lines(empty, empty, np.zeros(0, dtype=bool), empty, empty, z, z, z, empty,
                     empty, item_ids)
    hours = price_tab.shape[1]
    p = _pieces(result, billed, hours)
    units = cols.units[billed].astype(np.float64)
    hour = np.clip(p["hour"], 0, hours - 1)
    price = price_tab[p["slice"], hour]
    item = item_tab[p["slice"], hour]
    unit_h = units[p["job"]] * (p["dur"] / float(US)) / 3600.0
    cost = price * unit_h
    month = _month(p["start"])
    # usage lines: pieces of a job with one (item, price, month), in time order
    order, change = _line_groups(p["job"], item, price, month, price_tab)
    heads = np.flatnonzero(change)
    lengths = np.diff(np.append(heads, len(order)))
    q_sum, c_sum = _sequential_sums(heads, lengths, unit_h[order], cost[order])
    g_first = order[heads]  # each line's first piece
    g_last = order[heads + lengths - 1]
    g_job = p["job"][g_first]
    # egress lines: one per billed job with data or an egress charge
    topo = result.topology
    sl = np.asarray(result.slice)[billed].astype(np.int64)
    per_gb = np.asarray(topo.slice_egress, dtype=np.float64)[sl]
    data = cols.data_gb[billed]
    egress_yuan = data * per_gb
    has_egress = (egress_yuan > 0) | (data > 0)
    e_job = np.flatnonzero(has_egress)
    clock_us = int(p["clock_us"])
    e_start = _micros(np.asarray(result.start_s)[billed][e_job]) + clock_us
    # all lines, job by job: usage lines by first piece, then the egress line
    n_u, n_e = len(heads), len(e_job)
    line_job = np.concatenate([g_job, e_job])
    within = np.concatenate([g_first, np.full(n_e, np.iinfo(np.int64).max)])
    seq = np.lexsort((within, line_job))
    cat = np.concatenate
    return Lines(
        job=billed[line_job[seq]],
        slice=sl[line_job[seq]],
        egress=cat([np.zeros(n_u, dtype=bool), np.ones(n_e, dtype=bool)])[seq],
        month=cat([month[g_first], _month(e_start)])[seq],
        item=cat([item[g_first], np.full(n_e, -1, dtype=np.int64)])[seq],
        price=cat([price[g_first], per_gb[e_job]])[seq],
        quantity=cat([q_sum, data[e_job]])[seq],
        cost=cat([c_sum, egress_yuan[e_job]])[seq],
        start_us=cat([p["start"][g_first], e_start])[seq],
        end_us=cat([p["end"][g_last], e_start])[seq],
        item_ids=item_ids,
    )


def _line_groups(job: np.ndarray, item: np.ndarray, price: np.ndarray, month: np.ndarray,
                 price_tab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pieces ordered by (job, item, price, month), in time order within each, and where
    each group (a usage line) starts. The four keys are packed into one integer where they
    fit (the prices ranked among the table's), else sorted one after the other."""
    n = len(job)
    prices = np.unique(price_tab)
    n_jobs = int(job.max()) + 1 if n else 1
    n_items = int(item.max()) + 1 if n else 1
    m0 = int(month.min()) if n else 0
    n_months = int(month.max()) - m0 + 1 if n else 1
    if n and n_jobs * n_items * len(prices) * n_months < 2**62 \
            and int(item.min()) >= 0 and np.array_equal(prices[np.searchsorted(
                prices, price).clip(0, len(prices) - 1)], price):
        rank = np.searchsorted(prices, price)
        key = ((job * n_items + item) * len(prices) + rank) * n_months + (month - m0)
        order = np.argsort(key, kind="stable")  # (nearly sorted already: job by job)
        packed = key[order]
        change = np.ones(n, dtype=bool)
        change[1:] = packed[1:] != packed[:-1]
        return order, change
    order = np.lexsort((np.arange(n), month, price, item, job))
    change = np.ones(n, dtype=bool)
    if n:
        diff = np.zeros(n - 1, dtype=bool)
        for k in (job[order], item[order], price[order], month[order]):
            diff |= k[1:] != k[:-1]
        change[1:] = diff
    return order, change


def _sequential_sums(heads: np.ndarray, lengths: np.ndarray, *values: np.ndarray
                     ) -> list[np.ndarray]:
    """Sums of runs [heads[g], heads[g] + lengths[g]) added left to right (as `sum` adds)."""
    by_len = np.argsort(-lengths, kind="stable")
    h, n = heads[by_len], lengths[by_len]
    out = [np.zeros(len(heads)) for _ in values]
    longest = int(n[0]) if len(n) else 0
    live = len(n)
    for k in range(longest):
        while live and n[live - 1] <= k:
            live -= 1
        idx = h[:live] + k
        for acc, v in zip(out, values, strict=True):
            acc[by_len[:live]] += v[idx]
    return out


def _money(values: np.ndarray) -> pa.Array:
    return float_cells(values, 6)


@dataclass(frozen=True)
class JobTexts:
    """The text cells an invoice line takes from its job, made once for all jobs of a run:
    the tenant's (and its code, for the file), the job id and the resource name."""

    tenant_code: np.ndarray  # per job, into `tenants`
    tenants: list[str]  # sorted
    tenant_cells: pa.Array  # per tenant code
    job_id: pa.Array  # per job
    resource: pa.Array  # per job: its workload, else its id

    @classmethod
    def of(cls, result: SimResult) -> JobTexts:
        cols = result.job_columns
        job_id = text_cells(cols.job_id)
        # the resource: the job's workload, else its id
        workload = pc.take(text_cells([*cols.workloads]),
                           pa.array(cols.workload_code, type=pa.int64()))
        no_workload = np.asarray([not w for w in cols.workloads], dtype=bool)
        resource = workload
        if no_workload.any():
            resource = pc.if_else(pa.array(no_workload[cols.workload_code]), job_id, workload)
        return cls(cols.tenant_code, list(cols.tenants), text_cells(cols.tenants), job_id,
                   resource)


@dataclass(frozen=True)
class LineKeys:
    """What an invoice line's cells take from its (provider pool, price item, unit price):
    the key of every line and, per distinct key, the text of each run of cells that depends
    on the key alone (made once per key, taken per line)."""

    key_of: np.ndarray  # per line, into the tables
    description: pa.Array  # ChargeDescription
    unit_price: pa.Array  # ListUnitPrice
    unit: pa.Array  # ConsumedUnit
    unit_to_region: pa.Array  # PricingUnit .. RegionName
    type_to_sku: pa.Array  # ResourceType .. SkuPriceId, then the line's end

    @classmethod
    def of(cls, result: SimResult, lines: Lines) -> LineKeys:
        topo = result.topology
        sites = result.network.sites
        prov = [pr for pr, _ in topo.slices]
        kinds = [k for _, k in topo.slices]
        site = [sites[s] for s in topo.slice_site]
        prices, price_of = np.unique(lines.price, return_inverse=True)
        items = lines.item + 1  # from 0 (egress: -1)
        n_items = int(items.max()) + 1 if len(items) else 1
        n_prices = max(1, len(prices))
        distinct, key_of = np.unique((lines.slice * n_items + items) * n_prices
                                     + price_of.reshape(-1), return_inverse=True)
        item_ids = lines.item_ids
        desc, unit, to_region, to_sku, price_text = [], [], [], [], []
        key_price = np.zeros(len(distinct))
        for k, key in enumerate(distinct.tolist()):
            r, code, price = (key // n_prices // n_items, key // n_prices % n_items - 1,
                              float(prices[key % n_prices]))
            pr, kind, st = prov[r], kinds[r], site[r]
            egress = code < 0
            key_price[k] = price
            desc.append(f"input data moved in at {pr.egress_yuan_per_gb:g} yuan/GB" if egress
                        else "electricity cost of the units (energy-priced provider)"
                        if code == 0 else
                        f"{kind.value} compute at {price:g} yuan per {UNIT_NAMES[kind]}")
            unit_name = "GB" if egress else UNIT_NAMES[kind]
            unit.append(quote(unit_name))
            to_region.append(",".join(quote(c) for c in (
                unit_name, pr.name_en, pr.name_en, ISSUER, st.id, st.name_en)))
            to_sku.append(",".join(quote(c) for c in (
                kind.value, "Networking" if egress else "Compute",
                f"{pr.id} data transfer" if egress else f"{pr.id} {kind.value} compute",
                f"{pr.id}/egress" if egress else f"{pr.id}/{kind.value}",
                f"{pr.id}/{st.id}/egress" if egress else item_ids[code])) + "\r\n")
            # an egress price as `csv.writer` writes the provider's value (an int as an int)
            price_text.append(None if not egress or isinstance(pr.egress_yuan_per_gb, float)
                              else str(pr.egress_yuan_per_gb))
        money = _money(key_price).to_pylist()
        unit_price = [m if t is None else t for m, t in zip(money, price_text, strict=True)]
        return cls(key_of.reshape(-1).astype(np.int64), text_cells(desc),
                   pa.array(unit_price, type=pa.string()), pa.array(unit, type=pa.string()),
                   pa.array(to_region, type=pa.string()), pa.array(to_sku, type=pa.string()))


def _file_prefix(tenant_cell: str, month: int) -> str:
    """The cells every line of one invoice file starts with (BillingAccountId ..
    ChargeCategory): its tenant's and its month's."""
    period = _iso(_month_start_us(np.array([month, month + 1]))).to_pylist()
    return ",".join([tenant_cell, tenant_cell, quote("CNY"), period[0], period[1],
                     quote("Usage")])


def _line_rows(lines: Lines, keys: LineKeys, a: int, b: int, prefix: str,
               job_cells: pa.Array) -> pa.Array:
    """The CSV rows of lines [a, b) of one file (whose lines start with `prefix`), each
    ending "\\r\\n": the columns of `pricing.focus.FOCUS_COLUMNS`, in order."""
    key = pa.array(keys.key_of[a:b], type=pa.int64())
    cost = _money(lines.cost[a:b])
    qty = _money(lines.quantity[a:b])
    return pc.binary_join_element_wise(
        pa.scalar(prefix, pa.string()), pc.take(keys.description, key),
        _iso(lines.start_us[a:b]), _iso(lines.end_us[a:b]), cost, cost, cost,
        pc.take(keys.unit_price, key), qty, pc.take(keys.unit, key), qty,
        pc.take(keys.unit_to_region, key),
        pc.take(job_cells, pa.array(lines.job[a:b], type=pa.int64())),
        pc.take(keys.type_to_sku, key), ",")


def write_invoice_columns(result: SimResult, out_dir: Path,
                          tenants: Collection[str] | None = None) -> list[Path]:
    """invoices/<tenant>_<YYYY-MM>.csv from the columns, `JOB_BLOCK` jobs at a time (each
    block's lines appended to their files: a file's lines stay in job order); return the
    files written, in (tenant, month) order. With `tenants`, only their files."""
    folder = out_dir / "invoices"
    folder.mkdir(parents=True, exist_ok=True)
    billed = billed_jobs(result)
    tables = price_tables(result)  # (over all billed jobs, whichever are written)
    texts = JobTexts.of(result)
    if tenants is not None:
        wanted = np.isin(np.asarray(texts.tenants, dtype=object), list(tenants))
        billed = billed[wanted[texts.tenant_code[billed]]]
    if len(billed) == 0:
        return []
    header = csv_text([]).encode("utf-8")
    files: dict[tuple[int, int], tuple[Path, BinaryIO]] = {}
    tenant_cells = texts.tenant_cells.to_pylist()
    job_cells = pc.binary_join_element_wise(texts.job_id, texts.resource, ",")
    try:
        for c in range(0, len(billed), JOB_BLOCK):
            lines = invoice_columns(result, billed[c:c + JOB_BLOCK], tables)
            tenant = texts.tenant_code[lines.job].astype(np.int64)
            # by file, (tenant, month); a file's lines keep their order
            order = np.lexsort((np.arange(len(tenant)), lines.month, tenant))
            lines, tenant = lines.take(order), tenant[order]
            keys = LineKeys.of(result, lines)
            key = tenant * 1_000_000 + lines.month
            bounds = np.flatnonzero(np.diff(key)) + 1
            starts = np.concatenate([[0], bounds]).tolist()
            ends = np.concatenate([bounds, [len(key)]]).tolist()
            for a, b in zip(starts, ends, strict=True):
                k = (int(tenant[a]), int(lines.month[a]))
                if k not in files:
                    month = np.datetime_as_string(np.array(k[1], dtype="datetime64[M]"),
                                                  unit="M")
                    path = folder / f"{safe_name(texts.tenants[k[0]])}_{month}.csv"
                    files[k] = (path, path.open("wb"))
                    files[k][1].write(header)
                f = files[k][1]
                prefix = _file_prefix(tenant_cells[k[0]], k[1])
                for x in range(a, b, BLOCK_LINES):
                    write_text(f, _line_rows(lines, keys, x, min(b, x + BLOCK_LINES), prefix,
                                             job_cells))
    finally:
        for _, f in files.values():
            f.close()
    return [files[k][0] for k in sorted(files)]


__all__ = ["JobTexts", "LineKeys", "Lines", "aligned", "billed_jobs", "invoice_columns",
           "price_tables", "safe_name", "write_invoice_columns"]
