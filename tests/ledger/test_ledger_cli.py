"""`suanwang ledger` end to end, as a user runs it: simulate --out, verify, tamper, certify."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanwang.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    code, text = invoke("simulate", "--policy", "greenest", "--jobs", "200", "--days", "1",
                        "--seed", "4", "--out", str(out), "--ledger")
    assert code == 0, text
    assert "ledger.jsonl" in text
    return out


def test_simulate_writes_a_ledger_that_verifies(run_dir: Path) -> None:
    assert (run_dir / "ledger.jsonl").is_file() and (run_dir / "ledger.head.json").is_file()
    code, out = invoke("ledger", "verify", str(run_dir))
    assert code == 0, out
    n = sum(1 for _ in (run_dir / "ledger.jsonl").open(encoding="utf-8"))
    assert "OK" in out and f"{n:,} records" in out
    code, out = invoke("ledger", "verify", str(run_dir / "ledger.jsonl"))  # the file itself
    assert code == 0, out


def tampered_copy(run_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("ledger.jsonl", "ledger.head.json"):
        (copy / name).write_bytes((run_dir / name).read_bytes())
    return copy


def test_one_flipped_byte_fails_naming_the_record(run_dir: Path, tmp_path: Path) -> None:
    copy = tampered_copy(run_dir, tmp_path)
    path = copy / "ledger.jsonl"
    data = bytearray(path.read_bytes())
    lines = data.split(b"\n")
    k = len(lines) // 2
    pos = sum(len(x) + 1 for x in lines[:k]) + lines[k].index(b'"facility_kwh":') + 16
    data[pos] ^= 0x01  # one digit of record k's facility energy
    path.write_bytes(bytes(data))
    job = json.loads(lines[k])["job"]
    code, out = invoke("ledger", "verify", str(copy))
    assert code == 1
    assert "FAILED" in out and f"record {k} (line {k + 1}, job {job}" in out
    assert "altered" in out


def test_deleting_the_last_record_is_caught_by_the_head(run_dir: Path, tmp_path: Path) -> None:
    copy = tampered_copy(run_dir, tmp_path)
    path = copy / "ledger.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))
    code, out = invoke("ledger", "verify", str(copy))
    assert code == 1 and "deleted from the end" in out


def test_certificate_for_a_job_and_for_a_tenant(run_dir: Path, tmp_path: Path) -> None:
    with (run_dir / "jobs.csv").open(encoding="utf-8") as f:
        job = next(r for r in csv.DictReader(f) if r["status"] != "rejected")
    code, out = invoke("ledger", "certificate", str(run_dir), "--job", job["job_id"],
                       "--out", str(tmp_path / "cert.json"))
    assert code == 0, out
    cert = json.loads((tmp_path / "cert.json").read_text(encoding="utf-8"))
    assert cert["totals"]["facility_kwh"] == pytest.approx(float(job["energy_kwh"]), abs=1e-5)
    assert cert["totals"]["green_kwh"] == pytest.approx(float(job["green_kwh"]),
                                                        rel=1e-5, abs=1e-5)
    page = (tmp_path / "cert.html").read_text(encoding="utf-8")
    assert job["job_id"] in page and "绿色电力溯源证书" in page
    assert "绿电溯源证书 Green-power certificate" in out
    code, out = invoke("ledger", "certificate", str(run_dir), "--tenant", job["tenant"],
                       "--period", "2024-06", "--out", str(tmp_path / "tenant"))
    assert code == 0, out
    tenant = json.loads((tmp_path / "tenant.json").read_text(encoding="utf-8"))
    assert tenant["subject"]["period"]["label"] == "2024-06"
    assert tenant["totals"]["jobs"] >= 1


@pytest.mark.parametrize(("args", "message"), [
    (["--job", "nope"], "no ledger records for job nope"),
    ([], "exactly one of --job ID or --tenant T"),
    (["--tenant", "x", "--period", "2024-13"], "--period = '2024-13'"),
])
def test_certificate_errors_name_the_value(run_dir: Path, args: list[str],
                                           message: str) -> None:
    code, out = invoke("ledger", "certificate", str(run_dir), *args)
    assert code == 2 and message in out.replace("\n", " ")


def test_verify_without_a_ledger(tmp_path: Path) -> None:
    code, out = invoke("ledger", "verify", str(tmp_path))
    assert code == 2 and "no ledger there" in out.replace("\n", " ")
