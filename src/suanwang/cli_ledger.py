"""`suanwang ledger`: verify a green-power traceability ledger and issue certificates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from suanwang.cli_errors import fail
from suanwang.cli_output import Column, print_table, stdout
from suanwang.errors import InputError
from suanwang.ledger.certificate import LedgerBroken, Subject, build_certificate
from suanwang.ledger.certificate_page import render_certificate_html
from suanwang.ledger.period import parse_period
from suanwang.ledger.store import FileLedger
from suanwang.report.run_files import read_network_json

app = typer.Typer(no_args_is_help=True,
                  help="Green-power traceability ledger 绿电溯源账本: verify, certify.")

DirArg = Annotated[Path, typer.Argument(
    help="A run directory written by `simulate --out` (or its ledger.jsonl).")]


_fail = fail


def _open(path: Path) -> FileLedger:
    ledger = FileLedger.at(path)
    if not ledger.path.is_file():
        raise _fail(f"{ledger.path}: no ledger there (write one with `suanwang simulate "
                    "--out DIR`)")
    return ledger


def _site_names(ledger: FileLedger) -> dict[str, tuple[str, str]]:
    """Each site's (Chinese, English) names from the run's network.json, when it is there."""
    path = ledger.path.parent / "network.json"
    if not path.is_file():
        return {}
    return {s["id"]: (s["name_zh"], s["name_en"]) for s in read_network_json(path.parent)["sites"]}


@app.command()
def verify(path: DirArg) -> None:
    """Check the hash chain record by record; name the first bad record (exit 1) or say OK."""
    ledger = _open(path)
    try:
        head = ledger.read_head()
    except InputError as exc:
        raise _fail(str(exc), code=1) from None
    check = ledger.verify()
    console = stdout()
    if check.problem is not None:
        console.print(f"[bold red]FAILED[/] {ledger.path}: {check.problem.describe()}",
                      highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)
    console.print(f"[bold green]OK[/] {ledger.path}: {check.records:,} records, "
                  f"chain intact, head {check.head}", highlight=False, soft_wrap=True)
    if head is None:
        console.print(f"warning: no {ledger.head_path.name}: records deleted from the end "
                      "cannot be detected without it", highlight=False)


@app.command()
def certificate(
    path: DirArg,
    job: Annotated[str | None, typer.Option("--job", help="Certify one job.")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Certify a tenant's jobs.")]
    = None,
    period: Annotated[str | None, typer.Option(
        "--period", help="Beijing time: 2024, 2024-Q2, 2024-06, 2024-06-03 or "
                         "2024-06-01..2024-06-07.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write FILE.json and FILE.html (the suffix given is replaced).")] = None,
) -> None:
    """A green-power certificate (绿电溯源证书) for a job, or a tenant over a period: kWh, green
    share, CO2 both ways, CO2 avoided, and the ledger records it rests on with their hashes."""
    if (job is None) == (tenant is None):
        raise _fail("give exactly one of --job ID or --tenant T")
    ledger = _open(path)
    try:
        subject = Subject(job=job, tenant=tenant,
                          period=parse_period(period) if period is not None else None)
        cert = build_certificate(ledger, subject, site_names=_site_names(ledger))
    except LedgerBroken as exc:
        raise _fail(f"the ledger does not verify, no certificate issued: {exc}", code=1) \
            from None
    except InputError as exc:
        raise _fail(str(exc)) from None
    t = cert["totals"]
    who = f"job {job}" if job is not None else f"tenant {tenant}"
    rows = [
        ("records 记录", f"{t['records']:,} ({t['jobs']:,} jobs 作业)"),
        ("energy 用电 (facility)", f"{t['facility_kwh']:,.3f} kWh"),
        ("green 绿电", f"{t['green_kwh']:,.3f} kWh ({t['green_share']:.1%})"),
        ("CO2 location-based 基于位置", f"{t['co2_location_kg']:,.3f} kg"),
        ("CO2 market-based 基于市场", f"{t['co2_market_kg']:,.3f} kg"),
        ("avoided, location 减排（位置）", f"{t['avoided_location_kg']:,.3f} kg"),
        ("avoided, market 减排（市场）", f"{t['avoided_market_kg']:,.3f} kg"),
    ]
    console = stdout()
    print_table(f"绿电溯源证书 Green-power certificate: {who}" + (f", {period}" if period else ""),
                [Column("item 项目", "left", key=True, wrap=True), Column("value 数值")],
                [list(r) for r in rows], console=console)
    console.print(f"records_sha256 {cert['records_sha256']}; ledger head "
                  f"{cert['ledger']['head']}", highlight=False, soft_wrap=True)
    if out is not None:
        stem = out.with_suffix("") if out.suffix in (".json", ".html") else out
        stem.parent.mkdir(parents=True, exist_ok=True)
        json_path = stem.parent / f"{stem.name}.json"
        html_path = stem.parent / f"{stem.name}.html"
        json_path.write_text(json.dumps(cert, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
        html_path.write_text(render_certificate_html(cert), encoding="utf-8")
        console.print(f"wrote {json_path} and {html_path}", highlight=False, soft_wrap=True)
