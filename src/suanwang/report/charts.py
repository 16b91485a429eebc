"""The bulletin's charts as PNG files (matplotlib, Agg canvas; no display, no global state).

Labels are in English with site ids, so one set of images serves both languages: a CJK font is
not guaranteed on the machines that write bulletins, and a missing glyph prints as a box. The
pages around the images carry the Chinese captions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

COLOURS = {"general": "#5c7cfa", "intelligent": "#f08c00", "hpc": "#7048e8",
           "green": "#2f9e44", "grid": "#868e96", "west": "#2f9e44", "east": "#adb5bd"}


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def capacity_chart(net: dict[str, Any], path: Path) -> Path:
    sites = net["sites"]
    fig = Figure(figsize=(8, 0.45 * len(sites) + 1.5))
    ax = fig.add_subplot()
    names = [f"{s['name_en']}{' (W)' if s['west'] else ''}" for s in sites]
    left = [0.0] * len(sites)
    for kind in ("general", "intelligent", "hpc"):
        vals = [s["pflops_by_kind"][kind] for s in sites]
        ax.barh(names, vals, left=left, color=COLOURS[kind], label=kind)
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("compute, P (PFLOPS)")
    ax.set_title("Installed compute by site and kind (W = western hub)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def energy_chart(run: dict[str, Any], names: dict[str, str], path: Path) -> Path:
    rows = [r for r in run["by_site"] if r["facility_kwh"] > 0]
    fig = Figure(figsize=(8, 0.45 * len(rows) + 1.5))
    ax = fig.add_subplot()
    labels = [names.get(r["site"], r["site"]) for r in rows]
    green = [r["green_kwh"] / 1e3 for r in rows]
    grid = [r["grid_kwh"] / 1e3 for r in rows]
    ax.barh(labels, green, color=COLOURS["green"], label="green")
    ax.barh(labels, grid, left=green, color=COLOURS["grid"], label="grid")
    ax.invert_yaxis()
    ax.set_xlabel("facility energy, MWh")
    ax.set_title("Energy by site: green and grid parts (ledger)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def hourly_chart(run: dict[str, Any], path: Path) -> Path:
    hours = run["hourly"]
    x = list(range(len(hours)))
    energy = [h["facility_kwh"] / 1e3 for h in hours]
    share = [h["green_kwh"] / h["facility_kwh"] * 100 if h["facility_kwh"] else 0.0
             for h in hours]
    fig = Figure(figsize=(9, 3.5))
    ax = fig.add_subplot()
    ax.fill_between(x, energy, color=COLOURS["grid"], alpha=0.5, label="energy (MWh)")
    ax.set_xlabel(f"hour from {hours[0]['hour'] if hours else ''}")
    ax.set_ylabel("facility energy, MWh")
    ax2 = ax.twinx()
    ax2.plot(x, share, color=COLOURS["green"], linewidth=1.2, label="green share (%)")
    ax2.set_ylabel("green share, %")
    ax2.set_ylim(0, 100)
    ax.set_title("Hourly energy and green share (ledger)")
    return _save(fig, path)


def flows_chart(run: dict[str, Any], names: dict[str, str], path: Path) -> Path:
    flows = run["flows"]
    fig = Figure(figsize=(8, 0.6 * len(flows) + 1.5))
    ax = fig.add_subplot()
    labels = [names.get(f["origin"], f["origin"]) for f in flows]
    west = [f["west_kwh"] / 1e3 for f in flows]
    east = [(f["facility_kwh"] - f["west_kwh"]) / 1e3 for f in flows]
    ax.barh(labels, west, color=COLOURS["west"], label="run in the west")
    ax.barh(labels, east, left=west, color=COLOURS["east"], label="run in the east")
    ax.invert_yaxis()
    ax.set_xlabel("facility energy, MWh")
    ax.set_title("Where each origin region's work ran (east -> west)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def write_charts(figures: dict[str, Any], net: dict[str, Any], out_dir: Path) -> dict[str, str]:
    """Write the charts into `out_dir`; return {name: file name}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"capacity": capacity_chart(figures["network"], out_dir / "capacity.png").name}
    run = figures.get("run")
    if run is not None and run["totals"]["records"] > 0:
        site_names = {s["id"]: s["name_en"] for s in net["sites"]}
        region_names = {g["id"]: g["name_en"] for g in net.get("regions", [])}
        files["energy"] = energy_chart(run, site_names, out_dir / "energy.png").name
        files["hourly"] = hourly_chart(run, out_dir / "hourly.png").name
        files["flows"] = flows_chart(run, region_names, out_dir / "flows.png").name
    return files
