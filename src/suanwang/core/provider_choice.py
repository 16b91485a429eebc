"""Which provider of a site a job takes: the tenant's rule over provider slices.

The same rule as the greedy policies' walk over offers: the pool's slices that the job's
provider lists allow, with the units free and room under its tenant's cap there; its preferred
providers first, in its order; then the cheapest for its bill (the unit price expected over
the run times units and hours, plus egress for its input data); a price cap excludes a slice
above it.

`slice_in_pool` applies it to one pool (placements that name no provider, and a planned slice
that has no room now). The planners apply the same pieces (`preference_rank`,
`within_price_caps`, elementwise over their options) to every option they price: the allow
and deny lists are already applied by `Topology.offers`.
"""

from __future__ import annotations

import numpy as np

from suanwang.core.state import SchedulerState
from suanwang.model import Job


def expected_bill(units: int, hours: float, unit_price: float, data_gb: float,
                  egress_yuan_per_gb: float) -> float:
    return units * hours * unit_price + data_gb * egress_yuan_per_gb


def preference_rank(job: Job, provider: str) -> int:
    """0 for the job's first preferred provider, 1 for its second, ...; the number of its
    preferences for any other provider (they come after, alike)."""
    prefer = job.providers_prefer
    return prefer.index(provider) if provider in prefer else len(prefer)


def within_price_caps(job: Job, unit_price: float | np.ndarray,
                      bill_yuan: float | np.ndarray) -> bool | np.ndarray:
    """Whether a slice at `unit_price` (yuan per unit-hour expected over the run) and a bill
    of `bill_yuan` (compute and egress) is within the job's price caps; elementwise for
    arrays."""
    ok: bool | np.ndarray = True
    if job.max_price_yuan_per_unit_h is not None:
        ok = np.asarray(unit_price) <= job.max_price_yuan_per_unit_h + 1e-12
    if job.max_bill_yuan is not None:
        ok = ok & (np.asarray(bill_yuan) <= job.max_bill_yuan + 1e-9)
    return ok if isinstance(ok, np.ndarray) and ok.ndim else bool(ok)


def slice_in_pool(state: SchedulerState, job: Job, pool: int, free_slice: list[int],
                  now_s: float, start_s: float,
                  held: dict[tuple[str, int], int] | None = None) -> int | None:
    """The slice of `pool` the job takes, decided at `now_s`, if it starts computing at
    `start_s`; None if no slice of the pool can take it now."""
    topo = state.topology
    allow, deny = job.providers_allow, job.providers_deny
    end_s = start_s + job.duration_s
    hours = job.duration_s / 3600.0
    eligible = [i for i in topo.pool_slices[pool]
                if free_slice[i] >= job.units and topo.slice_provider[i] not in deny
                and (not allow or topo.slice_provider[i] in allow)
                and state.tenant_room(job, i, held or {})]
    if len(eligible) <= 1 and job.max_price_yuan_per_unit_h is None \
            and job.max_bill_yuan is None:
        return eligible[0] if eligible else None
    best: tuple[int, float, int] | None = None  # (preference rank, bill, slice)
    for i in eligible:
        price = state.unit_price_of_slice(i, start_s, end_s, now_s)
        bill = expected_bill(job.units, hours, price, job.data_gb, topo.slice_egress[i])
        if not within_price_caps(job, price, bill):
            continue
        key = (preference_rank(job, topo.slice_provider[i]), bill, i)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]
