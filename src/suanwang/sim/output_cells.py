"""One number as the run's CSV files write it: the per-value rule the vectorised writer
(`sim.csv_columns`) reproduces."""

from __future__ import annotations

import math


def number_cell(x: float | None, digits: int = 6) -> str:
    """`x` with up to `digits` decimals, trailing zeros and point removed; "" for None or NaN;
    "0" for a value that rounds to zero, whatever its sign."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    text = f"{float(x):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
