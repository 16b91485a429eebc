"""Fixed-point quantities of the ledger: every energy and mass is an integer of micro-units.

The ledger keeps kWh and kg as integers of 1e-6 of the unit (µkWh = 1 mWh, µkg = 1 mg), so that
an hour's records add up exactly, in integer arithmetic, to the site's metered figure, and so that
a record's text is the same whoever writes it. On the page they are written as decimal numbers
with exactly six places (`12.345678`); factors in g/kWh as milligrams per kWh, written with three
places (`684.900`).
"""

from __future__ import annotations

import math

MICRO = 1_000_000
MILLI = 1_000
# printf patterns of a non-negative (quotient, remainder) pair: one definition for the single
# and the column-at-a-time writers
MICRO_PATTERN = "%d.%06d"
MILLI_PATTERN = "%d.%03d"


def to_micro(x: float) -> int:
    """`x` (kWh, kg, a share) as the integer of micro-units that `f"{x:.6f}"` prints.

    Formatting rounds the exact binary value correctly, so this agrees digit for digit with
    any file that writes `x` with six decimals (sites.csv does).
    """
    if not math.isfinite(x):
        raise ValueError(f"not a finite quantity: {x!r}")
    text = f"{x:.6f}"
    negative = text.startswith("-")
    whole, _, frac = text.lstrip("-").partition(".")
    value = int(whole) * MICRO + int(frac)
    return -value if negative else value


def fmt_micro(value: int) -> str:
    """An integer of micro-units as a decimal with six places: 12345678 -> '12.345678'."""
    if value >= 0:
        return MICRO_PATTERN % divmod(value, MICRO)
    sign = "-"
    q, r = divmod(abs(value), MICRO)
    return f"{sign}{q}.{r:06d}"


def fmt_milli(value: int) -> str:
    """An integer of milli-units as a decimal with three places: 684900 -> '684.900'."""
    if value >= 0:
        return MILLI_PATTERN % divmod(value, MILLI)
    sign = "-"
    q, r = divmod(abs(value), MILLI)
    return f"{sign}{q}.{r:03d}"


def micro_from_json(x: float) -> int:
    """A six-place decimal read back by a JSON parser (as a float) -> its integer micro-units.

    Exact for magnitudes below about 1e9 (the float's error stays far below half a micro-unit).
    """
    return round(x * MICRO)


def milli_from_json(x: float) -> int:
    return round(x * MILLI)


def co2_ukg(grid_ukwh: int, factor_mg_per_kwh: int) -> int:
    """CO2 in µkg (mg) of `grid_ukwh` µkWh at `factor_mg_per_kwh` mg/kWh, rounded half up.

    µkWh x mg/kWh = 1e-6 mg = 1e-6 µkg; integers throughout.
    """
    return (grid_ukwh * factor_mg_per_kwh + MICRO // 2) // MICRO
