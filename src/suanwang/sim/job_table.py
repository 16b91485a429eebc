"""The jobs of a run as columns: one numpy array (or list of strings) per column of jobs.csv,
in its order, shared by the CSV and Parquet writers (`sim.output`).

Numbers are float64 (NaN where a value does not apply: no deadline for a real-time job, no
site for a rejected one) or int64; text columns are lists of str ("" where nothing applies).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suanwang.sim.result import SimResult

# the columns of jobs.csv, in order, with how each is held: "str", "int" or "float"
JOB_COLUMN_TYPES: tuple[tuple[str, str], ...] = (
    ("job_id", "str"), ("tenant", "str"), ("origin", "str"), ("kind", "str"), ("units", "int"),
    ("submit_s", "float"), ("start_s", "float"), ("end_s", "float"), ("site", "str"),
    ("rtt_ms", "float"), ("rtt_bound_ms", "float"), ("deadline_s", "float"),
    ("data_gb", "float"), ("energy_kwh", "float"), ("green_kwh", "float"),
    ("carbon_kg", "float"), ("cost_yuan", "float"), ("wait_s", "float"), ("status", "str"),
    ("workload", "str"), ("placed_s", "float"), ("transfer_s", "float"),
    ("deferrals", "int"), ("reason", "str"), ("provider", "str"), ("bill_yuan", "float"),
)
JOB_COLUMNS: tuple[str, ...] = tuple(name for name, _ in JOB_COLUMN_TYPES)

Column = np.ndarray | list[str]


@dataclass(frozen=True)
class JobTable:
    """Columns of equal length, named and ordered as `JOB_COLUMNS`."""

    columns: dict[str, Column]

    def __len__(self) -> int:
        return len(self.columns["job_id"])


def _floats(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _lookup(names: Sequence[str], index: np.ndarray) -> list[str]:
    """names[index[i]], "" where index[i] < 0."""
    table = [*names, ""]
    return [table[k] for k in np.where(index < 0, len(names), index).tolist()]


def job_table(result: SimResult, a: int = 0, b: int | None = None) -> JobTable:
    """The jobs.csv columns of `result`'s jobs [a, b) (all by default)."""
    b = len(result.jobs) if b is None else b
    jobs = result.jobs[a:b]
    n = len(jobs)
    cut = slice(a, b)
    site = np.asarray(result.site)[cut]
    topo = result.topology
    if result.slice is None:
        provider = [""] * n
    else:
        provider = _lookup(topo.slice_provider, np.asarray(result.slice)[cut])
    reasons = result.reasons
    submit = np.fromiter((j.submit_s for j in jobs), dtype=np.float64, count=n)
    start = np.asarray(result.start_s, dtype=np.float64)[cut]
    bill = np.asarray(result.compute_bill_yuan)[cut] + np.asarray(result.egress_yuan)[cut] \
        if result.compute_bill_yuan is not None and result.egress_yuan is not None \
        else np.zeros(n)
    cols: dict[str, Column] = {
        "job_id": [j.job_id for j in jobs],
        "tenant": [j.tenant for j in jobs],
        "origin": [j.origin for j in jobs],
        "kind": [j.kind.value for j in jobs],
        "units": np.fromiter((j.units for j in jobs), dtype=np.int64, count=n),
        "submit_s": submit,
        "start_s": start,
        "end_s": np.asarray(result.end_s, dtype=np.float64)[cut],
        "site": _lookup(topo.site_ids, site),
        "rtt_ms": np.asarray(result.rtt_ms, dtype=np.float64)[cut],
        "rtt_bound_ms": _floats([j.rtt_bound_ms for j in jobs]),
        "deadline_s": _floats([j.deadline_s for j in jobs]),
        "data_gb": np.fromiter((j.data_gb for j in jobs), dtype=np.float64, count=n),
        "energy_kwh": np.asarray(result.energy_kwh, dtype=np.float64)[cut],
        "green_kwh": np.asarray(result.green_kwh, dtype=np.float64)[cut],
        "carbon_kg": np.asarray(result.carbon_kg, dtype=np.float64)[cut],
        "cost_yuan": np.asarray(result.cost_yuan, dtype=np.float64)[cut],
        "wait_s": start - submit,  # SimResult.wait_s
        "status": list(result.status[a:b]),
        "workload": [j.workload for j in jobs],
        "placed_s": np.asarray(result.placed_s, dtype=np.float64)[cut],
        "transfer_s": np.asarray(result.transfer_s, dtype=np.float64)[cut],
        "deferrals": np.asarray(result.deferrals, dtype=np.int64)[cut],
        "reason": [reasons.get(i, "") for i in range(a, b)] if reasons else [""] * n,
        "provider": provider,
        "bill_yuan": np.where(site >= 0, bill, np.nan),
    }
    return JobTable(cols)
