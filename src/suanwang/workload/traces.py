"""Readers that map real, public traces to suanwang `Job`s.

Two traces are supported (see `docs/traces.md` for the rules and assumptions in one place):

- Alibaba cluster-trace-gpu-v2023, the pod list `openb_pod_list_default.csv`
  (`read_alibaba_gpu_pods`);
- the Azure LLM inference trace 2023, `AzureLLMInferenceTrace_{code,conv}.csv` (`read_azure_llm`).

`read_trace` recognises either one, or a suanwang job file (`suanwang.workload.jobfile`), by its
header. Neither trace says where its work came from, so every reader draws the origin region of
each job with a seeded `numpy.random.default_rng(seed)`, weighted by stated demand shares
(`DEFAULT_REGION_SHARES`): the same file, network and seed always give the same jobs.

Rows are numbered from 1 counting data rows only; a refused row raises `InputError` naming the
file, `row N, column C` and the value. Rows that are valid but cannot become a job (e.g. a pod
that was deleted the instant it was created) are skipped and counted in `TraceRead.skipped`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from suanwang.bounds import YEARS
from suanwang.errors import InputError
from suanwang.model import Job, Kind, Network
from suanwang.workload.jobfile import (
    PARQUET_SUFFIXES,
    REQUIRED_COLUMNS,
    Row,
    read_csv_header,
    read_csv_table,
    read_jobs,
    run_span_problem,
    sort_jobs,
)

# Assumed shares of demand by origin region: the eastern hubs' regions carry most of the demand
# (Beijing-Tianjin-Hebei and the Yangtze River Delta 35 % each, the Greater Bay Area 20 %,
# Chengdu-Chongqing 10 %). An assumption of this project, not a published statistic.
DEFAULT_REGION_SHARES: Mapping[str, float] = {"bth": 0.35, "yrd": 0.35, "gba": 0.20, "cc": 0.10}

FORMAT_ALIBABA = "alibaba-gpu-v2023"
FORMAT_AZURE = "azure-llm-2023"
FORMAT_JOBS = "suanwang-jobs"

ALIBABA_COLUMNS: tuple[str, ...] = (
    "name",
    "cpu_milli",
    "num_gpu",
    "gpu_milli",
    "qos",
    "creation_time",
    "deletion_time",
    "scheduled_time",
)
AZURE_COLUMNS: tuple[str, ...] = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")

REALTIME_QOS: tuple[str, ...] = ("LS",)
BATCH_QOS: tuple[str, ...] = ("BE", "Burstable", "Guaranteed")

SKIP_NON_POSITIVE_DURATION = "non_positive_duration"
SKIP_NO_RESOURCES = "no_resources"

_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?")


@dataclass(frozen=True, slots=True)
class TraceRead:
    """What a reader produced: the jobs (by `submit_s`, then `job_id`) and what it skipped."""

    source: str
    format: str  # FORMAT_ALIBABA, FORMAT_AZURE or FORMAT_JOBS
    jobs: list[Job]
    rows_read: int  # data rows in the file
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows skipped

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


# --------------------------------------------------------------------------------------------
# Origins
# --------------------------------------------------------------------------------------------


def region_weights(
    network: Network, shares: Mapping[str, float] | None = None
) -> tuple[tuple[str, ...], np.ndarray]:
    """Region ids and their draw probabilities: `shares` restricted to the network's regions.

    Shares of regions the network lacks are dropped and the rest renormalised to sum to 1. When
    no region of `shares` is in the network, every network region gets an equal share.
    """
    shares = DEFAULT_REGION_SHARES if shares is None else shares
    if not network.regions:
        raise ValueError(f"network {network.name!r} has no demand regions to draw origins from")
    for region_id, share in shares.items():
        if not (math.isfinite(share) and share >= 0):
            raise ValueError(f"region share of {region_id!r} must be >= 0, got {share!r}")
    present = [(r.id, shares[r.id]) for r in network.regions if shares.get(r.id, 0.0) > 0]
    if not present:
        present = [(r.id, 1.0) for r in network.regions]
    ids = tuple(region_id for region_id, _ in present)
    weights = np.array([share for _, share in present], dtype=float)
    return ids, weights / weights.sum()


def draw_origins(
    network: Network, count: int, seed: int, shares: Mapping[str, float] | None = None
) -> list[str]:
    """`count` origin region ids drawn with `numpy.random.default_rng(seed)` by `region_weights`."""
    ids, probabilities = region_weights(network, shares)
    rng = np.random.default_rng(seed)
    return [ids[i] for i in rng.choice(len(ids), size=count, p=probabilities)]


# --------------------------------------------------------------------------------------------
# Alibaba cluster-trace-gpu-v2023
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Pod:
    name: str
    row: int
    cpu_milli: int
    num_gpu: int
    qos: str
    creation_s: float
    start_s: float  # when it began running: scheduled_time, or creation_time (see rules)
    deletion_s: float

    @property
    def duration_s(self) -> float:
        return self.deletion_s - self.start_s


@dataclass(frozen=True, slots=True)
class AlibabaRules:
    """The knobs of the Alibaba mapping (see `read_alibaba_gpu_pods`)."""

    units_scale: int = 1
    rtt_bound_ms: float = 20.0
    deadline_slack: float = 3.0
    deadline_margin_s: float = 3600.0
    data_gb_per_gpu: float = 10.0
    data_gb_per_cpu_pod: float = 1.0

    def check(self) -> None:
        if isinstance(self.units_scale, bool) or not isinstance(self.units_scale, int):
            raise ValueError(f"units_scale must be an int, got {self.units_scale!r}")
        _check_at_least("units_scale", self.units_scale, 1)
        _check_positive("rtt_bound_ms", self.rtt_bound_ms)
        _check_positive("deadline_slack", self.deadline_slack)
        _check_at_least("deadline_margin_s", self.deadline_margin_s, 0.0)
        _check_at_least("data_gb_per_gpu", self.data_gb_per_gpu, 0.0)
        _check_at_least("data_gb_per_cpu_pod", self.data_gb_per_cpu_pod, 0.0)


def read_alibaba_gpu_pods(
    path: str | Path,
    network: Network,
    seed: int = 0,
    units_scale: int = 1,
    rtt_bound_ms: float = 20.0,
    deadline_slack: float = 3.0,
    *,
    deadline_margin_s: float = 3600.0,
    data_gb_per_gpu: float = 10.0,
    data_gb_per_cpu_pod: float = 1.0,
    region_shares: Mapping[str, float] | None = None,
) -> TraceRead:
    """Map the Alibaba GPU pod list (`openb_pod_list_default.csv`) to jobs, one per pod.

    Columns used: name, cpu_milli, num_gpu, gpu_milli, qos, creation_time, deletion_time,
    scheduled_time (memory_mib, gpu_spec and pod_phase are read past). Rules:

    - kind: `intelligent` if num_gpu > 0, units = num_gpu (a GPU-sharing pod, num_gpu = 1 with
      gpu_milli < 1000, holds one whole accelerator: units = 1); else `general`, units =
      ceil(cpu_milli / 1000) cores. A pod with neither GPUs nor CPU is skipped (`no_resources`).
    - units are multiplied by `units_scale` (an int >= 1), so that the small trace (a cluster of
      ~1,500 nodes) can load a national network; each job then stands for `units_scale` pods.
    - submit_s = creation_time - the earliest creation_time in the file.
    - duration_s = deletion_time - scheduled_time; when scheduled_time is empty, or 0 while
      creation_time > 0 (never scheduled), creation_time stands in for it. Pods whose duration
      is not positive are skipped (`non_positive_duration`).
    - QoS `LS` (latency-sensitive) -> real-time, rtt_bound_ms = `rtt_bound_ms`. `BE`,
      `Burstable` and `Guaranteed` (a Kubernetes resource class, not a latency class; 7 pods)
      -> non-real-time, deadline_s = submit_s + duration_s x `deadline_slack` +
      `deadline_margin_s` (default 3.0 and 3600 s). Any other QoS is refused.
    - origin: drawn per data row (skipped rows included, so skipping does not shift the draws)
      by `draw_origins(network, rows, seed, region_shares)`.
    - tenant "alibaba-pai"; workload "trace-alibaba-<qos>"; job_id = the pod name (unique).
    - data_gb: 0 for LS (interactive work brings no bulk input); otherwise an assumed
      `data_gb_per_gpu` (10 GB) per accelerator unit for GPU pods and `data_gb_per_cpu_pod`
      (1 GB) x `units_scale` for CPU pods.
    """
    rules = AlibabaRules(
        units_scale=units_scale,
        rtt_bound_ms=rtt_bound_ms,
        deadline_slack=deadline_slack,
        deadline_margin_s=deadline_margin_s,
        data_gb_per_gpu=data_gb_per_gpu,
        data_gb_per_cpu_pod=data_gb_per_cpu_pod,
    )
    rules.check()
    table = read_csv_table(Path(path))
    table.require(ALIBABA_COLUMNS)
    pods = _unique_pods(table.source, [_parse_pod(row) for row in table])
    origins = draw_origins(network, len(pods), seed, region_shares)
    t0_s = min((p.creation_s for p in pods), default=0.0)
    skipped = {SKIP_NON_POSITIVE_DURATION: 0, SKIP_NO_RESOURCES: 0}
    jobs: list[Job] = []
    for pod, origin in zip(pods, origins, strict=True):
        reason = _pod_skip_reason(pod)
        if reason:
            skipped[reason] += 1
            continue
        span = run_span_problem(pod.creation_s - t0_s, pod.duration_s)
        if span:
            raise InputError(table.source, f"row {pod.row}, column deletion_time",
                             pod.deletion_s, f"{span}; submit_s = creation_time - the "
                             f"earliest creation_time ({t0_s:g})")
        jobs.append(_pod_job(pod, origin, pod.creation_s - t0_s, rules))
    return TraceRead(table.source, FORMAT_ALIBABA, sort_jobs(jobs), len(pods), skipped)


def _parse_pod(row: Row) -> _Pod:
    creation_s = row.number("creation_time", minimum=0.0)
    scheduled_s = row.optional_number("scheduled_time", minimum=0.0)
    _check_gpu_milli(row)
    return _Pod(
        name=row.text("name"),
        row=row.index,
        cpu_milli=row.integer("cpu_milli", minimum=0),
        num_gpu=row.integer("num_gpu", minimum=0),
        qos=_qos(row),
        creation_s=creation_s,
        start_s=_start_s(creation_s, scheduled_s),
        deletion_s=row.number("deletion_time", minimum=0.0),
    )


def _start_s(creation_s: float, scheduled_s: float | None) -> float:
    """scheduled_time, unless it is empty or 0 after a creation > 0 (never scheduled)."""
    if scheduled_s is None or (scheduled_s == 0.0 and creation_s > 0.0):
        return creation_s
    return scheduled_s


def _check_gpu_milli(row: Row) -> None:
    gpu_milli = row.integer("gpu_milli", minimum=0)
    if gpu_milli > 1000:
        raise row.fail("gpu_milli", "must be <= 1000 (thousandths of one GPU)")


def _qos(row: Row) -> str:
    qos = row.text("qos")
    if qos not in REALTIME_QOS + BATCH_QOS:
        known = ", ".join(REALTIME_QOS + BATCH_QOS)
        raise row.fail("qos", f"unknown QoS class; known: {known}")
    return qos


def _unique_pods(source: str, pods: list[_Pod]) -> list[_Pod]:
    first_row_of: dict[str, int] = {}
    for pod in pods:
        if pod.name in first_row_of:
            raise InputError(
                source,
                f"row {pod.row}, column name",
                pod.name,
                f"duplicate: the same pod name is on row {first_row_of[pod.name]}",
            )
        first_row_of[pod.name] = pod.row
    return pods


def _pod_skip_reason(pod: _Pod) -> str:
    if pod.num_gpu == 0 and pod.cpu_milli == 0:
        return SKIP_NO_RESOURCES
    if pod.duration_s <= 0:
        return SKIP_NON_POSITIVE_DURATION
    return ""


def _pod_job(pod: _Pod, origin: str, submit_s: float, rules: AlibabaRules) -> Job:
    if pod.num_gpu > 0:
        kind, units = Kind.INTELLIGENT, pod.num_gpu * rules.units_scale
        data_gb = rules.data_gb_per_gpu * units
    else:
        kind, units = Kind.GENERAL, math.ceil(pod.cpu_milli / 1000) * rules.units_scale
        data_gb = rules.data_gb_per_cpu_pod * rules.units_scale
    realtime = pod.qos in REALTIME_QOS
    duration_s = pod.duration_s
    return Job(
        job_id=pod.name,
        tenant="alibaba-pai",
        origin=origin,
        kind=kind,
        units=units,
        duration_s=duration_s,
        submit_s=submit_s,
        rtt_bound_ms=rules.rtt_bound_ms if realtime else None,
        deadline_s=None
        if realtime
        else submit_s + duration_s * rules.deadline_slack + rules.deadline_margin_s,
        data_gb=0.0 if realtime else data_gb,
        workload=f"trace-alibaba-{pod.qos}",
    )


# --------------------------------------------------------------------------------------------
# Azure LLM inference trace 2023
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Request:
    number: int  # data row, 1-based
    epoch_s: int  # whole seconds since 1970-01-01 UTC
    nanos: int  # fraction of the second, ns
    context_tokens: int
    generated_tokens: int


def parse_timestamp(text: str) -> tuple[int, int]:
    """`YYYY-MM-DD HH:MM:SS[.fffffff]` (UTC, up to 9 fractional digits) -> (epoch s, ns).

    Raises ValueError when `text` is not such a timestamp.
    """
    match = _TIMESTAMP.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a timestamp: {text!r}")
    date, hour, minute, second, fraction = match.group(1, 2, 3, 4, 5)
    if int(hour) > 23 or int(minute) > 59 or int(second) > 59:
        raise ValueError(f"not a time of day: {text!r}")
    epoch_s = _midnight_epoch_s(date) + int(hour) * 3600 + int(minute) * 60 + int(second)
    return epoch_s, int(fraction.ljust(9, "0")) if fraction else 0


@functools.lru_cache(maxsize=256)
def _midnight_epoch_s(date: str) -> int:
    """Epoch seconds of 00:00 UTC on `date` (YYYY-MM-DD); ValueError for a date that is none."""
    return int(datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())


def read_azure_llm(
    path: str | Path,
    network: Network,
    seed: int = 0,
    rtt_bound_ms: float = 30.0,
    *,
    prefill_tokens_per_s: float = 8000.0,
    decode_tokens_per_s: float = 40.0,
    aggregate_s: float = 0.0,
    region_shares: Mapping[str, float] | None = None,
) -> TraceRead:
    """Map an Azure LLM inference trace (TIMESTAMP, ContextTokens, GeneratedTokens) to jobs.

    Rules:

    - each request is a real-time `intelligent` job of 1 unit (one accelerator) with
      rtt_bound_ms = `rtt_bound_ms` (default 30 ms).
    - duration_s = ContextTokens / `prefill_tokens_per_s` + GeneratedTokens /
      `decode_tokens_per_s`: assumed throughputs of one accelerator serving one request,
      8,000 tokens/s for the prompt (prefill) and 40 tokens/s for generation (decode).
      A request of zero tokens has no duration and is skipped (`non_positive_duration`).
    - TIMESTAMP is UTC, `2023-11-16 18:17:03.9799600` (7 fractional digits, parsed exactly);
      submit_s = TIMESTAMP - the earliest TIMESTAMP in the file.
    - origin: drawn per data row by `draw_origins(network, rows, seed, region_shares)`.
    - tenant "azure-llm-code" or "azure-llm-conv" from the file name ("azure-llm" if it says
      neither); workload "trace-azure-llm-<code|conv>"; job_id "azure-<code|conv>-NNNNNN" with
      NNNNNN the 1-based data row; data_gb = 0 (prompts are small).
    - `aggregate_s` > 0 merges requests into fluid jobs: the requests of one origin region whose
      submit_s falls in the window [k x aggregate_s, (k+1) x aggregate_s) become one job with
      submit_s = k x aggregate_s, duration_s = aggregate_s and units = ceil(total
      accelerator-seconds of the requests / aggregate_s), so accelerator-seconds are kept
      (rounded up). Its job_id is "azure-<code|conv>-wKKKKKK-<region>". Default 0: no merging.
    """
    _check_positive("rtt_bound_ms", rtt_bound_ms)
    _check_positive("prefill_tokens_per_s", prefill_tokens_per_s)
    _check_positive("decode_tokens_per_s", decode_tokens_per_s)
    _check_at_least("aggregate_s", aggregate_s, 0.0)
    table = read_csv_table(Path(path))
    table.require(AZURE_COLUMNS)
    requests = [_parse_request(row) for row in table]
    origins = draw_origins(network, len(requests), seed, region_shares)
    service = _azure_service(Path(path))
    t0 = min(((r.epoch_s, r.nanos) for r in requests), default=(0, 0))

    def duration_s(r: _Request) -> float:
        return r.context_tokens / prefill_tokens_per_s + r.generated_tokens / decode_tokens_per_s

    jobs: list[Job] = []
    skipped = {SKIP_NON_POSITIVE_DURATION: 0}
    for request, origin in zip(requests, origins, strict=True):
        if duration_s(request) <= 0:
            skipped[SKIP_NON_POSITIVE_DURATION] += 1
            continue
        submit_s = (request.epoch_s - t0[0]) + (request.nanos - t0[1]) / 1e9
        span = run_span_problem(submit_s, duration_s(request))
        if span:
            raise InputError(table.source, f"row {request.number}, column TIMESTAMP",
                             _timestamp_text(request), f"{span}; submit_s = TIMESTAMP - the "
                             "earliest TIMESTAMP in the file")
        jobs.append(
            Job(
                job_id=f"azure-{service}-{request.number:06d}",
                tenant=_azure_tenant(service),
                origin=origin,
                kind=Kind.INTELLIGENT,
                units=1,
                duration_s=duration_s(request),
                submit_s=submit_s,
                rtt_bound_ms=rtt_bound_ms,
                workload=f"trace-{_azure_tenant(service)}",
            )
        )
    if aggregate_s > 0:
        jobs = aggregate_jobs(jobs, aggregate_s, id_prefix=f"azure-{service}")
    return TraceRead(table.source, FORMAT_AZURE, sort_jobs(jobs), len(requests), skipped)


def aggregate_jobs(jobs: Sequence[Job], window_s: float, id_prefix: str) -> list[Job]:
    """Merge jobs per (window of `window_s`, origin) into one fluid job each.

    The merged job starts at the window's start, lasts `window_s`, and has units =
    ceil(sum of units x duration_s / window_s); other fields come from the window's first job.
    """
    groups: dict[tuple[int, str], list[Job]] = {}
    for job in jobs:
        groups.setdefault((math.floor(job.submit_s / window_s), job.origin), []).append(job)
    merged: list[Job] = []
    for (window, origin), members in groups.items():
        unit_s = sum(j.units * j.duration_s for j in members)
        first = members[0]
        merged.append(
            Job(
                job_id=f"{id_prefix}-w{window:06d}-{origin}",
                tenant=first.tenant,
                origin=origin,
                kind=first.kind,
                units=max(1, math.ceil(unit_s / window_s - 1e-9)),
                duration_s=float(window_s),
                submit_s=float(window * window_s),
                rtt_bound_ms=first.rtt_bound_ms,
                deadline_s=first.deadline_s,
                data_gb=sum(j.data_gb for j in members),
                workload=first.workload,
            )
        )
    return merged


def _parse_request(row: Row) -> _Request:
    text = row.text("TIMESTAMP")
    try:
        epoch_s, nanos = parse_timestamp(text)
    except ValueError:
        raise row.fail("TIMESTAMP", "must be a UTC time like 2023-11-16 18:17:03.9799600") from None
    year = int(text.strip()[:4])
    if not YEARS[0] <= year <= YEARS[1]:
        raise row.fail("TIMESTAMP", f"year {year} is out of range: must be a UTC time in "
                                    f"{YEARS[0]}-{YEARS[1]}, e.g. 2023-11-16 18:17:03.9799600")
    return _Request(
        number=row.index,
        epoch_s=epoch_s,
        nanos=nanos,
        context_tokens=row.integer("ContextTokens", minimum=0),
        generated_tokens=row.integer("GeneratedTokens", minimum=0),
    )


def _timestamp_text(request: _Request) -> str:
    when = datetime.fromtimestamp(request.epoch_s, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{when}.{request.nanos:09d}"


def _azure_service(path: Path) -> str:
    name = path.name.lower()
    if "code" in name:
        return "code"
    if "conv" in name:
        return "conv"
    return "llm"


def _azure_tenant(service: str) -> str:
    return "azure-llm" if service == "llm" else f"azure-llm-{service}"


# --------------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------------

_RECOGNISED = (
    f"Alibaba GPU pods ({','.join(ALIBABA_COLUMNS)}; recognised by 'qos'), "
    f"Azure LLM ({','.join(AZURE_COLUMNS)}; recognised by 'ContextTokens'), "
    f"suanwang jobs ({','.join(REQUIRED_COLUMNS)}[,data_gb,workload]; recognised by 'job_id')"
)


def detect_format(path: str | Path) -> str:
    """FORMAT_ALIBABA, FORMAT_AZURE or FORMAT_JOBS from the file's header (Parquet: jobs).

    A CSV file whose header matches none raises `InputError` listing the recognised headers.
    """
    path = Path(path)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return FORMAT_JOBS
    header = read_csv_header(path)
    if "qos" in header:
        return FORMAT_ALIBABA
    if "ContextTokens" in header:
        return FORMAT_AZURE
    if "job_id" in header:
        return FORMAT_JOBS
    raise InputError(
        str(path), "header", ",".join(header), f"not a recognised format; expected {_RECOGNISED}"
    )


def read_trace(path: str | Path, network: Network, seed: int = 0, **kw: Any) -> TraceRead:
    """Read any recognised file (see `detect_format`) into a `TraceRead`.

    `seed` and `kw` go to `read_alibaba_gpu_pods` or `read_azure_llm`. A suanwang job file is
    read by `read_jobs` (it takes no options, so `kw` must be empty; `seed` is unused) and
    reports every row as read and none skipped.
    """
    fmt = detect_format(path)
    if fmt == FORMAT_JOBS:
        if kw:
            raise TypeError(f"a suanwang job file takes no options, got {sorted(kw)}")
        jobs = read_jobs(path, network)
        return TraceRead(str(path), FORMAT_JOBS, jobs, len(jobs), {})
    reader: Callable[..., TraceRead] = (
        read_alibaba_gpu_pods if fmt == FORMAT_ALIBABA else read_azure_llm
    )
    return reader(path, network, seed=seed, **kw)


# --------------------------------------------------------------------------------------------
# Parameter checks (caller errors, not input errors)
# --------------------------------------------------------------------------------------------


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_at_least(name: str, value: float, minimum: float) -> None:
    if not (math.isfinite(value) and value >= minimum):
        raise ValueError(f"{name} must be a finite number >= {minimum:g}, got {value!r}")
