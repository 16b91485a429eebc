"""A compact ledger: the records as columns in one Parquet file, the canonical lines
recomputable byte for byte.

A line is a function of its record's fields, its seq and its prev (`record.encode_record`),
and prev is the hash of the line before: so the columns below, in seq order, are the whole
ledger. Nothing derived is stored (hashes, prev, seq, grid kWh, CO2): `expand` recomputes the
lines and their hashes in order, and the head and the checkpoints kept beside it check the
result, so a changed value in the columns shows up as a chain that ends elsewhere.

Columns: job, tenant, origin, site, kind, hour (dictionary-encoded text), hour_start_s,
it_ukwh, facility_ukwh, green_ukwh (int64), location_mg_per_kwh, market_mg_per_kwh (int32);
zstd-compressed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from suanwang.errors import InputError
from suanwang.ledger.chain import GENESIS, body_hash, make_line
from suanwang.ledger.record import LedgerRecord, encode_body
from suanwang.ledger.store import FileLedger

COMPACT_FILE = "ledger.parquet"
_TEXT = ("job", "tenant", "origin", "site", "kind", "hour")
_INT64 = ("hour_start_s", "it_ukwh", "facility_ukwh", "green_ukwh")
_INT32 = ("location_mg_per_kwh", "market_mg_per_kwh")
SCHEMA = pa.schema([*((c, pa.dictionary(pa.int32(), pa.string())) for c in _TEXT),
                    *((c, pa.int64()) for c in _INT64), *((c, pa.int32()) for c in _INT32)])


def write_compact(ledger: FileLedger, out: Path | None = None) -> Path:
    """Write the ledger's records (call `verify` first) as `ledger.parquet`."""
    cols: dict[str, list[object]] = {c: [] for c in SCHEMA.names}
    for s in ledger.records():
        r = s.record
        if not isinstance(r, LedgerRecord):  # event records have their own columns
            continue
        for c in SCHEMA.names:
            cols[c].append(getattr(r, c))
    table = pa.table({c: pa.array(v, type=SCHEMA.field(c).type) if c in _INT64 + _INT32
                      else pa.array(v, type=pa.string()).dictionary_encode()
                      for c, v in cols.items()}, schema=SCHEMA)
    path = out if out is not None else ledger.directory / COMPACT_FILE
    pq.write_table(table, path, compression="zstd", use_dictionary=list(_TEXT))
    return path


def expand(path: Path) -> Iterator[str]:
    """The ledger's lines (each with its newline), recomputed from the compact file."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError.file(path, f"not a compact ledger: {exc}") from None
    if table.schema.names != SCHEMA.names:
        raise InputError.file(path, f"columns {table.schema.names}, not {SCHEMA.names}")
    columns = [table.column(c).to_pylist() for c in SCHEMA.names]
    prev = GENESIS
    for seq, row in enumerate(zip(*columns, strict=True)):
        job, tenant, origin, site, kind, hour, start_s, it, fac, green, loc, mkt = row
        body = encode_body(seq, prev, job, tenant, origin, site, kind, start_s, hour, it, fac,
                           green, loc, mkt)
        prev = body_hash(body)
        yield make_line(body, prev) + "\n"
