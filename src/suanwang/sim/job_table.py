"""The jobs of a run as columns: one numpy array (or list of strings) per column of jobs.csv,
in its order, shared by the CSV and Parquet writers (`sim.output`).

Numbers are float64 (NaN where a value does not apply: no deadline for a real-time job, no
site for a rejected one) or int64; text columns are lists of str, Arrow string arrays or
`Coded` ("" where nothing applies).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from suanwang.sim.result import SimResult
from suanwang.workload.columns import coded

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


@dataclass(frozen=True)
class Coded:
    """A text column as codes into its distinct values: names[codes[i]], "" where codes[i] is
    negative."""

    codes: np.ndarray
    names: list[str]

    def __len__(self) -> int:
        return len(self.codes)

    def values(self) -> list[str]:
        return _lookup(self.names, self.codes)


Column = np.ndarray | list[str] | pa.Array | Coded


@dataclass(frozen=True)
class JobTable:
    """Columns of equal length, named and ordered as `JOB_COLUMNS`."""

    columns: dict[str, Column]

    def __len__(self) -> int:
        return len(self.columns["job_id"])


def _lookup(names: Sequence[str], index: np.ndarray) -> list[str]:
    """names[index[i]], "" where index[i] < 0."""
    table = [*names, ""]
    return [table[k] for k in np.where(index < 0, len(names), index).tolist()]


def job_table(result: SimResult, a: int = 0, b: int | None = None) -> JobTable:
    """The jobs.csv columns of `result`'s jobs [a, b) (all by default). Text columns of few
    distinct values are (codes, names) pairs (`Coded`), read by the writers as such."""
    cols = result.job_columns
    b = len(cols) if b is None else b
    n = b - a
    cut = slice(a, b)
    site = np.asarray(result.site)[cut]
    topo = result.topology
    if result.slice is None:
        provider: Column = Coded(np.full(n, -1, dtype=np.int64), [])
    else:
        provider = Coded(np.asarray(result.slice)[cut], list(topo.slice_provider))
    reasons = result.reasons
    submit = cols.submit_s[cut]
    start = np.asarray(result.start_s, dtype=np.float64)[cut]
    bill = np.asarray(result.compute_bill_yuan)[cut] + np.asarray(result.egress_yuan)[cut] \
        if result.compute_bill_yuan is not None and result.egress_yuan is not None \
        else np.zeros(n)
    out: dict[str, Column] = {
        "job_id": cols.job_id[a:b],
        "tenant": Coded(cols.tenant_code[cut], cols.tenants),
        "origin": Coded(cols.origin_code[cut], cols.origins),
        "kind": Coded(cols.kind_code[cut], cols.kinds),
        "units": cols.units[cut],
        "submit_s": submit,
        "start_s": start,
        "end_s": np.asarray(result.end_s, dtype=np.float64)[cut],
        "site": Coded(site, list(topo.site_ids)),
        "rtt_ms": np.asarray(result.rtt_ms, dtype=np.float64)[cut],
        "rtt_bound_ms": cols.rtt_bound_ms[cut],
        "deadline_s": cols.deadline_s[cut],
        "data_gb": cols.data_gb[cut],
        "energy_kwh": np.asarray(result.energy_kwh, dtype=np.float64)[cut],
        "green_kwh": np.asarray(result.green_kwh, dtype=np.float64)[cut],
        "carbon_kg": np.asarray(result.carbon_kg, dtype=np.float64)[cut],
        "cost_yuan": np.asarray(result.cost_yuan, dtype=np.float64)[cut],
        "wait_s": start - submit,  # SimResult.wait_s
        "status": _status(result.status, a, b),
        "workload": Coded(cols.workload_code[cut], cols.workloads),
        "placed_s": np.asarray(result.placed_s, dtype=np.float64)[cut],
        "transfer_s": np.asarray(result.transfer_s, dtype=np.float64)[cut],
        "deferrals": np.asarray(result.deferrals, dtype=np.int64)[cut],
        "reason": [reasons.get(i, "") for i in range(a, b)] if reasons else [""] * n,
        "provider": provider,
        "bill_yuan": np.where(site >= 0, bill, np.nan),
    }
    return JobTable(out)


def _status(status: Sequence[str], a: int, b: int) -> Coded:
    codes, names = coded(status[a:b])
    return Coded(codes, names)
