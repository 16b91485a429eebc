"""`--grid-events FILE` of `simulate` and `compare`: runs with grid events and their table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from suanwang.cli_errors import fail
from suanwang.cli_output import Column, print_table, stdout
from suanwang.errors import InputError
from suanwang.grid.event import EVENT_KIND_NAMES_ZH, GridEvent
from suanwang.grid.events_file import SCENARIOS, read_events, scenario_path
from suanwang.model import Network

GridEventsOpt = Annotated[Path | None, typer.Option(
    "--grid-events", help="Grid events (YAML or JSON: shed, cap, fill per site and window), "
                          "or a bundled scenario: " + ", ".join(SCENARIOS) + "; each policy "
                          "also runs without them, as the baseline.")]

GRID_COLUMNS = [
    Column("policy\n策略", "left", key=True, wrap=True), Column("event\n事件", "left", wrap=True),
    Column("requested kW\n请求"), Column("delivered kW\n响应"), Column("delivered\n完成率"),
    Column("moved\n迁移"), Column("waited\n等待"), Column("pulled\n提前"),
    Column("credit 元\n收益"), Column("penalty 元\n罚金"),
]
RUN_COLUMNS = [
    Column("policy\n策略", "left", key=True, wrap=True), Column("latency viol.\n时延违规"),
    Column("deadline miss\n超期"), Column("rejected\n拒绝"), Column("carbon t\n碳排"),
    Column("cost 万元\n电费"),
]


def events_of(path: Path, net: Network, run_start: datetime) -> tuple[GridEvent, ...]:
    if not path.exists() and str(path) in SCENARIOS:
        path = scenario_path(str(path))
    try:
        events = read_events(path, net, not_before=run_start)
    except InputError as exc:
        raise fail(str(exc)) from None
    if not events:
        raise fail(f"{path}: no events")
    return events


def _change(with_events: float, without: float, scale: float, fmt: str) -> str:
    delta = with_events - without
    rel = f", {delta / without:+.1%}" if without else ""
    return f"{with_events / scale:{fmt}} ({delta / scale:+{fmt}}{rel})"


def print_grid(summaries: Sequence[dict[str, Any]], capped_bound: bool = False) -> None:
    """Per policy and event: requested and delivered kW (mean over the window), the share
    delivered, jobs moved / waited / pulled forward, credit and penalty; per policy the
    latency violations, deadline misses, carbon and cost with the events against without."""
    cells = []
    for s in summaries:
        for e in s["grid_events"]:
            share = e["delivered_share"]
            cells.append([
                s["policy"], f"{e['event']} ({e['kind']} {EVENT_KIND_NAMES_ZH[e['kind']]})",
                f"{e['requested_kw']:,.0f}", f"{e['delivered_kw']:,.0f}",
                "-" if share is None else f"{share:.1%}", f"{e['jobs_moved']:,}",
                f"{e['jobs_waited']:,} ({e['wait_h']:,.0f} h)", f"{e['jobs_pulled']:,}",
                f"{e['credit_yuan']:,.0f}", f"{e['penalty_yuan']:,.0f}"])
    console = stdout()
    print_table("Grid events 电网事件: delivered against the baseline (the same run without the "
                "events, mean kW per 15-minute interval)", GRID_COLUMNS, cells, console=console)
    rows = []
    for s in summaries:
        b = s["without_events"]
        rows.append([
            s["policy"], f"{s['latency_violations']:,} (without {b['latency_violations']:,})",
            f"{s['deadline_misses']:,} (without {b['deadline_misses']:,})",
            f"{s['rejected']:,} (without {b['rejected']:,})",
            _change(s["carbon_t"], b["carbon_t"], 1.0, ",.1f"),
            _change(s["cost_yuan"], b["cost_yuan"], 1e4, ",.2f")])
    print_table("With the grid events against without (change in brackets)", RUN_COLUMNS, rows,
                console=console)
    if capped_bound:
        console.print("The table above the grid events shows the runs with the events; its LP "
                      "bound keeps the events' hard caps (a shed or a fill is no constraint a "
                      "bound may assume: real time and deadlines override a shed).")
    else:
        console.print("The table above the grid events shows the runs with the events; an LP "
                      "bound there is the bound without them.")
