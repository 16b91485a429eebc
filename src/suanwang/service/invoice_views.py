"""Monthly invoices of the live service's tenants and revenue statements of its providers
(issue 12 item 4), from the jobs table.

Each charged job (finished, or failed after running) is billed again by the rule that billed
it at its end (`core.accounting.slice_bill`: the price items in force hour by hour, plus
egress) and cut into FOCUS lines by `pricing.focus.focus_lines` with the service's clock: one
usage line per job, ledger hour and unit price (`x_LedgerHourStart` names the ledger hour, so
a line reconciles to the ledger's records of that job and hour), and one egress line in the
month the job started. A month's invoice holds the lines that fall in it (China time); the
month still running is a draft. A job's lines over all months add up to its `bill_yuan`, which
is what its tenant's account was debited.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from suanwang.core.accounting import slice_bill
from suanwang.market.billing import at_clearing_price
from suanwang.model import Job, Kind
from suanwang.pricing.focus import (
    FOCUS_COLUMNS,
    LEDGER_HOUR_COLUMN,
    BilledJob,
    csv_text,
    focus_lines,
    parse_month,
)
from suanwang.report.font import PAGE_FAMILY
from suanwang.service.db import JobRow
from suanwang.service.store import FAILED, FINISHED

if TYPE_CHECKING:
    from suanwang.service.live import LiveScheduler

INVOICE_COLUMNS = (*FOCUS_COLUMNS, LEDGER_HOUR_COLUMN)


def _billed_rows(live: LiveScheduler, m0: datetime, m1: datetime, *, tenant: str | None = None,
                 provider: str | None = None) -> list[Any]:
    """Charged jobs with a provider whose run (or egress, at its start) touches [m0, m1)."""
    clock = live.clock
    t0 = (m0 - clock.start_utc).total_seconds()
    t1 = (m1 - clock.start_utc).total_seconds()
    q = (select(JobRow).where(JobRow.state.in_((FINISHED, FAILED)),
                              JobRow.energy_kwh.is_not(None), JobRow.provider.is_not(None),
                              JobRow.start_s.is_not(None), JobRow.start_s < t1,
                              JobRow.end_s >= t0)
         .order_by(JobRow.seq))
    if tenant is not None:
        q = q.where(JobRow.tenant == tenant)
    if provider is not None:
        q = q.where(JobRow.provider == provider)
    with live.store.session() as s:
        return list(s.scalars(q))


def month_lines(live: LiveScheduler, month: str, *, tenant: str | None = None,
                provider: str | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The FOCUS lines of `month` (of one tenant, or one provider's sales), and notes on jobs
    that could not be billed again (a site or provider the network no longer has)."""
    m0, m1 = parse_month(month)
    topo = live.topology
    clock0 = live.clock.start_utc
    lines: list[dict[str, Any]] = []
    notes: list[str] = []
    for row in _billed_rows(live, m0, m1, tenant=tenant, provider=provider):
        sl = topo.slice_of.get((row.site, row.provider, Kind(row.kind)))
        if sl is None:
            notes.append(f"{row.id}: {row.site}/{row.provider} ({row.kind}) is not in the "
                         f"network now; billed {row.bill_yuan} yuan at its end")
            continue
        prov, kind = topo.slices[sl]
        site = live.network.sites[topo.slice_site[sl]]
        job = Job(job_id=row.id, tenant=row.tenant, origin=row.origin, kind=kind,
                  units=row.units, duration_s=row.duration_s, submit_s=row.submit_s,
                  data_gb=row.data_gb or 0.0, workload=row.workload or "")
        bill = slice_bill(topo, live.series, sl, job, row.start_s, row.end_s)
        if row.market_price_yuan_per_unit_h is not None:  # placed by the call auction
            bill = at_clearing_price(bill, row.market_price_yuan_per_unit_h,
                                     row.market_round or "")
        who = BilledJob(tenant=row.tenant, job_id=row.id, resource_name=row.workload or "",
                        provider_id=prov.id, provider_name=prov.name_en, site_id=site.id,
                        site_name=site.name_en, kind=kind, data_gb=row.data_gb or 0.0,
                        start=live.clock.at(row.start_s))
        lines.extend(line for m, line in focus_lines(who, bill, hours_of=clock0) if m == month)
    return lines, notes


def _totals(lines: list[dict[str, Any]]) -> dict[str, float]:
    compute = sum(x["BilledCost"] for x in lines if x["ServiceCategory"] == "Compute")
    egress = sum(x["BilledCost"] for x in lines if x["ServiceCategory"] == "Networking")
    return {"compute_yuan": compute, "egress_yuan": egress, "total_yuan": compute + egress}


def invoice(live: LiveScheduler, tenant: str, month: str) -> dict[str, Any]:
    """A tenant's invoice of `month` (ValueError naming a malformed month)."""
    m0, m1 = parse_month(month)
    lines, notes = month_lines(live, month, tenant=tenant)
    now = live.clock.now_utc()
    return {"tenant": tenant, "month": month, "currency": "CNY",
            "period": {"start": m0.isoformat(), "end": m1.isoformat()},
            "status": "final" if now >= m1 else "draft", "as_of": now.isoformat(),
            "jobs": len({x["ResourceId"] for x in lines}), **_totals(lines),
            "lines": lines, "notes": notes}


def provider_statement(live: LiveScheduler, provider: str, month: str) -> dict[str, Any]:
    """A provider's revenue of `month` through the platform, by site and kind, and by
    tenant."""
    m0, m1 = parse_month(month)
    lines, notes = month_lines(live, month, provider=provider)
    by_site: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"jobs": set(), "unit_h": 0.0, "compute_yuan": 0.0, "egress_gb": 0.0,
                 "egress_yuan": 0.0})
    by_tenant: dict[str, float] = defaultdict(float)
    for x in lines:
        row = by_site[(x["RegionId"], x["ResourceType"])]
        row["jobs"].add(x["ResourceId"])
        if x["ServiceCategory"] == "Compute":
            row["unit_h"] += x["ConsumedQuantity"]
            row["compute_yuan"] += x["BilledCost"]
        else:
            row["egress_gb"] += x["ConsumedQuantity"]
            row["egress_yuan"] += x["BilledCost"]
        by_tenant[x["BillingAccountId"]] += x["BilledCost"]
    now = live.clock.now_utc()
    return {"provider": provider, "month": month, "currency": "CNY",
            "period": {"start": m0.isoformat(), "end": m1.isoformat()},
            "status": "final" if now >= m1 else "draft", "as_of": now.isoformat(),
            "jobs": len({x["ResourceId"] for x in lines}), **_totals(lines),
            "sites": [{"site": site, "kind": kind, "jobs": len(v["jobs"]),
                       "unit_h": v["unit_h"], "compute_yuan": v["compute_yuan"],
                       "egress_gb": v["egress_gb"], "egress_yuan": v["egress_yuan"],
                       "revenue_yuan": v["compute_yuan"] + v["egress_yuan"]}
                      for (site, kind), v in sorted(by_site.items())],
            "tenants": [{"tenant": t, "revenue_yuan": y} for t, y in sorted(by_tenant.items())],
            "notes": notes}


def invoice_csv(inv: dict[str, Any]) -> str:
    return csv_text(inv["lines"], INVOICE_COLUMNS)


_STYLE = """
body{font-family:"PAGE_FAMILY","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;
max-width:1100px;margin:2em auto;color:#1b2a1b;line-height:1.5}
h1{border-bottom:3px solid #2e7d32;padding-bottom:.3em}table{border-collapse:collapse;
margin:1em 0;width:100%}th,td{border:1px solid #c8d6c8;padding:.25em .5em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#e8f5e9}
.draft{color:#b71c1c;font-weight:bold}.note{font-size:85%;color:#444}
""".replace("PAGE_FAMILY", PAGE_FAMILY)

_WORDS = {
    "zh": {"title": "算力账单", "tenant": "租户", "month": "账期", "status": "状态",
           "draft": "草稿（本月未结束）", "final": "正式", "compute": "算力费用",
           "egress": "数据传输费用", "total": "合计", "jobs": "作业数", "job": "作业",
           "provider": "服务商", "site": "站点", "item": "计费项", "period": "计费时段",
           "qty": "用量", "unit": "单位", "price": "单价（元）", "cost": "金额（元）",
           "as_of": "截至", "foot": "每行为一个作业在一个账本小时内的用量（FOCUS 列见 CSV）；"
                                   "各行合计即账户扣款。"},
    "en": {"title": "Compute invoice", "tenant": "Tenant", "month": "Billing month",
           "status": "Status", "draft": "DRAFT (the month is not over)", "final": "final",
           "compute": "Compute", "egress": "Data transfer", "total": "Total", "jobs": "Jobs",
           "job": "Job", "provider": "Provider", "site": "Site", "item": "Price item",
           "period": "Charge period", "qty": "Quantity", "unit": "Unit",
           "price": "Unit price (yuan)", "cost": "Cost (yuan)", "as_of": "As of",
           "foot": "Each line is one job's use in one ledger hour (the CSV has the FOCUS "
                   "columns); the lines add up to what the account was debited."},
}


def invoice_html(inv: dict[str, Any], lang: str = "zh") -> str:
    w = _WORDS[lang]
    status = (f"<span class=draft>{escape(w['draft'])}</span>" if inv["status"] == "draft"
              else escape(w["final"]))
    head = "".join(f"<tr><th>{escape(k)}</th><td class=n>{v}</td></tr>" for k, v in (
        (w["tenant"], escape(inv["tenant"])), (w["month"], escape(inv["month"])),
        (w["status"], status), (w["as_of"], escape(inv["as_of"][:19])),
        (w["jobs"], inv["jobs"]), (w["compute"], f"{inv['compute_yuan']:,.2f}"),
        (w["egress"], f"{inv['egress_yuan']:,.2f}"),
        (w["total"], f"<b>{inv['total_yuan']:,.2f} CNY</b>")))
    cols = ("job", "provider", "site", "item", "period", "qty", "unit", "price", "cost")
    rows = "".join(
        "<tr>" + "".join((
            f"<td>{escape(x['ResourceId'])}</td>", f"<td>{escape(x['ProviderName'])}</td>",
            f"<td>{escape(x['RegionName'])}</td>", f"<td>{escape(str(x['SkuPriceId']))}</td>",
            f"<td>{escape(x['ChargePeriodStart'][5:16])} – "
            f"{escape(x['ChargePeriodEnd'][11:16])}</td>",
            f"<td class=n>{x['ConsumedQuantity']:,.4f}</td>",
            f"<td>{escape(x['ConsumedUnit'])}</td>",
            f"<td class=n>{x['ListUnitPrice']:,.4f}</td>",
            f"<td class=n>{x['BilledCost']:,.4f}</td>")) + "</tr>"
        for x in inv["lines"])
    notes = "".join(f"<p class=note>{escape(n)}</p>" for n in inv.get("notes", ()))
    return (f"<!doctype html><html lang={lang}><head><meta charset=utf-8>"
            f"<title>{escape(w['title'])} {escape(inv['tenant'])} {escape(inv['month'])}"
            f"</title><style>{_STYLE}</style></head><body><h1>{escape(w['title'])}</h1>"
            f"<table>{head}</table><table><tr>"
            + "".join(f"<th>{escape(w[c])}</th>" for c in cols)
            + f"</tr>{rows}</table><p class=note>{escape(w['foot'])}</p>{notes}</body></html>")
