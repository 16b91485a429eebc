"""`suanwang sweep`: the grid of simulations (policies × seeds × loads × forecast errors) as
Ray tasks, with progress; one Parquet table and a summary plot (`suanwang.sim.sweep`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from suanwang.cli_errors import fail
from suanwang.cli_output import Column, print_table, stdout
from suanwang.energy.models import DEFAULT_ENERGY_MODEL, ENERGY_MODELS
from suanwang.errors import InputError
from suanwang.network.loader import load_network
from suanwang.policies.registry import POLICIES
from suanwang.sim.sweep import SweepError, SweepSpec, run_sweep
from suanwang.sim.sweep_files import cells, write_plot, write_table

err_console = Console(stderr=True)


def _list(field: str, text: str, cast: type) -> list[Any]:
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(cast(part))
        except ValueError:
            kind = "whole number" if cast is int else "number"
            raise fail(f"--{field}: {part!r} is not a {kind} (a comma-separated list, "
                       f"e.g. {'0,1,2' if cast is int else '0.5,0.7'})") from None
    return out


def sweep(
    out: Annotated[Path, typer.Option("--out", help="Directory for sweep.parquet and "
                                                    "sweep.png.")],
    policies: Annotated[str, typer.Option(
        "--policies", help="Comma-separated policies.")] = ",".join(POLICIES),
    seeds: Annotated[str, typer.Option("--seeds", help="Comma-separated seeds.")] = "0,1",
    loads: Annotated[str, typer.Option(
        "--loads", help="Comma-separated offered loads (share of capacity).")] = "0.5,0.7",
    forecast_errors: Annotated[str, typer.Option(
        "--forecast-errors", help="Comma-separated forecast-error scales (0 = perfect).")] = "1",
    days: Annotated[float, typer.Option("--days", help="Days of synthetic demand.")] = 2.0,
    jobs: Annotated[int, typer.Option("--jobs", help="Synthetic jobs per scenario.")] = 5000,
    network: Annotated[Path | None, typer.Option(
        "--network", help="Network file (YAML); default: the bundled national network.")] = None,
    energy: Annotated[str, typer.Option(
        "--energy", help="Energy model: " + " or ".join(ENERGY_MODELS) + ".")]
        = DEFAULT_ENERGY_MODEL,
    address: Annotated[str | None, typer.Option(
        "--address", help="A Ray cluster's address (`auto`: the one this machine is in); "
                          "default: a local Ray started for the sweep.")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=0, help="CPUs of the local Ray (default: all); 0 runs the grid in "
                                 "this process without Ray.")] = None,
) -> None:
    """Run every combination of policies, seeds, loads and forecast errors as a Ray task;
    print the mean per (policy, load, forecast error) over seeds; write sweep.parquet (one row
    per run, every figure of `simulate`'s summary) and sweep.png."""
    try:
        spec = SweepSpec.make([p.strip() for p in policies.split(",") if p.strip()],
                              _list("seeds", seeds, int), _list("loads", loads, float),
                              _list("forecast-errors", forecast_errors, float), days, jobs,
                              energy)
        net = load_network(network)
    except (InputError, SweepError) as exc:
        raise fail(str(exc)) from None
    if out.exists() and not out.is_dir():
        raise fail(f"--out {out}: exists and is not a directory")
    n = len(spec.points())
    where = ("this process" if workers == 0 else f"Ray at {address}" if address
             else f"a local Ray with {workers or 'all'} CPUs")
    err_console.print(f"sweep: {n} runs ({len(spec.scenarios())} scenarios) on {where}")
    started = time.perf_counter()
    with Progress(TextColumn("runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("sweep", total=n)
        try:
            rows = run_sweep(net, spec, address=address, ray_workers=workers,
                             progress=lambda done, _total: bar.update(task, completed=done))
        except SweepError as exc:
            raise fail(str(exc)) from None
    wall_s = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    write_table(rows, out / "sweep.parquet")
    write_plot(rows, out / "sweep.png")
    _print_cells(rows, spec, wall_s)
    stdout().print(f"wrote {out}/sweep.parquet ({len(rows)} rows), {out}/sweep.png")


COLUMNS = [Column("policy\n策略", "left", key=True), Column("load\n负载"),
           Column("forecast error\n预测误差"), Column("seeds\n种子"), Column("carbon t\n碳排"),
           Column("cost 万元\n电费"), Column("bill 万元\n账单"), Column("green\n绿电"),
           Column("wait mean\n平均等待"), Column("latency viol.\n时延违规"),
           Column("deadline miss\n超期")]


def _print_cells(rows: list[dict[str, Any]], spec: SweepSpec, wall_s: float) -> None:
    body = [[c["policy"], f"{c['load']:g}", f"{c['forecast_error']:g}", str(c["seeds"]),
             f"{c['carbon_t']:,.0f}", f"{c['cost_yuan'] / 1e4:,.1f}",
             f"{c['bill_yuan'] / 1e4:,.1f}", f"{c['green_share']:.1%}",
             f"{c['mean_wait_s'] / 3600:,.2f} h", f"{c['latency_violations']:,}",
             f"{c['deadline_misses']:,}"] for c in cells(rows)]
    print_table(f"sweep: {len(rows)} runs of {spec.jobs:,} jobs over {spec.days:g} days "
                f"({wall_s:,.1f} s); means over seeds", COLUMNS, body, console=stdout())


def register(app: typer.Typer) -> None:
    app.command()(sweep)
