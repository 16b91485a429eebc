"""The jobs' columns (`workload.columns`): those the synthetic generator hands over with its jobs
are the columns made from the jobs themselves; a changed list drops them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from suanwang.network.loader import load_network
from suanwang.workload.columns import JobColumns, JobList, code_dtype
from suanwang.workload.synthetic import synthetic_jobs


def _same(a: JobColumns, b: JobColumns) -> None:
    assert a.job_id.equals(b.job_id)
    for field in ("tenant", "origin", "kind", "workload"):
        names_a, names_b = getattr(a, field + "s"), getattr(b, field + "s")
        assert names_a == names_b, field
        assert np.array_equal(getattr(a, field + "_code"), getattr(b, field + "_code")), field
    for field in ("units", "duration_s", "submit_s", "rtt_bound_ms", "deadline_s", "data_gb"):
        assert np.array_equal(getattr(a, field), getattr(b, field), equal_nan=True), field


def test_the_generators_columns_are_the_jobs_columns() -> None:
    jobs = synthetic_jobs(load_network(), 3000, 2.0, seed=4)
    assert isinstance(jobs, JobList) and jobs.columns is not None
    made = JobColumns.of(list(jobs))  # (a plain list: made from the jobs)
    _same(jobs.columns, made)
    assert JobColumns.of(jobs) is jobs.columns
    assert made.tenants == sorted({j.tenant for j in jobs})
    assert [made.tenants[c] for c in made.tenant_code[:50]] == [j.tenant for j in jobs[:50]]
    assert np.isnan(made.deadline_s[[j.deadline_s is None for j in jobs]]).all()


def test_a_changed_list_drops_its_columns() -> None:
    jobs = synthetic_jobs(load_network(), 200, 1.0, seed=2)
    jobs.append(jobs[0])
    assert jobs.columns is None
    assert len(JobColumns.of(jobs)) == 201
    again = synthetic_jobs(load_network(), 200, 1.0, seed=2)
    again.sort(key=lambda j: j.job_id, reverse=True)
    assert again.columns is None
    assert JobColumns.of(again).job_id[0] == pa.scalar("j0000199")


def test_codes_are_small_integers() -> None:
    assert code_dtype(3) == np.int8 and code_dtype(200) == np.int16
    assert code_dtype(40_000) == np.int32
