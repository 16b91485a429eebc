"""The invoices computed as columns (`sim.invoice_columns`) are the bytes the per-job path
(`pricing.job_bill` + `pricing.focus.focus_lines`, one job at a time) writes: on the national
network (time-of-use night prices, several providers, egress), across a month's end, and for
energy-priced providers with runs starting a hair before an hour (job_bill's own rounding)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from suanwang.model import Job, Network
from suanwang.network.loader import load_network
from suanwang.policies import make_policy
from suanwang.sim import invoice_columns, simulate
from suanwang.sim.invoice_columns import aligned
from suanwang.sim.invoices import write_invoices, write_invoices_per_job
from suanwang.sim.result import SimResult
from suanwang.sim.runner import DEFAULT_START, run
from suanwang.workload.synthetic import synthetic_jobs


def same_invoices(result: SimResult, tmp_path: Path) -> list[Path]:
    assert aligned(result)
    reference = write_invoices_per_job(result, tmp_path / "per_job")
    columns = write_invoices(result, tmp_path / "columns")
    assert [p.name for p in columns] == [p.name for p in reference]
    for a, b in zip(reference, columns, strict=True):
        assert b.read_bytes() == a.read_bytes(), a.name
    return columns


@pytest.mark.parametrize(("policy", "job_block"), [("greenest", 200_000),
                                                  ("green-window", 97)])
def test_national_run_across_a_month_end(policy: str, job_block: int, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # job_block 97: the bills computed 97 jobs at a time, each block appended to its files
    monkeypatch.setattr(invoice_columns, "JOB_BLOCK", job_block)
    net = load_network()
    jobs = synthetic_jobs(net, 1500, 31.0, seed=2, load=0.7, start_utc=DEFAULT_START)
    result = run(net, jobs, policy, seed=2)
    files = same_invoices(result, tmp_path)
    months = {p.stem.rsplit("_", 1)[1] for p in files}
    assert {"2024-06", "2024-07"} <= months
    text = "".join(p.read_text(encoding="utf-8") for p in files)
    assert "Networking" in text and "Compute" in text


def test_energy_priced_runs_starting_just_before_an_hour(
        tiny_net: Network, tmp_path: Path, make_series: Callable[..., Any],
        make_forecaster: Callable[..., Any], make_job: Callable[..., Job]) -> None:
    starts = sorted([0.0, 1799.5, 3600.0 - 5e-6, 3600.0 - 2e-6, 7199.9999995, 10800.000001,
              3 * 3600.0, 12345.678901])
    jobs = [replace(make_job(f"j{i}", submit_s=s, duration_s=d, deadline_s=40 * 3600.0,
                             data_gb=g), tenant=f"tenant,{i % 2}")
            for i, (s, d, g) in enumerate(zip(starts, [3600.0, 5400.5, 7200.0, 1.0, 900.0,
                                                       10000.0, 3600.0, 0.0],
                                              [0.0, 1.0, 0.0, 2.5, 0.0, 0.0, 3.0, 0.0],
                                              strict=True))]
    # an electricity price that changes every hour: each piece shows at which hour it is cut
    series = make_series(tiny_net, 48, price={s.id: [0.3 + 0.01 * h for h in range(48)]
                                              for s in tiny_net.sites})
    result = simulate(tiny_net, jobs, make_policy("nearest"), series,
                      make_forecaster(tiny_net, series))
    files = same_invoices(result, tmp_path)
    assert {p.name for p in files} == {"tenant_0_2024-06.csv", "tenant_1_2024-06.csv"}
    text = files[0].read_text(encoding="utf-8")
    assert '"tenant,0"' in text and "energy-priced provider" in text


def test_tenants_sharing_a_file_name_take_the_per_job_path(
        tiny_net: Network, make_series: Callable[..., Any], make_forecaster: Callable[..., Any],
        make_job: Callable[..., Job]) -> None:
    jobs = [replace(make_job(f"j{i}", submit_s=60.0 * i, deadline_s=9 * 3600.0), tenant=t)
            for i, t in enumerate(["a b", "a_b"])]
    series = make_series(tiny_net, 24)
    result = simulate(tiny_net, jobs, make_policy("nearest"), series,
                      make_forecaster(tiny_net, series))
    assert not aligned(result)  # both are invoices/a_b_<month>.csv
    assert aligned(replace(result, jobs=jobs[:1]))
