"""What each simulated job is worth to its tenant: valuations for the market comparison.

A job's value (yuan per unit-hour) is drawn from the distribution `synthetic` documents for
its market class (`synthetic.CLASSES`): ``value_factor x the kind's reference price x
lognormal(0, sigma)``, the reference price being the median list price of the kind over the
network's providers at the run's start. The simulator's workload classes
(`suanwang.workload.synthetic.WORKLOAD_CLASSES`) map to market classes by
`MARKET_CLASS_OF_WORKLOAD`; a workload not listed (a trace's) takes its kind's default class
(`DEFAULT_CLASS_OF_KIND`, by real-time or not for accelerators). assumption: the real-time
general services (ID checks, ride-hailing, greenhouses, payments) value compute like batch
analytics, the one general class of `synthetic` with real-time bids.

Deterministic for the seed: one draw per job, in the order given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from suanwang.market.synthetic import CLASSES, WorkloadClass, reference_prices
from suanwang.model import Job, Kind, Network

MARKET_CLASS_OF_WORKLOAD: dict[str, str] = {
    "llm-training": "llm-training",
    "llm-inference": "ai-inference",
    "weather-hpc": "hpc-simulation",
    "data-labelling": "batch-analytics",
    "cold-data": "batch-analytics",
    "id-verification": "batch-analytics",
    "ride-hailing": "batch-analytics",
    "greenhouse-control": "batch-analytics",
    "payments": "batch-analytics",
}
# (kind, real-time) -> market class, for workloads not in the table above
DEFAULT_CLASS_OF_KIND: dict[tuple[Kind, bool], str] = {
    (Kind.GENERAL, False): "batch-analytics",
    (Kind.GENERAL, True): "batch-analytics",
    (Kind.INTELLIGENT, False): "llm-training",
    (Kind.INTELLIGENT, True): "ai-inference",
    (Kind.HPC, False): "hpc-simulation",
    (Kind.HPC, True): "hpc-simulation",
}
_BY_NAME: dict[str, WorkloadClass] = {c.name: c for c in CLASSES}
_SEED_TAG = 0x56414C  # "VAL": keeps these draws apart from the demand's


def market_class(job: Job) -> WorkloadClass:
    """The market class whose value distribution `job` draws from."""
    name = MARKET_CLASS_OF_WORKLOAD.get(job.workload)
    if name is None:
        name = DEFAULT_CLASS_OF_KIND[(job.kind, job.realtime)]
    return _BY_NAME[name]


def job_values_yuan_per_unit_h(network: Network, jobs: Sequence[Job], seed: int,
                               at: datetime) -> np.ndarray:
    """Each job's value per unit-hour, drawn as the module describes (prices in force at
    `at`, the run's start)."""
    ref = reference_prices(network, at)
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SEED_TAG]))
    draws = rng.standard_normal(len(jobs))
    out = np.empty(len(jobs))
    for i, job in enumerate(jobs):
        c = market_class(job)
        out[i] = c.value_factor * ref[job.kind] * float(np.exp(c.sigma * draws[i]))
    return out
