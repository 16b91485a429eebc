"""The bulletin and the certificates as a reader sees them, from a real 7-day run written by the
CLI: the period is the simulated week (the tail of the last jobs counted apart), times are
Beijing time, sites are named, and a market-based figure above the location-based one is
explained."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import warnings
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from typer.testing import CliRunner

from suanwang.cli import app
from suanwang.ledger.factors import RESIDUAL_MIX_G_PER_KWH

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("week")
    invoke("simulate", "--policy", "greenest", "--jobs", "400", "--days", "7", "--seed", "2",
           "--out", str(out / "run"), "--ledger")
    invoke("report", "bulletin", "--run", str(out / "run"), "--out", str(out / "bulletin"))
    return out


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_a_week_run_bulletin_covers_the_week(week: Path) -> None:
    fig = json.loads((week / "bulletin" / "bulletin.json").read_text(encoding="utf-8"))
    run = fig["run"]
    assert run["period"]["label"] == "2024-06-01..2024-06-07"
    assert run["hours"] == 7 * 24
    assert run["period_basis"] == "horizon"
    # the last jobs run past the week: their tail is counted apart, not in the figures
    tail = run["after_period"]
    sites = rows(week / "run" / "sites.csv")
    last_hour = max(int(r["hour_start_s"]) for r in sites) // 3600
    assert tail["hours"] > 0 and last_hour >= 7 * 24
    # utilisation is busy over installed unit-hours of the week's hours alone (sites.csv)
    busy: dict[str, float] = defaultdict(float)
    cap: dict[str, float] = defaultdict(float)
    for r in sites:
        if int(r["hour_start_s"]) < 7 * 86400:
            busy[r["pool"]] += float(r["busy_units"])
            cap[r["pool"]] += float(r["capacity_units"])
    for kind, u in run["utilisation"]["by_kind"].items():
        assert u == pytest.approx(busy[kind] / cap[kind], rel=1e-9), kind
    # the ledger's energy splits exactly into the week and the tail
    with (week / "run" / "ledger.jsonl").open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    total_kwh = sum(float(r["facility_kwh"]) for r in records)
    assert run["totals"]["facility_kwh"] + tail["facility_kwh"] == pytest.approx(total_kwh)
    # and the pages say so
    zh = (week / "bulletin" / "bulletin.zh.md").read_text(encoding="utf-8")
    en = (week / "bulletin" / "bulletin.en.md").read_text(encoding="utf-8")
    assert "统计期：2024年6月1日至2024年6月7日" in zh and "（168小时" in zh
    assert f"收尾的{tail['hours']}小时" in zh and "不计入本公报" in zh
    assert "simulated horizon (168 hours" in en and f"the tail after it, {tail['hours']} hours" \
        in en


def site_factors(run: Path) -> dict[str, float]:
    net = json.loads((run / "network.json").read_text(encoding="utf-8"))
    return {s["id"]: s["grid_intensity_g_per_kwh"] for s in net["sites"]}


def one_hour_job(run: Path, low_carbon: bool) -> dict[str, str]:
    """A job whose ledger records fall in one hour, at a site whose grid factor is below the
    residual mix (low_carbon) or above it, with some grid power."""
    factors = site_factors(run)
    with (run / "ledger.jsonl").open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    hours: dict[str, set[str]] = defaultdict(set)
    for r in records:
        hours[r["job"]].add(r["hour"])
    for job in rows(run / "jobs.csv"):
        site = job["site"]
        if not site or len(hours[job["job_id"]]) != 1:
            continue
        if (factors[site] < RESIDUAL_MIX_G_PER_KWH) is low_carbon and float(
                job["green_kwh"]) < float(job["energy_kwh"]):
            return job
    raise AssertionError("no such job in the run")


@pytest.mark.parametrize("low_carbon", [True, False], ids=["low-carbon site", "coal site"])
def test_a_one_hour_certificate(week: Path, tmp_path: Path, low_carbon: bool) -> None:
    job = one_hour_job(week / "run", low_carbon)
    invoke("ledger", "certificate", str(week / "run"), "--job", job["job_id"], "--out",
           str(tmp_path / "cert"))
    cert = json.loads((tmp_path / "cert.json").read_text(encoding="utf-8"))
    page = (tmp_path / "cert.html").read_text(encoding="utf-8")
    start = datetime.fromisoformat(cert["hours"]["first"])  # the hour's start, +08:00
    end = start + timedelta(hours=1)
    covered = (f"{start:%Y-%m-%d %H:%M} – "
               + (f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}")
               + " (+08:00)")
    assert start.utcoffset() == timedelta(hours=8)
    assert cert["hours"]["covered"] == covered and covered in page
    assert not re.search(r"(\d\d:\d\d) – \1", page), "an hour reads as nothing"
    # issued in Beijing time, as every other time on the page
    assert cert["issued"].endswith("+08:00") and f"Issued {cert['issued']}" in page
    # the site by its names, not its id
    net = json.loads((week / "run" / "network.json").read_text(encoding="utf-8"))
    site = next(s for s in net["sites"] if s["id"] == job["site"])
    assert f"<td>{site['name_zh']}<br><span class=en>{site['name_en']}</span></td>" in page
    assert f"<td>{site['id']}</td>" not in page
    # market-based above location-based (a low-carbon province): one line says why
    t = cert["totals"]
    assert (t["co2_market_kg"] > t["co2_location_kg"]) is low_carbon
    explained = "green certificates of that power are claimed by others" in page
    assert explained is low_carbon
    assert ("绿证已由他人认领" in page) is low_carbon


def test_the_bulletin_explains_sites_whose_market_co2_exceeds_location(week: Path) -> None:
    fig = json.loads((week / "bulletin" / "bulletin.json").read_text(encoding="utf-8"))
    net = json.loads((week / "run" / "network.json").read_text(encoding="utf-8"))
    names = {s["id"]: (s["name_zh"], s["name_en"]) for s in net["sites"]}
    above = [r["site"] for r in fig["run"]["by_site"]
             if r["co2_market_kg"] > r["co2_location_kg"]]
    factors = site_factors(week / "run")
    assert above and all(factors[s] < RESIDUAL_MIX_G_PER_KWH for s in above)
    zh = (week / "bulletin" / "bulletin.zh.md").read_text(encoding="utf-8")
    en = (week / "bulletin" / "bulletin.en.md").read_text(encoding="utf-8")
    assert "、".join(names[s][0] for s in above) + "基于市场的碳排放高于基于位置的" in zh
    assert f"At {', '.join(names[s][1] for s in above)} the market-based CO2 exceeds" in en



# ---- the Chinese font: embedded in the pages, used by the zh charts ---------------------------

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
FACE = re.compile(r'@font-face\{font-family:"([^"]+)";[^}]*src:url\(data:font/woff;base64,'
                  r'([A-Za-z0-9+/=]+)\) format\("woff"\)\}')


def embedded_font_covers_the_page(page: str) -> int:
    """Check that the page embeds a font whose cmap holds every Chinese character it shows, that
    its CSS uses it first; return how many characters that is."""
    face = FACE.search(page)
    assert face is not None, "no embedded @font-face with a data: URL"
    family, data = face.groups()
    assert f'font-family:"{family}",' in page[face.end():]
    font = TTFont(io.BytesIO(base64.b64decode(data)))
    cmap = font.getBestCmap()
    shown = set(CJK.findall(page[:face.start()] + page[face.end():]))
    missing = sorted(c for c in shown if ord(c) not in cmap)
    assert not missing, f"glyphs missing from the embedded font: {''.join(missing)}"
    assert "scripts.sil.org/OFL" in " ".join(
        str(n) for n in font["name"].names)  # the licence names are kept (OFL)
    return len(shown)


def test_the_zh_bulletin_embeds_its_glyphs(week: Path) -> None:
    page = (week / "bulletin" / "bulletin.zh.html").read_text(encoding="utf-8")
    assert embedded_font_covers_the_page(page) > 200


def test_certificates_embed_their_glyphs(week: Path, tmp_path: Path) -> None:
    job = one_hour_job(week / "run", True)
    invoke("ledger", "certificate", str(week / "run"), "--job", job["job_id"], "--out",
           str(tmp_path / "job"))
    invoke("ledger", "certificate", str(week / "run"), "--tenant", job["tenant"], "--period",
           "2024-06", "--out", str(tmp_path / "tenant"))
    for name in ("job", "tenant"):
        page = (tmp_path / f"{name}.html").read_text(encoding="utf-8")
        assert embedded_font_covers_the_page(page) > 100


def test_zh_charts_are_labelled_in_chinese_with_no_missing_glyph(week: Path,
                                                                  tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        invoke("report", "bulletin", "--run", str(week / "run"), "--out", str(tmp_path / "b"))
    assert not [w for w in caught if "missing from" in str(w.message)]
    zh = (tmp_path / "b" / "bulletin.zh.md").read_text(encoding="utf-8")
    for chart in ("capacity", "energy", "hourly", "flows"):
        assert f"]({chart}.zh.png)" in zh
        assert (tmp_path / "b" / f"{chart}.zh.png").read_bytes() != (
            tmp_path / "b" / f"{chart}.png").read_bytes()
    # every character of the zh labels (site and region names too) is in the chart font
    from suanwang.report.charts import TEXT
    from suanwang.report.font import chart_font_path

    cmap = TTFont(chart_font_path()).getBestCmap()
    net = json.loads((week / "run" / "network.json").read_text(encoding="utf-8"))
    labels = json.dumps(TEXT["zh"], ensure_ascii=False) + "".join(
        x["name_zh"] for x in [*net["sites"], *net["regions"]])
    assert not [c for c in set(CJK.findall(labels)) if ord(c) not in cmap]


def test_a_trace_run_bulletin_covers_the_hours_its_jobs_arrive_in(tmp_path: Path) -> None:
    trace = tmp_path / "jobs.csv"
    trace.write_text(
        "job_id,tenant,origin,kind,units,duration_s,submit_s,rtt_bound_ms,deadline_s,data_gb\n"
        "a,t1,bth,intelligent,8,7200,0,5,,0\n"
        "b,t1,yrd,intelligent,64,7200,3000,,90000,10\n"
        "c,t2,gba,general,1000,1800,4000,10,,1\n", encoding="utf-8")
    invoke("simulate", "--trace", str(trace), "--policy", "nearest", "--out", str(tmp_path / "r"),
           "--ledger")
    summary = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    assert summary["horizon_s"] == 2 * 3600  # the last job arrives in the second hour
    invoke("report", "bulletin", "--run", str(tmp_path / "r"), "--out", str(tmp_path / "b"))
    run = json.loads((tmp_path / "b" / "bulletin.json").read_text(encoding="utf-8"))["run"]
    assert run["hours"] == 2 and run["period_basis"] == "horizon"
    # a ends with the second hour and c within it; b (submitted at 3,000 s for two hours) runs on
    assert run["after_period"]["hours"] >= 1 and run["after_period"]["jobs"] == 1
