"""`suanwang market ...`: the call auction through a running service (算力交易): bid, list
bids, cancel a bid, rounds, one round, posted prices (the same `--url` / `--token` lookup as
`submit`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from suanwang.cli_client import TokenOpt, UrlOpt, _call, _client, _fail, console
from suanwang.model import Kind

app = typer.Typer(help="Compute trading: sealed bids cleared every 15 run-minutes, posted "
                       "prices (算力交易).", no_args_is_help=True)


def _money(x: float | None) -> str:
    return "-" if x is None else f"¥{x:,.4f}"


def _show_bid(b: dict[str, Any]) -> None:
    t = Table(title=f"bid {b['id']} ({b['state']})", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    limit = (f"¥{b['limit_yuan_per_unit_h']:g} per unit-h" if b.get("limit_yuan_per_unit_h")
             else f"¥{b.get('limit_total_yuan'):g} in total")
    t.add_row("job", f"{b['units']} {b['kind']} units x {b['duration_s']:g} s from "
                     f"{b['origin']}")
    t.add_row("limit", limit)
    t.add_row("held", f"{_money(b.get('held_yuan', b['hold_yuan']))} now (of "
                      f"{_money(b['hold_yuan'])} at the start)")
    t.add_row("filled", f"{b.get('filled_units', 0)} of {b['units']} units"
                        + (f", {b['open_units']} bid again" if b.get("open_units") else ""))
    if b["state"] == "open":
        t.add_row("next round", f"clears at {b.get('clears_at_s', 0):g} s")
    for r in b.get("rounds", ()):
        why = ", ".join(f"{k} {v}" for k, v in sorted(r.get("reasons", {}).items()))
        t.add_row(f"round {r['round']}", f"{r['units']} units bid, {r['filled_units']} filled"
                                         + (f"; {why}" if why else "")
                                         + f" -> {r.get('then', '')}")
    res = b.get("result") or {}
    for j in res.get("jobs", ()):
        t.add_row(f"job {j['job']}", f"{j['units']} units at {j['site']} / {j['provider']}, "
                                     f"¥{j['price_yuan_per_unit_h']:.4f}/unit-h, "
                                     f"bill {_money(j['bill_yuan'])}")
    for u in res.get("unmatched", ()):
        t.add_row(f"unmatched ({u['units']} units)", f"{u['reason']}: {u['detail']}")
    console.print(t)


@app.command("bid")
def bid(origin: Annotated[str, typer.Option("--origin", help="Region the job comes from.")],
        kind: Annotated[Kind, typer.Option("--kind", help="general, intelligent or hpc.")],
        units: Annotated[int, typer.Option("--units", min=1, help="Units of that kind.")],
        duration_s: Annotated[float, typer.Option("--duration-s", min=0.001,
                                                  help="Run seconds.")],
        limit: Annotated[float | None, typer.Option(
            "--limit", help="Price limit, yuan per unit-hour (or give --limit-total).",
            show_default=False)] = None,
        limit_total: Annotated[float | None, typer.Option(
            "--limit-total", help="Price limit for the whole job (compute + transit), yuan.",
            show_default=False)] = None,
        rtt_bound_ms: Annotated[float | None, typer.Option(
            "--rtt-bound-ms", help="Real-time: round trip at most this (or --deadline-in-s).",
            show_default=False)] = None,
        deadline_in_s: Annotated[float | None, typer.Option(
            "--deadline-in-s", help="Deferrable: ends within this many run seconds.",
            show_default=False)] = None,
        data_gb: Annotated[float, typer.Option("--data-gb", min=0.0,
                                               help="Input data, GB.")] = 0.0,
        carbon_cap_kg: Annotated[float | None, typer.Option(
            "--carbon-cap-kg", min=0.0, help="At most this much CO2 (location-based).",
            show_default=False)] = None,
        max_rounds: Annotated[int | None, typer.Option(
            "--max-rounds", min=1, help="Bid in at most this many rounds (default: until "
                                        "the deadline no longer allows a run).",
            show_default=False)] = None,
        url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Place a sealed bid (its limit is held on your account); unfilled, it bids again in
    the following rounds until filled, expired or cancelled."""
    if (limit is None) == (limit_total is None):
        raise _fail("give exactly one of --limit and --limit-total")
    body: dict[str, Any] = {"origin": origin, "kind": kind.value, "units": units,
                            "duration_s": duration_s, "rtt_bound_ms": rtt_bound_ms,
                            "deadline_in_s": deadline_in_s, "data_gb": data_gb,
                            "limit_yuan_per_unit_h": limit, "limit_total_yuan": limit_total,
                            "carbon_cap_kg": carbon_cap_kg, "max_rounds": max_rounds}
    body = {k: v for k, v in body.items() if v is not None}
    _show_bid(_call(_client(url, token), "POST", "/v1/market/bids", json=body))


@app.command("cancel")
def cancel(bid_id: Annotated[str, typer.Argument(help="The bid to cancel.")],
           url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Cancel an open bid: it bids in no further round and what it holds is released."""
    _show_bid(_call(_client(url, token), "DELETE", f"/v1/market/bids/{bid_id}"))


@app.command("bids")
def bids(bid_id: Annotated[str | None, typer.Argument(help="One bid (default: list).")] = None,
         state: Annotated[str | None, typer.Option(
             "--state", help="open, filled, expired, cancelled or unmatched.",
             show_default=False)] = None,
         url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Your bids, newest first, with their state and rounds (or one bid in full)."""
    target = _client(url, token)
    if bid_id is not None:
        _show_bid(_call(target, "GET", f"/v1/market/bids/{bid_id}"))
        return
    params = {"state": state} if state else {}
    rows = _call(target, "GET", "/v1/market/bids", params=params)["bids"]
    t = Table(title=f"{len(rows)} bids")
    for col in ("bid", "state", "last round", "rounds", "job", "limit", "filled",
                "why not (last round)"):
        t.add_column(col)
    for b in rows:
        res = b.get("result") or {}
        limit = (f"{b['limit_yuan_per_unit_h']:g}/unit-h" if b.get("limit_yuan_per_unit_h")
                 else f"{b.get('limit_total_yuan'):g} total")
        t.add_row(b["id"], b["state"], b.get("round_id") or "next",
                  str(len(b.get("rounds", ()))),
                  f"{b['units']} {b['kind']} x {b['duration_s']:g} s", limit,
                  str(b.get("filled_units", 0)),
                  ", ".join(sorted({u["reason"] for u in res.get("unmatched", ())})))
    console.print(t)


def _markets_table(title: str, markets: list[dict[str, Any]]) -> Table:
    t = Table(title=title)
    for col in ("kind", "site", "price ¥/unit-h", "rule", "traded", "bid", "offered", "fill"):
        t.add_column(col, justify="right" if col not in ("kind", "site", "rule") else "left")
    for m in markets:
        price = m["price_yuan_per_unit_h"]
        t.add_row(m["kind"], m["site"], "-" if price is None else f"{price:.4f}", m["rule"],
                  str(m["units_traded"]), str(m["units_bid"]), str(m["units_offered"]),
                  f"{m['fill_ratio']:.0%}")
    return t


@app.command("rounds")
def rounds(limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 20,
           url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Cleared rounds, newest first: bids, units traded, fill, time to clear."""
    got = _call(_client(url, token), "GET", "/v1/market/rounds", params={"limit": limit})
    t = Table(title=f"market rounds (next: {got['next_round']['id']} at "
                    f"{got['next_round']['clears_at_s']:g} s)")
    for col in ("round", "at s", "bids", "units bid", "traded", "fill", "clear ms", "prices"):
        t.add_column(col)
    for r in got["rounds"]:
        prices = ", ".join(f"{m['site']} {m['price_yuan_per_unit_h']:.3f}"
                           for m in r["markets"] if m["price_yuan_per_unit_h"] is not None)
        t.add_row(r["id"], f"{r['at_s']:g}", str(r["bids"]), str(r["units_bid"]),
                  str(r["units_traded"]), f"{r['fill_ratio']:.0%}",
                  f"{r['clear_s'] * 1000:.1f}", prices)
    console.print(t)


@app.command("round")
def round_(round_id: Annotated[str, typer.Argument(help="A round's id, e.g. r0000042.")],
           url: UrlOpt = None, token: TokenOpt = None) -> None:
    """One round: prices per market, matches (yours, or all for the operator), unmatched."""
    r = _call(_client(url, token), "GET", f"/v1/market/rounds/{round_id}")
    console.print(_markets_table(f"round {r['id']} at {r['at_s']:g} s: {r['units_traded']} of "
                                 f"{r['units_bid']} units traded, cleared in "
                                 f"{r['clear_s'] * 1000:.1f} ms", r["markets"]))
    t = Table(title="matched")
    for col in ("bid", "tenant", "site", "provider", "units", "pays ¥/unit-h", "limit",
                "job"):
        t.add_column(col)
    for m in r["matched"]:
        t.add_row(m["bid"], m["tenant"], m["site"], m["provider"], str(m["units"]),
                  f"{m['buyer_yuan_per_unit_h']:.4f}", f"{m['limit_yuan_per_unit_h']:.4f}",
                  m["job"] or "")
    console.print(t)
    for u in r["unmatched"]:
        console.print(f"unmatched {u['bid']} ({u['units']} units): {u['reason']}: "
                      f"{u['detail']}", highlight=False)
    console.print(f"platform keeps ¥{r['budget']['platform_yuan']:.6f} (weakly budget "
                  f"balanced: {r['budget']['weakly_balanced']})", highlight=False)


@app.command("prices")
def prices(site: Annotated[str | None, typer.Option("--site", show_default=False)] = None,
           provider: Annotated[str | None, typer.Option("--provider",
                                                        show_default=False)] = None,
           kind: Annotated[str | None, typer.Option("--kind", show_default=False)] = None,
           from_: Annotated[str | None, typer.Option(
               "--from", help="ISO 8601 time (default: this hour).", show_default=False)
           ] = None,
           to: Annotated[str | None, typer.Option(
               "--to", help="ISO 8601 time (default: 25 hours on).", show_default=False)
           ] = None,
           url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Posted prices per site, provider, kind and hour (a day ahead)."""
    params = {k: v for k, v in (("site", site), ("provider", provider), ("kind", kind),
                                ("from", from_), ("to", to)) if v is not None}
    got = _call(_client(url, token), "GET", "/v1/market/prices", params=params)
    t = Table(title=f"posted prices {got['from'][:16]} - {got['to'][:16]} (¥ per unit-hour)")
    for col in ("site", "provider", "kind", "hour (UTC)", "price", "floor", "scarcity",
                "booked", "revisions"):
        t.add_column(col)
    for p in got["prices"]:
        t.add_row(p["site"], p["provider"], p["kind"], p["start"][:16],
                  f"{p['price_yuan_per_unit_h']:.4f}", f"{p['floor_yuan_per_unit_h']:.4f}",
                  f"{p['scarcity_yuan_per_unit_h']:.4f}", f"{p['utilisation']:.0%}",
                  str(p["revisions"]))
    console.print(t)
    if got.get("rule"):
        model = got.get("model")
        seen = ""
        if model:
            seen = (f"; last model: {model['status']}, {model['jobs']} jobs, "
                    f"{model['slices_with_positive_dual']} slices with a positive dual")
        console.print(f"scarcity source {got.get('scarcity_source')}: {got['rule']}{seen}",
                      highlight=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="market")
