"""The range of every number read from a file: one table, enforced at the edge by every reader.

A `Bound` says what a field must be (a number or a whole number, its range and unit, an
example) and refuses anything else: not a number, NaN, an infinity, out of range (1e308 where a
power is meant), a fraction where a whole number is meant. Negative zero is read as zero.

The tables below are the documentation too: `docs/input-ranges.md` is `ranges_markdown()` (a
test keeps the two equal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DAY_S = 86_400.0
MAX_RUN_DAYS = 730
MAX_RUN_S = MAX_RUN_DAYS * DAY_S  # a run spans at most two years of hourly energy series
YEARS = (2000, 2100)  # a time in a file (measured series, trace timestamps) lies in these years


def _fmt(x: float) -> str:
    if math.isfinite(x) and x == int(x) and abs(x) < 1e12:
        return f"{int(x):,}"
    return f"{x:g}"


@dataclass(frozen=True, slots=True)
class Bound:
    """A numeric field: `lo` (exclusive when `lo_open`) to `hi`, in `unit`, like `example`."""

    lo: float
    hi: float
    unit: str
    example: str
    lo_open: bool = False
    whole: bool = False
    meaning: str = ""

    def expected(self) -> str:
        """'a number > 0 and <= 10,000 ms, e.g. 30' — the type, range, unit and an example."""
        kind = "a whole number" if self.whole else "a number"
        low = f"{'>' if self.lo_open else '>='} {_fmt(self.lo)}"
        if math.isinf(self.lo) and math.isinf(self.hi):
            span = "(finite)"
        elif math.isinf(self.hi):
            span = low
        elif math.isinf(self.lo):
            span = f"<= {_fmt(self.hi)}"
        elif self.lo_open:
            span = f"{low} and <= {_fmt(self.hi)}"
        else:
            span = f"from {_fmt(self.lo)} to {_fmt(self.hi)}"
        unit = f" {self.unit}" if self.unit else ""
        return f"{kind} {span}{unit}, e.g. {self.example}"

    def problem(self, value: object) -> str | None:
        """Why `value` (already parsed) is refused, or None when it is in range."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be {self.expected()}"
        try:
            x = float(value)
        except OverflowError:
            return f"too large: must be {self.expected()}"
        if math.isnan(x):
            return f"not a number (NaN): must be {self.expected()}"
        if math.isinf(x):
            return f"infinite: must be {self.expected()}"
        if self.whole and not x.is_integer():
            return f"not a whole number: must be {self.expected()}"
        if (x <= self.lo if self.lo_open else x < self.lo) or x > self.hi:
            return f"out of range: must be {self.expected()}"
        return None

    def check(self, value: object) -> float:
        """`value` as a float (negative zero as zero); ValueError(the problem) when refused."""
        problem = self.problem(value)
        if problem is not None:
            raise ValueError(problem)
        return float(value) + 0.0  # type: ignore[arg-type]


def _b(lo: float, hi: float, unit: str, example: str, meaning: str, *, lo_open: bool = False,
       whole: bool = False) -> Bound:
    return Bound(lo, hi, unit, example, lo_open=lo_open, whole=whole, meaning=meaning)


# job files and traces (columns), per job
JOB: dict[str, Bound] = {
    "units": _b(1, 1e8, "units", "8", "cores, accelerators or nodes, by kind", whole=True),
    "duration_s": _b(0, MAX_RUN_S, "s", "3600", "seconds of compute; a run spans at most "
                     f"{MAX_RUN_DAYS} days", lo_open=True),
    "submit_s": _b(0, MAX_RUN_S, "s", "0", "seconds on the run's clock; submit_s + duration_s "
                   f"also at most {MAX_RUN_S:g}"),
    "rtt_bound_ms": _b(0, 10_000, "ms", "30", "real-time jobs: the largest round trip",
                       lo_open=True),
    "deadline_s": _b(0, 3 * MAX_RUN_S, "s", "86400", "batch jobs: end by then, > submit_s",
                     lo_open=True),
    "data_gb": _b(0, 1e6, "GB", "10", "input data moved to the site before the job starts"),
    "ContextTokens": _b(0, 1e7, "tokens", "2048", "Azure LLM trace: prompt tokens",
                        whole=True),
    "GeneratedTokens": _b(0, 1e7, "tokens", "256", "Azure LLM trace: generated tokens",
                          whole=True),
    "cpu_milli": _b(0, 1e9, "thousandths of a core", "4000", "Alibaba trace", whole=True),
    "num_gpu": _b(0, 1e6, "GPUs", "1", "Alibaba trace", whole=True),
    "gpu_milli": _b(0, 1000, "thousandths of one GPU", "1000", "Alibaba trace", whole=True),
    "creation_time": _b(0, 1e10, "s", "12347558", "Alibaba trace; the span of the file's "
                        f"times at most {MAX_RUN_DAYS} days"),
    "deletion_time": _b(0, 1e10, "s", "12348084", "Alibaba trace"),
    "scheduled_time": _b(0, 1e10, "s", "12347559", "Alibaba trace; empty: not scheduled"),
}

# the network file, by key (the last part of the field's path, `.value` dropped)
NETWORK: dict[str, Bound] = {
    "route_factor": _b(1, 10, "", "1.5", "latency_model: fibre route length / great circle"),
    "fibre_km_per_ms": _b(0, 300, "km per ms", "200", "latency_model: speed in fibre",
                          lo_open=True),
    "overhead_ms": _b(0, 1000, "ms", "2", "latency_model: fixed round-trip overhead"),
    "min_rtt_ms": _b(0, 1000, "ms", "1", "latency_model: smallest round trip"),
    "default_bandwidth_gbps": _b(0, 1e5, "Gbps", "100", "links not listed", lo_open=True),
    "contract_load_utilisation": _b(0, 1, "(a fraction)", "0.6", "", lo_open=True),
    "pflops_per_unit": _b(0, 100, "PFLOPS", "0.001", "unit_types and pools", lo_open=True),
    "kw_per_unit": _b(0, 1000, "kW", "0.3", "unit_types and pools", lo_open=True),
    "lat": _b(-90, 90, "degrees", "40.8", "regions and sites"),
    "lon": _b(-180, 180, "degrees", "111.7", "regions and sites"),
    "units": _b(1, 1e9, "units", "1000", "pools", whole=True),
    "pflops": _b(0, 1e5, "PFLOPS", "12.5", "pools", lo_open=True),
    "snapshot_pflops": _b(0, 1e5, "PFLOPS", "9084", "snapshots: `pflops.<kind>`"),
    "total_pflops": _b(0, 1e5, "PFLOPS", "12.5", "snapshots"),
    "pue": _b(1, 3, "", "1.25", "sites: power usage effectiveness"),
    "price_yuan_per_kwh": _b(0, 10, "yuan per kWh", "0.35", "sites (not per MWh)"),
    "green_share": _b(0, 1, "(a fraction)", "0.45", "sites (not a percentage)"),
    "wind_fraction": _b(0, 1, "(a fraction)", "0.3", "sites"),
    "solar_fraction": _b(0, 1, "(a fraction)", "0.2", "sites; wind + solar <= 1"),
    "grid_intensity_g_per_kwh": _b(0, 2000, "g CO2 per kWh", "581", "sites (not kg/kWh)"),
    "rtt_ms": _b(0, 10_000, "ms", "25", "latency entries", lo_open=True),
    "gbps": _b(0, 1e5, "Gbps", "100", "bandwidth entries", lo_open=True),
    "wind_mw": _b(0, 1e5, "MW", "50", "contracts"),
    "solar_mw": _b(0, 1e5, "MW", "30", "contracts"),
    "firm_mw": _b(0, 1e5, "MW", "10", "contracts"),
}

# measured energy series (columns)
MEASURED: dict[str, Bound] = {
    "green_share": _b(0, 1, "(a fraction, not a percentage)", "0.42", ""),
    "intensity_g_per_kwh": _b(0, 2000, "g CO2 per kWh (not kg/kWh)", "350", ""),
    "price_yuan_per_kwh": _b(0, 10, "yuan per kWh (not per MWh)", "0.38", ""),
}

# the deployment file (a site's settings, by key)
DEPLOYMENT: dict[str, Bound] = {
    "units_per_cpu": _b(0, 1e6, "units", "1", "slurm", lo_open=True),
    "units_per_gpu": _b(0, 1e6, "units", "1", "slurm", lo_open=True),
    "units_per_node": _b(0, 1e6, "units", "64", "slurm", lo_open=True),
    "units_per_resource": _b(0, 1e6, "units", "1", "ray", lo_open=True),
    "num_cpus": _b(0, 1e4, "CPUs", "1", "ray"),
    "time_margin_s": _b(0, DAY_S, "s", "60", "slurm, local"),
    "time_margin_frac": _b(0, 10, "(a fraction of the time limit)", "0.05", "slurm, local"),
    "grace_s": _b(0, 3600, "s", "5", "local, ray"),
    "command_timeout_s": _b(0, 3600, "s", "30", "slurm", lo_open=True),
    "connect_timeout_s": _b(0, 300, "s", "5", "ray", lo_open=True),
}

TABLES: dict[str, dict[str, Bound]] = {
    "Job files and traces (columns)": JOB,
    "Network file (keys)": NETWORK,
    "Measured energy series (columns)": MEASURED,
    "Deployment file (a site's settings)": DEPLOYMENT,
}


def ranges_markdown() -> str:
    """The tables as Markdown (the body of docs/input-ranges.md)."""
    out = ["# Input ranges", "",
           "Every number read from a file, its range and an example. A value outside its range,",
           "NaN or an infinity is refused with the file, the field or row and the value; -0.0 is",
           f"read as 0. A run spans at most {MAX_RUN_DAYS} days; times in measured series and "
           f"trace timestamps lie in the years {YEARS[0]}-{YEARS[1]}.",
           "Generated from `suanwang.bounds` (a test keeps this file equal to it).", ""]
    for title, table in TABLES.items():
        out += [f"## {title}", "", "| field | expected | notes |", "| --- | --- | --- |"]
        out += [f"| `{name}` | {b.expected()} | {b.meaning} |" for name, b in table.items()]
        out.append("")
    return "\n".join(out)
