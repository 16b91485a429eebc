"""The bulletin's charts as PNG files (matplotlib, Agg canvas; no display), one set per language.

The English charts are `capacity.png`, `energy.png`, `hourly.png`, `flows.png`, labelled with
English names; the Chinese ones `*.zh.png`, labelled in Chinese with the pages' font
(`suanwang.report.font`, registered with matplotlib's font manager and used only inside the
zh charts' rc_context), so that they read on a machine without a Chinese font.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from suanwang.report.font import chart_font_family

COLOURS = {"general": "#5c7cfa", "intelligent": "#f08c00", "hpc": "#7048e8",
           "green": "#2f9e44", "grid": "#868e96", "west": "#2f9e44", "east": "#adb5bd"}

TEXT = {
    "en": {
        "kind": {"general": "general", "intelligent": "intelligent", "hpc": "hpc"},
        "west_mark": " (W)",
        "capacity_x": "compute, P (PFLOPS)",
        "capacity_title": "Installed compute by site and kind (W = western hub)",
        "energy_x": "facility energy, MWh",
        "green": "green", "grid": "grid",
        "energy_title": "Energy by site: green and grid parts (ledger)",
        "hour_from": "hour from {hour}",
        "hourly_energy": "energy (MWh)", "hourly_share": "green share (%)",
        "share_y": "green share, %",
        "hourly_title": "Hourly energy and green share (ledger)",
        "west": "run in the west", "east": "run in the east",
        "flows_title": "Where each origin region's work ran (east -> west)",
    },
    "zh": {
        "kind": {"general": "通用", "intelligent": "智算", "hpc": "超算"},
        "west_mark": "（西）",
        "capacity_x": "算力，P（PFLOPS）",
        "capacity_title": "各集群算力规模（按类型；西 = 西部枢纽）",
        "energy_x": "设施侧用电量，MWh",
        "green": "绿电", "grid": "电网电",
        "energy_title": "各集群用电量：绿电与电网电（溯源账本）",
        "hour_from": "自 {hour} 起的小时",
        "hourly_energy": "用电量（MWh）", "hourly_share": "绿电占比（%）",
        "share_y": "绿电占比，%",
        "hourly_title": "逐小时用电量与绿电占比（溯源账本）",
        "west": "在西部完成", "east": "在东部完成",
        "flows_title": "各需求地作业的运行地（东数西算）",
    },
}
CHART_NAMES = ("capacity", "energy", "hourly", "flows")


def chart_file(name: str, lang: str) -> str:
    return f"{name}.png" if lang == "en" else f"{name}.{lang}.png"


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def capacity_chart(net: dict[str, Any], names: dict[str, str], lang: str, path: Path) -> Path:
    tx = TEXT[lang]
    sites = net["sites"]
    fig = Figure(figsize=(8, 0.45 * len(sites) + 1.5))
    ax = fig.add_subplot()
    labels = [f"{names.get(s['id'], s['id'])}{tx['west_mark'] if s['west'] else ''}"
              for s in sites]
    left = [0.0] * len(sites)
    for kind in ("general", "intelligent", "hpc"):
        vals = [s["pflops_by_kind"][kind] for s in sites]
        ax.barh(labels, vals, left=left, color=COLOURS[kind], label=tx["kind"][kind])
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel(tx["capacity_x"])
    ax.set_title(tx["capacity_title"])
    ax.legend(loc="lower right")
    return _save(fig, path)


def energy_chart(run: dict[str, Any], names: dict[str, str], lang: str, path: Path) -> Path:
    tx = TEXT[lang]
    rows = [r for r in run["by_site"] if r["facility_kwh"] > 0]
    fig = Figure(figsize=(8, 0.45 * len(rows) + 1.5))
    ax = fig.add_subplot()
    labels = [names.get(r["site"], r["site"]) for r in rows]
    green = [r["green_kwh"] / 1e3 for r in rows]
    grid = [r["grid_kwh"] / 1e3 for r in rows]
    ax.barh(labels, green, color=COLOURS["green"], label=tx["green"])
    ax.barh(labels, grid, left=green, color=COLOURS["grid"], label=tx["grid"])
    ax.invert_yaxis()
    ax.set_xlabel(tx["energy_x"])
    ax.set_title(tx["energy_title"])
    ax.legend(loc="lower right")
    return _save(fig, path)


def hourly_chart(run: dict[str, Any], lang: str, path: Path) -> Path:
    tx = TEXT[lang]
    hours = run["hourly"]
    x = list(range(len(hours)))
    energy = [h["facility_kwh"] / 1e3 for h in hours]
    share = [h["green_kwh"] / h["facility_kwh"] * 100 if h["facility_kwh"] else 0.0
             for h in hours]
    fig = Figure(figsize=(9, 3.5))
    ax = fig.add_subplot()
    ax.fill_between(x, energy, color=COLOURS["grid"], alpha=0.5, label=tx["hourly_energy"])
    ax.set_xlabel(tx["hour_from"].format(hour=hours[0]["hour"] if hours else ""))
    ax.set_ylabel(tx["energy_x"])
    ax2 = ax.twinx()
    ax2.plot(x, share, color=COLOURS["green"], linewidth=1.2, label=tx["hourly_share"])
    ax2.set_ylabel(tx["share_y"])
    ax2.set_ylim(0, 100)
    ax.set_title(tx["hourly_title"])
    return _save(fig, path)


def flows_chart(run: dict[str, Any], names: dict[str, str], lang: str, path: Path) -> Path:
    tx = TEXT[lang]
    flows = run["flows"]
    fig = Figure(figsize=(8, 0.6 * len(flows) + 1.5))
    ax = fig.add_subplot()
    labels = [names.get(f["origin"], f["origin"]) for f in flows]
    west = [f["west_kwh"] / 1e3 for f in flows]
    east = [(f["facility_kwh"] - f["west_kwh"]) / 1e3 for f in flows]
    ax.barh(labels, west, color=COLOURS["west"], label=tx["west"])
    ax.barh(labels, east, left=west, color=COLOURS["east"], label=tx["east"])
    ax.invert_yaxis()
    ax.set_xlabel(tx["energy_x"])
    ax.set_title(tx["flows_title"])
    ax.legend(loc="lower right")
    return _save(fig, path)


def _charts_in(figures: dict[str, Any], net: dict[str, Any], lang: str,
               out_dir: Path) -> dict[str, str]:
    key = "name_en" if lang == "en" else "name_zh"
    site_names = {s["id"]: s[key] for s in net["sites"]}
    files = {"capacity": capacity_chart(figures["network"], site_names, lang,
                                        out_dir / chart_file("capacity", lang)).name}
    run = figures.get("run")
    if run is not None and run["totals"]["records"] > 0:
        region_names = {g["id"]: g[key] for g in net.get("regions", [])}
        files["energy"] = energy_chart(run, site_names, lang,
                                       out_dir / chart_file("energy", lang)).name
        files["hourly"] = hourly_chart(run, lang, out_dir / chart_file("hourly", lang)).name
        files["flows"] = flows_chart(run, region_names, lang,
                                     out_dir / chart_file("flows", lang)).name
    return files


def write_charts(figures: dict[str, Any], net: dict[str, Any], out_dir: Path,
                 langs: tuple[str, ...] = ("zh", "en")) -> dict[str, dict[str, str]]:
    """Write each language's charts into `out_dir`; return {lang: {chart name: file name}}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict[str, str]] = {}
    for lang in langs:
        if lang == "en":
            out[lang] = _charts_in(figures, net, lang, out_dir)
            continue
        family = chart_font_family()
        with matplotlib.rc_context({"font.family": "sans-serif",
                                    "font.sans-serif": [family, "DejaVu Sans"],
                                    "axes.unicode_minus": False}):
            out[lang] = _charts_in(figures, net, lang, out_dir)
    return out
