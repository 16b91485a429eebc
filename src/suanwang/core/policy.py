"""The `Policy` protocol: one method, `decide(state, pending, now_s) -> Decision`.

A decision says, for every pending job, one of three things (after Ray autoscaler v2's
`schedule(request) -> reply`, which lists what could not be placed and why beside what was):

- placed: run it at this site, starting now (its input data moves first);
- deferred: wait, and ask again at `until_s` (a temporal policy waiting for greener hours);
- unplaced: not now, with why; `retry=True` keeps it queued until capacity frees,
  `retry=False` rejects it (no site could ever serve it).

A policy reads the state and must not change it; the caller applies the decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from suanwang.model import Job, Placement

if TYPE_CHECKING:
    from suanwang.core.state import SchedulerState


@dataclass(frozen=True, slots=True)
class Deferral:
    job: Job
    until_s: float
    reason: str


@dataclass(frozen=True, slots=True)
class Unplaced:
    job: Job
    reason: str
    retry: bool  # True: keep queued until capacity frees; False: reject


@dataclass(slots=True)
class Decision:
    placed: list[Placement] = field(default_factory=list)
    deferred: list[Deferral] = field(default_factory=list)
    unplaced: list[Unplaced] = field(default_factory=list)


class Policy(Protocol):
    name: str

    def decide(self, state: SchedulerState, pending: Sequence[Job], now_s: float) -> Decision:
        """Decide for each pending job (in the given order) what to do now."""
        ...
