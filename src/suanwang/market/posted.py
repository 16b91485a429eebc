"""Posted prices (挂牌价) of compute: one rule, shared by the simulator and the live service.

For one provider slice (a provider's units of one kind at one site) and one clock hour:

- floor ``f``: the provider's list price for that hour (its price item in force, time-of-use
  applied);
- booked utilisation ``u`` (0..1): the share of the slice's offered units booked for that hour;
- scarcity ``s* = f * ALPHA * max(0, u - U0) / (1 - U0)``: nothing below ``U0`` booked, the
  floor again (x2 at ALPHA 1) when the slice is fully booked;
- the posted price moves toward the target ``f + s*`` by at most ``STEP * f`` per revision
  (every 15 minutes, the rolling cadence), never below ``f``; an hour's first posting takes
  ``f + s*`` at once.

`scarcity_target(f, u)` gives s*, `smoothed(previous, f, s*)` one revision (one number each;
the live service's `PostedPrices` calls them so); `revise` is the same on arrays (the
simulator revises every slice and hour at once; tested equal to the scalar functions).
"""

from __future__ import annotations

import numpy as np

ALPHA = 1.0  # scarcity at full booking, as a multiple of the floor
U0 = 0.6  # booked utilisation at which scarcity starts
STEP = 0.10  # the most a posted price moves per revision, as a share of the floor
REVISION_S = 900.0  # seconds between revisions


def scarcity_target(floor: float, utilisation: float) -> float:
    """The scarcity component s* of a slice-hour (yuan per unit-hour):
    ``floor * ALPHA * max(0, utilisation - U0) / (1 - U0)``. The price moves toward
    ``floor + s*``."""
    return floor * ALPHA * max(0.0, utilisation - U0) / (1.0 - U0)


def smoothed(previous: float | None, floor: float, target: float) -> float:
    """The posted price after one revision, `target` being the scarcity s*
    (`scarcity_target`): `previous` moved toward ``floor + target`` by at most
    ``STEP * floor``, never below `floor`. With no previous posting, ``floor + target`` at
    once."""
    goal = floor + max(0.0, target)
    if previous is None:
        return goal
    step = STEP * floor
    return max(floor, previous + min(max(goal - previous, -step), step))


def revise(previous: np.ndarray, floor: np.ndarray, utilisation: np.ndarray) -> np.ndarray:
    """`smoothed(previous, floor, scarcity_target(floor, utilisation))` elementwise; NaN in
    `previous` marks an hour not posted before."""
    target = floor + floor * ALPHA * np.maximum(0.0, utilisation - U0) / (1.0 - U0)  # f + s*
    step = STEP * floor
    moved = previous + np.clip(target - previous, -step, step)
    out = np.where(np.isnan(previous), target, moved)
    return np.maximum(floor, out)
