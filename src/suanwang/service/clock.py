"""The service's clock: run seconds since the run's start, on the wall clock or sped up."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class RunClock:
    """`now_s()` = (wall time - origin) x speed. speed 1 is real time; a demo may run at 60
    (a minute of run time a second). The origin is kept in the database, so a restarted
    service carries on where it was, with the time it was down counted."""

    def __init__(self, origin_epoch_s: float, speed: float = 1.0,
                 wall: Callable[[], float] = time.time) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.origin_epoch_s = origin_epoch_s
        self.speed = speed
        self._wall = wall

    def now_s(self) -> float:
        return max(0.0, (self._wall() - self.origin_epoch_s) * self.speed)

    @property
    def start_utc(self) -> datetime:
        return datetime.fromtimestamp(self.origin_epoch_s, tz=UTC)

    def at(self, run_s: float) -> datetime:
        """The instant run second `run_s` stands for (the series' and the bills' time: a
        sped-up clock runs ahead of the wall)."""
        return self.start_utc + timedelta(seconds=run_s)

    def now_utc(self) -> datetime:
        """`at(now_s())`."""
        return self.at(self.now_s())

    def run_of(self, wall_epoch_s: float) -> float:
        """The run clock's reading at wall instant `wall_epoch_s` (UTC seconds)."""
        return max(0.0, (wall_epoch_s - self.origin_epoch_s) * self.speed)

    def wall_of(self, run_s: float) -> datetime:
        """The wall instant at which the run clock shows `run_s`."""
        return datetime.fromtimestamp(self.origin_epoch_s + run_s / self.speed, tz=UTC)
