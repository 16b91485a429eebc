"""The simulator's ledger writer (records first, then hour by hour the Merkle log, sum roots and
checkpoints) writes the files that streaming each line through `hourly_checkpoints` with
`summariser` writes, and `sum_root` is `sum_tree(...).root()`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from suanwang.cli import app
from suanwang.ledger.allocation import DEFAULT_RULE
from suanwang.ledger.build import MARKET_MG_PER_KWH, bulk_lines, columns_from_result, hour_label
from suanwang.ledger.chain import Chain
from suanwang.ledger.checkpoint import read_signer, write_keys
from suanwang.ledger.merkle import ProofError
from suanwang.ledger.note import Signer
from suanwang.ledger.sim_output import (
    hourly_checkpoints,
    ledger_meta,
    summariser,
    write_sim_ledger,
)
from suanwang.ledger.store import FileLedger, HourCheckpoint
from suanwang.ledger.sums import sum_leaf, sum_root, sum_tree
from suanwang.network.loader import load_network
from suanwang.sim.result import SimResult
from suanwang.sim.runner import DEFAULT_START, run
from suanwang.workload.synthetic import synthetic_jobs


def streamed_ledger(result: SimResult, out: Path, signer: Signer) -> None:
    """The ledger written line by line through `hourly_checkpoints` (the streaming writer)."""
    cols = columns_from_result(result)
    topo, jobs, start = result.topology, result.jobs, result.series.start_utc
    chain = Chain()
    lines = bulk_lines(cols, chain, job_ids=[j.job_id for j in jobs],
                       tenants=[j.tenant for j in jobs], origins=[j.origin for j in jobs],
                       site_ids=topo.site_ids, pool_kinds=[k.value for k in topo.pool_kind],
                       clock_start=start, market_mg_per_kwh=MARKET_MG_PER_KWH)
    n_hours = int(cols.hour.max()) + 1
    ends = np.searchsorted(cols.hour, np.arange(n_hours), side="right").tolist()
    checkpoints: list[HourCheckpoint] = []
    summaries: list[str] = []
    ledger = FileLedger(out)
    ledger.write_lines(hourly_checkpoints(
        lines, ends, signer, [hour_label(start, h + 1) for h in range(n_hours)], checkpoints,
        summarise=summariser(cols, topo.site_ids, start), summaries=summaries),
        chain, ledger_meta(DEFAULT_RULE, hour_label(start, 0)))
    ledger.write_summaries(summaries)
    ledger.write_checkpoints(checkpoints, signer.verifier)


@pytest.fixture(scope="module")
def national_run() -> SimResult:
    net = load_network()
    jobs = synthetic_jobs(net, 800, 1.5, seed=6, start_utc=DEFAULT_START)
    return run(net, jobs, "green-window", seed=6)


def test_the_fast_writer_writes_the_streamed_files(national_run: SimResult,
                                                    tmp_path: Path) -> None:
    key, _ = write_keys(tmp_path / "keys", "test.local/sim", force=True)
    signer = read_signer(key)
    streamed_ledger(national_run, tmp_path / "streamed", signer)
    write_sim_ledger(national_run, tmp_path / "fast", signer=signer)
    names = sorted(p.name for p in (tmp_path / "streamed").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "fast").iterdir())
    assert "ledger.summaries.jsonl" in names and "ledger.checkpoints.jsonl" in names
    for name in names:
        assert (tmp_path / "fast" / name).read_bytes() == \
            (tmp_path / "streamed" / name).read_bytes(), name
    result = CliRunner().invoke(app, ["ledger", "verify", str(tmp_path / "fast")])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 13])
def test_sum_root_is_the_sum_trees_root(n: int) -> None:
    hashes = [bytes([i]) * 32 for i in range(n)]
    green = [10 * i for i in range(n)]
    facility = [100 + i for i in range(n)]
    tree = sum_tree([sum_leaf(h, g, f) for h, g, f in zip(hashes, green, facility,
                                                           strict=True)])
    assert sum_root(hashes, green, facility) == tree.root()


def test_sum_root_refuses_sums_past_64_bits() -> None:
    with pytest.raises(ProofError):
        sum_root([b"a" * 32, b"b" * 32], [2**63, 2**63], [2**63, 2**63])
    with pytest.raises(ValueError):
        sum_root([], [], [])
