"""`suanwang account ...`, `suanwang invoice` and `suanwang provider statement`: tenants'
accounts, their monthly invoices and providers' revenue statements, through a running
service (the same `--url` / `--token` lookup as `suanwang submit`).

Opening an account, topping up and setting limits need the operator's token; a tenant may show
its own account, its entries and its invoices.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from suanwang.cli_client import TokenOpt, UrlOpt, _call, _client, _fail, console

account_app = typer.Typer(help="Tenants' accounts: balance, limits and their record "
                               "(租户账户).", no_args_is_help=True)
provider_app = typer.Typer(help="Providers selling through the platform.",
                           no_args_is_help=True)

KINDS = ("general", "intelligent", "hpc")
TenantArg = Annotated[str, typer.Argument(help="The tenant's id.")]
MonthArg = Annotated[str, typer.Argument(help="A calendar month, YYYY-MM (China time).")]


class InvoiceFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    HTML = "html"


class Lang(StrEnum):
    ZH = "zh"
    EN = "en"


def _per_kind(values: list[str], option: str, integer: bool) -> dict[str, float | int]:
    """KIND=N pairs, each kind once (a clear error naming the option and the value)."""
    out: dict[str, float | int] = {}
    for v in values:
        kind, sep, num = v.partition("=")
        if not sep or kind not in KINDS:
            raise _fail(f"{option} {v!r}: give KIND=N with KIND one of {', '.join(KINDS)}")
        if kind in out:
            raise _fail(f"{option} {v!r}: {kind} given twice")
        try:
            n = int(num) if integer else float(num)
        except ValueError:
            raise _fail(f"{option} {v!r}: {num!r} is not a "
                        f"{'whole number' if integer else 'number'}") from None
        if n < 0:
            raise _fail(f"{option} {v!r}: must be >= 0")
        out[kind] = n
    return out


UnitsOpt = Annotated[list[str], typer.Option(
    "--units-at-once", metavar="KIND=N", help="Units its jobs may hold at once, per kind "
                                             "(repeat for each kind).")]
UnitHOpt = Annotated[list[str], typer.Option(
    "--unit-h-per-month", metavar="KIND=N", help="Unit-hours per calendar month, per kind.")]
CarbonOpt = Annotated[float | None, typer.Option(
    "--carbon-kg-per-month", min=0.0, help="kg CO2 per calendar month.", show_default=False)]
BasisOpt = Annotated[str, typer.Option(
    "--carbon-basis", help="What the carbon budget binds: location (the grid's factor) or "
                           "market (net of green power).")]


def _limits(units: list[str], unit_h: list[str], carbon: float | None,
            basis: str) -> dict[str, Any]:
    if basis not in ("location", "market"):
        raise _fail(f"--carbon-basis {basis!r}: choose location or market")
    return {"units_at_once": _per_kind(units, "--units-at-once", True),
            "unit_h_per_month": _per_kind(unit_h, "--unit-h-per-month", False),
            "carbon_kg_per_month": carbon, "carbon_basis": basis}


def _show_account(a: dict[str, Any]) -> None:
    t = Table(title=f"account {a['tenant']} ({a['month']})", show_header=False)
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_row("balance", f"¥{a['balance_yuan']:,.2f}")
    t.add_row("held by jobs in flight", f"¥{a['held_yuan']:,.2f} ({a['jobs_holding']} jobs)")
    t.add_row("available", f"¥{a['available_yuan']:,.2f}")
    lim, use = a["limits"], a["usage"]
    for kind, cap in lim["units_at_once"].items():
        t.add_row(f"units at once ({kind})", f"{use['units_now'].get(kind, 0):,} / {cap:,}")
    for kind, cap in lim["unit_h_per_month"].items():
        t.add_row(f"unit-hours this month ({kind})",
                  f"{use['unit_h'].get(kind, 0.0):,.1f} / {cap:,.1f}")
    for kind, n in use["unit_h"].items():
        if kind not in lim["unit_h_per_month"]:
            t.add_row(f"unit-hours this month ({kind})", f"{n:,.1f}")
    budget = lim.get("carbon_kg_per_month")
    for basis in ("location", "market"):
        kg = use["carbon_kg"].get(basis, 0.0)
        binds = budget is not None and lim["carbon_basis"] == basis
        t.add_row(f"kg CO2 this month ({basis}-based)",
                  f"{kg:,.1f}" + (f" / {budget:,.1f}" if binds else ""))
    console.print(t)
    if a.get("token"):
        console.print(f"token of the new tenant {a['tenant']} (shown once, keep it): "
                      f"{a['token']}", highlight=False)


@account_app.command("create")
def create(tenant: TenantArg,
           balance: Annotated[float, typer.Option(
               "--balance", min=0.0, help="The prepaid balance in yuan it starts with.")] = 0.0,
           units_at_once: UnitsOpt = [],  # noqa: B006 (typer reads the default)
           unit_h_per_month: UnitHOpt = [],  # noqa: B006
           carbon_kg_per_month: CarbonOpt = None, carbon_basis: BasisOpt = "location",
           url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Open a tenant's account (operator). A tenant the service does not know yet is created
    and its token printed once."""
    body = {"tenant": tenant, "balance_yuan": balance,
            "limits": _limits(units_at_once, unit_h_per_month, carbon_kg_per_month,
                              carbon_basis)}
    _show_account(_call(_client(url, token), "POST", "/v1/accounts", json=body))


@account_app.command("topup")
def topup(tenant: TenantArg,
          yuan: Annotated[float, typer.Argument(help="Yuan to add to the balance (> 0).")],
          note: Annotated[str, typer.Option("--note", help="e.g. the payment's reference.")
                          ] = "",
          url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Add to a tenant's balance (operator)."""
    if not yuan > 0:
        raise _fail(f"yuan {yuan:g}: a top-up must be > 0")
    _show_account(_call(_client(url, token), "POST", f"/v1/accounts/{tenant}/top-ups",
                        json={"yuan": yuan, "note": note}))


@account_app.command("limits")
def limits(tenant: TenantArg, units_at_once: UnitsOpt = [],  # noqa: B006
           unit_h_per_month: UnitHOpt = [],  # noqa: B006
           carbon_kg_per_month: CarbonOpt = None, carbon_basis: BasisOpt = "location",
           url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Replace a tenant's limits (operator); a limit not given is no limit."""
    _show_account(_call(_client(url, token), "PUT", f"/v1/accounts/{tenant}/limits",
                        json=_limits(units_at_once, unit_h_per_month, carbon_kg_per_month,
                                     carbon_basis)))


@account_app.command("show")
def show(tenant: TenantArg, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """A tenant's balance, holds, limits and this month's use."""
    _show_account(_call(_client(url, token), "GET", f"/v1/accounts/{tenant}"))


@account_app.command("entries")
def entries(tenant: TenantArg,
            limit: Annotated[int, typer.Option("--limit", min=1, max=100000,
                                               help="At most this many entries.")] = 50,
            url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Every change of a tenant's account, oldest first."""
    target = _client(url, token)
    rows: list[dict[str, Any]] = []
    cursor: int | None = 0
    while cursor is not None and len(rows) < limit:
        page = _call(target, "GET", f"/v1/accounts/{tenant}/entries",
                     params={"cursor": cursor, "limit": min(1000, limit - len(rows))})
        rows += page["entries"]
        cursor = page["next_cursor"]
    t = Table(title=f"account {tenant}: {len(rows)} entries")
    for col in ("#", "run s", "what", "yuan", "balance", "job", "by", "note"):
        t.add_column(col, justify="right" if col in ("#", "run s", "yuan", "balance")
                     else "left")
    for e in rows:
        t.add_row(str(e["id"]), f"{e['at_s']:,.0f}", e["what"],
                  f"{e['yuan']:+,.2f}" if e["yuan"] else "", f"{e['balance_yuan']:,.2f}",
                  e["job_id"], e["by"], e["note"])
    console.print(t)


def invoice(tenant: TenantArg, month: MonthArg,
            format: Annotated[InvoiceFormat, typer.Option(
                "--format", help="table (a summary and its lines), json, csv (FinOps FOCUS "
                                 "columns) or html.")] = InvoiceFormat.TABLE,
            lang: Annotated[Lang, typer.Option("--lang", help="Language of the html page.")
                            ] = Lang.ZH,
            out: Annotated[Path | None, typer.Option(
                "--out", help="Write the csv, html or json to this file.",
                show_default=False)] = None,
            url: UrlOpt = None, token: TokenOpt = None) -> None:
    """A tenant's invoice of one month (the month still running is a draft)."""
    target = _client(url, token)
    path = f"/v1/invoices/{tenant}/{month}"
    if format in (InvoiceFormat.CSV, InvoiceFormat.HTML):
        text = _call(target, "GET", path, params={"format": format.value,
                                                  "lang": lang.value}, raw=True)
        _emit(text, out)
        return
    inv = _call(target, "GET", path)
    if format == InvoiceFormat.JSON:
        import json

        _emit(json.dumps(inv, ensure_ascii=False, indent=2) + "\n", out)
        return
    status = "DRAFT (the month is not over)" if inv["status"] == "draft" else "final"
    console.print(f"invoice {tenant} {month}: {status}; {inv['jobs']} jobs; compute "
                  f"¥{inv['compute_yuan']:,.2f} + data transfer ¥{inv['egress_yuan']:,.2f} "
                  f"= [bold]¥{inv['total_yuan']:,.2f}[/]", highlight=False)
    t = Table()
    for col in ("job", "provider", "site", "item", "from", "quantity", "unit price", "cost"):
        t.add_column(col, justify="right" if col in ("quantity", "unit price", "cost")
                     else "left")
    for x in inv["lines"]:
        t.add_row(x["ResourceId"], x["ProviderName"], x["RegionId"], str(x["SkuPriceId"]),
                  x["ChargePeriodStart"][5:16].replace("T", " "),
                  f"{x['ConsumedQuantity']:,.3f} {x['ConsumedUnit']}",
                  f"{x['ListUnitPrice']:,.4g}", f"¥{x['BilledCost']:,.4f}")
    console.print(t)
    for n in inv.get("notes", ()):
        console.print(f"note: {n}", highlight=False)


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        console.file.write(text)
        console.file.flush()
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"--out {out}: {exc}") from None
    console.print(f"wrote {out}", highlight=False)


@provider_app.command("statement")
def statement(provider: Annotated[str, typer.Argument(help="The provider's id (ctyun, "
                                                           "huawei, scnet ...).")],
              month: MonthArg, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """A provider's revenue through the platform in one month, by site and kind (operator)."""
    st = _call(_client(url, token), "GET", f"/v1/providers/{provider}/statements/{month}")
    status = "DRAFT (the month is not over)" if st["status"] == "draft" else "final"
    console.print(f"statement {provider} {month}: {status}; {st['jobs']} jobs; revenue "
                  f"[bold]¥{st['total_yuan']:,.2f}[/] (compute ¥{st['compute_yuan']:,.2f}, "
                  f"data transfer ¥{st['egress_yuan']:,.2f})", highlight=False)
    t = Table()
    for col in ("site", "kind", "jobs", "unit-hours", "compute", "egress GB", "revenue"):
        t.add_column(col, justify="left" if col in ("site", "kind") else "right")
    for s in st["sites"]:
        t.add_row(s["site"], s["kind"], str(s["jobs"]), f"{s['unit_h']:,.1f}",
                  f"¥{s['compute_yuan']:,.2f}", f"{s['egress_gb']:,.1f}",
                  f"¥{s['revenue_yuan']:,.2f}")
    console.print(t)
    if st["tenants"]:
        console.print("by tenant: " + ", ".join(f"{x['tenant']} ¥{x['revenue_yuan']:,.2f}"
                                                for x in st["tenants"]), highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(account_app, name="account")
    app.add_typer(provider_app, name="provider")
    app.command()(invoice)
