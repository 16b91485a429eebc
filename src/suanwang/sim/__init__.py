"""The simulator: the scheduling core on a virtual clock."""

from suanwang.sim.engine import PolicyError, horizon_hours, simulate
from suanwang.sim.result import SimResult

__all__ = ["PolicyError", "SimResult", "horizon_hours", "simulate"]
