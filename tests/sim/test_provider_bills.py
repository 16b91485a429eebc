"""The simulator with providers: the bill per job in jobs.csv, the FOCUS invoices, the summary's
total, a cheap provider with a small quota overflowing to the next, and a job spanning a price
change billed by both items.

The network is the tiny one with two providers at every site (tests/policies/
test_provider_placement.py): one card-hour costs, per site and provider,

    site    cheap   dear
    local   10      12
    mid      9      10.8
    west     8       9.6

Here `cheap` offers only 1 card at each site (its quota); `dear` has 3, 4 and 5 (half of each
site's cards).
"""

from __future__ import annotations

import copy
import csv
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from suanwang.model import Job, Network
from suanwang.network.loader import parse_network
from suanwang.policies import make_policy
from suanwang.sim import simulate
from suanwang.sim.output import write_run

ProviderDoc = Callable[..., dict[str, Any]]


def small_quota_doc(tiny_doc: dict[str, Any], provider_doc: ProviderDoc) -> dict[str, Any]:
    doc = provider_doc(tiny_doc)
    for site in doc["sites"]:
        site["providers"][0]["quota"] = {"intelligent": 1, "source": "test: a small quota"}
    return doc


@pytest.fixture
def qnet(tiny_doc: dict[str, Any], provider_doc: ProviderDoc) -> Network:
    return parse_network(small_quota_doc(tiny_doc, provider_doc), "<small quota>")


def run_out(net: Network, jobs: list[Job], policy: str, tmp_path: Path,
            make_series: Callable[..., Any], make_forecaster: Callable[..., Any]
            ) -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, Any]]:
    series = make_series(net, 48)
    result = simulate(net, jobs, make_policy(policy), series, make_forecaster(net, series))
    write_run(result, tmp_path, {})
    rows = list(csv.DictReader((tmp_path / "jobs.csv").open(encoding="utf-8")))
    lines = [r for f in sorted((tmp_path / "invoices").glob("*.csv"))
             for r in csv.DictReader(f.open(encoding="utf-8"))]
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    return rows, lines, summary


def test_a_cheap_provider_with_a_small_quota_overflows_to_the_cheapest_other(
        qnet: Network, tmp_path: Path, make_series: Callable[..., Any],
        make_forecaster: Callable[..., Any], make_job: Callable[..., Job]) -> None:
    # six one-card jobs for an hour at once, each preferring cheap
    jobs = [replace(make_job(f"j{i}", deadline_s=10 * 3600.0), providers_prefer=("cheap",))
            for i in range(6)]
    rows, lines, summary = run_out(qnet, jobs, "cheapest", tmp_path, make_series,
                                   make_forecaster)
    where = [f"{r['site']}/{r['provider']}" for r in rows]
    # cheap's one card at each site, cheapest first; then dear at west (9.6) for the rest
    assert where == ["west/cheap", "mid/cheap", "local/cheap", "west/dear", "west/dear",
                     "west/dear"]
    assert all("preferred provider cheap" in r["reason"] for r in rows[:3])
    assert all("overflow: preferred cheap has no room" in r["reason"] for r in rows[3:])
    bills = [float(r["bill_yuan"]) for r in rows]
    assert bills == pytest.approx([8.0, 9.0, 10.0, 9.6, 9.6, 9.6])
    assert summary["bill_yuan"] == pytest.approx(55.8)
    assert sum(float(x["BilledCost"]) for x in lines) == pytest.approx(55.8)
    by_job: dict[str, float] = {}
    for x in lines:
        by_job[x["ResourceId"]] = by_job.get(x["ResourceId"], 0.0) + float(x["BilledCost"])
    assert by_job == pytest.approx({r["job_id"]: float(r["bill_yuan"]) for r in rows})
    assert {x["ConsumedUnit"] for x in lines} == {"card-hour"}
    assert {x["ProviderName"] for x in lines} == {"cheap", "dear"}


def test_a_job_spanning_a_price_change_is_billed_by_both_items_in_its_invoice(
        tiny_doc: dict[str, Any], provider_doc: ProviderDoc, tmp_path: Path,
        make_series: Callable[..., Any], make_forecaster: Callable[..., Any],
        make_job: Callable[..., Job]) -> None:
    doc = provider_doc(tiny_doc)
    dear = next(p for p in doc["providers"] if p["id"] == "dear")
    # from clock hour 1 (09:00 China time on 2024-06-01), dear's card-hour drops to 6 (x0.8)
    dear["prices"].append({"kind": "intelligent", "effective_from": "2024-06-01T09:00",
                           "yuan_per_unit_h": {"value": 6.0, "source": "test: a price cut"}})
    net = parse_network(copy.deepcopy(doc), "<price change>")
    job = replace(make_job("long", duration_s=2 * 3600.0, deadline_s=10 * 3600.0, data_gb=5.0),
                  providers_allow=("dear",))
    rows, lines, summary = run_out(net, [job], "cheapest", tmp_path, make_series,
                                   make_forecaster)
    (row,) = rows
    start_h = float(row["start_s"]) / 3600.0  # after 1 s of transfer (5 GB at 40 Gbps)
    assert row["site"] == "west" and row["provider"] == "dear"
    expected = 9.6 * (1.0 - start_h) + 4.8 * (1.0 + start_h)  # egress: dear charges 0
    assert float(row["bill_yuan"]) == pytest.approx(expected)
    compute = [x for x in lines if x["ServiceCategory"] == "Compute"]
    assert [float(x["ListUnitPrice"]) for x in compute] == pytest.approx([9.6, 4.8])
    assert len({x["SkuPriceId"] for x in compute}) == 2
    assert sum(float(x["BilledCost"]) for x in lines) == pytest.approx(expected)
    assert summary["bill_yuan"] == pytest.approx(expected)


def test_a_network_without_providers_bills_the_electricity_cost(
        tiny_net: Network, tmp_path: Path, make_series: Callable[..., Any],
        make_forecaster: Callable[..., Any], make_job: Callable[..., Job]) -> None:
    jobs = [make_job(f"j{i}", submit_s=600.0 * i, deadline_s=20 * 3600.0) for i in range(5)]
    rows, lines, summary = run_out(tiny_net, jobs, "cheapest", tmp_path, make_series,
                                   make_forecaster)
    assert summary["bill_yuan"] == pytest.approx(summary["cost_yuan"])
    for r in rows:
        assert r["provider"] == r["site"]  # the implicit provider is named after its site
        assert float(r["bill_yuan"]) == pytest.approx(float(r["cost_yuan"]))
    assert sum(float(x["BilledCost"]) for x in lines) == pytest.approx(summary["cost_yuan"])
