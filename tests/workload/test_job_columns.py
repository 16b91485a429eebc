"""Jobs made from columns are the jobs `Job(...)` makes: equal, same hash, still frozen."""

from __future__ import annotations

import dataclasses

import pytest

from suanwang.model import Job, Kind
from suanwang.workload.job_columns import jobs_from_columns


def columns() -> dict[str, list[object]]:
    return {"job_id": ["a", "b"], "tenant": ["t1", "t2"], "origin": ["bth", "yrd"],
            "kind": [Kind.GENERAL, Kind.HPC], "units": [3, 8], "duration_s": [60.0, 7200.0],
            "submit_s": [0.0, 12.5], "rtt_bound_ms": [5.0, None],
            "deadline_s": [None, 90000.0], "data_gb": [0.1, 200.0],
            "workload": ["payments", "weather-hpc"]}


def test_the_same_jobs_as_the_constructor() -> None:
    cols = columns()
    got = jobs_from_columns(2, **cols)
    want = [Job(**{k: v[i] for k, v in cols.items()}) for i in range(2)]
    assert got == want
    assert [hash(j) for j in got] == [hash(j) for j in want]
    assert [repr(j) for j in got] == [repr(j) for j in want]
    assert got[1].providers_allow == () and got[0].max_bill_yuan is None  # the defaults
    with pytest.raises(dataclasses.FrozenInstanceError):
        got[0].units = 4  # type: ignore[misc]


def test_other_fields_given_as_columns() -> None:
    got = jobs_from_columns(2, **columns(), providers_deny=[("x",), ()],
                            max_price_yuan_per_unit_h=[1.5, None])
    assert got[0].providers_deny == ("x",) and got[0].max_price_yuan_per_unit_h == 1.5


def test_bad_columns_are_named() -> None:
    cols = columns()
    with pytest.raises(TypeError, match="'colour'"):
        jobs_from_columns(2, **cols, colour=["red", "blue"])
    del cols["origin"]
    with pytest.raises(TypeError, match="'origin'"):
        jobs_from_columns(2, **cols)
    cols = columns()
    cols["units"] = [1]
    with pytest.raises(ValueError, match="'units' has 1 values, not 2"):
        jobs_from_columns(2, **cols)
    assert jobs_from_columns(0, **{k: [] for k in columns()}) == []
