"""Store.close: what was handed to the writer is committed, its thread ends, later writes fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanwang.model import Kind
from suanwang.service.db import make_engine
from suanwang.service.store import JobSpec, Store


def job() -> JobSpec:
    return JobSpec(origin="yrd", kind=Kind.GENERAL, units=4, duration_s=60.0, rtt_bound_ms=None,
                   deadline_in_s=7200.0, data_gb=0.0, workload="batch", command=None)


def test_close_commits_what_was_handed_over_and_ends_the_writer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = Store(make_engine(url))
    store.ensure_tenant("t1", "tenant", "token-1")
    rows, created = store.add_jobs("t1", [job()], 0.0)
    assert created and len(rows) == 1
    store.close()
    assert not store._writer_thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        store.add_jobs("t1", [job()], 1.0)
    reopened = Store(make_engine(url))  # the job committed before the close is there
    assert [j.id for j in reopened.list_jobs("t1")] == [rows[0].id]
    reopened.close()
