"""Invoices of a simulated run: one CSV per tenant and month, in FinOps FOCUS columns.

Each finished job is billed by `suanwang.pricing.job_bill`: hour by hour at the price item in
force (time-of-use applied), plus the egress of its input data. An invoice line is one job's
use of one price item at one unit price within one billing month (its ChargePeriodStart/End
span the hours it covers), and one line per job for egress. BilledCost = EffectiveCost =
ListCost (no discounts or commitments yet); the lines of a job add up to its `bill_yuan` in
jobs.csv, and the invoices of a run to the summary's `bill_yuan`.

Billing months are calendar months in China time (UTC+8).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from suanwang.core.accounting import slice_bill
from suanwang.model import Kind
from suanwang.pricing.bill import ENERGY_ITEM
from suanwang.pricing.tariff import CHINA_TZ
from suanwang.sim.result import SimResult

FOCUS_COLUMNS = (
    "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodStart",
    "BillingPeriodEnd", "ChargeCategory", "ChargeDescription", "ChargePeriodStart",
    "ChargePeriodEnd", "BilledCost", "EffectiveCost", "ListCost", "ListUnitPrice",
    "ConsumedQuantity", "ConsumedUnit", "PricingQuantity", "PricingUnit", "ProviderName",
    "PublisherName", "InvoiceIssuerName", "RegionId", "RegionName", "ResourceId",
    "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId",
)
UNIT_NAMES = {Kind.GENERAL: "core-hour", Kind.INTELLIGENT: "card-hour", Kind.HPC: "node-hour"}
ISSUER = "suanwang platform"


def _month(t: datetime) -> tuple[datetime, datetime]:
    local = t.astimezone(CHINA_TZ)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def _iso(t: datetime) -> str:
    return t.astimezone(CHINA_TZ).isoformat()


def _money(x: float) -> str:
    return f"{x:.6f}".rstrip("0").rstrip(".") or "0"


def invoice_lines(result: SimResult) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """FOCUS lines by (tenant, billing month "YYYY-MM")."""
    topo = result.topology
    series = result.series
    clock = series.start_utc
    out: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    if result.slice is None:
        return out
    for i, job in enumerate(result.jobs):
        sl = int(result.slice[i])
        if sl < 0:
            continue
        prov, kind = topo.slices[sl]
        site = result.network.sites[topo.slice_site[sl]]
        start = clock + timedelta(seconds=float(result.start_s[i]))
        bill = slice_bill(topo, series, sl, job, float(result.start_s[i]),
                          float(result.end_s[i]))
        groups: dict[tuple[str, float, datetime], list[Any]] = {}
        for line in bill.lines:
            key = (line.item_id, line.unit_price_yuan, _month(line.start)[0])
            groups.setdefault(key, []).append(line)
        common = {
            "BillingAccountId": job.tenant, "BillingAccountName": job.tenant,
            "BillingCurrency": "CNY", "ProviderName": prov.name_en,
            "PublisherName": prov.name_en, "InvoiceIssuerName": ISSUER, "RegionId": site.id,
            "RegionName": site.name_en, "ResourceId": job.job_id,
            "ResourceName": job.workload or job.job_id, "ResourceType": kind.value,
        }
        for (item_id, price, month_start), lines in groups.items():
            unit_h = sum(x.unit_h for x in lines)
            cost = sum(x.cost_yuan for x in lines)
            m0, m1 = _month(month_start)
            desc = ("electricity cost of the units (energy-priced provider)"
                    if item_id == ENERGY_ITEM else f"{kind.value} compute at {price:g} "
                    f"yuan per {UNIT_NAMES[kind]}")
            out[(job.tenant, f"{m0:%Y-%m}")].append({
                **common, "BillingPeriodStart": _iso(m0), "BillingPeriodEnd": _iso(m1),
                "ChargeCategory": "Usage", "ChargeDescription": desc,
                "ChargePeriodStart": _iso(lines[0].start), "ChargePeriodEnd": _iso(lines[-1].end),
                "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost,
                "ListUnitPrice": price, "ConsumedQuantity": unit_h,
                "ConsumedUnit": UNIT_NAMES[kind], "PricingQuantity": unit_h,
                "PricingUnit": UNIT_NAMES[kind], "ServiceCategory": "Compute",
                "ServiceName": f"{prov.id} {kind.value} compute",
                "SkuId": f"{prov.id}/{kind.value}", "SkuPriceId": item_id})
        if bill.egress_yuan > 0 or job.data_gb > 0:
            m0, m1 = _month(start)
            out[(job.tenant, f"{m0:%Y-%m}")].append({
                **common, "BillingPeriodStart": _iso(m0), "BillingPeriodEnd": _iso(m1),
                "ChargeCategory": "Usage",
                "ChargeDescription": f"input data moved in at {bill.egress_yuan_per_gb:g} "
                                     "yuan/GB",
                "ChargePeriodStart": _iso(start), "ChargePeriodEnd": _iso(start),
                "BilledCost": bill.egress_yuan, "EffectiveCost": bill.egress_yuan,
                "ListCost": bill.egress_yuan, "ListUnitPrice": bill.egress_yuan_per_gb,
                "ConsumedQuantity": job.data_gb, "ConsumedUnit": "GB",
                "PricingQuantity": job.data_gb, "PricingUnit": "GB",
                "ServiceCategory": "Networking", "ServiceName": f"{prov.id} data transfer",
                "SkuId": f"{prov.id}/egress", "SkuPriceId": f"{prov.id}/{site.id}/egress"})
    return out


def write_invoices(result: SimResult, out_dir: Path) -> list[Path]:
    """Write invoices/<tenant>_<YYYY-MM>.csv; return the files written."""
    folder = out_dir / "invoices"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for (tenant, month), lines in sorted(invoice_lines(result).items()):
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in tenant)
        path = folder / f"{safe}_{month}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(FOCUS_COLUMNS)
            for line in lines:
                w.writerow([_money(line[c]) if isinstance(line[c], float) else line[c]
                            for c in FOCUS_COLUMNS])
        written.append(path)
    return written
