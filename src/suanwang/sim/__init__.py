"""The simulator: the scheduling core on a virtual clock."""

from suanwang.sim.engine import PolicyError, horizon_hours, simulate
from suanwang.sim.result import SimResult
from suanwang.sim.runner import DEFAULT_START, energy_for, run

__all__ = ["DEFAULT_START", "PolicyError", "SimResult", "energy_for", "horizon_hours", "run",
           "simulate"]
