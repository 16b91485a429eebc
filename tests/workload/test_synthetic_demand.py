"""Synthetic demand: the same jobs for a seed, other jobs for another, and every job's fields
those of its workload class (each field where it belongs)."""

from __future__ import annotations

import pytest

from suanwang.model import Job
from suanwang.network.loader import load_network
from suanwang.workload.synthetic import WORKLOAD_CLASSES, synthetic_jobs

DAYS = 2.0


@pytest.fixture(scope="module")
def jobs() -> list[Job]:
    return synthetic_jobs(load_network(), 3000, DAYS, seed=12)


def test_same_seed_same_jobs_other_seed_other_jobs(jobs: list[Job]) -> None:
    net = load_network()
    assert synthetic_jobs(net, 3000, DAYS, seed=12) == jobs
    assert synthetic_jobs(net, 3000, DAYS, seed=13) != jobs


def test_every_field_is_its_class_s(jobs: list[Job]) -> None:
    classes = {c.name: c for c in WORKLOAD_CLASSES}
    regions = {r.id for r in load_network().regions}
    assert [j.job_id for j in jobs] == [f"j{i:07d}" for i in range(len(jobs))]
    assert [j.submit_s for j in jobs] == sorted(j.submit_s for j in jobs)
    seen = set()
    for j in jobs:
        c = classes[j.workload]
        seen.add(c.name)
        assert j.kind == c.kind and j.tenant in c.tenants and j.origin in regions
        assert j.origin in {o for o, _ in c.origins}
        assert isinstance(j.units, int) and j.units >= 1
        assert 60.0 <= j.duration_s <= c.duration_max_s
        assert 0.0 <= j.submit_s < DAYS * 86400.0
        assert j.data_gb >= 0.0
        assert j.rtt_bound_ms == c.rtt_bound_ms
        if c.rtt_bound_ms is None:
            assert j.deadline_s is not None and j.deadline_s >= j.submit_s + j.duration_s - 1e-3
        else:
            assert j.deadline_s is None
    assert len(seen) > 3
