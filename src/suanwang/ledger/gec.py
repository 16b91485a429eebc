"""Green certificates (绿证, GEC) reconciled with the ledger: which serials back which green kWh.

A GEC stands for 1 MWh of renewable generation in a month; a file lists them per site:

    serial,project,site,mwh,month,tradable
    10000000000000000000000000000001,Ulanqab wind farm 1,jining,1,2024-06,true

(serial: 32 digits, unique; mwh: a whole number of MWh; month: YYYY-MM, Beijing time.)

Retirement, per site and month: the ledger's green kWh matched there that month (the sum of
the records' green kWh) retire the site's tradable certificates of that month in the order
imported,
whole certificates only, as long as they fit (a certificate is never half retired; a
non-tradable one cannot back a claim and is left). The retired certificates then cover the
month's green kWh in ledger order: certificate i covers the MWh from i to i + its MWh of the
running sum, and a record is backed by the certificates whose range overlaps its own. So no
kWh is backed twice and no certificate backs more than its MWh. A serial listed twice, or
already imported, is refused.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from suanwang.errors import InputError
from suanwang.ledger.record import LedgerRecord

GEC_FILE = "ledger.gec.json"
FIELDS = ("serial", "project", "site", "mwh", "month", "tradable")
UKWH_PER_MWH = 1000 * 1_000_000
_TRUE, _FALSE = {"true", "yes", "1", "是"}, {"false", "no", "0", "否"}


@dataclass(frozen=True)
class GreenCertificate:
    serial: str
    project: str
    site: str
    mwh: int
    month: str
    tradable: bool


def read_gec_csv(path: Path, already: Iterable[str] = ()) -> list[GreenCertificate]:
    """The certificates of a file; InputError naming the line, field and value of the first
    bad one, or a serial listed twice or `already` imported."""
    retired = set(already)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError.file(path, f"cannot read it: {exc}") from None
    rows = csv.DictReader(text.splitlines())
    if rows.fieldnames is None or set(FIELDS) - set(rows.fieldnames):
        raise InputError.file(path, f"the header must name {', '.join(FIELDS)}")
    out: list[GreenCertificate] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows, start=2):
        where = f"{path} line {i}"

        def bad(field: str, why: str, row: dict[str, str] = row, where: str = where
                ) -> InputError:
            return InputError(where, field, row.get(field), why)

        serial = (row.get("serial") or "").strip()
        if not re.fullmatch(r"\d{32}", serial):
            raise bad("serial", "a GEC serial is 32 digits")
        if serial in seen:
            raise bad("serial", f"listed twice (line {seen[serial]} too): refused")
        if serial in retired:
            raise bad("serial", "already imported (and retired, or refused) earlier: refused")
        seen[serial] = i
        mwh = (row.get("mwh") or "").strip()
        if not mwh.isdigit() or int(mwh) < 1:
            raise bad("mwh", "a whole number of MWh, at least 1")
        month = (row.get("month") or "").strip()
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
            raise bad("month", "YYYY-MM")
        tradable = (row.get("tradable") or "").strip().lower()
        if tradable not in _TRUE | _FALSE:
            raise bad("tradable", "true or false")
        site = (row.get("site") or "").strip()
        if not site:
            raise bad("site", "the site the certificates are for")
        out.append(GreenCertificate(serial, (row.get("project") or "").strip(), site,
                                    int(mwh), month, tradable in _TRUE))
    return out


def certificates_of(registry: dict[str, Any] | None) -> list[GreenCertificate]:
    """The certificates a registry holds, in the order imported."""
    if registry is None:
        return []
    return [GreenCertificate(c["serial"], c["project"], c["site"], c["mwh"], c["month"],
                             c["tradable"]) for c in registry["certificates"]]


def retire(certs: Sequence[GreenCertificate],
           records: Iterable[tuple[int, LedgerRecord]]) -> dict[str, Any]:
    """The retirement of `certs` against the records (seq, record) in ledger order: per
    certificate whether it was retired and the range of its site-month's green µkWh it
    covers; per site-month the green matched."""
    green: dict[tuple[str, str], int] = {}
    for _, r in records:
        key = (r.site, r.hour[:7])
        green[key] = green.get(key, 0) + r.green_ukwh
    out: list[dict[str, Any]] = []
    used: dict[tuple[str, str], int] = {}
    for c in certs:
        key = (c.site, c.month)
        start = used.get(key, 0)
        size = c.mwh * UKWH_PER_MWH
        ok = c.tradable and start + size <= green.get(key, 0)
        entry = {**asdict(c), "retired": ok,
                 "why": None if ok else ("not tradable" if not c.tradable else
                                         "no green kWh of that site and month left to "
                                         "back")}
        if ok:
            entry["covers_ukwh"] = [start, start + size]
            used[key] = start + size
        out.append(entry)
    return {"certificates": out,
            "site_months": [{"site": s, "month": m, "green_ukwh": g,
                             "retired_ukwh": used.get((s, m), 0)}
                            for (s, m), g in sorted(green.items())]}


def backing(registry: dict[str, Any], records: Iterable[tuple[int, LedgerRecord]],
            picked: set[int]) -> list[dict[str, Any]]:
    """The retired certificates that back the green kWh of the records at `picked` seqs:
    serial, project, site, month and the kWh of them that back these records."""
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c in registry["certificates"]:
        if c["retired"]:
            by_key.setdefault((c["site"], c["month"]), []).append(c)
    run: dict[tuple[str, str], int] = {}
    share: dict[str, int] = {}
    for seq, r in records:
        key = (r.site, r.hour[:7])
        a = run.get(key, 0)
        b = a + r.green_ukwh
        run[key] = b
        if seq not in picked or r.green_ukwh == 0:
            continue
        for c in by_key.get(key, []):
            lo, hi = c["covers_ukwh"]
            overlap = min(b, hi) - max(a, lo)
            if overlap > 0:
                share[c["serial"]] = share.get(c["serial"], 0) + overlap
    info = {c["serial"]: c for cs in by_key.values() for c in cs}
    return [{"serial": s, "project": info[s]["project"], "site": info[s]["site"],
             "month": info[s]["month"], "kwh": u / 1_000_000}
            for s, u in sorted(share.items())]


def read_registry(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        obj: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError.file(path, f"not a GEC registry: {exc}") from None
    return obj
