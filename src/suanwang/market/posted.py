"""Posted prices (挂牌价) of compute: one rule, shared by the simulator and the live service.

For one provider slice (a provider's units of one kind at one site) and one clock hour:

- floor ``f``: the provider's list price for that hour (its price item in force, time-of-use
  applied);
- scarcity target ``s*`` (yuan per unit-hour), from one of two sources (`PostedRule`):

  - ``lp_dual`` (the default): the capacity price of the slice-hour in the planner's slot
    model (`planning.model.solve_slot_model`, the dual of its capacity row) over the work the
    scheduler knows at the revision — queued and deferred jobs, with the units running jobs
    hold taken out of capacity (`market.scarcity`), the objective being electricity cost plus
    carbon at ``yuan_per_t_co2`` (`Objective.weighted`), so the dual is in yuan per
    unit-hour: what one more unit-hour there would save the plan. ``s* = min(dual, ALPHA *
    f)``;
  - ``utilisation`` (the fallback): booked utilisation ``u`` (0..1, the share of the slice's
    offered units booked that hour), ``s* = f * ALPHA * max(0, u - U0) / (1 - U0)``: nothing
    below ``U0`` booked, ALPHA x the floor when fully booked;

- the posted price moves toward the target ``f + s*`` by at most ``STEP * f`` per revision
  (every 15 minutes, the rolling cadence), never below ``f``; an hour's first posting takes
  ``f + s*`` at once. Either way a posted price lies in [f, (1 + ALPHA) f].

`scarcity_target(f, u)` and `dual_target(f, dual)` give s*, `smoothed(previous, f, s*)` one
revision (one number each; the live service's `PostedPrices` calls them so); `revise` is the
same on arrays of targets (the simulator revises every slice and hour at once; tested equal
to the scalar functions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALPHA = 1.0  # scarcity at full booking, as a multiple of the floor
U0 = 0.6  # booked utilisation at which scarcity starts
STEP = 0.10  # the most a posted price moves per revision, as a share of the floor
REVISION_S = 900.0  # seconds between revisions
LP_DUAL, UTILISATION = "lp_dual", "utilisation"
SCARCITY_SOURCES: tuple[str, ...] = (LP_DUAL, UTILISATION)
YUAN_PER_T_CO2 = 100.0  # default carbon price of the lp_dual objective (assumption: close to
# China's national ETS allowance price, ~90-100 yuan/t in 2024-2025)


@dataclass(frozen=True, slots=True)
class PostedRule:
    """Where the scarcity component comes from, and the carbon price that turns the planner's
    kg CO2 into yuan (lp_dual only)."""

    scarcity_source: str = LP_DUAL  # lp_dual | utilisation
    yuan_per_t_co2: float = YUAN_PER_T_CO2

    def __post_init__(self) -> None:
        if self.scarcity_source not in SCARCITY_SOURCES:
            raise ValueError(f"scarcity_source = {self.scarcity_source!r}: choose one of "
                             f"{', '.join(SCARCITY_SOURCES)}")
        if not (self.yuan_per_t_co2 >= 0 and np.isfinite(self.yuan_per_t_co2)):
            raise ValueError(f"yuan_per_t_co2 = {self.yuan_per_t_co2!r}: must be a finite "
                             "number >= 0 (yuan per tonne CO2)")

    def describe(self) -> str:
        if self.scarcity_source == LP_DUAL:
            return (f"floor + min(planner capacity dual, {ALPHA:g} x floor) (carbon at "
                    f"{self.yuan_per_t_co2:g} yuan/t), step <= {STEP:g} x floor per "
                    f"{REVISION_S / 60:g}-min revision")
        return (f"floor + {ALPHA:g} x floor x max(0, u - {U0:g}) / {1 - U0:g}, step <= "
                f"{STEP:g} x floor per {REVISION_S / 60:g}-min revision")


def scarcity_target(floor: float, utilisation: float) -> float:
    """The scarcity component s* of a slice-hour (yuan per unit-hour):
    ``floor * ALPHA * max(0, utilisation - U0) / (1 - U0)``. The price moves toward
    ``floor + s*``."""
    return floor * ALPHA * max(0.0, utilisation - U0) / (1.0 - U0)


def dual_target(floor: float, dual_yuan_per_unit_h: float) -> float:
    """The scarcity component s* of a slice-hour from the planner's capacity dual (yuan per
    unit-hour): ``min(max(dual, 0), ALPHA * floor)``."""
    return min(max(dual_yuan_per_unit_h, 0.0), ALPHA * floor)


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


def utilisation_targets(floor: np.ndarray, utilisation: np.ndarray) -> np.ndarray:
    """`scarcity_target` elementwise."""
    return floor * ALPHA * np.maximum(0.0, utilisation - U0) / (1.0 - U0)


def dual_targets(floor: np.ndarray, dual_yuan_per_unit_h: np.ndarray) -> np.ndarray:
    """`dual_target` elementwise."""
    return np.minimum(np.maximum(dual_yuan_per_unit_h, 0.0), ALPHA * floor)


def revise(previous: np.ndarray, floor: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`smoothed(previous, floor, target)` elementwise, `target` being s*
    (`utilisation_targets` or `dual_targets`); NaN in `previous` marks an hour not posted
    before."""
    goal = floor + np.maximum(target, 0.0)  # f + s*
    step = STEP * floor
    moved = previous + np.clip(goal - previous, -step, step)
    out = np.where(np.isnan(previous), goal, moved)
    return np.maximum(floor, out)
