"""Fixtures of the report tests: the hand-built run of tests/ledger/ledger_support.py, written."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ledger"))

from ledger_support import hand_result, hand_series

from suanwang.energy.series import EnergySeries
from suanwang.model import Network
from suanwang.sim.output import write_run


@pytest.fixture
def hand_dir(tiny_net: Network, make_series: Callable[..., EnergySeries],
             tmp_path: Path) -> Path:
    out = tmp_path / "run"
    write_run(hand_result(tiny_net, hand_series(make_series, tiny_net)), out, {"demand": "hand"})
    return out
