"""kill -9 of `suanwang serve` under concurrent submits with idempotency keys (issue #17 item
7): a few trials of `benchmarks/bench_faults.py` on SQLite and PostgreSQL, with the clock
backend and with every job a local process. No acknowledged job lost, none duplicated, none
run twice, no process left behind. (Nothing is timed: the limits only bound the waits.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_faults import run_trial

TRIALS = 2


@pytest.mark.parametrize("mode", ["submit", "local"])
@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_kill_9_under_load_loses_duplicates_and_reruns_nothing(db: str, mode: str,
                                                               tmp_path: Path) -> None:
    for seed in range(TRIALS):
        r = run_trial(db, mode, seed, tmp_path / f"trial-{seed}")
        assert r.acked > 0, f"trial {seed}: nothing was acknowledged before the kill"
        assert (r.lost, r.duplicated, r.run_twice, r.orphans) == (0, 0, 0, 0), r.problems
        assert r.problems == [], r.problems
