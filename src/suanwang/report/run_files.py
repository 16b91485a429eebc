"""Reading what `simulate --out DIR` wrote, for the bulletin: network.json, the ledger (verified),
jobs.csv and sites.csv. Each file is checked on the way in; errors name the file and the row."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from suanwang.errors import InputError
from suanwang.ledger.certificate import LedgerBroken
from suanwang.ledger.chain import energy_only
from suanwang.ledger.record import LedgerRecord
from suanwang.ledger.store import FileLedger
from suanwang.network.loader import load_network, network_to_dict
from suanwang.text_input import open_input_text, read_input_text


@dataclass(frozen=True, slots=True)
class JobRow:
    job_id: str
    origin: str
    site: str  # empty if rejected
    realtime: bool
    data_gb: float
    start_s: float | None
    status: str
    provider: str = ""  # the provider it ran with (empty if rejected, or in older runs)
    bill_yuan: float | None = None  # the tenant's bill
    placed_s: float | None = None


@dataclass(frozen=True, slots=True)
class SiteHourRow:
    site: str
    kind: str
    hour_start_s: int
    busy_units: float
    capacity_units: float
    energy_kwh: float
    price_yuan_per_kwh: float


@dataclass(frozen=True)
class Run:
    directory: Path
    clock_start: datetime
    records: list[LedgerRecord]
    jobs: list[JobRow]
    site_hours: list[SiteHourRow]
    ledger_head: dict[str, Any]
    # seconds of the simulated horizon (summary.json `horizon_s`; None in runs written before
    # it was recorded): the demand's window, after which the last jobs only finish
    horizon_s: float | None = None

    def at(self, run_s: float) -> datetime:
        return self.clock_start + timedelta(seconds=run_s)


def network_dict(path: Path | None) -> dict[str, Any]:
    """The resolved network as plain data: a network file (YAML) or the bundled one."""
    return network_to_dict(load_network(path))


def read_network_json(directory: Path) -> dict[str, Any]:
    path = directory / "network.json"
    if not path.exists():
        raise InputError.file(path, "missing: is this a run directory written by "
                                    "`simulate --out`?")
    try:
        data = json.loads(read_input_text(path))
    except json.JSONDecodeError as exc:
        raise InputError.file(path, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("sites"), list):
        raise InputError(str(path), "sites", None, "a network.json must list its sites")
    return data


def _float(path: Path, line: int, field: str, text: str | None, *,
           empty: float | None = None) -> float:
    if text is None:
        raise InputError(str(path), f"line {line}: {field}", None, "missing column")
    if text == "" and empty is not None:
        return empty
    try:
        return float(text)
    except ValueError:
        raise InputError(str(path), f"line {line}: {field}", text, "not a number") from None


def read_jobs_csv(path: Path) -> list[JobRow]:
    out: list[JobRow] = []
    with open_input_text(path) as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            start = row.get("start_s")
            placed = row.get("placed_s")
            bill = row.get("bill_yuan")
            out.append(JobRow(
                job_id=row.get("job_id") or "", origin=row.get("origin") or "",
                site=row.get("site") or "", realtime=(row.get("rtt_bound_ms") or "") != "",
                data_gb=_float(path, n, "data_gb", row.get("data_gb"), empty=0.0),
                start_s=None if not start else _float(path, n, "start_s", start),
                status=row.get("status") or "", provider=row.get("provider") or "",
                bill_yuan=None if not bill else _float(path, n, "bill_yuan", bill),
                placed_s=None if not placed else _float(path, n, "placed_s", placed)))
    return out


def read_sites_csv(path: Path) -> list[SiteHourRow]:
    out: list[SiteHourRow] = []
    with open_input_text(path) as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            out.append(SiteHourRow(
                site=row.get("site") or "", kind=row.get("pool") or "",
                hour_start_s=int(_float(path, n, "hour_start_s", row.get("hour_start_s"))),
                busy_units=_float(path, n, "busy_units", row.get("busy_units")),
                capacity_units=_float(path, n, "capacity_units", row.get("capacity_units")),
                energy_kwh=_float(path, n, "energy_kwh", row.get("energy_kwh")),
                price_yuan_per_kwh=_float(path, n, "price_yuan_per_kwh",
                                          row.get("price_yuan_per_kwh"))))
    return out


def read_run(directory: Path) -> Run:
    """Verify the run's ledger and read its files. Raises `LedgerBroken` or `InputError`."""
    ledger = FileLedger(directory)
    if not ledger.path.is_file():
        raise InputError(str(ledger.path), "(file)", None,
                         "missing: write one with `suanwang simulate --out DIR --ledger`")
    head = ledger.read_head()
    if head is None or not isinstance(head.get("clock_start"), str):
        raise InputError(str(ledger.head_path), "clock_start", None,
                         "missing: the bulletin needs the run's start time")
    try:
        clock_start = datetime.fromisoformat(head["clock_start"])
    except ValueError:
        raise InputError(str(ledger.head_path), "clock_start", head["clock_start"],
                         "not an ISO 8601 time") from None
    records: list[LedgerRecord] = []
    check = ledger.verify(on_record=energy_only(lambda _s, _h, r: records.append(r)))
    if check.problem is not None:
        raise LedgerBroken(str(ledger.path), check.problem)
    return Run(directory=directory, clock_start=clock_start, records=records,
               jobs=read_jobs_csv(directory / "jobs.csv"),
               site_hours=read_sites_csv(directory / "sites.csv"), ledger_head=head,
               horizon_s=read_horizon_s(directory / "summary.json"))


def read_horizon_s(path: Path) -> float | None:
    """The run's simulated horizon in seconds from its summary.json, None if not recorded."""
    if not path.exists():
        return None
    try:
        summary = json.loads(read_input_text(path))
    except json.JSONDecodeError as exc:
        raise InputError.file(path, f"not valid JSON: {exc}") from None
    value = summary.get("horizon_s") if isinstance(summary, dict) else None
    if value is None:
        return None
    if not isinstance(value, int | float) or value <= 0:
        raise InputError(str(path), "horizon_s", value, "must be a positive number of seconds")
    return float(value)
