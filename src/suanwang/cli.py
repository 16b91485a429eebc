"""`suanwang` command line: the network, one simulation, and a comparison of policies."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from suanwang import (
    cli_accounts,
    cli_energy,
    cli_grid,
    cli_grid_client,
    cli_ledger,
    cli_market,
    cli_replay,
    cli_report,
    cli_service,
    cli_sweep,
)
from suanwang.bounds import MAX_RUN_DAYS
from suanwang.cli_errors import Commands, fail
from suanwang.cli_market_compare import print_market
from suanwang.cli_output import Column, print_table, stdout
from suanwang.core.power_ceiling import PowerCalendar
from suanwang.energy.measured import read_measured
from suanwang.energy.models import DEFAULT_ENERGY_MODEL, ENERGY_MODELS
from suanwang.energy.series import EnergySeries
from suanwang.errors import InputError
from suanwang.grid.calendar import power_calendar
from suanwang.grid.event import EventKind
from suanwang.grid.run import run_with_events
from suanwang.market.posted import PostedRule
from suanwang.model import KIND_NAMES_ZH, Job, Network
from suanwang.network.loader import load_network
from suanwang.planning.bound import Bound, compare_bounds
from suanwang.planning.tight_bound import tight_compare_bounds
from suanwang.policies.registry import OFFLINE_POLICIES, POLICIES, UnknownPolicyError
from suanwang.sim.beside import beside, can_fork
from suanwang.sim.market_compare import market_compare
from suanwang.sim.output import FORMATS, run_files, write_run
from suanwang.sim.result import SimResult
from suanwang.sim.runner import DEFAULT_START, energy_for, run
from suanwang.workload.columns import jobs_of
from suanwang.workload.synthetic import DEFAULT_LOAD, synthetic_columns, synthetic_jobs
from suanwang.workload.traces import read_trace

app = typer.Typer(cls=Commands, add_completion=False, no_args_is_help=True,
                  help="suanwang 算网: monitor and schedule the East-Data-West-Compute network.")
network_app = typer.Typer(no_args_is_help=True, help="The compute network 算力网络.")
app.add_typer(network_app, name="network")
app.add_typer(cli_ledger.app, name="ledger")
app.add_typer(cli_report.app, name="report")
app.add_typer(cli_energy.app, name="energy")
app.add_typer(cli_grid_client.grid_app, name="grid")
err_console = Console(stderr=True)

NetworkOpt = Annotated[Path | None, typer.Option(
    "--network", help="Network file (YAML); default: the bundled national network.")]
DaysOpt = Annotated[float, typer.Option("--days", min=0.01, max=MAX_RUN_DAYS,
                                        help="Days of synthetic demand.")]
JobsOpt = Annotated[int, typer.Option("--jobs", min=1, help="Number of synthetic jobs.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of demand, weather and forecasts.")]
LoadOpt = Annotated[float, typer.Option(
    "--load", min=0.01, max=5.0, help="Offered load of the synthetic demand, share of capacity.")]
TraceOpt = Annotated[Path | None, typer.Option(
    "--trace", help="Jobs from a trace (Alibaba GPU pods, Azure LLM, or a suanwang job file) "
                    "instead of synthetic demand.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Directory to write results to.")]
ErrOpt = Annotated[float, typer.Option(
    "--forecast-error", min=0.0, help="Scale of forecast error (0 = perfect forecasts).")]
EnergyOpt = Annotated[str, typer.Option(
    "--energy", help="Energy model: " + " or ".join(ENERGY_MODELS) + ".")]
EnergySeriesOpt = Annotated[Path | None, typer.Option(
    "--energy-series", help="Measured series (CSV or Parquet) overriding the model where it "
                            "has values; schema in suanwang.energy.measured.")]


class _Bar:
    """A progress bar that appears only once a run has taken longer than a second."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.perf_counter()
        self.progress: Progress | None = None
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.progress is None:
            if time.perf_counter() - self.started < 1.0:
                return
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     TextColumn("{task.completed:,}/{task.total:,} jobs"),
                                     TimeRemainingColumn(), console=err_console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total)
        self.progress.update(self.task, completed=done)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


_fail = fail
ENERGY_BESIDE_MIN_JOBS = 100_000  # from this many synthetic jobs on, the series is made beside


def _network(path: Path | None) -> Network:
    try:
        return load_network(path)
    except InputError as exc:
        raise _fail(str(exc)) from None


def _demand(net: Network, trace: Path | None, days: float, jobs: int, seed: int,
            load: float) -> tuple[list[Job], dict[str, Any]]:
    if trace is not None:
        try:
            read = read_trace(trace, net, seed=seed)
        except InputError as exc:
            raise _fail(str(exc)) from None
        if read.skipped:
            skipped = ", ".join(f"{v} {k}" for k, v in read.skipped.items())
            err_console.print(f"{trace}: skipped {skipped}")
        if not read.jobs:
            raise _fail(f"{trace}: no jobs to simulate")
        # the simulated horizon: the hours over which the trace's jobs arrive, to the end of
        # the hour of the last arrival
        last_arrival_s = max(j.submit_s for j in read.jobs)
        horizon_s = (math.floor(last_arrival_s / 3600.0) + 1) * 3600.0
        return read.jobs, {"demand": f"trace {trace} ({read.format})", "seed": seed,
                           "horizon_s": horizon_s}
    try:
        demand = synthetic_jobs(net, jobs, days, seed=seed, load=load, start_utc=DEFAULT_START)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    return demand, {"demand": "synthetic", "jobs_requested": jobs, "days": days, "seed": seed,
                    "load": load, "horizon_s": days * 86400.0}


def _run(net: Network, jobs: list[Job], policy: str, seed: int, forecast_error: float,
         series: Any = None) -> SimResult:
    bar = _Bar(f"{policy:>12}")
    try:
        return run(net, jobs, policy, seed=seed, series=series, forecast_error=forecast_error,
                   progress=bar)
    finally:
        bar.close()


# ---- network -----------------------------------------------------------------------------

@network_app.command("show")
def network_show(network: NetworkOpt = None) -> None:
    """Sites, pools, compute (P), PUE, price and green share, in Chinese and English."""
    net = _network(network)
    hubs = {h.id: h for h in net.hubs}
    columns = [Column("site 站点", "left", key=True, wrap=True),
               Column("hub 枢纽", "left", wrap=True), Column("pool 算力类型", "left", wrap=True),
               Column("units 单位数"), Column("P"), Column("PUE"), Column("price 电价 ¥/kWh"),
               Column("green 绿电"), Column("grid gCO2/kWh")]
    rows: list[list[str]] = []
    ends: list[int] = []
    for s in net.sites:
        for k, p in enumerate(s.pools):
            first = k == 0
            rows.append([
                f"{s.name_zh} {s.name_en}" if first else "",
                hubs[s.hub_id].name_zh if first else "",
                f"{KIND_NAMES_ZH[p.kind]} {p.kind.value}",
                f"{p.units:,}", f"{p.pflops:,.0f}",
                f"{s.pue:.2f}" if first else "",
                f"{s.price_yuan_per_kwh:.2f}" if first else "",
                f"{s.green_share:.0%}" if first else "",
                f"{s.grid_intensity_g_per_kwh:.0f}" if first else "",
            ])
        rows.append(["", "", "[bold]total 合计[/]", "", f"[bold]{s.pflops:,.0f}[/]", "", "", "",
                     ""])
        ends.append(len(rows) - 1)
    console = stdout()
    print_table(f"{net.name}: {len(net.sites)} sites 站点, {len(net.hubs)} hubs 枢纽", columns,
                rows, section_ends=ends, console=console)
    totals = net.pflops_by_kind()
    console.print("Network 全网: " + ", ".join(
        f"{KIND_NAMES_ZH[k]} {k.value} {v:,.0f} P" for k, v in totals.items())
        + f"; total 合计 {sum(totals.values()):,.0f} P")
    for s in net.sites:
        for snap in s.snapshots:
            parts = " + ".join(f"{KIND_NAMES_ZH[k]} {k.value} {v:,.0f}"
                               for k, v in snap.pflops_by_kind)
            console.print(f"{s.name_zh} {s.name_en} as of {snap.as_of}: {parts} = "
                          f"{snap.total_pflops:,.0f} P ({snap.source})")


def _run_grid(net: Network, jobs: list[Job], policy: str, seed: int, forecast_error: float,
              series: EnergySeries, events: Sequence[Any]) -> Any:
    bar = _Bar(f"{policy:>12}")
    try:
        return run_with_events(net, jobs, policy, events, seed=seed, series=series,
                               forecast_error=forecast_error, progress=bar)
    finally:
        bar.close()


# ---- simulate / compare ------------------------------------------------------------------

@app.command()
def simulate(
    policy: Annotated[str, typer.Option("--policy", help="Policy: " + ", ".join(
        [*POLICIES, *OFFLINE_POLICIES]))] = "green-window",
    days: DaysOpt = 7.0, jobs: JobsOpt = 40_000, seed: SeedOpt = 0,
    load: LoadOpt = DEFAULT_LOAD, trace: TraceOpt = None, network: NetworkOpt = None,
    out: OutOpt = None, forecast_error: ErrOpt = 1.0,
    energy: EnergyOpt = DEFAULT_ENERGY_MODEL, energy_series: EnergySeriesOpt = None,
    fmt: Annotated[str, typer.Option(
        "--format", help="With --out, the jobs table as " + ", ".join(FORMATS)
                         + " (jobs.csv, jobs.parquet or both).")] = "csv",
    ledger: Annotated[bool, typer.Option(
        "--ledger/--no-ledger", help="With --out, also write the run's ledger (ledger.jsonl, "
                                     "its summaries and signed hourly checkpoints; off by "
                                     "default: 1.9 GB per million jobs).")] = False,
    invoices: Annotated[bool, typer.Option(
        "--invoices/--no-invoices", help="With --out, write the tenants' invoices "
                                         "(invoices/, FOCUS CSV).")] = True,
    grid_events: cli_grid.GridEventsOpt = None,
) -> None:
    """Simulate one policy on the demand; with --out, write jobs.csv (or jobs.parquet),
    sites.csv, summary.json, network.json and the invoices (and the ledger with --ledger,
    grid_events.json with --grid-events)."""
    if fmt not in FORMATS:
        raise _fail(f"unknown --format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if policy not in POLICIES and policy not in OFFLINE_POLICIES:
        raise _fail(str(UnknownPolicyError(f"unknown policy {policy!r}; choose one of: "
                                           f"{', '.join([*POLICIES, *OFFLINE_POLICIES])}")))
    net = _network(network)
    events = None if grid_events is None else cli_grid.events_of(grid_events, net,
                                                                   DEFAULT_START)
    if trace is None and jobs >= ENERGY_BESIDE_MIN_JOBS and can_fork():
        demand, info, series = _demand_and_energy(net, days, jobs, seed, load, energy,
                                                  energy_series)
    else:
        demand, info = _demand(net, trace, days, jobs, seed, load)
        series = _energy(net, demand, seed, None, energy, energy_series)
    grid = None
    if events is not None:
        grid = _run_grid(net, demand, policy, seed, forecast_error, series, events)
        result = grid.result
    else:
        result = _run(net, demand, policy, seed, forecast_error, series=series)
    info = {**info, "network": net.name, "forecast_error": forecast_error,
            "energy": _energy_label(energy, energy_series)}
    if out is not None:
        summary = write_run(result, out, info, fmt=fmt, ledger=ledger, invoices=invoices)
        stdout().print(f"wrote {out}/" + ", ".join(run_files(fmt, ledger, invoices)))
        if grid is not None:
            (out / "grid_events.json").write_text(json.dumps(
                grid.summary(), indent=2, ensure_ascii=False), encoding="utf-8")
            stdout().print(f"wrote {out}/grid_events.json")
    else:
        summary = {**info, **result.summary()}
    _print_table([summary], baseline=None)
    if grid is not None:
        cli_grid.print_grid([grid.summary()])


@app.command()
def compare(
    days: DaysOpt = 7.0, jobs: JobsOpt = 40_000, seed: SeedOpt = 0,
    load: LoadOpt = DEFAULT_LOAD, trace: TraceOpt = None, network: NetworkOpt = None,
    out: OutOpt = None, forecast_error: ErrOpt = 1.0,
    energy: EnergyOpt = DEFAULT_ENERGY_MODEL, energy_series: EnergySeriesOpt = None,
    policies: Annotated[str | None, typer.Option(
        "--policies", help="Comma-separated policies to compare (default: all; with --market, "
                           "the one policy the scheduler places with: green-window).")] = None,
    bound: Annotated[bool, typer.Option(
        "--bound/--no-bound", help="Also solve the LP lower bound (carbon and cost) and show "
                                   "each policy's ratio to it.")] = True,
    bound_kind: Annotated[str, typer.Option(
        "--bound-kind", help="aggregated (the slot model over job classes) or tight (each "
                             "job a mix of whole runs; falls back to aggregated on its time "
                             "limit, and says so).")] = "aggregated",
    grid_events: cli_grid.GridEventsOpt = None,
    market: Annotated[bool, typer.Option(
        "--market", help="Run the demand through three mechanisms instead: the scheduler "
                         "alone, posted prices and the call auction (算力交易); print welfare, "
                         "bill, western utilisation, carbon and jobs run per mechanism.")
    ] = False,
    posted_scarcity_source: Annotated[str, typer.Option(
        "--posted-scarcity-source", help="With --market: where posted prices' scarcity comes "
                                         "from: lp_dual (the planner's capacity duals) or "
                                         "utilisation (booked share).")] = "lp_dual",
    posted_yuan_per_t_co2: Annotated[float, typer.Option(
        "--posted-yuan-per-t-co2", help="With --market: carbon price (yuan per tonne CO2) of "
                                        "the lp_dual objective.")] = 100.0,
) -> None:
    """Run every policy on the same demand and weather; print energy, green share, carbon,
    cost, waits, latency violations and deadline misses side by side, and each policy's
    carbon and cost as a ratio to the LP lower bound. With --market, one policy through the
    scheduler alone, posted prices and the call auction."""
    if market:
        rule = cli_service.posted_rule_of(posted_scarcity_source, posted_yuan_per_t_co2)
        _compare_market(days, jobs, seed, load, trace, network, out, forecast_error, energy,
                        energy_series, policies or "green-window", grid_events, rule)
        return
    if policies is None:
        policies = ",".join([*POLICIES, *OFFLINE_POLICIES])
    names = [p.strip() for p in policies.split(",") if p.strip()]
    for name in names:
        if name not in POLICIES and name not in OFFLINE_POLICIES:
            raise _fail(f"unknown policy {name!r}; choose from: "
                        f"{', '.join([*POLICIES, *OFFLINE_POLICIES])}")
    if bound_kind not in ("aggregated", "tight"):
        raise _fail(f"unknown --bound-kind {bound_kind!r}; choose aggregated or tight")
    net = _network(network)
    events = None if grid_events is None else cli_grid.events_of(grid_events, net,
                                                                   DEFAULT_START)
    demand, info = _demand(net, trace, days, jobs, seed, load)
    series = _energy(net, demand, seed, None if trace is not None else days, energy,
                     energy_series)
    summaries = []
    caps: PowerCalendar | None = None  # the events' hard caps, for the bound
    for name in names:
        if events is not None:
            grid_run = _run_grid(net, demand, name, seed, forecast_error, series, events)
            run_summary = grid_run.summary()
            if all(ev.target_kw is not None for ev in events if ev.kind == EventKind.CAP):
                caps = power_calendar(grid_run.plans)  # absolute caps: alike for every policy
        else:
            run_summary = _run(net, demand, name, seed, forecast_error, series=series).summary()
        summaries.append({**info, "network": net.name, "forecast_error": forecast_error,
                          "energy": _energy_label(energy, energy_series), **run_summary})
    bounds = None
    if bound:
        bounds = (tight_compare_bounds(net, demand, series, power=caps) if bound_kind == "tight"
                  else compare_bounds(net, demand, series, power=caps))
    if bounds is not None:
        for r in summaries:
            r.update(_bound_fields(r, *bounds))
    _print_table(summaries, baseline="nearest" if "nearest" in names else None, bounds=bounds)
    if events is not None:
        cli_grid.print_grid(summaries, capped_bound=bounds is not None and caps is not None
                            and bound_kind == "aggregated")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.json").write_text(json.dumps(summaries, indent=2, ensure_ascii=False),
                                          encoding="utf-8")
        stdout().print(f"wrote {out}/compare.json")


def _compare_market(days: float, jobs: int, seed: int, load: float, trace: Path | None,
                    network: Path | None, out: Path | None, forecast_error: float, energy: str,
                    energy_series: Path | None, policies: str,
                    grid_events: Path | None, rule: PostedRule | None = None) -> None:
    names = [p.strip() for p in policies.split(",") if p.strip()]
    if len(names) != 1 or names[0] not in POLICIES:
        raise _fail(f"--policies {policies!r}: with --market, give one online policy, one of: "
                    f"{', '.join(POLICIES)}")
    if grid_events is not None:
        raise _fail("--grid-events: not with --market (the market comparison runs without "
                    "grid events)")
    net = _network(network)
    demand, info = _demand(net, trace, days, jobs, seed, load)
    series = _energy(net, demand, seed, None if trace is not None else days, energy,
                     energy_series)
    horizon_s = float(info.get("horizon_s") or days * 86400.0)
    try:
        comparison = market_compare(net, demand, names[0], series, seed=seed,
                                    forecast_error=forecast_error, horizon_s=horizon_s,
                                    posted_rule=rule)
    except InputError as exc:
        raise _fail(str(exc)) from None
    head = {**info, "network": net.name, "forecast_error": forecast_error,
            "energy": _energy_label(energy, energy_series), "market": True}
    title = (f"{len(demand):,} jobs ({info.get('demand', '')}), network {net.name}, seed {seed}, "
             f"policy {names[0]}: scheduler alone, posted prices, call auction")
    print_market(comparison.rows, title)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        doc = {**head, "optimum_yuan": comparison.optimum_yuan,
               "mechanisms": comparison.rows}
        (out / "compare.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False),
                                          encoding="utf-8")
        stdout().print(f"wrote {out}/compare.json")


def _demand_and_energy(net: Network, days: float, jobs: int, seed: int, load: float,
                       model: str, measured_path: Path | None
                       ) -> tuple[list[Job], dict[str, Any], EnergySeries]:
    """`_demand` (synthetic) and `_energy` with the energy series made in a child process
    (`sim.beside`) while this one makes the jobs from their columns: the same jobs and series
    (the series needs only the columns' horizon)."""
    if model not in ENERGY_MODELS:
        raise _fail(f"unknown energy model {model!r}; choose one of: {', '.join(ENERGY_MODELS)}")
    try:
        columns = synthetic_columns(net, jobs, days, seed=seed, load=load,
                                    start_utc=DEFAULT_START)
    except ValueError as exc:
        raise _fail(str(exc)) from None

    def series_of() -> EnergySeries:
        measured = None if measured_path is None else read_measured(measured_path, net)
        return energy_for(net, columns, seed, DEFAULT_START, days=None, model=model,
                          measured=measured)

    try:
        with beside(series_of) as made:
            demand = jobs_of(columns)
    except InputError as exc:
        raise _fail(str(exc)) from None
    return demand, {"demand": "synthetic", "jobs_requested": jobs, "days": days, "seed": seed,
                    "load": load, "horizon_s": days * 86400.0}, made.value


def _energy(net: Network, demand: list[Job], seed: int, days: float | None, model: str,
            measured_path: Path | None) -> EnergySeries:
    """The run's energy series from the named model, measured values in place where given."""
    if model not in ENERGY_MODELS:
        raise _fail(f"unknown energy model {model!r}; choose one of: {', '.join(ENERGY_MODELS)}")
    try:
        measured = None if measured_path is None else read_measured(measured_path, net)
        return energy_for(net, demand, seed, DEFAULT_START, days=days, model=model,
                          measured=measured)
    except InputError as exc:
        raise _fail(str(exc)) from None


def _energy_label(model: str, measured_path: Path | None) -> str:
    return model if measured_path is None else f"{model} + measured {measured_path}"


def _hours(seconds: float) -> str:
    return f"{seconds / 60:,.1f} min" if seconds < 3600 else f"{seconds / 3600:,.1f} h"


def _bound_fields(row: dict[str, Any], carbon: Bound, cost: Bound) -> dict[str, Any]:
    return {"carbon_bound_t": carbon.value / 1000.0, "cost_bound_yuan": cost.value,
            "carbon_to_bound": row["carbon_t"] * 1000.0 / carbon.value
            if carbon.value > 0 else None,
            "cost_to_bound": row["cost_yuan"] / cost.value if cost.value > 0 else None,
            "bound_method": [carbon.method, cost.method]}


# the columns of `simulate` and `compare`, in the order they are shown (and split at)
RUN_COLUMNS = [
    Column("policy\n策略", "left", key=True, wrap=True), Column("energy MWh\n能耗"),
    Column("green\n绿电"), Column("carbon t\n碳排"), Column("cost 万元\n电费"),
    Column("bill 万元\n租户账单"), Column("west\n西部"), Column("wait mean\n平均等待"),
    Column("wait p99\n等待p99"),
    Column("latency viol.\n时延违规"), Column("deadline miss\n超期"), Column("rejected\n拒绝"),
    Column("jobs/s\n作业/秒"),
]
BOUND_COLUMN = Column("carbon, cost\n× LP bound 下界")


def _print_table(rows: Sequence[dict[str, Any]], baseline: str | None,
                 bounds: tuple[Bound, Bound] | None = None) -> None:
    base = next((r for r in rows if r["policy"] == baseline), None)
    first = rows[0]
    demand = first.get("demand", "")
    title = (f"{first['jobs']:,} jobs ({demand}), network {first.get('network', '')}, "
             f"seed {first.get('seed', '')}")
    columns = list(RUN_COLUMNS)
    if bounds is not None:
        columns.insert(6, BOUND_COLUMN)
    cells: list[list[str]] = []
    for r in rows:
        carbon = f"{r['carbon_t']:,.0f}"
        cost = f"{r['cost_yuan'] / 1e4:,.0f}"
        if base is not None and r is not base and base["carbon_t"] > 0:
            carbon += f" ({(r['carbon_t'] / base['carbon_t'] - 1):+.0%})"
            cost += f" ({(r['cost_yuan'] / base['cost_yuan'] - 1):+.0%})"
        bill = f"{r['bill_yuan'] / 1e4:,.0f}" if r.get("bill_yuan") is not None else "-"
        if base is not None and r is not base and base.get("bill_yuan"):
            bill += f" ({(r['bill_yuan'] / base['bill_yuan'] - 1):+.0%})"
        row = [r["policy"], f"{r['energy_kwh'] / 1000:,.0f}", f"{r['green_share']:.1%}",
               carbon, cost, bill, f"{r['west_energy_share']:.0%}", _hours(r["mean_wait_s"]),
               _hours(r["p99_wait_s"]), f"{r['latency_violations']:,}",
               f"{r['deadline_misses']:,}", f"{r['rejected']:,}", f"{r['jobs_per_s']:,.0f}"]
        if bounds is not None:
            row.insert(6, _ratio(r.get("carbon_to_bound")) + ", "
                       + _ratio(r.get("cost_to_bound")))
        cells.append(row)
    if bounds is not None:
        carbon_b, cost_b = bounds
        cells.append(["LP bound 下界", "", "", f"{carbon_b.value / 1000:,.0f}",
                      f"{cost_b.value / 1e4:,.0f}", "", "1.00, 1.00", *[""] * 7])
    console = stdout()
    print_table(title, columns, cells, section_ends=[len(rows) - 1] if bounds else (),
                console=console)
    if bounds is not None:
        _print_bound_notes(console, *bounds)
    if base is not None:
        console.print("Bracketed: change against nearest (the before-东数西算 baseline: compute "
                      "stays next to its demand). west = share of energy drawn in the western "
                      "hubs.")


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _print_bound_notes(console: Console, carbon: Bound, cost: Bound) -> None:
    console.print("LP bound: no plan that meets every latency bound and deadline (real-time jobs "
                  "starting on arrival) emits less carbon or costs less on these actuals; its "
                  f"carbon and cost come from two solves of {carbon.n_classes:,} job classes "
                  f"({carbon.solve_s + cost.solve_s:.1f} s).")
    if carbon.method != "aggregated" or cost.method != "aggregated" or carbon.note:
        console.print(f"Bound used: carbon {carbon.method} ({carbon.note}); cost {cost.method} "
                      f"({cost.note}).", highlight=False)
    if carbon.deadlines_relaxed or cost.deadlines_relaxed:
        console.print("Not every deadline can be met with this capacity: the bound is over plans "
                      "that may be late.")
    if carbon.infeasible:
        shown = "; ".join(f"{i.job_id}: {i.reason}" for i in carbon.infeasible[:5])
        more = len(carbon.infeasible) - 5
        console.print(f"{len(carbon.infeasible)} jobs cannot be served as asked: {shown}"
                      + (f" (and {more} more)" if more > 0 else ""), highlight=False)


cli_service.register(app)
cli_sweep.register(app)
cli_accounts.register(app)
cli_market.register(app)
cli_replay.register(app)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
