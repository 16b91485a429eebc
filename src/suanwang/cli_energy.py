"""`suanwang energy ...`: the physical energy model, site by site (a plot and a supply table)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated

import typer

from suanwang.cli_errors import fail
from suanwang.cli_output import Column, print_table, stdout
from suanwang.energy.measured import apply_measured, read_measured
from suanwang.energy.series import EnergySeries
from suanwang.energy.tariffs import tariff_for
from suanwang.errors import InputError
from suanwang.model import Network
from suanwang.network.loader import load_network
from suanwang.sim.runner import DEFAULT_START

app = typer.Typer(no_args_is_help=True, help="Energy 能源: supply, green share, intensity.")
BEIJING = timezone(timedelta(hours=8))

NetworkOpt = Annotated[Path | None, typer.Option(
    "--network", help="Network file (YAML); default: the bundled national network.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the weather.")]
StartOpt = Annotated[str | None, typer.Option(
    "--start", help="First hour: a date (Beijing midnight) or an ISO time with a UTC offset; "
                    "default 2024-06-01, the runs' start.")]


_fail = fail


def _network(path: Path | None) -> Network:
    try:
        return load_network(path)
    except InputError as exc:
        raise _fail(str(exc)) from None


def _start(text: str | None) -> datetime:
    if text is None:
        return DEFAULT_START
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=BEIJING)
        start = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"--start {text!r}: not a date (2024-06-01) or an ISO time with a UTC "
                    "offset (2024-06-01T00:00+08:00)") from None
    if start.tzinfo is None:
        raise _fail(f"--start {text!r}: give a UTC offset, e.g. {text}+08:00")
    return start


@app.command()
def plot(
    site: Annotated[str, typer.Option("--site", help="Site id, e.g. horinger.")] = "horinger",
    days: Annotated[float, typer.Option("--days", min=0.5, max=400.0,
                                        help="Days to plot.")] = 7.0,
    out: Annotated[Path | None, typer.Option(
        "--out", help="PNG to write; default <site>-energy.png.")] = None,
    seed: SeedOpt = 0, start: StartOpt = None, network: NetworkOpt = None,
    energy_series: Annotated[Path | None, typer.Option(
        "--energy-series", help="Measured series overriding the model where it has values.")
    ] = None,
) -> None:
    """Plot a site's contracted supply (wind, solar, firm, grid), green share and intensity
    from the physical model (measured values in place where --energy-series gives them)."""
    from suanwang.energy.supply import physical_energy_series  # pvlib: import on use

    net = _network(network)
    ids = [s.id for s in net.sites]
    if site not in ids:
        raise _fail(f"--site {site!r}: unknown site; known: {', '.join(ids)}")
    t0 = _start(start)
    series: EnergySeries = physical_energy_series(net, t0, round(days * 24), seed=seed)
    label = "physical model"
    if energy_series is not None:
        try:
            series = apply_measured(series, read_measured(energy_series, net), net)
        except InputError as exc:
            raise _fail(str(exc)) from None
        label += f" + measured {energy_series.name}"
    s = net.site(site)
    path = out if out is not None else Path(f"{site}-energy.png")
    from suanwang.energy.plot import plot_site

    title = (f"{s.name_en}: {days:g} days from "
             f"{t0.astimezone(BEIJING):%Y-%m-%d %H:%M} Beijing time, seed {seed} ({label})")
    plot_site(series, s, path, title)
    i = series.site_index(site)
    stdout().print(f"wrote {path}: green share {series.green_share[i].mean():.1%}, intensity "
                  f"{series.intensity_g_per_kwh[i].mean():,.0f} g/kWh on average")


@app.command()
def supply(seed: SeedOpt = 0, start: StartOpt = None, network: NetworkOpt = None) -> None:
    """Each site's contracts, the load they are sized for, their modelled full-load hours and
    the green share they deliver over a year, beside the network file's figure."""
    from suanwang.energy.supply import (  # pvlib: import on use
        REFERENCE_HOURS,
        contract_load_kw,
        facility_power_kw,
        physical_energy_series,
        site_contracts,
        site_weather,
    )

    net = _network(network)
    t0 = _start(start)
    series = physical_energy_series(net, t0, REFERENCE_HOURS, seed=seed)
    columns = [Column("site 站点", "left", key=True, wrap=True), Column("facility MW"),
               Column("load MW"), Column("wind MW"), Column("solar MW"), Column("firm MW"),
               Column("wind h"), Column("solar h"), Column("green model"), Column("green file"),
               Column("tariff", "left", wrap=True)]
    rows: list[list[str]] = []
    for i, s in enumerate(net.sites):
        contracts, from_file = site_contracts(s, net, t0, seed)
        wind, solar = site_weather(s, t0, REFERENCE_HOURS, seed)
        mark = "" if from_file else "*"
        rows.append([f"{s.name_zh} {s.id}", f"{facility_power_kw(s) / 1000:,.1f}",
                  f"{contract_load_kw(s, net.contract_load_utilisation) / 1000:,.1f}",
                  f"{contracts.wind_mw:,.0f}{mark}", f"{contracts.solar_mw:,.0f}{mark}",
                  f"{contracts.firm_mw:,.0f}{mark}", f"{wind.mean() * 8760:,.0f}",
                  f"{solar.mean() * 8760:,.0f}", f"{series.green_share[i].mean():.1%}",
                  f"{s.green_share:.0%}", tariff_for(s.province_en).province])
    console = stdout()
    print_table(f"Contracted green supply 绿电直供, a year from "
                f"{t0.astimezone(BEIJING):%Y-%m-%d}, seed {seed}", columns, rows, console=console)
    console.print(
        f"load = facility power (units x kW per unit x PUE) x {net.contract_load_utilisation:g}; "
        "green share of an hour = min(1, (wind MW x wind + solar MW x solar + firm MW) / load); "
        "wind h, solar h = full-load hours a year. * sized by the model to the file's green "
        "share (the file gives no contracts).")
