"""Invoice lines in the FinOps FOCUS columns, from one job's `Bill` (`pricing.bill.job_bill`).

Shared by the simulator's invoices (`sim.invoices`) and the live service's
(`service.invoice_views`). A usage line is one job's use of one price item at one unit price
within one billing month; `per_hour` cuts it further at the boundaries of a clock's hours (the
live service's ledger hours), so that each line is one job in one ledger hour, and names that
hour in the custom column `x_LedgerHourStart` (Unix seconds, as the ledger's `hour_start_s`).
One more line per job carries the egress of its input data, in the month the job started.
BilledCost = EffectiveCost = ListCost (no discounts or commitments); a job's lines add up to its
bill.

Billing months are calendar months in China time (UTC+8).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from suanwang.model import Kind
from suanwang.pricing.bill import ENERGY_ITEM, POSTED_ITEM, Bill, BillLine
from suanwang.pricing.tariff import CHINA_TZ

FOCUS_COLUMNS = (
    "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodStart",
    "BillingPeriodEnd", "ChargeCategory", "ChargeDescription", "ChargePeriodStart",
    "ChargePeriodEnd", "BilledCost", "EffectiveCost", "ListCost", "ListUnitPrice",
    "ConsumedQuantity", "ConsumedUnit", "PricingQuantity", "PricingUnit", "ProviderName",
    "PublisherName", "InvoiceIssuerName", "RegionId", "RegionName", "ResourceId",
    "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId",
)
LEDGER_HOUR_COLUMN = "x_LedgerHourStart"  # custom column (FOCUS: custom names start "x_")
UNIT_NAMES = {Kind.GENERAL: "core-hour", Kind.INTELLIGENT: "card-hour", Kind.HPC: "node-hour"}
ISSUER = "suanwang platform"
HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class BilledJob:
    """Who and what one bill is for."""

    tenant: str
    job_id: str
    resource_name: str  # the job's workload, else its id
    provider_id: str
    provider_name: str
    site_id: str
    site_name: str
    kind: Kind
    data_gb: float
    start: datetime  # when it started computing (the egress line's period)


def month_bounds(t: datetime) -> tuple[datetime, datetime]:
    """The billing month holding `t`: [first day 00:00, next first day) in China time."""
    local = t.astimezone(CHINA_TZ)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, (start + timedelta(days=32)).replace(day=1)


def month_of(t: datetime) -> str:
    return f"{t.astimezone(CHINA_TZ):%Y-%m}"


def parse_month(month: str) -> tuple[datetime, datetime]:
    """Bounds of a billing month written "YYYY-MM"; ValueError naming the value otherwise."""
    try:
        first = datetime.strptime(month, "%Y-%m").replace(tzinfo=CHINA_TZ)
    except ValueError:
        raise ValueError(f"month {month!r}: give a calendar month as YYYY-MM") from None
    return month_bounds(first)


def iso(t: datetime) -> str:
    return t.astimezone(CHINA_TZ).isoformat()


def money(x: float) -> str:
    return f"{x:.6f}".rstrip("0").rstrip(".") or "0"


def cut_at_hours(lines: Sequence[BillLine], clock_start: datetime) -> list[tuple[int, BillLine]]:
    """Each bill line cut at the boundaries of the hours of the clock starting at
    `clock_start`, with the clock hour each piece falls in."""
    out: list[tuple[int, BillLine]] = []
    for line in lines:
        t = line.start
        rate = line.unit_h / max((line.end - line.start).total_seconds(), 1e-12)
        while True:
            h = math.floor((t - clock_start).total_seconds() / HOUR_S + 1e-9)
            nxt = min(clock_start + timedelta(hours=h + 1), line.end)
            if t == line.start and nxt == line.end:  # the line lies within one clock hour
                out.append((h, line))
                break
            unit_h = rate * (nxt - t).total_seconds()
            out.append((h, BillLine(t, nxt, line.item_id, line.unit_price_yuan, unit_h,
                                    line.unit_price_yuan * unit_h)))
            if nxt >= line.end:
                break
            t = nxt
    return out


def _usage_line(job: BilledJob, common: dict[str, Any], item_id: str, price: float,
                pieces: list[BillLine]) -> dict[str, Any]:
    m0, m1 = month_bounds(pieces[0].start)
    unit_h = sum(x.unit_h for x in pieces)
    cost = sum(x.cost_yuan for x in pieces)
    unit = UNIT_NAMES[job.kind]
    desc = ("electricity cost of the units (energy-priced provider)" if item_id == ENERGY_ITEM
            else f"{job.kind.value} compute at the posted price, {price:g} yuan per {unit}"
            if item_id == POSTED_ITEM
            else f"{job.kind.value} compute at {price:g} yuan per {unit}")
    return {
        **common, "BillingPeriodStart": iso(m0), "BillingPeriodEnd": iso(m1),
        "ChargeCategory": "Usage", "ChargeDescription": desc,
        "ChargePeriodStart": iso(pieces[0].start), "ChargePeriodEnd": iso(pieces[-1].end),
        "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost, "ListUnitPrice": price,
        "ConsumedQuantity": unit_h, "ConsumedUnit": unit, "PricingQuantity": unit_h,
        "PricingUnit": unit, "ServiceCategory": "Compute",
        "ServiceName": f"{job.provider_id} {job.kind.value} compute",
        "SkuId": f"{job.provider_id}/{job.kind.value}", "SkuPriceId": item_id}


def focus_lines(job: BilledJob, bill: Bill,
                hours_of: datetime | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(billing month "YYYY-MM", FOCUS line) of one job's bill. With `hours_of` (a clock's
    start) each usage line is one hour of that clock and carries `x_LedgerHourStart`."""
    common = {
        "BillingAccountId": job.tenant, "BillingAccountName": job.tenant,
        "BillingCurrency": "CNY", "ProviderName": job.provider_name,
        "PublisherName": job.provider_name, "InvoiceIssuerName": ISSUER,
        "RegionId": job.site_id, "RegionName": job.site_name, "ResourceId": job.job_id,
        "ResourceName": job.resource_name or job.job_id, "ResourceType": job.kind.value,
    }
    out: list[tuple[str, dict[str, Any]]] = []
    if hours_of is None:
        groups: dict[tuple[str, float, datetime], list[BillLine]] = {}
        for line in bill.lines:
            groups.setdefault((line.item_id, line.unit_price_yuan,
                               month_bounds(line.start)[0]), []).append(line)
        for (item_id, price, m0), pieces in groups.items():
            out.append((f"{m0:%Y-%m}", _usage_line(job, common, item_id, price, pieces)))
    else:
        hourly: dict[tuple[int, str, float], list[BillLine]] = {}
        for h, piece in cut_at_hours(bill.lines, hours_of):
            hourly.setdefault((h, piece.item_id, piece.unit_price_yuan), []).append(piece)
        origin_s = int(hours_of.timestamp())
        for (h, item_id, price), pieces in hourly.items():
            line = _usage_line(job, common, item_id, price, pieces)
            line[LEDGER_HOUR_COLUMN] = origin_s + h * int(HOUR_S)
            out.append((month_of(pieces[0].start), line))
    if bill.egress_yuan > 0 or job.data_gb > 0:
        m0, m1 = month_bounds(job.start)
        line = {
            **common, "BillingPeriodStart": iso(m0), "BillingPeriodEnd": iso(m1),
            "ChargeCategory": "Usage",
            "ChargeDescription": f"input data moved in at {bill.egress_yuan_per_gb:g} yuan/GB",
            "ChargePeriodStart": iso(job.start), "ChargePeriodEnd": iso(job.start),
            "BilledCost": bill.egress_yuan, "EffectiveCost": bill.egress_yuan,
            "ListCost": bill.egress_yuan, "ListUnitPrice": bill.egress_yuan_per_gb,
            "ConsumedQuantity": job.data_gb, "ConsumedUnit": "GB",
            "PricingQuantity": job.data_gb, "PricingUnit": "GB",
            "ServiceCategory": "Networking", "ServiceName": f"{job.provider_id} data transfer",
            "SkuId": f"{job.provider_id}/egress",
            "SkuPriceId": f"{job.provider_id}/{job.site_id}/egress"}
        if hours_of is not None:
            line[LEDGER_HOUR_COLUMN] = ""
        out.append((f"{m0:%Y-%m}", line))
    return out


def csv_text(lines: Iterable[dict[str, Any]], columns: Sequence[str] = FOCUS_COLUMNS) -> str:
    """The lines as CSV with a header row; amounts as decimals with up to six places."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    for line in lines:
        w.writerow([money(line[c]) if isinstance(line.get(c), float) else line.get(c, "")
                    for c in columns])
    return buf.getvalue()
