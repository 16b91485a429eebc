"""The jobs of a run as columns: each field of `Job` that the outputs and the accounting read,
one array per field, so that a million jobs are read without visiting a million objects.

`JobColumns.of(jobs)` makes them from the jobs (one pass per field), or takes those a
`JobList` carries: the synthetic generator has every field as an array before it makes the
jobs, and hands them over with the list (`synthetic_jobs`). A `JobList` is a plain list of
jobs that also holds their columns; any change to the list drops them (they are made again from
the jobs when asked for).

Text fields with few distinct values (tenant, origin, kind, workload) are held as codes into
their sorted distinct values; the job ids as an Arrow string array; numbers as float64 (NaN
where a value is None: no latency bound, no deadline) or int64.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, SupportsIndex

import numpy as np
import pyarrow as pa

from suanwang.memory_trim import give_back
from suanwang.model import Job, Kind
from suanwang.workload.job_columns import jobs_from_columns

__all__ = ["JobColumns", "JobList", "code_dtype", "coded", "jobs_of"]


def code_dtype(n_names: int) -> type[np.signedinteger[Any]]:
    """The smallest signed integer type holding codes into `n_names` names (and -1)."""
    return np.int8 if n_names < 2**7 else np.int16 if n_names < 2**15 else np.int32 \
        if n_names < 2**31 else np.int64


def coded(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """(codes, names): names sorted and distinct, values[i] == names[codes[i]]."""
    names = sorted(set(values))
    code = {v: k for k, v in enumerate(names)}
    return np.fromiter(map(code.__getitem__, values), dtype=code_dtype(len(names)),
                       count=len(values)), names


def _floats(values: Iterable[float | None], n: int) -> np.ndarray:
    return np.fromiter((np.nan if v is None else v for v in values), dtype=np.float64, count=n)


@dataclass(frozen=True, eq=False)
class JobColumns:
    """Per job i (in the order of the jobs): the fields of jobs[i]."""

    job_id: pa.Array  # string
    tenant_code: np.ndarray  # into `tenants` (codes: `code_dtype`)
    tenants: list[str]  # sorted, distinct
    origin_code: np.ndarray
    origins: list[str]
    kind_code: np.ndarray  # into `kinds` (the kinds' values, "general", ...)
    kinds: list[str]
    workload_code: np.ndarray  # into `workloads` ("" where a job has none)
    workloads: list[str]
    units: np.ndarray  # int64
    duration_s: np.ndarray
    submit_s: np.ndarray
    rtt_bound_ms: np.ndarray  # NaN: none (not real-time)
    deadline_s: np.ndarray  # NaN: none
    data_gb: np.ndarray

    def __len__(self) -> int:
        return len(self.units)

    @classmethod
    def of(cls, jobs: Sequence[Job]) -> JobColumns:
        """The columns of `jobs`: those its `JobList` holds, else made from the jobs."""
        held = jobs.columns if isinstance(jobs, JobList) else None
        if held is not None:
            return held
        n = len(jobs)

        def field(name: str) -> list[Any]:
            return list(map(attrgetter(name), jobs))

        tenant, tenants = coded(field("tenant"))
        origin, origins = coded(field("origin"))
        kind, kinds = coded([k.value for k in field("kind")])
        workload, workloads = coded(field("workload"))
        return cls(job_id=pa.array(field("job_id"), type=pa.string()), tenant_code=tenant,
                   tenants=tenants, origin_code=origin, origins=origins, kind_code=kind,
                   kinds=kinds, workload_code=workload, workloads=workloads,
                   units=np.fromiter(map(attrgetter("units"), jobs), dtype=np.int64, count=n),
                   duration_s=np.fromiter(map(attrgetter("duration_s"), jobs),
                                          dtype=np.float64, count=n),
                   submit_s=np.fromiter(map(attrgetter("submit_s"), jobs), dtype=np.float64,
                                        count=n),
                   rtt_bound_ms=_floats(map(attrgetter("rtt_bound_ms"), jobs), n),
                   deadline_s=_floats(map(attrgetter("deadline_s"), jobs), n),
                   data_gb=np.fromiter(map(attrgetter("data_gb"), jobs), dtype=np.float64,
                                       count=n))


class JobList(list[Job]):
    """A list of jobs holding their columns (`columns`, None once the list has changed)."""

    columns: JobColumns | None

    def __init__(self, jobs: Iterable[Job] = (), columns: JobColumns | None = None) -> None:
        super().__init__(jobs)
        if columns is not None and len(columns) != len(self):
            raise ValueError(f"columns: {len(columns)} rows for {len(self)} jobs")
        self.columns = columns

    def _changed(self) -> None:
        self.columns = None

    def __setitem__(self, index: Any, value: Any) -> None:
        self._changed()
        super().__setitem__(index, value)

    def __delitem__(self, index: SupportsIndex | slice) -> None:
        self._changed()
        super().__delitem__(index)

    def __iadd__(self, other: Iterable[Job]) -> JobList:  # type: ignore[override,misc]
        self._changed()
        return super().__iadd__(other)  # type: ignore[return-value]

    def __imul__(self, n: SupportsIndex) -> JobList:  # type: ignore[override,misc]
        self._changed()
        return super().__imul__(n)  # type: ignore[return-value]

    def append(self, job: Job) -> None:
        self._changed()
        super().append(job)

    def extend(self, jobs: Iterable[Job]) -> None:
        self._changed()
        super().extend(jobs)

    def insert(self, index: SupportsIndex, job: Job) -> None:
        self._changed()
        super().insert(index, job)

    def pop(self, index: SupportsIndex = -1) -> Job:
        self._changed()
        return super().pop(index)

    def remove(self, job: Job) -> None:
        self._changed()
        super().remove(job)

    def clear(self) -> None:
        self._changed()
        super().clear()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        self._changed()
        super().sort(*args, **kwargs)

    def reverse(self) -> None:
        self._changed()
        super().reverse()


def jobs_of(columns: JobColumns) -> JobList:
    """The jobs of `columns` (their other fields at their defaults, None where a number is
    NaN), holding the columns."""
    n = len(columns)

    def names(codes: np.ndarray, values: Sequence[Any]) -> list[Any]:
        return np.array([*values, None], dtype=object)[codes].tolist()

    jobs = jobs_from_columns(
        n, job_id=columns.job_id.to_pylist(),
        tenant=names(columns.tenant_code, columns.tenants),
        origin=names(columns.origin_code, columns.origins),
        kind=names(columns.kind_code, [Kind(k) for k in columns.kinds]),
        units=columns.units.tolist(), duration_s=columns.duration_s.tolist(),
        submit_s=columns.submit_s.tolist(), rtt_bound_ms=_or_none(columns.rtt_bound_ms),
        deadline_s=_or_none(columns.deadline_s), data_gb=columns.data_gb.tolist(),
        workload=names(columns.workload_code, columns.workloads))
    give_back()  # (the lists the jobs were made from)
    return JobList(jobs, columns)


def _or_none(values: np.ndarray) -> list[float | None]:
    """`values.tolist()` with None for NaN."""
    objects = np.array(values.tolist(), dtype=object)
    objects[np.isnan(values)] = None
    return objects.tolist()  # type: ignore[no-any-return]
