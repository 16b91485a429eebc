"""Measured service level beside the promised one (issue 12): time-to-start quantiles and
the share of jobs that started within a provider's promise. Pure: the live service
(`service.provider_views`) and the bulletin (`report.provider_section`) both use it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any


def nearest_rank(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-quantile by nearest rank: an observed value (None without values)."""
    if not sorted_values:
        return None
    k = max(1, math.ceil(q * len(sorted_values)))
    return float(sorted_values[k - 1])


def start_figures(samples_s: Iterable[float], promised_s: float) -> dict[str, Any]:
    """Count, p50 and p95 of time-to-start samples (seconds), and the share within
    `promised_s` (None without samples)."""
    xs = sorted(samples_s)
    return {"start_samples": len(xs), "start_p50_s": nearest_rank(xs, 0.50),
            "start_p95_s": nearest_rank(xs, 0.95),
            "start_within_share": (sum(1 for x in xs if x <= promised_s) / len(xs)
                                   if xs else None)}
