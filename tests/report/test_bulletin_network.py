"""The bulletin from the bundled network alone: the seed figures, independent sums of the
network, both languages, bulletin rounding."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanwang.cli import app
from suanwang.model import Kind
from suanwang.network.loader import bundled_network_path, load_network
from suanwang.report import numbers as fmt
from suanwang.report.bulletin import write_bulletin
from suanwang.report.run_files import network_dict

runner = CliRunner()


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bulletin")
    write_bulletin(network_dict(None), None, None, out)
    return out


def test_figures_equal_independent_sums_of_the_network(out_dir: Path) -> None:
    fig = json.loads((out_dir / "bulletin.json").read_text(encoding="utf-8"))
    n = fig["network"]
    net = load_network(None)
    pools = net.pools()
    assert n["total_pflops"] == pytest.approx(sum(p.units * p.pflops_per_unit for p in pools))
    for k in Kind:
        assert n["pflops_by_kind"][k.value] == pytest.approx(
            sum(p.pflops for p in pools if p.kind == k))
        assert n["units_by_kind"][k.value] == sum(p.units for p in pools if p.kind == k)
    west_hubs = {h.id for h in net.hubs if h.west}
    assert n["west_pflops"] == pytest.approx(
        sum(s.pflops for s in net.sites if s.hub_id in west_hubs))
    for row, site in zip(n["sites"], net.sites, strict=True):
        assert row["id"] == site.id and row["pflops"] == pytest.approx(site.pflops)
    assert sum(h["pflops"] for h in n["hubs"]) == pytest.approx(n["total_pflops"])
    assert fig["run"] is None


def test_seed_figures_are_reproduced_in_both_languages(out_dir: Path) -> None:
    en = (out_dir / "bulletin.en.md").read_text(encoding="utf-8")
    zh = (out_dir / "bulletin.zh.md").read_text(encoding="utf-8")
    # Horinger New Area (Hohhot): 24,000 P, of which 21,800 P intelligent (seed 000-002)
    assert "Horinger New Area (Hohhot): 24,000 P in all, of which 21,800 P intelligent" in en
    assert "和林格尔新区算力总规模2.4万P，其中智能算力2.18万P" in zh
    # Hohhot, April 2024: 1,040 + 197 + 9,084 = 10,321 P (seed 003)
    assert "general 1,040 P + supercomputing 197 P + intelligent 9,084 P = 10,321 P" in en
    assert "2024年4月为10321P（通用1040P、超算197P、智算9084P）" in zh
    assert "| Horinger New Area (Hohhot) | Inner Mongolia hub | 1,850 | 21,800 | 350 | 24,000 |" \
        in en


def test_both_languages_render_with_the_rounding_note(out_dir: Path) -> None:
    for lang, marks in (("zh", ("算力统计公报", "一、算力规模", "附注", 'lang="zh-CN"')),
                        ("en", ("Compute statistics bulletin", "1. Compute capacity", "Notes",
                                'lang="en"'))):
        page = (out_dir / f"bulletin.{lang}.html").read_text(encoding="utf-8")
        md = (out_dir / f"bulletin.{lang}.md").read_text(encoding="utf-8")
        for m in marks:
            assert m in page
        assert fmt.ROUNDING_NOTE[lang] in page and fmt.ROUNDING_NOTE[lang] in md
        chart = "capacity.png" if lang == "en" else f"capacity.{lang}.png"  # charts per language
        assert f'<img src="{chart}"' in page and f"]({chart})" in md
        assert (out_dir / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out_dir / "energy.png").exists()  # no run, no run charts


@pytest.mark.parametrize(("value", "lang", "text"), [
    (24_000, "zh", "2.4万P"), (21_800, "zh", "2.18万P"), (9_084, "zh", "9084P"),
    (24_000, "en", "24,000 P"), (10_321.4, "en", "10,321 P"),
])
def test_compute_is_rounded_as_bulletins_do(value: float, lang: str, text: str) -> None:
    assert fmt.pflops(value, lang) == text


@pytest.mark.parametrize(("fn", "value", "zh", "en"), [
    (fmt.energy_kwh, 327_599_000, "3.28亿千瓦时", "327.60 GWh"),
    (fmt.energy_kwh, 76_468_000, "7646.8万千瓦时", "76.47 GWh"),
    (fmt.energy_kwh, 5.1, "5千瓦时", "0.0 MWh"),
    (fmt.mass_kg, 45_360_000_000, "4536万吨", "45,360,000 t"),
    (fmt.mass_kg, 7_298_400, "7298吨", "7,298 t"),
    (fmt.yuan, 154_630_000, "1.55亿元", "154.63 million yuan"),
    (fmt.yuan, 32_521_000, "3252.1万元", "32.52 million yuan"),
    (fmt.count, 395_625_000, "3.96亿", "395,625,000"),
])
def test_other_units_are_rounded_per_language(fn: Callable[[float, str], str], value: float,
                                              zh: str, en: str) -> None:
    assert (fn(value, "zh"), fn(value, "en")) == (zh, en)


def test_cli_writes_the_bulletin_from_a_network_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "bulletin", "--network",
                                 str(bundled_network_path()), "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    for name in ("bulletin.json", "bulletin.zh.md", "bulletin.en.md", "bulletin.zh.html",
                 "bulletin.en.html", "capacity.png"):
        assert (tmp_path / "b" / name).is_file(), name


def test_cli_refuses_a_network_with_a_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "bulletin", "--network", "x.yaml", "--run",
                                 str(tmp_path), "--out", str(tmp_path / "b")])
    assert result.exit_code == 2 and "give one of them" in result.output
