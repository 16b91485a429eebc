"""The Merkle log of a run, as a user meets it: hourly signed checkpoints, `ledger verify`
against them, `ledger consistency` catching a forger who rewrote the past with the key in
hand, and certificate bundles checked offline by `ledger verify-cert`."""

from __future__ import annotations

import csv
import json
import shutil
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanwang.cli import app
from suanwang.ledger.bundle import CertificateInvalid, verify_bundle
from suanwang.ledger.chain import Chain
from suanwang.ledger.checkpoint import read_signer, read_verifier
from suanwang.ledger.gec import backing
from suanwang.ledger.note import open_note
from suanwang.ledger.record import decode_body
from suanwang.ledger.sim_output import hourly_checkpoints
from suanwang.ledger.store import FileLedger, site_hours
from suanwang.ledger.sums import sum_tree, summary_line

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    code, text = invoke("simulate", "--policy", "greenest", "--jobs", "120", "--days", "1",
                        "--seed", "5", "--out", str(out), "--ledger")
    assert code == 0, text
    return out


def copy_run(run_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(run_dir, dst)
    return dst


def finished_job(run_dir: Path) -> dict[str, str]:
    with (run_dir / "jobs.csv").open(encoding="utf-8") as f:
        return next(r for r in csv.DictReader(f) if r["status"] != "rejected")


# ---- checkpoints ------------------------------------------------------------------------------

def test_a_run_has_a_signed_checkpoint_for_every_hour(run_dir: Path) -> None:
    ledger = FileLedger(run_dir)
    cps = ledger.checkpoints()
    n = sum(1 for _ in (run_dir / "ledger.jsonl").open(encoding="utf-8"))
    hours = {json.loads(x)["hour_start_s"] // 3600 for x in (run_dir / "ledger.jsonl").open()}
    assert [c.hour for c in cps] == list(range(max(hours) + 1))
    assert cps[-1].size == n and [c.size for c in cps] == sorted(c.size for c in cps)
    assert (run_dir / "ledger.checkpoint").read_text(encoding="utf-8") == cps[-1].note
    assert cps[-1].note.split("\n")[:2] == ["suanwang.local/sim", str(n)]
    # the run's own key (no operator key configured), private to its owner
    assert stat.S_IMODE((run_dir / "ledger.key").stat().st_mode) == 0o600
    code, out = invoke("ledger", "verify", str(run_dir))
    assert code == 0, out
    assert f"{len(cps):,} hourly checkpoints signed by" in out
    code, out = invoke("ledger", "checkpoint", str(run_dir), "--hour", "2")
    assert code == 0 and out == cps[2].note


def test_keygen_writes_a_private_key_and_refuses_to_overwrite(tmp_path: Path) -> None:
    code, out = invoke("ledger", "keygen", "--dir", str(tmp_path), "--name", "grid.example/log")
    assert code == 0, out
    assert stat.S_IMODE((tmp_path / "ledger.key").stat().st_mode) == 0o600
    pub = (tmp_path / "ledger.pub").read_text(encoding="ascii").strip()
    assert pub.startswith("grid.example/log+") and pub in out
    assert read_signer(tmp_path / "ledger.key").verifier.key_string() == pub
    code, out = invoke("ledger", "keygen", "--dir", str(tmp_path))
    assert code == 2 and "never overwritten" in out
    code, out = invoke("ledger", "keygen", "--dir", str(tmp_path), "--name", "a b")
    assert code == 2 and "--name = 'a b'" in out


def test_a_simulation_signs_with_the_operators_key(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    invoke("ledger", "keygen", "--dir", str(tmp_path / "keys"), "--name", "ops.example/log")
    monkeypatch.setenv("SUANWANG_LEDGER_KEY", str(tmp_path / "keys" / "ledger.key"))
    code, out = invoke("simulate", "--jobs", "20", "--days", "1", "--out", str(tmp_path / "r"),
                       "--ledger")
    assert code == 0, out
    assert not (tmp_path / "r" / "ledger.key").exists()
    assert (tmp_path / "r" / "ledger.pub").read_text() == (tmp_path / "keys"
                                                           / "ledger.pub").read_text()
    code, out = invoke("ledger", "verify", str(tmp_path / "r"), "--key",
                       str(tmp_path / "keys" / "ledger.pub"))
    assert code == 0 and "signed by ops.example/log+" in out, out


# ---- a rewritten past ------------------------------------------------------------------------

def forge(copy: Path, k: int, resign: bool, claim_supply: bool = True) -> None:
    """Rewrite record k (a kWh more, all of it green), re-chain every record after it, rewrite
    the head; with `resign`, recompute and re-sign every checkpoint with the log's key, and
    the site-hour summaries, claiming the supply needed unless not `claim_supply`."""
    ledger = FileLedger(copy)
    lines = (copy / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    records = []
    for line in lines:
        obj = json.loads(line)
        obj.pop("hash")
        records.append(decode_body(obj)[2])
    from dataclasses import replace
    records[k] = replace(records[k], facility_ukwh=records[k].facility_ukwh + 1_000_000,
                         green_ukwh=records[k].green_ukwh + 1_000_000)
    chain = Chain()
    new_lines = [chain.append(r).line + "\n" for r in records]
    head = json.loads((copy / "ledger.head.json").read_text(encoding="utf-8"))
    ledger.write_lines(new_lines, chain, {x: v for x, v in head.items()
                                          if x not in ("format", "records", "head", "genesis")})
    if resign:  # the site-hour summaries too (claiming more supply where needed)
        keys, leaves, firsts = site_hours(ledger.records())
        supply = [json.loads(x)["supply_ukwh"] for x in ledger.summary_lines() or []]
        lines_of_hour: dict[int, list[str]] = {}
        for (site, hour, start_s), group, sup, first in zip(keys, leaves, supply, firsts,
                                                           strict=True):
            root = sum_tree(group).root()
            lines_of_hour.setdefault(start_s // 3600, []).append(summary_line(
                site, hour, start_s, max(sup, root.green_ukwh) if claim_supply else sup, root,
                len(group), first))
        signer = read_signer(copy / "ledger.key")
        old = ledger.checkpoints()
        out: list = []
        summaries: list[str] = []
        list(hourly_checkpoints(new_lines, [c.size for c in old], signer,
                                [c.closed_until for c in old], out,
                                summarise=lambda h, _hashes: lines_of_hour.get(h, []),
                                summaries=summaries))
        ledger.write_summaries(summaries)
        ledger.write_checkpoints(out, signer.verifier)


def test_a_rewritten_record_is_caught_by_the_checkpoints(run_dir: Path, tmp_path: Path) -> None:
    copy = copy_run(run_dir, tmp_path)
    forge(copy, 3, resign=False)
    assert FileLedger(copy).verify().ok  # the chain and the head were recomputed
    code, out = invoke("ledger", "verify", str(copy))
    assert code == 1
    assert "no longer have the root signed when hour 0 closed" in out.replace("\n", " ")


def test_a_forger_who_re_signs_is_caught_by_an_old_checkpoint(run_dir: Path,
                                                              tmp_path: Path) -> None:
    """The forger has the key: chain, head, roots and signatures all recomputed. A tenant
    who kept the checkpoint of hour 3 still catches it."""
    kept = tmp_path / "kept.note"
    code, _ = invoke("ledger", "checkpoint", str(run_dir), "--hour", "3", "--out", str(kept))
    assert code == 0
    honest_new = tmp_path / "honest.note"
    invoke("ledger", "checkpoint", str(run_dir), "--out", str(honest_new))
    code, out = invoke("ledger", "consistency", str(kept), str(honest_new), "--ledger",
                       str(run_dir), "--key", str(run_dir / "ledger.pub"))
    assert code == 0 and "extends the log" in out, out

    copy = copy_run(run_dir, tmp_path)
    size_kept = int(kept.read_text().split("\n")[1])
    forge(copy, size_kept - 2, resign=True)
    code, out = invoke("ledger", "verify", str(copy))
    assert code == 0, out  # every local check passes: the forgery is self-consistent
    code, out = invoke("ledger", "consistency", str(kept), str(copy / "ledger.checkpoint"),
                       "--ledger", str(copy), "--key", str(run_dir / "ledger.pub"))
    assert code == 1
    assert "FAILED" in out and "does not extend" in out.replace("\n", " ")


def test_consistency_refuses_checkpoints_of_another_key(run_dir: Path, tmp_path: Path) -> None:
    invoke("ledger", "keygen", "--dir", str(tmp_path), "--name", "suanwang.local/sim")
    note = tmp_path / "cp.note"
    invoke("ledger", "checkpoint", str(run_dir), "--out", str(note))
    code, out = invoke("ledger", "consistency", str(note), str(note), "--ledger", str(run_dir),
                       "--key", str(tmp_path / "ledger.pub"))
    assert code == 1 and "not signed by the key given" in out.replace("\n", " ")


# ---- certificates with their proof -----------------------------------------------------------

@pytest.fixture(scope="module")
def job_cert(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cert") / "cert.json"
    job = finished_job(run_dir)
    code, text = invoke("ledger", "certificate", str(run_dir), "--job", job["job_id"],
                        "--out", str(out))
    assert code == 0, text
    return out


def verify_cert(path: Path, key: Path) -> tuple[int, str]:
    return invoke("ledger", "verify-cert", str(path), "--key", str(key))


def test_a_certificate_verifies_offline_with_only_the_public_key(
        run_dir: Path, job_cert: Path, tmp_path: Path) -> None:
    alone = tmp_path / "elsewhere"
    alone.mkdir()
    shutil.copy(job_cert, alone / "cert.json")
    shutil.copy(run_dir / "ledger.pub", alone / "log.pub")
    code, out = verify_cert(alone / "cert.json", alone / "log.pub")
    assert code == 0, out
    cert = json.loads(job_cert.read_text(encoding="utf-8"))
    assert f"job {cert['subject']['job']}, {len(cert['records'])} records" in out
    assert len(cert["proof"]["records"]) == len(cert["records"])
    # the HTML page still renders from the same certificate
    assert cert["subject"]["job"] in job_cert.with_suffix(".html").read_text(encoding="utf-8")


def test_a_tenants_month_certificate_verifies(run_dir: Path, tmp_path: Path) -> None:
    job = finished_job(run_dir)
    code, out = invoke("ledger", "certificate", str(run_dir), "--tenant", job["tenant"],
                       "--period", "2024-06", "--out", str(tmp_path / "month"))
    assert code == 0, out
    code, out = verify_cert(tmp_path / "month.json", run_dir / "ledger.pub")
    assert code == 0 and f"tenant {job['tenant']}" in out, out


@pytest.mark.parametrize(("find", "replace_with", "reason"), [
    ('"facility_kwh":', '"facility_kwh":9', "hash does not match its content"),  # in a line
    ('"green_share": 0.', '"green_share": 1.', "totals: green_share"),
    ('"issued": "2', '"issued": "1', "altered after it was signed"),
    ('"name_en": "', '"name_en": "X', "altered after it was signed"),
])
def test_a_one_byte_change_fails_with_a_one_line_reason(
        run_dir: Path, job_cert: Path, tmp_path: Path, find: str, replace_with: str,
        reason: str) -> None:
    text = job_cert.read_text(encoding="utf-8")
    if find == '"facility_kwh":':  # inside the first record's stored line (escaped JSON)
        find, replace_with = '\\"facility_kwh\\":', '\\"facility_kwh\\":9'
    assert find in text
    changed = text.replace(find, replace_with, 1)
    bad = tmp_path / "bad.json"
    bad.write_text(changed, encoding="utf-8")
    code, out = verify_cert(bad, run_dir / "ledger.pub")
    assert code == 1
    assert out.startswith("FAILED") and out.count("\n") == 1, out
    assert reason in out, out


def test_every_flipped_byte_fails(run_dir: Path, job_cert: Path) -> None:
    """Flip the lowest bit of every third byte that is not layout (indentation, newlines):
    the certificate no longer parses or no longer verifies (`verify_bundle` is what
    `verify-cert` runs once the file is parsed)."""
    data = job_cert.read_bytes()
    verifier = read_verifier(run_dir / "ledger.pub")
    verify_bundle(json.loads(data), verifier)  # untouched: fine
    for i in [i for i, b in enumerate(data) if b not in b" \n"][::3]:
        flipped = bytearray(data)
        flipped[i] ^= 0x01
        try:
            cert = json.loads(bytes(flipped).decode("utf-8"))
        except ValueError:
            continue  # not JSON any more: verify-cert says so
        with pytest.raises(CertificateInvalid):
            verify_bundle(cert, verifier)


def test_another_key_or_no_proof_is_refused(run_dir: Path, job_cert: Path,
                                            tmp_path: Path) -> None:
    invoke("ledger", "keygen", "--dir", str(tmp_path), "--name", "suanwang.local/sim")
    code, out = verify_cert(job_cert, tmp_path / "ledger.pub")
    assert code == 1 and "checkpoint: the note is not signed by the key given" in out
    cert = json.loads(job_cert.read_text(encoding="utf-8"))
    del cert["proof"]
    (tmp_path / "plain.json").write_text(json.dumps(cert), encoding="utf-8")
    code, out = verify_cert(tmp_path / "plain.json", run_dir / "ledger.pub")
    assert code == 1 and "carries no proof" in out


# ---- no double counting ----------------------------------------------------------------------

def test_site_hour_summaries_add_up_and_never_exceed_supply(run_dir: Path) -> None:
    ledger = FileLedger(run_dir)
    sums = ledger.site_hours()
    assert sums is not None
    records = list(ledger.records())
    for line in sums.lines:
        s = json.loads(line)
        mine = [r.record for r in records if (r.record.site, r.record.hour_start_s)
                == (s["site"], s["hour_start_s"])]
        assert s["records"] == len(mine)
        assert s["allocated_ukwh"] == sum(r.green_ukwh for r in mine) <= s["supply_ukwh"]
        assert s["metered_ukwh"] == sum(r.facility_ukwh for r in mine)
    assert "summaries " in (run_dir / "ledger.checkpoint").read_text(encoding="utf-8")


def test_a_tenant_catches_green_power_counted_twice(run_dir: Path, tmp_path: Path) -> None:
    """The operator hands a record a kWh more green power in a site-hour whose supply was
    already all allocated, and re-signs everything: the record's certificate verifies no
    more."""
    ledger = FileLedger(run_dir)
    sums = ledger.site_hours()
    assert sums is not None
    full = next(g for g, x in enumerate(sums.lines)
                if json.loads(x)["allocated_ukwh"] == json.loads(x)["supply_ukwh"] > 0)
    k = sums.first_seq[full]
    job = json.loads(ledger.lines_at([k])[k])["job"]
    copy = copy_run(run_dir, tmp_path)
    forge(copy, k, resign=True, claim_supply=False)
    code, out = invoke("ledger", "verify", str(copy))
    assert code == 0, out  # the log itself is consistent: only the sums give it away
    code, out = invoke("ledger", "certificate", str(copy), "--job", job, "--out",
                       str(tmp_path / "cert"))
    assert code == 0, out
    code, out = verify_cert(tmp_path / "cert.json", run_dir / "ledger.pub")
    assert code == 1 and out.count("\n") == 1, out
    assert "counted twice" in out
    # the honest certificate of the same job says its hours were checked
    code, out = invoke("ledger", "certificate", str(run_dir), "--job", job, "--out",
                       str(tmp_path / "honest"))
    code, out = verify_cert(tmp_path / "honest.json", run_dir / "ledger.pub")
    assert code == 0 and "no double counting" in out, out


# ---- a witness ------------------------------------------------------------------------------

def test_a_witness_cosigns_only_a_log_consistent_with_what_it_saw(run_dir: Path,
                                                                  tmp_path: Path) -> None:
    invoke("ledger", "keygen", "--dir", str(tmp_path / "grid"), "--name", "grid.example/w")
    wkey, state = tmp_path / "grid" / "ledger.key", tmp_path / "grid" / "last.note"
    early, late = tmp_path / "early.note", tmp_path / "late.note"
    invoke("ledger", "checkpoint", str(run_dir), "--hour", "2", "--out", str(early))
    invoke("ledger", "checkpoint", str(run_dir), "--out", str(late))
    args = ("--witness-key", str(wkey), "--state", str(state), "--ledger", str(run_dir))
    code, out = invoke("ledger", "witness", str(early), *args, "--out", str(tmp_path / "c1"))
    assert code == 0 and "the first this witness sees" in out, out
    code, out = invoke("ledger", "witness", str(late), *args, "--out", str(tmp_path / "c2"))
    assert code == 0 and "consistent with" in out, out
    cosigned = (tmp_path / "c2").read_text(encoding="utf-8")
    log = read_verifier(run_dir / "ledger.pub")
    grid = read_verifier(tmp_path / "grid" / "ledger.pub")
    assert open_note(cosigned, log, grid)[1] == ["suanwang.local/sim", "grid.example/w"]
    # a forged log (re-signed by the log's key) is refused by the witness
    copy = copy_run(run_dir, tmp_path)
    forge(copy, 1, resign=True)
    code, out = invoke("ledger", "witness", str(copy / "ledger.checkpoint"), "--witness-key",
                       str(wkey), "--state", str(state), "--ledger", str(copy),
                       "--out", str(tmp_path / "c3"))
    assert code == 1 and "the log was rewritten" in out.replace("\n", " "), out
    assert not (tmp_path / "c3").exists()


def test_a_compact_ledger_is_a_small_part_of_the_jsonl(run_dir: Path, tmp_path: Path) -> None:
    code, out = invoke("ledger", "compact", str(run_dir), "--out", str(tmp_path / "l.parquet"))
    assert code == 0, out
    assert (tmp_path / "l.parquet").stat().st_size < (run_dir / "ledger.jsonl").stat().st_size / 10


# ---- green certificates (绿证) -----------------------------------------------------------------

def gec_file(path: Path, site: str, n: int, month: str = "2024-06",
             not_tradable: int = 2) -> Path:
    rows = ["serial,project,site,mwh,month,tradable"]
    rows += [f"{10 ** 31 + i},wind farm {i},{site},1,{month},"
             f"{'false' if i == not_tradable else 'true'}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_green_certificates_back_each_kwh_once(run_dir: Path, tmp_path: Path) -> None:
    copy = copy_run(run_dir, tmp_path)
    records = [(s.seq, s.record) for s in FileLedger(copy).records()]
    green: dict[str, int] = {}
    for _, r in records:
        green[r.site] = green.get(r.site, 0) + r.green_ukwh
    site = max(green, key=lambda s: green[s])
    fit = green[site] // 10 ** 9  # whole MWh of green matched there this month
    code, out = invoke("ledger", "gec", str(copy), str(gec_file(tmp_path / "g.csv", site,
                                                                 fit + 3)))
    assert code == 0, out
    reg = json.loads((copy / "ledger.gec.json").read_text(encoding="utf-8"))
    retired = [c for c in reg["certificates"] if c["retired"]]
    assert len(retired) == fit  # one is not tradable, and no more than the green matched
    assert next(c for c in reg["certificates"] if c["serial"] == str(10 ** 31 + 2))[
        "why"] == "not tradable"
    # the serials backing each job's green kWh (what its certificate lists): all jobs
    # together use each retired certificate's MWh exactly once
    used: dict[str, float] = {}
    jobs = sorted({r.job for _, r in records if r.site == site})
    for job in jobs:
        mine = {q for q, r in records if r.job == job}
        backed = backing(reg, records, mine)
        assert sum(g["kwh"] for g in backed) <= sum(
            r.green_ukwh for q, r in records if q in mine) / 1e6 + 1e-6
        for g in backed:
            used[g["serial"]] = used.get(g["serial"], 0.0) + g["kwh"]
    assert sorted(used) == sorted(c["serial"] for c in retired)
    assert all(abs(kwh - 1000.0) < 1e-3 for kwh in used.values())
    # one job's certificate, as a user gets it: the serials, under its signature
    job = next(j for j in jobs if backing(reg, records, {q for q, r in records if r.job == j}))
    code, out = invoke("ledger", "certificate", str(copy), "--job", job, "--out",
                       str(tmp_path / "c"))
    assert code == 0 and "green certificates (绿证)" in out, out
    cert = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert cert["gec"] == backing(reg, records, {r["seq"] for r in cert["records"]})
    assert cert["gec"][0]["serial"] in (tmp_path / "c.html").read_text(encoding="utf-8")
    code, out = verify_cert(tmp_path / "c.json", run_dir / "ledger.pub")
    assert code == 0, out  # the serials are under the certificate's signature


@pytest.mark.parametrize(("rows", "message"), [
    (["1" * 32 + ",p,jining,1,2024-06,true", "1" * 32 + ",q,jining,1,2024-06,true"],
     "listed twice (line 2 too)"),
    (["12345,p,jining,1,2024-06,true"], "serial = '12345': a GEC serial is 32 digits"),
    (["1" * 32 + ",p,jining,0,2024-06,true"], "mwh = '0'"),
    (["1" * 32 + ",p,jining,1,2024-13,true"], "month = '2024-13'"),
])
def test_a_bad_gec_file_is_refused_naming_the_value(run_dir: Path, tmp_path: Path,
                                                    rows: list[str], message: str) -> None:
    copy = copy_run(run_dir, tmp_path)
    f = tmp_path / "g.csv"
    f.write_text("serial,project,site,mwh,month,tradable\n" + "\n".join(rows) + "\n",
                 encoding="utf-8")
    code, out = invoke("ledger", "gec", str(copy), str(f))
    assert code == 2 and message in out.replace("\n", " "), out
    assert not (copy / "ledger.gec.json").exists()


def test_a_serial_imported_twice_is_refused(run_dir: Path, tmp_path: Path) -> None:
    copy = copy_run(run_dir, tmp_path)
    f = gec_file(tmp_path / "g.csv", "jining", 2)
    assert invoke("ledger", "gec", str(copy), str(f))[0] == 0
    code, out = invoke("ledger", "gec", str(copy), str(f))
    assert code == 2 and "already imported" in out, out
