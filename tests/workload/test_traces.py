"""Trace readers: the real Alibaba and Azure files, and hand-written edge cases."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from pathlib import Path

import pytest

from suanwang.errors import InputError
from suanwang.model import Job, Kind, Network
from suanwang.network.loader import load_network
from suanwang.workload.jobfile import write_jobs
from suanwang.workload.traces import (
    FORMAT_ALIBABA,
    FORMAT_AZURE,
    FORMAT_JOBS,
    TraceRead,
    parse_timestamp,
    read_alibaba_gpu_pods,
    read_azure_llm,
    read_trace,
    region_weights,
)

# slices of the real traces, shipped with the tests (tests/data/README.md says which)
TRACES = Path(__file__).resolve().parents[1] / "data" / "traces"
ALIBABA_PODS = TRACES / "alibaba-gpu-v2023" / "openb_pod_list_default.csv"
AZURE_CODE = TRACES / "azure-llm-2023" / "AzureLLMInferenceTrace_code.csv"
AZURE_CONV = TRACES / "azure-llm-2023" / "AzureLLMInferenceTrace_conv.csv"

POD_HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time"
)
AZURE_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens"


def write(path: Path, header: str, *lines: str) -> Path:
    path.write_text("\n".join((header, *lines)) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def network() -> Network:
    return load_network()


@pytest.fixture(scope="module")
def alibaba(network: Network) -> TraceRead:
    return read_alibaba_gpu_pods(ALIBABA_PODS, network)


# --------------------------------------------------------------------------------------------
# The real traces (slices: pods 6000-7999 of Alibaba's, the first 600 s of Azure's)
# --------------------------------------------------------------------------------------------


def test_alibaba_pods_all_read_but_the_one_without_duration(alibaba: TraceRead) -> None:
    assert alibaba.format == FORMAT_ALIBABA
    assert alibaba.rows_read == 2000
    assert alibaba.skipped == {"non_positive_duration": 1, "no_resources": 0}
    assert len(alibaba.jobs) == 2000 - 1
    assert "openb-pod-7285" not in {j.job_id for j in alibaba.jobs}  # deleted when created


@pytest.mark.parametrize(
    ("workload", "count", "realtime"),
    [
        ("trace-alibaba-LS", 1270, True),
        ("trace-alibaba-BE", 702 - 1, False),
        ("trace-alibaba-Burstable", 27, False),
        ("trace-alibaba-Guaranteed", 1, False),
    ],
)
def test_alibaba_qos_decides_real_time(
    alibaba: TraceRead, workload: str, count: int, realtime: bool
) -> None:
    jobs = [j for j in alibaba.jobs if j.workload == workload]
    assert len(jobs) == count
    assert all(j.realtime is realtime for j in jobs)
    assert all((j.rtt_bound_ms == 20.0) is realtime for j in jobs)
    assert all((j.data_gb == 0.0) is realtime for j in jobs)


def test_alibaba_kinds_and_jobs_are_valid(alibaba: TraceRead) -> None:
    kinds = Counter(j.kind for j in alibaba.jobs)
    assert kinds == {Kind.INTELLIGENT: 1766 - 1, Kind.GENERAL: 234}
    assert min(j.submit_s for j in alibaba.jobs) == 0.0
    assert all(j.units >= 1 and j.duration_s > 0 for j in alibaba.jobs)
    assert all(j.tenant == "alibaba-pai" for j in alibaba.jobs)
    assert all(
        j.deadline_s == j.submit_s + 3.0 * j.duration_s + 3600.0
        for j in alibaba.jobs
        if not j.realtime
    )
    assert [j.submit_s for j in alibaba.jobs] == sorted(j.submit_s for j in alibaba.jobs)


def test_alibaba_units_scale_multiplies_units(network: Network, alibaba: TraceRead) -> None:
    scaled = read_alibaba_gpu_pods(ALIBABA_PODS, network, units_scale=4)
    assert [j.units for j in scaled.jobs] == [4 * j.units for j in alibaba.jobs]
    assert [j.origin for j in scaled.jobs] == [j.origin for j in alibaba.jobs]


def test_alibaba_origins_follow_the_stated_shares(alibaba: TraceRead) -> None:
    counts = Counter(j.origin for j in alibaba.jobs)
    shares = {"bth": 0.35, "yrd": 0.35, "gba": 0.20, "cc": 0.10}
    for region_id, share in shares.items():
        assert counts[region_id] / len(alibaba.jobs) == pytest.approx(share, abs=0.03)


@pytest.mark.parametrize(
    ("path", "tenant", "rows"),
    [(AZURE_CODE, "azure-llm-code", 1482), (AZURE_CONV, "azure-llm-conv", 2867)],
    ids=["code", "conv"],
)
def test_azure_requests_are_real_time_single_accelerator_jobs(
    network: Network, path: Path, tenant: str, rows: int
) -> None:
    read = read_azure_llm(path, network)
    assert read.format == FORMAT_AZURE
    assert (read.rows_read, len(read.jobs), read.skipped_total) == (rows, rows, 0)
    assert all(j.realtime and j.rtt_bound_ms == 30.0 for j in read.jobs)
    assert all(j.kind is Kind.INTELLIGENT and j.units == 1 for j in read.jobs)
    assert all(j.tenant == tenant and j.data_gb == 0.0 for j in read.jobs)
    assert read.jobs[0].submit_s == 0.0
    assert 570 < read.jobs[-1].submit_s < 600  # the slice: 600 s of requests
    assert len({j.job_id for j in read.jobs}) == rows


def test_azure_first_conversation_request(network: Network) -> None:
    # 2023-11-16 18:15:46.6805900,374,44 then 18:15:50.9951690,396,109
    jobs = {j.job_id: j for j in read_azure_llm(AZURE_CONV, network).jobs}
    first, second = jobs["azure-conv-000001"], jobs["azure-conv-000002"]
    assert first.duration_s == pytest.approx(374 / 8000 + 44 / 40)
    assert second.submit_s == pytest.approx(4.314579, abs=1e-9)


def test_azure_aggregation_keeps_accelerator_seconds(network: Network) -> None:
    single = read_azure_llm(AZURE_CODE, network)
    merged = read_azure_llm(AZURE_CODE, network, aggregate_s=60.0)
    demand_s = sum(j.units * j.duration_s for j in single.jobs)
    supplied_s = sum(j.units * j.duration_s for j in merged.jobs)
    assert demand_s <= supplied_s < demand_s + 60.0 * len(merged.jobs)
    assert all(j.duration_s == 60.0 and j.submit_s % 60.0 == 0 for j in merged.jobs)
    assert all(j.realtime for j in merged.jobs)
    assert len({j.job_id for j in merged.jobs}) == len(merged.jobs)
    assert len(merged.jobs) <= 4 * math.ceil(single.jobs[-1].submit_s / 60.0 + 1)


@pytest.mark.parametrize("path", [ALIBABA_PODS, AZURE_CODE], ids=["alibaba", "azure"])
def test_a_seed_fixes_the_origins(network: Network, path: Path) -> None:
    first = read_trace(path, network, seed=7)
    again = read_trace(path, network, seed=7)
    other = read_trace(path, network, seed=8)
    assert first.jobs == again.jobs
    assert [j.origin for j in first.jobs] != [j.origin for j in other.jobs]


# --------------------------------------------------------------------------------------------
# Origins
# --------------------------------------------------------------------------------------------


def test_shares_are_renormalised_over_the_networks_regions(network: Network) -> None:
    two = dataclasses.replace(network, regions=(network.region("bth"), network.region("cc")))
    ids, probabilities = region_weights(two)
    assert ids == ("bth", "cc")
    assert list(probabilities) == pytest.approx([0.35 / 0.45, 0.10 / 0.45])


def test_origins_only_come_from_the_network(tmp_path: Path, network: Network) -> None:
    two = dataclasses.replace(network, regions=(network.region("gba"), network.region("cc")))
    lines = [f"p{i},1000,1,0,0,,BE,Running,{i},{i + 10},{i}" for i in range(200)]
    read = read_alibaba_gpu_pods(write(tmp_path / "pods.csv", POD_HEADER, *lines), two)
    assert {j.origin for j in read.jobs} == {"gba", "cc"}


def test_unknown_share_regions_fall_back_to_equal_shares(network: Network) -> None:
    ids, probabilities = region_weights(network, {"xj": 1.0})
    assert ids == ("bth", "yrd", "gba", "cc")
    assert list(probabilities) == pytest.approx([0.25] * 4)


# --------------------------------------------------------------------------------------------
# Alibaba rules on hand-written pods
# --------------------------------------------------------------------------------------------

# fmt: off
POD_CASES = [
    # (case, pod line, kind, units, duration_s, realtime, data_gb)
    ("whole GPUs", "p,88000,1,8,1000,,LS,Running,100,1100,200", Kind.INTELLIGENT, 8, 900.0,
     True, 0.0),
    ("GPU share", "p,6000,1,1,460,,BE,Running,100,1100,100", Kind.INTELLIGENT, 1, 1000.0,
     False, 10.0),
    ("CPU cores rounded up", "p,1500,1,0,0,,Burstable,Running,100,400,150", Kind.GENERAL, 2,
     250.0, False, 1.0),
    ("no scheduled time", "p,1000,1,0,0,,BE,Pending,100,400,", Kind.GENERAL, 1, 300.0, False,
     1.0),
    ("scheduled 0 after creation", "p,1000,1,0,0,,LS,Pending,100,400,0", Kind.GENERAL, 1, 300.0,
     True, 0.0),
    ("created and scheduled at 0", "p,1000,1,2,1000,,Guaranteed,Running,0,400,0",
     Kind.INTELLIGENT, 2, 400.0, False, 20.0),
]
# fmt: on


@pytest.mark.parametrize(
    ("line", "kind", "units", "duration_s", "realtime", "data_gb"),
    [case[1:] for case in POD_CASES],
    ids=[case[0] for case in POD_CASES],
)
def test_pod_mapping_rules(
    tmp_path: Path,
    network: Network,
    line: str,
    kind: Kind,
    units: int,
    duration_s: float,
    realtime: bool,
    data_gb: float,
) -> None:
    path = write(tmp_path / "pods.csv", POD_HEADER, line)
    (job,) = read_alibaba_gpu_pods(path, network, deadline_slack=2.0).jobs
    assert (job.kind, job.units, job.duration_s) == (kind, units, duration_s)
    assert (job.realtime, job.data_gb, job.submit_s) == (realtime, data_gb, 0.0)
    if not realtime:
        assert job.deadline_s == 2.0 * duration_s + 3600.0


def test_pod_submission_is_relative_to_the_earliest_creation(
    tmp_path: Path, network: Network
) -> None:
    lines = ["late,1000,1,0,0,,LS,Running,500,900,500", "early,1000,1,0,0,,LS,Running,200,900,200"]
    read = read_alibaba_gpu_pods(write(tmp_path / "pods.csv", POD_HEADER, *lines), network)
    assert [(j.job_id, j.submit_s) for j in read.jobs] == [("early", 0.0), ("late", 300.0)]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("p,1000,1,0,0,,BE,Pending,400,400,", "non_positive_duration"),
        ("p,1000,1,0,0,,BE,Running,100,300,350", "non_positive_duration"),
        ("p,0,1,0,0,,BE,Running,100,300,100", "no_resources"),
    ],
    ids=["deleted when created", "deleted before scheduled", "no resources"],
)
def test_pods_that_cannot_be_jobs_are_skipped_and_counted(
    tmp_path: Path, network: Network, line: str, reason: str
) -> None:
    ok = "ok,1000,1,0,0,,LS,Running,0,10,0"
    read = read_alibaba_gpu_pods(write(tmp_path / "pods.csv", POD_HEADER, ok, line), network)
    assert [j.job_id for j in read.jobs] == ["ok"]
    assert read.rows_read == 2 and read.skipped[reason] == 1 and read.skipped_total == 1


# fmt: off
POD_ERRORS = [
    ("bad int", "p2,lots,1,0,0,,LS,Running,0,10,0", "row 2, column cpu_milli", "'lots'"),
    ("negative GPUs", "p2,1000,1,-1,0,,LS,Running,0,10,0", "row 2, column num_gpu", "'-1'"),
    ("GPU share over 1000", "p2,1000,1,1,1200,,LS,Running,0,10,0", "row 2, column gpu_milli",
     "'1200'"),
    ("unknown QoS", "p2,1000,1,0,0,,Gold,Running,0,10,0", "row 2, column qos", "'Gold'"),
    ("bad time", "p2,1000,1,0,0,,LS,Running,soon,10,0", "row 2, column creation_time", "'soon'"),
    ("missing deletion", "p2,1000,1,0,0,,LS,Running,0,,0", "row 2, column deletion_time", "''"),
    ("duplicate name", "p1,1000,1,0,0,,LS,Running,0,10,0", "row 2, column name", "'p1'"),
]
# fmt: on


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [case[1:] for case in POD_ERRORS],
    ids=[case[0] for case in POD_ERRORS],
)
def test_bad_pods_name_file_row_column_and_value(
    tmp_path: Path, network: Network, line: str, field: str, value: str
) -> None:
    first = "p1,1000,1,0,0,,LS,Running,0,10,0"
    path = write(tmp_path / "pods.csv", POD_HEADER, first, line)
    with pytest.raises(InputError) as caught:
        read_alibaba_gpu_pods(path, network)
    assert f"{path}: {field} = {value}" in str(caught.value)


def test_a_missing_pod_column_is_named(tmp_path: Path, network: Network) -> None:
    header = POD_HEADER.replace(",num_gpu", "")
    path = write(tmp_path / "pods.csv", header, "p,1000,1,0,,LS,Running,0,10,0")
    with pytest.raises(InputError) as caught:
        read_alibaba_gpu_pods(path, network)
    assert caught.value.field == "column num_gpu" and str(path) in str(caught.value)


@pytest.mark.parametrize(
    "kwargs",
    [{"units_scale": 0}, {"units_scale": 1.5}, {"deadline_slack": 0.0}, {"rtt_bound_ms": -1.0}],
)
def test_bad_alibaba_options_are_refused(
    tmp_path: Path, network: Network, kwargs: dict[str, float]
) -> None:
    path = write(tmp_path / "pods.csv", POD_HEADER, "p,1000,1,0,0,,LS,Running,0,10,0")
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        read_alibaba_gpu_pods(path, network, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Azure rules on hand-written requests
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "tenant", "first_id"),
    [
        ("AzureLLMInferenceTrace_code.csv", "azure-llm-code", "azure-code-000001"),
        ("AzureLLMInferenceTrace_conv.csv", "azure-llm-conv", "azure-conv-000001"),
        ("requests.csv", "azure-llm", "azure-llm-000001"),
    ],
)
def test_azure_tenant_comes_from_the_file_name(
    tmp_path: Path, network: Network, name: str, tenant: str, first_id: str
) -> None:
    path = write(tmp_path / name, AZURE_HEADER, "2023-11-16 18:17:03.9799600,8000,40")
    (job,) = read_azure_llm(path, network).jobs
    assert (job.tenant, job.job_id, job.duration_s) == (tenant, first_id, 2.0)


def test_azure_submission_is_relative_to_the_earliest_request(
    tmp_path: Path, network: Network
) -> None:
    lines = ["2023-11-16 18:17:05.5000001,1,1", "2023-11-16 18:17:03.0000001,1,1"]
    read = read_azure_llm(write(tmp_path / "conv.csv", AZURE_HEADER, *lines), network)
    assert [(j.job_id, j.submit_s) for j in read.jobs] == [
        ("azure-conv-000002", 0.0),
        ("azure-conv-000001", 2.5),
    ]


def test_azure_empty_requests_are_skipped(tmp_path: Path, network: Network) -> None:
    lines = ["2023-11-16 18:17:03.0,0,0", "2023-11-16 18:17:04.0,10,1"]
    read = read_azure_llm(write(tmp_path / "conv.csv", AZURE_HEADER, *lines), network)
    assert read.rows_read == 2 and len(read.jobs) == 1
    assert read.skipped == {"non_positive_duration": 1}


def test_azure_aggregation_merges_per_window_and_origin(tmp_path: Path, network: Network) -> None:
    lines = [f"2023-11-16 18:17:{s:02d}.0,0,400" for s in range(0, 30)]  # 30 requests of 10 s
    path = write(tmp_path / "conv.csv", AZURE_HEADER, *lines)
    read = read_azure_llm(path, network, aggregate_s=20.0, region_shares={"bth": 1.0})
    assert [(j.job_id, j.submit_s, j.units, j.duration_s) for j in read.jobs] == [
        ("azure-conv-w000000-bth", 0.0, 10, 20.0),  # 20 x 10 s in 20 s
        ("azure-conv-w000001-bth", 20.0, 5, 20.0),  # 10 x 10 s in 20 s
    ]


# fmt: off
AZURE_ERRORS = [
    ("bad timestamp", "16/11/2023 18:17,1,1", "row 2, column TIMESTAMP", "'16/11/2023 18:17'"),
    ("no such day", "2023-02-30 00:00:00.0,1,1", "row 2, column TIMESTAMP",
     "'2023-02-30 00:00:00.0'"),
    ("bad int", "2023-11-16 18:17:04.0,many,1", "row 2, column ContextTokens", "'many'"),
    ("negative tokens", "2023-11-16 18:17:04.0,1,-3", "row 2, column GeneratedTokens", "'-3'"),
]
# fmt: on


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [case[1:] for case in AZURE_ERRORS],
    ids=[case[0] for case in AZURE_ERRORS],
)
def test_bad_requests_name_file_row_column_and_value(
    tmp_path: Path, network: Network, line: str, field: str, value: str
) -> None:
    path = write(tmp_path / "code.csv", AZURE_HEADER, "2023-11-16 18:17:03.0,1,1", line)
    with pytest.raises(InputError) as caught:
        read_azure_llm(path, network)
    assert f"{path}: {field} = {value}" in str(caught.value)


def test_a_missing_azure_column_is_named(tmp_path: Path, network: Network) -> None:
    path = write(tmp_path / "code.csv", "TIMESTAMP,ContextTokens", "2023-11-16 18:17:03.0,1")
    with pytest.raises(InputError) as caught:
        read_azure_llm(path, network)
    assert caught.value.field == "column GeneratedTokens"


@pytest.mark.parametrize(
    ("text", "epoch_s", "nanos"),
    [
        ("2023-11-16 18:17:03.9799600", 1_700_158_623, 979_960_000),
        ("1970-01-01 00:00:00", 0, 0),
        ("2024-02-29 23:59:59.000000001", 1_709_251_199, 1),
    ],
)
def test_timestamps_are_parsed_exactly_as_utc(text: str, epoch_s: int, nanos: int) -> None:
    assert parse_timestamp(text) == (epoch_s, nanos)


# --------------------------------------------------------------------------------------------
# Dispatch by header
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "line", "fmt"),
    [
        (POD_HEADER, "p,1000,1,0,0,,LS,Running,0,10,0", FORMAT_ALIBABA),
        (AZURE_HEADER, "2023-11-16 18:17:03.0,1,1", FORMAT_AZURE),
    ],
    ids=["alibaba", "azure"],
)
def test_read_trace_detects_traces(
    tmp_path: Path, network: Network, header: str, line: str, fmt: str
) -> None:
    read = read_trace(write(tmp_path / "trace.csv", header, line), network)
    assert read.format == fmt and len(read.jobs) == 1


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_read_trace_reads_job_files(tmp_path: Path, network: Network, suffix: str) -> None:
    jobs = [Job("j", "t", "bth", Kind.HPC, 1, 5.0, 0.0, deadline_s=10.0)]
    write_jobs(jobs, tmp_path / f"jobs{suffix}")
    read = read_trace(tmp_path / f"jobs{suffix}", network)
    assert (read.format, read.jobs, read.rows_read, read.skipped) == (FORMAT_JOBS, jobs, 1, {})


def test_read_trace_passes_options_on(tmp_path: Path, network: Network) -> None:
    path = write(tmp_path / "trace.csv", POD_HEADER, "p,1000,1,2,1000,,LS,Running,0,10,0")
    (job,) = read_trace(path, network, units_scale=3, rtt_bound_ms=8.0).jobs
    assert (job.units, job.rtt_bound_ms) == (6, 8.0)


def test_read_trace_refuses_an_unknown_header(tmp_path: Path, network: Network) -> None:
    path = write(tmp_path / "other.csv", "when,what", "1,2")
    with pytest.raises(InputError) as caught:
        read_trace(path, network)
    message = str(caught.value)
    assert str(path) in message and "'when,what'" in message
    for recognised in ("qos", "ContextTokens", "job_id"):
        assert recognised in message
