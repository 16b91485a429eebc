"""A site's facility power over time, from a run's result, as the accounting counts it: each
job draws units x kW per unit x PUE from its compute start to its end."""

from __future__ import annotations

import numpy as np

from suanwang.sim.result import SimResult

SLOT_S = 900.0  # settlement interval: 15 minutes


def _site_jobs(result: SimResult, site: int,
               only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mask = result.site == site
    if only is not None:
        mask &= only
    units = np.fromiter((j.units for j in result.jobs), dtype=float, count=len(result.jobs))
    kw = np.asarray(result.topology.pool_kw_facility)[np.maximum(result.pool, 0)]
    return (units * kw)[mask], result.start_s[mask], result.end_s[mask]


def slot_edges(start_s: float, end_s: float, slot_s: float = SLOT_S) -> np.ndarray:
    """[start_s, the multiples of slot_s inside, end_s]: the settlement intervals of a window."""
    inner = np.arange(np.floor(start_s / slot_s) + 1, np.ceil(end_s / slot_s)) * slot_s
    return np.concatenate([[start_s], inner[(inner > start_s) & (inner < end_s)], [end_s]])


def mean_kw(result: SimResult, site: int, edges: np.ndarray,
            only: np.ndarray | None = None) -> np.ndarray:
    """Mean facility power of `site` over each interval between `edges` (of the jobs in the
    mask `only`, if given)."""
    kw, start, end = _site_jobs(result, site, only)
    if len(kw) == 0:
        return np.zeros(len(edges) - 1)
    e = np.asarray(edges, dtype=float)[None, :]
    integral = (kw[:, None] * (np.minimum(e, end[:, None]) - np.minimum(e, start[:, None]))).sum(0)
    return np.diff(integral) / np.diff(edges)


def peak_kw(result: SimResult, site: int, start_s: float, end_s: float) -> float:
    """The highest facility power of `site` at any instant of [start_s, end_s) (power steps
    only when a job starts or ends, so the instants to look at are the window's start and the
    starts inside it)."""
    kw, start, end = _site_jobs(result, site)
    if len(kw) == 0:
        return 0.0
    times = np.concatenate([[start_s], start[(start > start_s) & (start < end_s)]])
    on = (start[None, :] <= times[:, None]) & (end[None, :] > times[:, None])
    return float((on * kw[None, :]).sum(1).max())
