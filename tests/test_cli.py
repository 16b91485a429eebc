"""The CLI end to end, as a user sees it: tables printed, files written, errors named."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from suanwang.cli import app
from suanwang.network.loader import bundled_network_path
from suanwang.sim.output import JOB_COLUMNS, SITE_COLUMNS

runner = CliRunner()
SMALL = ["--jobs", "600", "--days", "1", "--seed", "3"]


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


# ---- network show ----------------------------------------------------------------------

def test_network_show_lists_sites_in_both_languages() -> None:
    code, out = invoke("network", "show")
    assert code == 0, out
    for text in ("和林格尔新区", "Horinger New Area", "集宁大数据产业园", "贵安集群", "智算",
                 "intelligent", "24,000", "21,800"):
        assert text in out
    assert "2024-04" in out and "10,321" in out


# ---- simulate --out ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    code, text = invoke("simulate", "--policy", "greenest", *SMALL, "--out", str(out))
    assert code == 0, text
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_simulate_writes_the_four_files(run_dir: Path) -> None:
    for name in ("jobs.csv", "sites.csv", "summary.json", "network.json"):
        assert (run_dir / name).is_file()
    jobs = read_csv(run_dir / "jobs.csv")
    assert len(jobs) == 600
    assert tuple(jobs[0].keys()) == JOB_COLUMNS
    assert {r["status"] for r in jobs} <= {"done", "late", "rejected"}
    sites = read_csv(run_dir / "sites.csv")
    assert tuple(sites[0].keys()) == SITE_COLUMNS


def test_every_job_energy_recomputes_from_network_json(run_dir: Path) -> None:
    net = json.loads((run_dir / "network.json").read_text(encoding="utf-8"))
    pools = {(s["id"], p["kind"]): (p["kw_per_unit"], s["pue"])
             for s in net["sites"] for p in s["pools"]}
    for row in read_csv(run_dir / "jobs.csv"):
        if row["status"] == "rejected":
            assert row["site"] == "" and float(row["energy_kwh"]) == 0
            continue
        kw, pue = pools[(row["site"], row["kind"])]
        hours = (float(row["end_s"]) - float(row["start_s"])) / 3600
        expected = int(row["units"]) * kw * pue * hours
        assert float(row["energy_kwh"]) == pytest.approx(expected, rel=1e-6, abs=1e-3)
        assert float(row["green_kwh"]) <= float(row["energy_kwh"]) + 1e-6
        if row["rtt_bound_ms"]:
            assert float(row["rtt_ms"]) <= float(row["rtt_bound_ms"])
            assert row["deadline_s"] == ""


def test_summary_matches_jobs_and_sites(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    jobs = read_csv(run_dir / "jobs.csv")
    sites = read_csv(run_dir / "sites.csv")
    energy_jobs = sum(float(r["energy_kwh"]) for r in jobs)
    energy_sites = sum(float(r["energy_kwh"]) for r in sites)
    assert summary["energy_kwh"] == pytest.approx(energy_jobs, rel=1e-6)
    assert energy_sites == pytest.approx(energy_jobs, rel=1e-5)
    assert summary["carbon_t"] == pytest.approx(
        sum(float(r["carbon_kg"]) for r in jobs) / 1000, rel=1e-6)
    assert summary["jobs"] == 600
    assert summary["policy"] == "greenest"
    for r in sites:
        assert float(r["busy_units"]) <= float(r["capacity_units"]) + 1e-6


def test_simulate_is_deterministic_for_a_seed(tmp_path: Path, run_dir: Path) -> None:
    code, text = invoke("simulate", "--policy", "greenest", *SMALL, "--out", str(tmp_path))
    assert code == 0, text
    assert (tmp_path / "jobs.csv").read_bytes() == (run_dir / "jobs.csv").read_bytes()


# ---- compare -----------------------------------------------------------------------------

def test_compare_prints_every_policy_and_cuts_carbon(tmp_path: Path) -> None:
    code, out = invoke("compare", "--jobs", "3000", "--days", "2", "--seed", "1",
                       "--out", str(tmp_path))
    assert code == 0, out
    for name in ("nearest", "cheapest", "greenest", "green-window", "carbon t", "碳排"):
        assert name in out
    rows = {r["policy"]: r for r in json.loads((tmp_path / "compare.json").read_text())}
    assert rows["greenest"]["carbon_t"] < rows["nearest"]["carbon_t"]
    assert rows["green-window"]["carbon_t"] < rows["nearest"]["carbon_t"]
    assert all(r["latency_violations"] == 0 for r in rows.values())
    # every policy saw the same demand
    assert len({r["jobs"] for r in rows.values()}) == 1


def test_compare_runs_a_trace_file(tmp_path: Path) -> None:
    trace = tmp_path / "jobs.csv"
    trace.write_text(
        "job_id,tenant,origin,kind,units,duration_s,submit_s,rtt_bound_ms,deadline_s,data_gb\n"
        "a,t1,bth,intelligent,8,3600,0,5,,0\n"
        "b,t1,yrd,intelligent,64,7200,60,,90000,100\n"
        "c,t2,gba,general,1000,1800,120,10,,1\n", encoding="utf-8")
    code, out = invoke("compare", "--trace", str(trace), "--policies", "nearest,greenest")
    assert code == 0, out
    assert "3 jobs" in out


# ---- errors ------------------------------------------------------------------------------

def bad_network(tmp_path: Path) -> Path:
    doc = yaml.safe_load(bundled_network_path().read_text(encoding="utf-8"))
    doc["sites"][0]["pue"]["value"] = 0.5
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("make_args, expected", [
    # a malformed network file names the file, the field and the value
    (lambda p: ["network", "show", "--network", str(bad_network(p))],
     ["bad.yaml", "sites[0].pue.value", "0.5"]),
    (lambda p: ["simulate", "--network", str(p / "missing.yaml")], ["missing.yaml"]),
    (lambda p: ["simulate", "--policy", "fastest", *SMALL],
     ["fastest", "nearest", "green-window"]),
    (lambda p: ["compare", "--policies", "nearest,bogus", *SMALL], ["bogus"]),
])
def test_errors_name_what_is_wrong(tmp_path: Path, make_args, expected: list[str]) -> None:
    code, out = invoke(*make_args(tmp_path))
    assert code == 2
    flat = " ".join(out.split())
    for text in expected:
        assert text in flat


def test_bad_trace_names_row_and_column(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(
        "job_id,tenant,origin,kind,units,duration_s,submit_s,rtt_bound_ms,deadline_s\n"
        "a,t,bth,general,4,-30,0,5,\n", encoding="utf-8")
    code, out = invoke("simulate", "--trace", str(trace))
    assert code == 2
    flat = " ".join(out.split())
    assert "t.csv" in flat and "duration_s" in flat and "-30" in flat
