"""`write_run` writing some tenants' invoices in a forked child (`sim.beside`) writes the same
files as one process writing them all; a failing child makes the parent raise."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanwang.network.loader import load_network
from suanwang.sim import output
from suanwang.sim.beside import BesideError, beside, can_fork
from suanwang.sim.runner import DEFAULT_START, run
from suanwang.workload.synthetic import synthetic_jobs

pytestmark = pytest.mark.skipif(not can_fork(), reason="no os.fork here")


def _files(folder: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != "summary.json":
            out[str(p.relative_to(folder))] = p.read_bytes()
    return out


def test_forked_invoices_are_the_same_files(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    net = load_network()
    jobs = synthetic_jobs(net, 3000, 31.0, seed=3, start_utc=DEFAULT_START)
    result = run(net, jobs, "cheapest", seed=3)
    output.write_run(result, tmp_path / "one", {}, ledger=False)  # (its keys are fresh)
    monkeypatch.setattr(output, "FORK_MIN_JOBS", 0)
    output.write_run(result, tmp_path / "two", {}, ledger=False)
    one, two = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert one == two
    assert sum(name.startswith("invoices/") for name in one) > 10


def test_the_tenants_split_by_billed_jobs() -> None:
    net = load_network()
    result = run(net, synthetic_jobs(net, 2000, 2.0, seed=1), "nearest", seed=1)
    first, second = output.split_tenants(result, 0.75)
    assert sorted(first + second) == result.job_columns.tenants
    assert first and second and not set(first) & set(second)


def test_a_failing_child_makes_the_parent_raise_its_error() -> None:
    def fail() -> None:
        raise ValueError("no such tenant")

    with pytest.raises(ValueError, match="no such tenant"), beside(fail):
        pass


def test_an_error_that_cannot_be_sent_comes_as_its_traceback() -> None:
    class Local(Exception):  # (a local class: not picklable)
        pass

    def fail() -> None:
        raise Local("deep inside")

    with pytest.raises(BesideError, match="deep inside"), beside(fail):
        pass


def test_the_childs_value_comes_back() -> None:
    with beside(lambda: {"hours": list(range(5))}) as got:
        assert got.value is None
    assert got.value == {"hours": [0, 1, 2, 3, 4]}


def test_the_blocks_own_error_comes_first() -> None:
    def fail() -> None:
        raise ValueError("child")

    with pytest.raises(KeyError), beside(fail):
        raise KeyError("parent")


def test_without_fork_the_task_runs_after_the_block() -> None:
    seen: list[str] = []
    with beside(lambda: seen.append("task") or 7, fork=False) as got:
        seen.append("block")
    assert seen == ["block", "task"] and got.value == 7
