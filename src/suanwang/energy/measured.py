"""Measured energy series: a CSV or Parquet file whose values override the model's.

Schema (long format: one row per site and hour; extra columns are ignored):

| column                | required | rule                                                    |
| --------------------- | -------- | ------------------------------------------------------- |
| `timestamp`           | yes      | start of the hour with a UTC offset, ISO 8601           |
|                       |          | (`2024-06-01T00:00:00+08:00`, `...Z`), on a whole hour; |
|                       |          | in Parquet also a timestamp column with a time zone     |
| `site`                | yes      | a site id of the network                                |
| `green_share`         | *        | 0..1, a fraction (not a percentage)                     |
| `intensity_g_per_kwh` | *        | 0..2000 g CO2 per kWh of site power (not kg/kWh)        |
| `price_yuan_per_kwh`  | *        | 0..10 yuan per kWh (not per MWh)                        |

(*) Any subset of the three value columns, at least one; a column that is present must have a
value on every row. Per site the hours must be consecutive: no duplicates, no gaps (a site may
start and end when it likes, and sites may cover different periods).

Precedence: for every hour of the run that the file covers for a site, the file's values replace
the model's; other hours and other columns keep the model's. Where the file gives the green share
but not the intensity, the intensity follows it at the site's grid factor, as in the model:
(1 - green_share) x grid factor.

Rows are numbered from 1, counting data rows only (the header is not a row). A refused file
raises `InputError` naming the file, `row N, column C` and the value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np

from suanwang.bounds import MEASURED, YEARS
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.errors import InputError
from suanwang.model import Network
from suanwang.workload.jobfile import Row, is_empty, read_table

VALUE_COLUMNS = MEASURED  # the value columns and their ranges (suanwang.bounds)


@dataclass(frozen=True)
class SiteMeasurements:
    start_utc: datetime  # start of the first hour
    first_row: int  # the row of the first hour (for errors)
    values: dict[str, np.ndarray]  # column -> one value per consecutive hour


@dataclass(frozen=True)
class Measured:
    source: str
    columns: tuple[str, ...]  # the value columns the file gives
    sites: dict[str, SiteMeasurements]


def _timestamp(row: Row) -> datetime:
    value = row.cells.get("timestamp")
    if is_empty(value):
        raise row.fail("timestamp", "missing; must be a time with a UTC offset")
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value.strip())
        except ValueError:
            raise row.fail("timestamp", "not an ISO 8601 time, e.g. 2024-06-01T00:00:00+08:00"
                           ) from None
    else:
        raise row.fail("timestamp", "must be a time with a UTC offset")
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise row.fail("timestamp", "has no time zone; give a UTC offset, e.g. "
                                    "2024-06-01T00:00:00+08:00")
    if not YEARS[0] <= ts.year <= YEARS[1]:
        raise row.fail("timestamp", f"year {ts.year} is out of range: must be a time in "
                                    f"{YEARS[0]}-{YEARS[1]}, e.g. 2024-06-01T00:00:00+08:00")
    ts = ts.astimezone(UTC)
    if ts.minute or ts.second or ts.microsecond:
        raise row.fail("timestamp", "must be the start of an hour (minutes and seconds 0)")
    return ts


def _value(row: Row, column: str) -> float:
    return row.number(column, bound=MEASURED[column])


def read_measured(path: str | Path, network: Network) -> Measured:
    """Read and validate a measured-series file (schema in the module docstring)."""
    table = read_table(Path(path))
    table.refuse_misspelt(("timestamp", "site", *VALUE_COLUMNS))
    table.require(("timestamp", "site"))
    columns = tuple(c for c in VALUE_COLUMNS if c in table.header)
    if not columns:
        raise InputError(table.source, "header", ", ".join(table.header),
                         f"needs at least one of: {', '.join(VALUE_COLUMNS)}")
    site_ids = {s.id for s in network.sites}
    rows: dict[str, list[tuple[datetime, int, list[float]]]] = {}
    for row in table:
        site = row.text("site")
        if site not in site_ids:
            raise row.fail("site", f"unknown site; known: {', '.join(sorted(site_ids))}")
        ts = _timestamp(row)
        rows.setdefault(site, []).append((ts, row.index, [_value(row, c) for c in columns]))
    if not rows:
        raise InputError(table.source, "rows", 0, "the file has no data rows")
    sites: dict[str, SiteMeasurements] = {}
    for site, entries in rows.items():
        entries.sort(key=lambda e: (e[0], e[1]))
        for (t_prev, r_prev, _), (t, r, _) in pairwise(entries):
            if t == t_prev:
                raise InputError(table.source, f"row {max(r, r_prev)}, column timestamp",
                                 t.isoformat(), f"duplicate: site {site} already has this hour "
                                 f"on row {min(r, r_prev)}")
            if t - t_prev != timedelta(hours=1):
                raise InputError(table.source, f"row {r}, column timestamp", t.isoformat(),
                                 f"gap: the previous hour of site {site} is "
                                 f"{t_prev.isoformat()} (row {r_prev}); hours must be "
                                 "consecutive")
        values = np.array([e[2] for e in entries], dtype=float)
        sites[site] = SiteMeasurements(
            start_utc=entries[0][0], first_row=entries[0][1],
            values={c: values[:, k] for k, c in enumerate(columns)})
    return Measured(table.source, columns, sites)


def apply_measured(series: EnergySeries, measured: Measured,
                   network: Network) -> EnergySeries:
    """`series` with the measured values in place of the model's where the file covers them."""
    arrays = {name: getattr(series, name).copy() for name in VALUE_COLUMNS}
    for site_id, m in measured.sites.items():
        i = series.site_index(site_id)
        offset_s = (m.start_utc - series.start_utc).total_seconds()
        if offset_s % HOUR_S:
            raise InputError(measured.source, f"row {m.first_row}, column timestamp",
                             m.start_utc.isoformat(),
                             "not on the run's hour grid (the run starts at "
                             f"{series.start_utc.isoformat()})")
        first = int(offset_s // HOUR_S)
        n = len(next(iter(m.values.values())))
        lo, hi = max(first, 0), min(first + n, series.hours)
        if lo >= hi:
            continue
        for column, values in m.values.items():
            arrays[column][i, lo:hi] = values[lo - first:hi - first]
        if "green_share" in m.values and "intensity_g_per_kwh" not in m.values:
            grid = network.site(site_id).grid_intensity_g_per_kwh
            arrays["intensity_g_per_kwh"][i, lo:hi] = (
                1.0 - arrays["green_share"][i, lo:hi]) * grid
    return replace(series, _cum={}, **arrays)
