"""The bulletin's provider section (issue 12, multi-cloud monitoring) for a simulator run: per
(site, provider) its jobs, revenue and measured time-to-start beside the promised SLA, equal
to independent sums of jobs.csv, in both languages."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ledger_support import hand_result, hand_series

from suanwang.core.sla import nearest_rank
from suanwang.energy.series import EnergySeries
from suanwang.model import Network
from suanwang.network.loader import parse_network
from suanwang.report.bulletin import write_bulletin
from suanwang.report.run_files import read_network_json, read_run
from suanwang.sim.output import write_run


def by_provider(run_dir: Path) -> dict[tuple[str, str], list[dict[str, str]]]:
    with (run_dir / "jobs.csv").open(encoding="utf-8", newline="") as f:
        out: dict[tuple[str, str], list[dict[str, str]]] = {}
        for r in csv.DictReader(f):
            if r["provider"] and r["start_s"]:
                out.setdefault((r["site"], r["provider"]), []).append(r)
    return out


@pytest.fixture
def provider_run(tiny_doc: dict[str, Any], provider_doc: Callable[..., dict[str, Any]],
                 make_series: Callable[..., EnergySeries], tmp_path: Path) -> Path:
    """The hand-built run on the tiny network with providers cheap and dear at every site."""
    net: Network = parse_network(provider_doc(tiny_doc), "<two providers>")
    out = tmp_path / "run"
    write_run(hand_result(net, hand_series(make_series, net)), out, {"demand": "hand"})
    return out


def test_provider_section_equals_sums_of_jobs_csv_in_both_languages(
        provider_run: Path, tmp_path: Path) -> None:
    net = read_network_json(provider_run)
    write_bulletin(net, read_run(provider_run), None, tmp_path / "b")
    fig = json.loads((tmp_path / "b" / "bulletin.json").read_text(encoding="utf-8"))
    rows = {(r["site"], r["provider"]): r for r in fig["run"]["providers"]}
    expected = by_provider(provider_run)
    assert set(rows) == set(expected) and rows
    for key, jobs in expected.items():
        r = rows[key]
        assert r["jobs"] == len(jobs)
        assert r["revenue_yuan"] == pytest.approx(sum(float(j["bill_yuan"]) for j in jobs))
        waits = sorted(float(j["start_s"]) - float(j["placed_s"]) for j in jobs)
        assert r["measured"]["start_p50_s"] == pytest.approx(nearest_rank(waits, 0.5))
        assert r["measured"]["start_p95_s"] == pytest.approx(nearest_rank(waits, 0.95))
        assert r["promised"] == {"availability": 0.999, "start_s": 60.0}
        within = sum(1 for w in waits if w <= 60.0) / len(waits)
        assert r["measured"]["start_within_share"] == pytest.approx(within)
    zh = (tmp_path / "b" / "bulletin.zh.md").read_text(encoding="utf-8")
    en = (tmp_path / "b" / "bulletin.en.md").read_text(encoding="utf-8")
    assert "八、多云服务商" in zh and "8. Providers (multi-cloud)" in en
    assert "99.90%" in zh and "promised availability" in en
    for r in rows.values():
        assert f"| {r['name_en']} | {r['jobs']} |" in en


def test_a_network_without_providers_lists_each_site_as_its_own_provider(
        tiny_net: Network, make_series: Callable[..., EnergySeries], tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_run(hand_result(tiny_net, hand_series(make_series, tiny_net)), out, {})
    write_bulletin(read_network_json(out), read_run(out), None, tmp_path / "b")
    fig = json.loads((tmp_path / "b" / "bulletin.json").read_text(encoding="utf-8"))
    assert {(r["site"], r["provider"]) for r in fig["run"]["providers"]} == set(by_provider(out))
    assert all(r["site"] == r["provider"] for r in fig["run"]["providers"])
