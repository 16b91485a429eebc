"""A run built by hand on the tiny network (tests/conftest.py), with answers worked out by hand.

    job  tenant  origin  kind          units  site   placed_s  duration_s
    A    alice   east    intelligent   1      west   0         3600
    B    bob     east    intelligent   2      west   0         5400
    C    alice   south   general       10     local  1800      7200
    D    bob     east    intelligent   1      -      (rejected)

Facility kW: west intelligent 1 kW x PUE 1.2 = 1.2 per unit; local general 0.01 kW x 1.5 =
0.015 per unit. Green share: west 0.9 in hour 0, 0.5 after; local 0.1 throughout.

    hour  site   job  facility kWh  green kWh  grid kWh  CO2 location kg (grid x 700 | 800)
    0     local  C    0.075         0.0075     0.0675    0.054
    0     west   A    1.2           1.08       0.12      0.084
    0     west   B    2.4           2.16       0.24      0.168
    1     local  C    0.15          0.015      0.135     0.108
    1     west   B    1.2           0.6        0.6       0.42
    2     local  C    0.075         0.0075     0.0675    0.054

(the ledger's order: hour, then site in network order local, west, mid; then pool; then job).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import numpy as np

from suanwang.core.state import Topology
from suanwang.energy.series import EnergySeries
from suanwang.model import Job, Kind, Network
from suanwang.sim.result import SimResult

HAND_JOBS = (
    Job("A", "alice", "east", Kind.INTELLIGENT, 1, 3600.0, 0.0, deadline_s=86400.0,
        data_gb=10.0),
    Job("B", "bob", "east", Kind.INTELLIGENT, 2, 5400.0, 0.0, deadline_s=86400.0, data_gb=5.0),
    Job("C", "alice", "south", Kind.GENERAL, 10, 7200.0, 0.0, rtt_bound_ms=30.0),
    Job("D", "bob", "east", Kind.INTELLIGENT, 1, 3600.0, 0.0, deadline_s=86400.0),
)
HAND_PLACEMENT = {"A": ("west", 0.0), "B": ("west", 0.0), "C": ("local", 1800.0)}
# (hour, site, job, facility, green, co2 location kg) in ledger order
HAND_RECORDS = (
    (0, "local", "C", "0.075", "0.0075", "0.054"),
    (0, "west", "A", "1.2", "1.08", "0.084"),
    (0, "west", "B", "2.4", "2.16", "0.168"),
    (1, "local", "C", "0.15", "0.015", "0.108"),
    (1, "west", "B", "1.2", "0.6", "0.42"),
    (2, "local", "C", "0.075", "0.0075", "0.054"),
)
HAND_GREEN = {"west": [0.9] + [0.5] * 47, "local": 0.1}


def hand_result(net: Network, series: EnergySeries,
                jobs: tuple[Job, ...] = HAND_JOBS,
                placement: dict[str, tuple[str, float]] | None = None) -> SimResult:
    """A SimResult with the placements given (jobs not placed are rejected)."""
    placement = HAND_PLACEMENT if placement is None else placement
    topo = Topology(net)
    n = len(jobs)
    site = np.full(n, -1, dtype=np.int64)
    pool = np.full(n, -1, dtype=np.int64)
    placed = np.zeros(n)
    rejected: dict[int, str] = {}
    for i, j in enumerate(jobs):
        if j.job_id not in placement:
            rejected[i] = "test: not placed"
            continue
        sid, t = placement[j.job_id]
        site[i] = topo.site_ids.index(sid)
        pool[i] = next(k for k, p in enumerate(topo.pools)
                       if p.site_id == sid and p.kind == j.kind)
        placed[i] = t
    return SimResult.build(network=net, jobs=jobs, policy_name="hand", series=series,
                           topology=topo, site=site, pool=pool, placed_s=placed,
                           transfer_s=np.zeros(n), deferrals=np.zeros(n, dtype=np.int64),
                           reasons={}, rejected=rejected, wall_s=1.0)


def hand_series(make_series: Callable[..., EnergySeries], net: Network) -> EnergySeries:
    return make_series(net, 48, green=HAND_GREEN)


def dec(text: str) -> Decimal:
    return Decimal(text) if text else Decimal(0)
