"""Fixtures of the ledger tests: the hand-built run of `ledger_support`, in memory and written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from ledger_support import hand_result, hand_series

from suanwang.energy.series import EnergySeries
from suanwang.model import Network
from suanwang.sim.output import write_run
from suanwang.sim.result import SimResult


@pytest.fixture
def hand_run(tiny_net: Network, make_series: Callable[..., EnergySeries]) -> SimResult:
    return hand_result(tiny_net, hand_series(make_series, tiny_net))


@pytest.fixture
def hand_dir(hand_run: SimResult, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    write_run(hand_run, out, {"demand": "hand"})
    return out
