"""`suanwang grid post | list | show | cancel | report | flex`: grid events (电网事件) through a
running service (the same `--url` / `--token` lookup as `suanwang submit`; the operator's token
or a token of the `grid` role)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from suanwang.cli_client import TokenOpt, UrlOpt, _call, _client, _fail, console

grid_app = typer.Typer(help="Grid events 电网事件 of a running service: post, list, show, "
                            "cancel, settlement reports, the flexibility curve.",
                       no_args_is_help=True)
EventArg = Annotated[str, typer.Argument(help="The event's id.")]


class Kind(StrEnum):
    SHED = "shed"
    CAP = "cap"
    FILL = "fill"


class Lang(StrEnum):
    ZH = "zh"
    EN = "en"


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    HTML = "html"


@grid_app.command("post")
def post(kind: Annotated[Kind, typer.Option("--kind", help="shed 削峰 | cap 有序用电 | fill 消纳")],
         start: Annotated[str, typer.Option("--start", help="With its UTC offset, e.g. "
                                                            "2024-06-03T13:00:00+08:00.")],
         end: Annotated[str, typer.Option("--end", help="With its UTC offset.")],
         source: Annotated[str, typer.Option("--source", help="Who asks, or the document.")],
         site: Annotated[list[str], typer.Option(
             "--site", help="A site (repeat for several).")] = [],  # noqa: B006
         province: Annotated[str | None, typer.Option("--province")] = None,
         hub: Annotated[str | None, typer.Option("--hub")] = None,
         target_kw: Annotated[float | None, typer.Option("--target-kw")] = None,
         target_share: Annotated[float | None, typer.Option("--target-share")] = None,
         price: Annotated[float, typer.Option("--price-yuan-per-kwh")] = 0.0,
         penalty: Annotated[float, typer.Option("--penalty-yuan-per-kwh")] = 0.0,
         event_id: Annotated[str | None, typer.Option("--id")] = None,
         assumption: Annotated[str, typer.Option("--assumption")] = "",
         url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Post a grid event; the service freezes its baseline and applies it."""
    body: dict[str, Any] = {"kind": kind.value, "start": start, "end": end, "source": source,
                            "price_yuan_per_kwh": price, "penalty_yuan_per_kwh": penalty,
                            "assumption": assumption}
    if len(site) == 1:
        body["site"] = site[0]
    elif site:
        body["sites"] = site
    for key, value in (("province", province), ("hub", hub), ("target_kw", target_kw),
                       ("target_share", target_share), ("id", event_id)):
        if value is not None:
            body[key] = value
    ev = _call(_client(url, token), "POST", "/v1/grid/events", json=body)
    _show(ev)


@grid_app.command("list")
def list_events(state: Annotated[str | None, typer.Option("--state")] = None,
                month: Annotated[str | None, typer.Option("--month", help="YYYY-MM")] = None,
                url: UrlOpt = None, token: TokenOpt = None) -> None:
    params = {k: v for k, v in (("state", state), ("month", month)) if v is not None}
    rows = _call(_client(url, token), "GET", "/v1/grid/events", params=params)
    t = Table(title="grid events 电网事件")
    for col in ("id", "kind", "sites", "start", "end", "state", "delivered kWh", "credit ¥"):
        t.add_column(col, justify="left" if col in ("id", "kind", "sites", "state") else
                     "right")
    for e in rows:
        s = e["settlement"] or {}
        t.add_row(e["id"], e["kind"], ",".join(e["sites"]), e["start"], e["end"], e["state"],
                  f"{s['delivered_kwh']:,.1f}" if s else "",
                  f"{s['credit_yuan']:,.2f}" if s else "")
    console.print(t)


def _show(e: dict[str, Any]) -> None:
    t = Table(title=f"grid event {e['id']}", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    for key in ("kind", "state", "area", "start", "end", "target_kw", "target_share",
                "price_yuan_per_kwh", "penalty_yuan_per_kwh", "source", "posted_by",
                "notice_s", "ledger_seq"):
        t.add_row(key, "" if e.get(key) is None else str(e[key]))
    for sp in (e.get("plan") or {}).get("sites", []):
        base = sp["baseline_kw"]
        t.add_row(f"baseline {sp['site_id']}",
                  f"{min(base):,.1f}–{max(base):,.1f} kW over {len(base)} intervals; limit "
                  f"{min(sp['limit_kw']):,.1f}–{max(sp['limit_kw']):,.1f} kW")
    s = e.get("settlement")
    if s:
        share = s["delivered_share"]
        t.add_row("delivered", f"{s['delivered_kwh']:,.1f} of {s['requested_kwh']:,.1f} kWh"
                  + ("" if share is None else f" ({share:.1%})"))
        t.add_row("credit / penalty", f"¥{s['credit_yuan']:,.2f} / ¥{s['penalty_yuan']:,.2f}")
        t.add_row("jobs moved / waited", f"{s['jobs_moved']} / {s['jobs_waited']} "
                                         f"({s['wait_h']:,.2f} h)")
    console.print(t)


@grid_app.command("show")
def show(event_id: EventArg, url: UrlOpt = None, token: TokenOpt = None) -> None:
    _show(_call(_client(url, token), "GET", f"/v1/grid/events/{event_id}"))


@grid_app.command("cancel")
def cancel(event_id: EventArg, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Cancel an event before its start."""
    e = _call(_client(url, token), "DELETE", f"/v1/grid/events/{event_id}")
    console.print(f"grid event {e['id']}: {e['state']}", highlight=False)


@grid_app.command("report")
def report(which: Annotated[str, typer.Argument(help="An event's id, or a month YYYY-MM.")],
           lang: Annotated[Lang, typer.Option("--lang")] = Lang.ZH,
           fmt: Annotated[Format, typer.Option("--format")] = Format.JSON,
           out: Annotated[Path | None, typer.Option("--out", help="Write it here.")] = None,
           url: UrlOpt = None, token: TokenOpt = None) -> None:
    """The settlement report of an event, or the month's report (json or html)."""
    import re

    if fmt == Format.TABLE:
        raise _fail("--format table: the report is json or html")
    path = (f"/v1/grid/reports/{which}" if re.fullmatch(r"\d{4}-\d{2}", which)
            else f"/v1/grid/events/{which}/report")
    text = _call(_client(url, token), "GET", path, raw=True,
                 params={"lang": lang.value, "format": fmt.value})
    if out is None:
        console.print(text, highlight=False, markup=False, soft_wrap=True)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")


@grid_app.command("flex")
def flex(site: Annotated[str | None, typer.Option("--site")] = None,
         hours: Annotated[int, typer.Option("--hours", min=1, max=48)] = 24,
         url: UrlOpt = None, token: TokenOpt = None) -> None:
    """The day-ahead flexibility curve: kW that could be shed or added per site and hour."""
    params: dict[str, Any] = {"hours": hours, **({"site": site} if site else {})}
    body = _call(_client(url, token), "GET", "/v1/grid/flexibility", params=params)
    for s in body["sites"]:
        t = Table(title=f"{s['site']}: flexibility 可调节能力 (installed {s['installed_kw']:,.0f}"
                        " kW)")
        for col in ("hour", "expected kW", "shed kW", "for h", "add kW", "for h"):
            t.add_column(col, justify="left" if col == "hour" else "right")
        for h in s["hours"]:
            t.add_row(h["hour_start"], f"{h['expected_kw']:,.1f}", f"{h['shed_kw']:,.1f}",
                      f"{h['shed_for_h']:,.1f}", f"{h['add_kw']:,.1f}",
                      f"{h['add_for_h']:,.1f}")
        console.print(t)
