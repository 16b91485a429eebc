"""What an offline policy is given: the whole trace and the actual energy series."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from suanwang.energy.series import EnergySeries
from suanwang.model import Job, Network


@dataclass(frozen=True)
class PolicyContext:
    network: Network
    jobs: Sequence[Job]  # every job of the run, sorted by submit_s
    series: EnergySeries  # the actuals the simulator charges
