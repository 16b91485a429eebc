"""What a sweep writes: `sweep.parquet` (one row per point, every figure of the run's summary)
and `sweep.png` (carbon and mean wait against load, one line per policy and forecast error,
the mean over seeds with their range as a band); and the per-cell means it prints."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

CELL_KEYS = ("policy", "load", "forecast_error")


def write_table(rows: list[dict[str, Any]], path: Path) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def cells(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows grouped by (policy, load, forecast error) over seeds: means of the figures,
    sums of the counts, in the order the cells first appear."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[tuple(r[k] for k in CELL_KEYS)].append(r)
    out = []
    for key, rs in groups.items():
        n = len(rs)
        out.append({**dict(zip(CELL_KEYS, key, strict=True)), "seeds": n,
                    "carbon_t": sum(r["carbon_t"] for r in rs) / n,
                    "carbon_t_min": min(r["carbon_t"] for r in rs),
                    "carbon_t_max": max(r["carbon_t"] for r in rs),
                    "cost_yuan": sum(r["cost_yuan"] for r in rs) / n,
                    "bill_yuan": sum(r["bill_yuan"] for r in rs) / n,
                    "green_share": sum(r["green_share"] for r in rs) / n,
                    "mean_wait_s": sum(r["mean_wait_s"] for r in rs) / n,
                    "wait_s_min": min(r["mean_wait_s"] for r in rs),
                    "wait_s_max": max(r["mean_wait_s"] for r in rs),
                    "latency_violations": sum(r["latency_violations"] for r in rs),
                    "deadline_misses": sum(r["deadline_misses"] for r in rs),
                    "rejected": sum(r["rejected"] for r in rs)})
    return out


def write_plot(rows: list[dict[str, Any]], path: Path) -> Path:
    """Carbon (t) and mean wait (h) against load per (policy, forecast error)."""
    import matplotlib  # here, not at the top: the command line loads this module on start
    from matplotlib.figure import Figure

    matplotlib.use("Agg")
    by_line: dict[tuple[str, float], list[dict[str, Any]]] = defaultdict(list)
    for c in cells(rows):
        by_line[(c["policy"], c["forecast_error"])].append(c)
    several_errors = len({fe for _, fe in by_line}) > 1
    fig = Figure(figsize=(10, 4), dpi=110)
    carbon_ax, wait_ax = fig.subplots(1, 2)
    for (policy, fe), cs in by_line.items():
        cs.sort(key=lambda c: c["load"])
        label = f"{policy} (forecast error {fe:g})" if several_errors else policy
        x = [c["load"] for c in cs]
        line, = carbon_ax.plot(x, [c["carbon_t"] for c in cs], marker="o", label=label)
        carbon_ax.fill_between(x, [c["carbon_t_min"] for c in cs],
                               [c["carbon_t_max"] for c in cs], color=line.get_color(),
                               alpha=0.15, linewidth=0)
        wait_ax.plot(x, [c["mean_wait_s"] / 3600.0 for c in cs], marker="o",
                     color=line.get_color(), label=label)
        wait_ax.fill_between(x, [c["wait_s_min"] / 3600.0 for c in cs],
                             [c["wait_s_max"] / 3600.0 for c in cs], color=line.get_color(),
                             alpha=0.15, linewidth=0)
    carbon_ax.set(xlabel="offered load (share of capacity)", ylabel="carbon, t CO2",
                  title="Carbon (mean over seeds; band: their range)")
    wait_ax.set(xlabel="offered load (share of capacity)", ylabel="mean wait, h",
                title="Mean wait")
    carbon_ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    return path
