"""Seeded synthetic demand: the uses the source pages name, arriving on a daily rhythm.

Each class of work below is one row of `WORKLOAD_CLASSES`, with its compute kind, latency class,
origins, size and timing, and the seed page it comes from. A synthetic job stands for a block of
work of its class (a service running for an hour for a batch of railway gates; a training run):
job sizes are scaled per compute kind so that the offered load — unit-seconds asked for, over
unit-seconds installed during the run — is `load` (default 0.6: national data-center
utilisation in China is commonly put at 50-60%; assumption). So `--jobs` sets how finely the
demand is cut, and `load` how heavy it is.

Arrivals: each job's day is uniform over the run; its hour follows its class's daily profile in
Beijing time (the weights in `DIURNAL`); minute and second are uniform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from suanwang.memory_trim import give_back
from suanwang.model import Job, Kind, Network
from suanwang.workload.columns import JobColumns, code_dtype, jobs_of

BEIJING = timezone(timedelta(hours=8))
DEFAULT_LOAD = 0.6
MAX_UNITS_FRACTION = 0.25  # no job asks for more than this share of the kind's smallest pool

# Relative arrival rate by Beijing hour 0..23 (assumption: shapes of office, rush-hour,
# evening-consumer and night-batch activity as seen in public internet traffic curves).
DIURNAL: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 24,
    "day": (0.3, 0.2, 0.2, 0.2, 0.2, 0.3, 0.5, 0.8, 1.0, 1.0, 1.0, 1.0,
            0.9, 1.0, 1.0, 1.0, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3),
    "rush": (0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.7, 1.0, 1.0, 0.8, 0.6, 0.6,
             0.7, 0.6, 0.6, 0.6, 0.7, 1.0, 1.0, 0.9, 0.7, 0.6, 0.5, 0.3),
    "evening": (0.5, 0.3, 0.2, 0.2, 0.2, 0.2, 0.3, 0.5, 0.7, 0.8, 0.8, 0.8,
                0.8, 0.8, 0.8, 0.8, 0.8, 0.9, 1.0, 1.0, 1.0, 1.0, 0.9, 0.7),
    "night": (1.0, 1.0, 1.0, 1.0, 0.9, 0.6, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2,
              0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0),
}


@dataclass(frozen=True, slots=True)
class WorkloadClass:
    name: str
    name_zh: str
    kind: Kind
    share: float  # fraction of all jobs
    origins: tuple[tuple[str, float], ...]  # (region id, weight)
    tenants: tuple[str, ...]
    rtt_bound_ms: float | None  # real-time bound; None for non-real-time
    duration_median_s: float
    duration_sigma: float  # log-normal sigma
    duration_max_s: float
    units_rel: float  # relative size within its kind (scaled to the load)
    units_sigma: float
    deadline_factor: float  # non-real-time: deadline = submit + factor * duration + slack
    deadline_slack_s: float
    data_gb_median: float
    diurnal: str
    source: str


H = 3600.0
WORKLOAD_CLASSES: tuple[WorkloadClass, ...] = (
    WorkloadClass("id-verification", "铁路闸机身份核验", Kind.GENERAL, 0.10,
                  (("bth", 0.6), ("yrd", 0.2), ("gba", 0.1), ("cc", 0.1)),
                  ("rail-12306",), 5.0, 1 * H, 0.3, 4 * H, 1.0, 0.5, 0, 0, 0.1, "rush",
                  "seed 001: a Beijing railway gate's ID check answered from Hohhot in 5 ms"),
    WorkloadClass("ride-hailing", "网约车调度", Kind.GENERAL, 0.10,
                  (("bth", 0.3), ("yrd", 0.3), ("gba", 0.3), ("cc", 0.1)),
                  ("didi", "caocao"), 10.0, 1 * H, 0.3, 4 * H, 1.0, 0.5, 0, 0, 0.2, "rush",
                  "seed 000: best route and driver in seconds"),
    WorkloadClass("greenhouse-control", "温室智能调控", Kind.GENERAL, 0.05,
                  (("bth", 0.5), ("yrd", 0.2), ("gba", 0.1), ("cc", 0.2)),
                  ("agri-greenhouse", "cloud-grazing"), 20.0, 2 * H, 0.3, 6 * H, 0.5, 0.5,
                  0, 0, 0.5, "day",
                  "seed 000: sensors to analysis to advice for 120,000 greenhouses; cloud grazing"),
    WorkloadClass("payments", "金融支付", Kind.GENERAL, 0.10,
                  (("bth", 0.4), ("yrd", 0.35), ("gba", 0.2), ("cc", 0.05)),
                  ("bank-of-china", "agri-bank"), 10.0, 1 * H, 0.3, 4 * H, 1.5, 0.5, 0, 0, 0.2,
                  "day", "seed 001, 003: bank systems, fintech, OTN financial private network"),
    WorkloadClass("llm-inference", "大模型推理", Kind.INTELLIGENT, 0.20,
                  (("bth", 0.35), ("yrd", 0.3), ("gba", 0.25), ("cc", 0.1)),
                  ("iflytek-spark", "china-mobile-jiutian", "china-telecom-xingchen"),
                  30.0, 1 * H, 0.4, 4 * H, 1.0, 0.6, 0, 0, 0.5, "evening",
                  "seed 000, 003: AI model training and inference back-end of the north"),
    WorkloadClass("llm-training", "大模型训练", Kind.INTELLIGENT, 0.08,
                  (("bth", 0.45), ("yrd", 0.3), ("gba", 0.2), ("cc", 0.05)),
                  ("china-mobile-jiutian", "china-telecom-xingchen", "china-unicom-yuanjing",
                   "iflytek-spark"),
                  None, 8 * H, 0.7, 48 * H, 6.0, 0.6, 2.0, 12 * H, 2000.0, "day",
                  "seed 000, 001: 9-10 general LLMs trained at Horinger"),
    WorkloadClass("weather-hpc", "气象气候超算", Kind.HPC, 0.08,
                  (("bth", 0.5), ("yrd", 0.2), ("gba", 0.15), ("cc", 0.15)),
                  ("cma-weather", "research-institute"), None, 4 * H, 0.5, 24 * H, 1.0, 0.5,
                  1.5, 6 * H, 200.0, "flat",
                  "seed 001: CMA meteorological supercomputing; seed 000: scientific simulation"),
    WorkloadClass("data-labelling", "数据标注处理", Kind.GENERAL, 0.17,
                  (("bth", 0.4), ("yrd", 0.3), ("gba", 0.2), ("cc", 0.1)),
                  ("baidu-labelling", "douyin-labelling"), None, 3 * H, 0.6, 24 * H, 2.0, 0.6,
                  3.0, 24 * H, 50.0, "day",
                  "seed 003: Baidu and Douyin data-labelling bases"),
    WorkloadClass("cold-data", "冷数据备份处理", Kind.GENERAL, 0.12,
                  (("bth", 0.35), ("yrd", 0.35), ("gba", 0.2), ("cc", 0.1)),
                  ("cold-archive",), None, 2 * H, 0.5, 12 * H, 1.0, 0.5, 4.0, 48 * H, 3000.0,
                  "night", "seed 000: cold data turned into hot data"),
)


def _lognormal_mean(median: float, sigma: float) -> float:
    return median * math.exp(sigma * sigma / 2.0)


def synthetic_jobs(network: Network, n_jobs: int, days: float, seed: int = 0,
                   load: float = DEFAULT_LOAD, start_utc: datetime | None = None,
                   classes: tuple[WorkloadClass, ...] = WORKLOAD_CLASSES) -> list[Job]:
    """`n_jobs` jobs arriving over `days` days, sized so the offered load is `load` per kind.

    Classes whose kind the network lacks, and origins it lacks, are left out (weights
    renormalised). Deterministic for (network, n_jobs, days, seed, load, start_utc). The
    jobs come as a `JobList` holding their columns (`synthetic_columns`).
    """
    return jobs_of(synthetic_columns(network, n_jobs, days, seed, load, start_utc, classes))


def synthetic_columns(network: Network, n_jobs: int, days: float, seed: int = 0,
                      load: float = DEFAULT_LOAD, start_utc: datetime | None = None,
                      classes: tuple[WorkloadClass, ...] = WORKLOAD_CLASSES) -> JobColumns:
    """The columns of `synthetic_jobs` (the same arguments), before any `Job` is made."""
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1, got {n_jobs}")
    if not days > 0:
        raise ValueError(f"days must be > 0, got {days}")
    if not 0 < load <= 5:
        raise ValueError(f"load must be in (0, 5], got {load}")
    start = start_utc or datetime(2024, 6, 1, tzinfo=BEIJING)
    capacity = {k: 0 for k in Kind}
    smallest = {k: math.inf for k in Kind}
    for p in network.pools():
        capacity[p.kind] += p.units
        smallest[p.kind] = min(smallest[p.kind], p.units)
    region_ids = {r.id for r in network.regions}
    usable = [c for c in classes if capacity[c.kind] > 0 and
              any(o in region_ids for o, _ in c.origins)]
    if not usable:
        raise ValueError("no workload class fits this network (no matching kinds or regions)")
    shares = np.array([c.share for c in usable])
    shares /= shares.sum()

    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED]))
    span_s = days * 86400.0
    class_idx = rng.choice(len(usable), size=n_jobs, p=shares)

    # scale per kind: offered unit-seconds == load * installed unit-seconds over the run
    scale: dict[Kind, float] = {}
    for kind in Kind:
        per_job = sum(
            shares[i] * _lognormal_mean(c.duration_median_s, c.duration_sigma)
            * _lognormal_mean(c.units_rel, c.units_sigma)
            for i, c in enumerate(usable) if c.kind == kind
        )
        if per_job > 0:
            scale[kind] = load * capacity[kind] * span_s / (n_jobs * per_job)

    # arrival times: day uniform, hour by the class profile (Beijing time), rest uniform
    tz_shift_h = (start.astimezone(BEIJING).hour + start.astimezone(BEIJING).minute / 60.0)
    submit = np.empty(n_jobs)
    n_days = max(1, math.ceil(days))
    for i, c in enumerate(usable):
        mask = class_idx == i
        m = int(mask.sum())
        if m == 0:
            continue
        w = np.array(DIURNAL[c.diurnal])
        hour_bj = rng.choice(24, size=m, p=w / w.sum())
        day = rng.integers(0, n_days, size=m)
        t = (day * 24 + (hour_bj - tz_shift_h) % 24) * 3600.0 + rng.uniform(0, 3600.0, size=m)
        submit[mask] = np.mod(t, span_s)
    order = np.argsort(submit, kind="stable")

    units, duration, data_gb = _draw_sizes(rng, usable, class_idx, scale, smallest)
    origin_u = rng.uniform(size=n_jobs)
    tenant_u = rng.uniform(size=n_jobs)
    origin_idx = np.zeros(n_jobs, dtype=np.int64)
    tenant_idx = np.zeros(n_jobs, dtype=np.int64)
    deadline = np.full(n_jobs, np.nan)
    region_names = [r.id for r in network.regions]
    for i, c in enumerate(usable):
        mask = class_idx == i
        names = [o for o, _ in c.origins if o in region_ids]
        weights = np.array([w for o, w in c.origins if o in region_ids])
        cdf = np.cumsum(weights) / weights.sum()
        pick = np.minimum(np.searchsorted(cdf, origin_u[mask], side="right"), len(names) - 1)
        origin_idx[mask] = np.array([region_names.index(x) for x in names])[pick]
        tenant_idx[mask] = (tenant_u[mask] * len(c.tenants)).astype(np.int64)
        if c.rtt_bound_ms is None:
            deadline[mask] = np.round(submit[mask] + c.deadline_factor * duration[mask]
                                      + c.deadline_slack_s, 3)
    # the jobs' columns in submit order (per-class fields taken from small tables by class
    # code)
    cls = class_idx[order]
    tenant_names = [t for c in usable for t in c.tenants]
    tenant_first = np.cumsum([0] + [len(c.tenants) for c in usable])[:-1]
    rtt_bound = np.array([np.nan if c.rtt_bound_ms is None else c.rtt_bound_ms
                          for c in usable], dtype=np.float64)[cls]
    job_id = pc.binary_join_element_wise(
        "j", pc.utf8_lpad(pc.cast(pa.array(np.arange(n_jobs)), pa.string()), 7, "0"), "")
    columns = JobColumns(
        job_id=job_id,
        **_recoded("tenant", tenant_names, tenant_first[cls] + tenant_idx[order]),
        **_recoded("origin", region_names, origin_idx[order]),
        **_recoded("kind", [c.kind.value for c in usable], cls),
        **_recoded("workload", [c.name for c in usable], cls),
        units=units[order], duration_s=duration[order], submit_s=np.round(submit, 3)[order],
        rtt_bound_ms=rtt_bound, deadline_s=deadline[order], data_gb=data_gb[order])
    give_back()  # (the draws' temporaries: a hundred MB or more at a million jobs)
    return columns


def _recoded(field: str, names: list[str], index: np.ndarray) -> dict[str, Any]:
    """The `JobColumns` fields of a text field whose value is names[index]: codes into its
    sorted distinct names."""
    distinct = sorted(set(names))
    rank = np.array([distinct.index(x) for x in names], dtype=np.int64)
    plural = {"tenant": "tenants", "origin": "origins", "kind": "kinds",
              "workload": "workloads"}[field]
    return {f"{field}_code": rank[index].astype(code_dtype(len(distinct))), plural: distinct}


def _draw_sizes(rng: np.random.Generator, usable: list[WorkloadClass], class_idx: np.ndarray,
                scale: dict[Kind, float],
                smallest: dict[Kind, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(class_idx)
    units = np.empty(n, dtype=np.int64)
    duration = np.empty(n)
    data = np.empty(n)
    for i, c in enumerate(usable):
        mask = class_idx == i
        m = int(mask.sum())
        if m == 0:
            continue
        d = c.duration_median_s * np.exp(c.duration_sigma * rng.standard_normal(m))
        duration[mask] = np.round(np.clip(d, 60.0, c.duration_max_s))
        u = scale[c.kind] * c.units_rel * np.exp(c.units_sigma * rng.standard_normal(m))
        cap = max(1, int(smallest[c.kind] * MAX_UNITS_FRACTION))
        units[mask] = np.clip(np.round(u), 1, cap).astype(np.int64)
        data[mask] = np.round(c.data_gb_median * np.exp(0.5 * rng.standard_normal(m)), 3)
    return units, duration, data
