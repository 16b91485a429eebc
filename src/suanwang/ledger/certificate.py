"""Green-power certificates (绿电溯源证书) per job, or per tenant and period, from the ledger.

A certificate is built only from a ledger that verifies. It states total, green and grid kWh,
the green share, CO2 both ways, CO2 avoided against running the same facility kWh in the origin
region's grid, and lists every record it rests on with its hash; `records_sha256` (SHA-256 of
the records' hashes, one per line, in ledger order) and the ledger's head let anyone check it
against the ledger.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from suanwang.errors import InputError
from suanwang.ledger.bundle import attach_proof
from suanwang.ledger.chain import Problem, energy_only
from suanwang.ledger.factors import RESIDUAL_MIX_G_PER_KWH, RESIDUAL_MIX_SOURCE, origin_factor
from suanwang.ledger.merkle import MerkleTree
from suanwang.ledger.note import Signer
from suanwang.ledger.period import Period, beijing_iso, hours_text
from suanwang.ledger.record import LedgerRecord
from suanwang.ledger.store import FileLedger
from suanwang.ledger.totals import Totals
from suanwang.ledger.units import MICRO, fmt_micro

METHODS = {
    "green": "green kWh: the job's share of each site-hour's green supply (metered facility "
             "energy x the hour's green share), allocated by the ledger's rule",
    "co2_location": "location-based: grid kWh x the site's provincial average grid factor",
    "co2_market": "market-based: green kWh (contracted green power, green certificates) at "
                  f"zero; grid kWh at the residual mix {RESIDUAL_MIX_G_PER_KWH} g/kWh ("
                  f"{RESIDUAL_MIX_SOURCE})",
    "avoided": "avoided = baseline - this work's CO2, each method on its own: location-based "
               "baseline = the same facility kWh at the origin region's grid factor, no green "
               "power; market-based baseline = the same facility kWh at the residual mix",
}

# why a market-based figure can exceed the location-based one, shown where it does
MARKET_ABOVE_LOCATION = {
    "en": "Market-based CO2 exceeds location-based here: the site's province has a grid factor "
          "below the residual mix because it counts all the non-fossil power generated there "
          "(hydro, wind, solar, nuclear), but the green certificates of that power are claimed "
          "by others; this work's grid power, without certificates, is charged at the residual "
          f"mix ({RESIDUAL_MIX_G_PER_KWH} g/kWh), what remains once the claimed green power is "
          "taken out.",
    "zh": "此处基于市场的碳排放高于基于位置的：站点所在省份的电网平均排放因子低于剩余电力排放因子，"
          "因为它计入了省内全部非化石能源电量（水电、风电、光伏、核电），而这些绿电的绿证已由他人"
          "认领；本作业未附绿证的电网电量按剔除已认领绿电后的剩余电力排放因子"
          f"（{RESIDUAL_MIX_G_PER_KWH}克/千瓦时）计算。",
}


class LedgerBroken(Exception):
    """The ledger did not verify; no certificate is issued from it."""

    def __init__(self, path: str, problem: Problem) -> None:
        self.problem = problem
        super().__init__(f"{path}: {problem.describe()}")


@dataclass(frozen=True, slots=True)
class Subject:
    job: str | None = None
    tenant: str | None = None
    period: Period | None = None

    def matches(self, r: LedgerRecord, hour_of: dict[str, datetime]) -> bool:
        if self.job is not None and r.job != self.job:
            return False
        if self.tenant is not None and r.tenant != self.tenant:
            return False
        if self.period is not None:
            t = hour_of.get(r.hour)
            if t is None:
                t = hour_of[r.hour] = datetime.fromisoformat(r.hour)
            return self.period.contains(t)
        return True


def _kwh(x: int) -> float:
    return x / MICRO


def build_certificate(ledger: FileLedger, subject: Subject, issued: datetime | None = None,
                      site_names: Mapping[str, tuple[str, str]] | None = None
                      ) -> dict[str, Any]:
    """Verify the ledger and certify the subject's records. Raises `LedgerBroken` if the ledger
    does not verify, `InputError` if no record matches. `site_names` gives each site id its
    (Chinese, English) names for the certificate; times are in Beijing time (+08:00)."""
    if subject.job is None and subject.tenant is None:
        raise InputError("command line", "--job/--tenant", None, "give a job or a tenant")
    hour_of: dict[str, datetime] = {}
    picked: list[tuple[int, str, LedgerRecord]] = []

    def keep(seq: int, digest: str, r: LedgerRecord) -> None:
        if subject.matches(r, hour_of):
            picked.append((seq, digest, r))

    check = ledger.verify(on_record=energy_only(keep))
    if check.problem is not None:
        raise LedgerBroken(str(ledger.path), check.problem)
    if not picked:
        what = f"job {subject.job}" if subject.job is not None else f"tenant {subject.tenant}"
        when = f" in {subject.period.label}" if subject.period is not None else ""
        field = "--job" if subject.job is not None else "--tenant"
        raise InputError(str(ledger.path), field, subject.job or subject.tenant,
                         f"no ledger records for {what}{when}")
    totals = Totals()
    by_site: dict[str, Totals] = {}
    for _, _, r in picked:
        totals.add(r)
        by_site.setdefault(r.site, Totals()).add(r)
    first = picked[0][2]
    hashes = [d for _, d, _ in picked]
    origins = sorted({r.origin for _, _, r in picked})
    head = ledger.read_head() or {}
    subject_dict: dict[str, Any] = {"job": subject.job, "tenant": subject.tenant or first.tenant,
                                    "period": subject.period.as_dict() if subject.period
                                    else None}
    if subject.job is not None:
        subject_dict.update(origin=first.origin, kind=first.kind)
    names = site_names or {}

    def site_entry(site: str) -> dict[str, str]:
        zh, en = names.get(site, (site, site))
        return {"site": site, "name_zh": zh, "name_en": en}

    first_hour, last_hour = picked[0][2].hour, picked[-1][2].hour
    totals_dict = totals.as_dict()
    return {
        "certificate": "green-power traceability certificate (绿电溯源证书)",
        "issued": beijing_iso(issued or datetime.now(UTC)),
        "subject": subject_dict,
        "hours": {"first": first_hour, "last": last_hour,
                  "covered": hours_text(first_hour, last_hour)},
        "totals": totals_dict,
        "by_site": [{**site_entry(s), **t.as_dict()} for s, t in sorted(by_site.items())],
        "notes": ([MARKET_ABOVE_LOCATION] if totals_dict["co2_market_kg"]
                  > totals_dict["co2_location_kg"] else []),
        "origin_factors": [
            {"region": o, "g_per_kwh": origin_factor(o).g_per_kwh,
             "basis": origin_factor(o).basis, "basis_zh": origin_factor(o).basis_zh}
            for o in origins],
        "methods": {**METHODS, "green_rule": head.get("green_rule")},
        "ledger": {"file": str(ledger.path), "records": check.records, "head": check.head,
                   "verified": True},
        "records_sha256": hashlib.sha256("\n".join(hashes).encode("ascii")).hexdigest(),
        "records": [
            {"seq": seq, "hash": d, "hour": r.hour, "job": r.job, "site": r.site,
             "kind": r.kind, "facility_kwh": _kwh(r.facility_ukwh),
             "green_kwh": _kwh(r.green_ukwh), "grid_kwh": _kwh(r.grid_ukwh),
             "co2_location_kg": _kwh(r.co2_location_ukg),
             "co2_market_kg": _kwh(r.co2_market_ukg)}
            for seq, d, r in picked],
    }


class ProofSource(Protocol):
    """What a bundle needs of a store beyond `build_certificate`'s (FileLedger, DbLedger)."""

    def lines_at(self, seqs: Iterable[int]) -> dict[int, str]: ...

    def tree(self) -> MerkleTree: ...

    def latest_checkpoint(self) -> str | None: ...


def build_bundle(ledger: Any, subject: Subject, signer: Signer | None,
                 issued: datetime | None = None,
                 site_names: Mapping[str, tuple[str, str]] | None = None,
                 extra: Callable[[dict[str, Any]], dict[str, Any]] | None = None
                 ) -> dict[str, Any]:
    """The certificate with its records' lines, inclusion proofs and the latest signed
    checkpoint (`bundle`), signed by `signer`. Raises `LedgerBroken`, `InputError` as
    `build_certificate` does, and `InputError` if the ledger has no checkpoint or no longer
    matches it."""
    cert = build_certificate(ledger, subject, issued, site_names)
    if extra is not None:  # members the signature covers too (e.g. the GEC serials)
        cert.update(extra(cert))
    store: ProofSource = ledger
    note = store.latest_checkpoint()
    if note is None:
        raise InputError(str(ledger.path), None, None,
                         "the ledger has no signed checkpoint to prove its records against")
    site_hours = getattr(ledger, "site_hours", None)  # a store that keeps summaries
    summary_tree = getattr(ledger, "summary_tree", None)
    seqs = [r["seq"] for r in cert["records"]]
    try:
        return attach_proof(cert, store.lines_at(seqs), store.tree(), note, signer,
                            site_hours(seqs) if site_hours is not None else None,
                            summary_tree() if summary_tree is not None else None)
    except ValueError as exc:
        raise InputError(str(ledger.path), None, None, str(exc)) from None


def fmt_kwh(x: float) -> str:
    """Six places, as in the ledger."""
    return fmt_micro(round(x * MICRO))
