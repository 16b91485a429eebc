"""`suanwang compare --market`: the table of the three mechanisms (`sim.market_compare`).

(Not `cli_market`: that module is the live market's commands, `suanwang market ...`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from suanwang.cli_output import Column, print_table, stdout
from suanwang.sim.market_run import MECHANISM_NAMES_ZH, OPTIMUM_ROUNDS

MARKET_COLUMNS = [
    Column("mechanism\n机制", "left", key=True, wrap=True), Column("welfare 万元\n社会福利"),
    Column("× optimum\n最优比"), Column("bill 万元\n租户账单"), Column("west util.\n西部利用率"),
    Column("carbon t\n碳排"), Column("run\n运行"), Column("not run\n未运行"),
    Column("deferrable run\n可延后运行"), Column("late\n超期"),
]


def print_market(rows: Sequence[dict[str, Any]], title: str) -> None:
    cells: list[list[str]] = []
    for r in rows:
        ratio = r.get("welfare_to_optimum")
        name = r["mechanism"]
        label = f"{name} {MECHANISM_NAMES_ZH.get(name, '')}".strip()
        if name == OPTIMUM_ROUNDS:
            label += " (reference)"
        cells.append([
            label, f"{r['welfare_yuan'] / 1e4:,.0f}", "-" if ratio is None else f"{ratio:.3f}",
            f"{r['bill_yuan'] / 1e4:,.0f}", f"{r['west_utilisation']:.0%}",
            f"{r['carbon_t']:,.0f}", f"{r['jobs_run']:,}", f"{r['jobs_not_run']:,}",
            f"{r['deferrable_run']:,}", f"{r['late']:,}"])
    console = stdout()
    ends = [i - 1 for i, r in enumerate(rows) if r["mechanism"] == OPTIMUM_ROUNDS and i > 0]
    print_table(title, MARKET_COLUMNS, cells, section_ends=ends, console=console)
    auction = next((r for r in rows if r["mechanism"] == "call-auction"), None)
    console.print("welfare = tenants' value - providers' cost (reserve: energy + wear) - egress, "
                  "over the jobs run; × optimum: deferrable jobs' welfare over that of the "
                  "reference (the auction's rounds settled by the offline optimum). west util. = "
                  "busy / installed facility power at the western hubs' sites. Real-time jobs "
                  "are placed by the scheduler and billed at list prices in every mechanism.",
                  highlight=False)
    if auction is not None:
        rt = auction.get("round_welfare_to_optimum")
        console.print(
            f"call-auction: {auction['rounds']:,} clearings ({auction['rounds_with_trade']:,} "
            f"with trades), clearing welfare / the rounds' offline optima "
            f"{'-' if rt is None else f'{rt:.3f}'}; individual-rationality violations "
            f"{auction['ir_violations']}; least platform balance of a clearing "
            f"{max(0.0, auction['min_platform_yuan']):.2g} yuan up to rounding (it never pays "
            f"in); void trades "
            f"{auction['bids_void']:,} (filled in part or no room in one slice: bid again).",
            highlight=False)
