"""`suanwang ledger`: verify a green-power traceability ledger and its Merkle log, issue
certificates that carry their proofs, check certificates and checkpoints offline."""

from __future__ import annotations

import binascii
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from suanwang.cli_errors import fail
from suanwang.cli_output import Column, print_table, stdout
from suanwang.errors import InputError
from suanwang.ledger.bundle import CertificateInvalid, verify_bundle
from suanwang.ledger.certificate import LedgerBroken, Subject, build_bundle, build_certificate
from suanwang.ledger.chain import energy_only
from suanwang.ledger.checkpoint import (
    KEY_ENV,
    KEY_FILE,
    open_checkpoint,
    read_signer,
    read_verifier,
    write_keys,
)
from suanwang.ledger.compact import expand as expand_compact
from suanwang.ledger.compact import write_compact
from suanwang.ledger.gec import (
    GEC_FILE,
    backing,
    certificates_of,
    read_gec_csv,
    read_registry,
    retire,
)
from suanwang.ledger.merkle import ProofError, verify_consistency
from suanwang.ledger.note import NoteError, Signer, Verifier, b64decode_strict, cosign
from suanwang.ledger.period import parse_period
from suanwang.ledger.record import LedgerRecord
from suanwang.ledger.sim_output import DATA_DIR
from suanwang.ledger.store import FileLedger
from suanwang.report.run_files import read_network_json

app = typer.Typer(no_args_is_help=True,
                  help="Green-power traceability ledger 绿电溯源账本: verify, certify, prove.")
KeyOpt = Annotated[str | None, typer.Option(
    "--key", help="The log's public key: a ledger.pub file or the key string "
                  "name+id+base64. Default: the ledger's own ledger.pub.")]

DirArg = Annotated[Path, typer.Argument(
    help="A run directory written by `simulate --out` (or its ledger.jsonl).")]


_fail = fail


def _open(path: Path) -> FileLedger:
    ledger = FileLedger.at(path)
    if not ledger.path.is_file():
        raise _fail(f"{ledger.path}: no ledger there (write one with `suanwang simulate "
                    "--out DIR --ledger`)")
    return ledger


def _site_names(ledger: FileLedger) -> dict[str, tuple[str, str]]:
    """Each site's (Chinese, English) names from the run's network.json, when it is there."""
    path = ledger.path.parent / "network.json"
    if not path.is_file():
        return {}
    return {s["id"]: (s["name_zh"], s["name_en"]) for s in read_network_json(path.parent)["sites"]}


def _verifier(key: str | None, ledger: FileLedger | None = None) -> Verifier:
    try:
        if key is not None:
            return read_verifier(key)
        found = ledger.verifier() if ledger is not None else None
    except InputError as exc:
        raise _fail(str(exc)) from None
    if found is None:
        raise _fail("give the log's public key with --key (a ledger.pub file or its key "
                    "string)")
    return found


@app.command()
def verify(path: DirArg, key: KeyOpt = None) -> None:
    """Check the hash chain record by record, then the Merkle log against every hourly
    checkpoint (signature and root); name the first problem (exit 1) or say OK."""
    ledger = _open(path)
    try:
        head = ledger.read_head()
    except InputError as exc:
        raise _fail(str(exc), code=1) from None
    try:
        stream = ledger.stream_check()
    except InputError as exc:
        raise _fail(str(exc), code=1) from None
    check = ledger.verify(on_record=stream)
    console = stdout()

    def failed(why: str) -> typer.Exit:
        console.print(f"[bold red]FAILED[/] {ledger.path}: {why}", highlight=False,
                      soft_wrap=True)
        return typer.Exit(code=1)

    if check.problem is not None:
        raise failed(check.problem.describe())
    console.print(f"[bold green]OK[/] {ledger.path}: {check.records:,} records, "
                  f"chain intact, head {check.head}", highlight=False, soft_wrap=True)
    if head is None:
        console.print(f"warning: no {ledger.head_path.name}: records deleted from the end "
                      "cannot be detected without it", highlight=False)
    try:
        has_checkpoints = bool(ledger.checkpoints())
        if not has_checkpoints:
            console.print(f"warning: no {ledger.checkpoints_path.name}: no signed "
                          "checkpoints to check the Merkle log against", highlight=False)
            return
        verifier = _verifier(key, ledger)
        n, problem = ledger.check_checkpoints(verifier, stream)
    except InputError as exc:
        raise failed(str(exc)) from None
    if problem is not None:
        raise failed(problem)
    last = ledger.checkpoints()[-1]
    console.print(f"[bold green]OK[/] Merkle log: {n:,} hourly checkpoints signed by "
                  f"{verifier.key_string()}; latest: {last.size:,} records, root {last.root}",
                  highlight=False, soft_wrap=True)


@app.command()
def keygen(
    data_dir: Annotated[Path, typer.Option("--dir", help="The data directory.")] = DATA_DIR,
    name: Annotated[str, typer.Option(
        "--name", help="The log's name (the checkpoints' origin), e.g. example.com/ledger: "
                       "no spaces, no '+'.")] = "suanwang.local/ledger",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key.")] = False,
) -> None:
    """Generate the Ed25519 key that signs checkpoints and certificates: DIR/ledger.key
    (mode 0600) and DIR/ledger.pub (the verifier key to hand to tenants)."""
    try:
        key_path, pub_path = write_keys(data_dir, name, force=force)
    except InputError as exc:
        raise _fail(str(exc)) from None
    console = stdout()
    console.print(f"wrote {key_path} (private, mode 0600) and {pub_path}", highlight=False,
                  soft_wrap=True)
    console.print(pub_path.read_text(encoding="ascii").strip(), highlight=False,
                  soft_wrap=True)


@app.command()
def checkpoint(
    path: DirArg,
    hour: Annotated[int | None, typer.Option(
        "--hour", help="The checkpoint signed when this run hour (from 0) closed; default "
                       "the latest.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the note to FILE.")] = None,
) -> None:
    """Print a signed checkpoint of the ledger's Merkle log (C2SP note): keep it, and check
    later with `ledger consistency` that the log still extends it."""
    ledger = _open(path)
    try:
        cps = ledger.checkpoints()
    except InputError as exc:
        raise _fail(str(exc)) from None
    if not cps:
        raise _fail(f"{ledger.checkpoints_path}: no checkpoints there")
    picked = cps[-1] if hour is None else next((c for c in cps if c.hour == hour), None)
    if picked is None:
        raise _fail(f"--hour = {hour}: no checkpoint of that hour (hours {cps[0].hour}.."
                    f"{cps[-1].hour})")
    if out is not None:
        out.write_text(picked.note, encoding="utf-8")
    stdout().print(picked.note, end="", highlight=False, soft_wrap=True, markup=False)


def _read_note(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"{path}: cannot read the {what}: {exc}") from None


def _read_proof(path: Path) -> tuple[int, int, list[bytes]]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
        return (int(obj["old_size"]), int(obj["new_size"]),
                [b64decode_strict(h) for h in obj["proof"]])
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError,
            binascii.Error) as exc:
        raise _fail(f"{path}: not a consistency proof (old_size, new_size, proof: base64 "
                    f"hashes): {exc}") from None


LedgerOpt = Annotated[Path | None, typer.Option(
    "--ledger", help="Prove from this ledger (a run directory or its ledger.jsonl).")]
ProofOpt = Annotated[Path | None, typer.Option(
    "--proof", help="Or check a proof served by the API (GET /v1/ledger/consistency), saved "
                    "as JSON.")]


def _failed(why: str) -> typer.Exit:
    stdout().print(f"[bold red]FAILED[/] {why}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def _check_consistency(old: Path, old_note: str, new: Path, new_note: str,
                       ledger_dir: Path | None, proof_file: Path | None,
                       verifier: Verifier) -> tuple[int, int, int]:
    """(old size, new size, proof hashes) once the consistency proof from OLD to NEW
    verified; exit 1 with the reason otherwise."""
    if (ledger_dir is None) == (proof_file is None):
        raise _fail("give exactly one of --ledger DIR or --proof FILE")
    ledger = _open(ledger_dir) if ledger_dir is not None else None
    try:
        a = open_checkpoint(old_note, verifier)
        b = open_checkpoint(new_note, verifier)
    except NoteError as exc:
        raise _failed(f"checkpoint: {exc}") from None
    if a.size > b.size:
        raise _failed(f"{old} has {a.size} records, more than {new} ({b.size}): give the "
                      "earlier checkpoint first")
    try:
        if ledger is not None:
            tree = ledger.tree()
            if len(tree) < b.size:
                raise _failed(f"the ledger has {len(tree):,} records, fewer than the "
                              f"{b.size:,} of {new}")
            proof = tree.consistency_proof(a.size, b.size)
        else:
            assert proof_file is not None
            m, n, proof = _read_proof(proof_file)
            if (m, n) != (a.size, b.size):
                raise _failed(f"the proof is from size {m} to {n}, not {a.size} to {b.size}")
        verify_consistency(a.size, b.size, a.root, b.root, proof)
    except (ProofError, InputError) as exc:
        raise _failed(str(exc)) from None
    return a.size, b.size, len(proof)


@app.command()
def consistency(
    old: Annotated[Path, typer.Argument(help="The earlier checkpoint (a note file).")],
    new: Annotated[Path, typer.Argument(help="The later checkpoint (a note file).")],
    ledger_dir: LedgerOpt = None,
    proof_file: ProofOpt = None,
    key: KeyOpt = None,
) -> None:
    """Check that the log of NEW extends the log of OLD (RFC 9162 consistency proof): a
    past that was rewritten, even re-hashed and re-signed, fails (exit 1)."""
    verifier = _verifier(key, _open(ledger_dir) if ledger_dir is not None else None)
    m, n, hashes = _check_consistency(old, _read_note(old, "checkpoint"), new,
                                      _read_note(new, "checkpoint"), ledger_dir, proof_file,
                                      verifier)
    stdout().print(f"[bold green]OK[/] the log of {n:,} records ({new}) extends the log of "
                   f"{m:,} ({old}): consistency proof of {hashes} hashes", highlight=False,
                   soft_wrap=True)


@app.command()
def witness(
    new: Annotated[Path, typer.Argument(help="The checkpoint to cosign (a note file).")],
    witness_key: Annotated[Path, typer.Option(
        "--witness-key", help="The witness's signing key (its own `ledger keygen`).")],
    state: Annotated[Path, typer.Option(
        "--state", help="The last checkpoint this witness cosigned (created on first use).")],
    out: Annotated[Path, typer.Option("--out", help="Write the cosigned checkpoint here.")],
    ledger_dir: LedgerOpt = None,
    proof_file: ProofOpt = None,
    key: KeyOpt = None,
) -> None:
    """Cosign a checkpoint as a witness (a grid company, a power-trading center) only if it
    is consistent with the last one this witness cosigned (kept in --state); refuse (exit 1)
    otherwise. The cosigned note carries the log's signature and the witness's."""
    try:
        signer = read_signer(witness_key)
    except InputError as exc:
        raise _fail(str(exc)) from None
    verifier = _verifier(key, _open(ledger_dir) if ledger_dir is not None else None)
    new_note = _read_note(new, "checkpoint")
    try:
        cp = open_checkpoint(new_note, verifier)
    except NoteError as exc:
        raise _failed(f"checkpoint: {exc}") from None
    if state.is_file():
        old_note = _read_note(state, "witness state")
        _check_consistency(state, old_note, new, new_note, ledger_dir, proof_file, verifier)
        seen = f"consistent with the {open_checkpoint(old_note, verifier).size:,} records " \
               "cosigned before"
    else:
        seen = "the first this witness sees"
    cosigned = cosign(new_note, signer)
    out.write_text(cosigned, encoding="utf-8")
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(new_note, encoding="utf-8")
    stdout().print(f"[bold green]OK[/] cosigned the checkpoint of {cp.size:,} records by "
                   f"{signer.name} ({seen}): {out}", highlight=False, soft_wrap=True)


@app.command("verify-cert")
def verify_cert(
    cert_file: Annotated[Path, typer.Argument(help="A certificate bundle (.json).")],
    key: Annotated[str, typer.Option(
        "--key", help="The log's public key: a ledger.pub file or its key string.")],
) -> None:
    """Check a certificate offline with nothing but the log's public key: its checkpoint,
    every record's inclusion proof, its sums and its signature. OK, or FAILED and one line
    saying why (exit 1)."""
    verifier = _verifier(key)
    console = stdout()
    try:
        cert: Any = json.loads(cert_file.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise _fail(f"{cert_file}: cannot read it: {exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        console.print(f"[bold red]FAILED[/] {cert_file}: not valid JSON: {exc}",
                      highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    try:
        ok = verify_bundle(cert, verifier)
    except CertificateInvalid as exc:
        console.print(f"[bold red]FAILED[/] {cert_file}: {exc}", highlight=False,
                      soft_wrap=True)
        raise typer.Exit(code=1) from None
    s = ok.subject
    who = f"job {s['job']}" if s.get("job") else f"tenant {s['tenant']}"
    console.print(f"[bold green]OK[/] {cert_file}: {who}, {ok.records} records in the log "
                  f"{ok.checkpoint.origin} of {ok.checkpoint.size:,} records, "
                  f"{ok.totals['facility_kwh']:,.6f} kWh of which {ok.totals['green_kwh']:,.6f}"
                  f" green; signed by {verifier.key_string()}", highlight=False,
                  soft_wrap=True)
    if ok.site_hours:
        console.print(f"   no double counting: the {ok.site_hours} site-hours it draws in "
                      "allocated no more green power than their supply", highlight=False,
                      soft_wrap=True)


def _signer_for(ledger: FileLedger) -> Signer | None:
    """The key that signed the ledger's checkpoints, if it is at hand: $SUANWANG_LEDGER_KEY,
    the run folder's ledger.key, or the data directory's."""
    verifier = ledger.verifier()
    if verifier is None:
        return None
    candidates = [Path(os.environ[KEY_ENV])] if os.environ.get(KEY_ENV) else []
    candidates += [ledger.directory / KEY_FILE, DATA_DIR / KEY_FILE]
    for path in candidates:
        if path.is_file():
            signer = read_signer(path)
            if signer.verifier == verifier:
                return signer
    return None


@app.command()
def certificate(
    path: DirArg,
    job: Annotated[str | None, typer.Option("--job", help="Certify one job.")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Certify a tenant's jobs.")]
    = None,
    period: Annotated[str | None, typer.Option(
        "--period", help="Beijing time: 2024, 2024-Q2, 2024-06, 2024-06-03 or "
                         "2024-06-01..2024-06-07.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write FILE.json and FILE.html (the suffix given is replaced).")] = None,
) -> None:
    """A green-power certificate (绿电溯源证书) for a job, or a tenant over a period: kWh, green
    share, CO2 both ways, CO2 avoided, and the ledger records it rests on with their hashes;
    the JSON carries the records, their inclusion proofs and the signed checkpoint, so that
    `ledger verify-cert` checks it without the ledger."""
    if (job is None) == (tenant is None):
        raise _fail("give exactly one of --job ID or --tenant T")
    ledger = _open(path)
    try:
        subject = Subject(job=job, tenant=tenant,
                          period=parse_period(period) if period is not None else None)
        names = _site_names(ledger)
        registry = read_registry(ledger.directory / GEC_FILE)

        def gec(cert: dict[str, Any]) -> dict[str, Any]:
            if registry is None:
                return {}
            picked = {r["seq"] for r in cert["records"]}
            return {"gec": backing(registry, ((s.seq, s.record) for s in ledger.records()
                                             if isinstance(s.record, LedgerRecord)),
                                   picked)}

        if ledger.checkpoints():
            cert = build_bundle(ledger, subject, _signer_for(ledger), site_names=names,
                                extra=gec)
        else:  # a ledger without its Merkle log (e.g. lines saved from the API)
            cert = build_certificate(ledger, subject, site_names=names)
            cert.update(gec(cert))
    except LedgerBroken as exc:
        raise _fail(f"the ledger does not verify, no certificate issued: {exc}", code=1) \
            from None
    except InputError as exc:
        raise _fail(str(exc)) from None
    t = cert["totals"]
    who = f"job {job}" if job is not None else f"tenant {tenant}"
    rows = [
        ("records 记录", f"{t['records']:,} ({t['jobs']:,} jobs 作业)"),
        ("energy 用电 (facility)", f"{t['facility_kwh']:,.3f} kWh"),
        ("green 绿电", f"{t['green_kwh']:,.3f} kWh ({t['green_share']:.1%})"),
        ("CO2 location-based 基于位置", f"{t['co2_location_kg']:,.3f} kg"),
        ("CO2 market-based 基于市场", f"{t['co2_market_kg']:,.3f} kg"),
        ("avoided, location 减排（位置）", f"{t['avoided_location_kg']:,.3f} kg"),
        ("avoided, market 减排（市场）", f"{t['avoided_market_kg']:,.3f} kg"),
    ]
    console = stdout()
    print_table(f"绿电溯源证书 Green-power certificate: {who}" + (f", {period}" if period else ""),
                [Column("item 项目", "left", key=True, wrap=True), Column("value 数值")],
                [list(r) for r in rows], console=console)
    console.print(f"records_sha256 {cert['records_sha256']}; ledger head "
                  f"{cert['ledger']['head']}", highlight=False, soft_wrap=True)
    if cert.get("gec"):
        console.print(f"backed by {len(cert['gec'])} green certificates (绿证): "
                      + ", ".join(f"{g['serial']} ({g['kwh']:,.3f} kWh)" for g in cert["gec"]),
                      highlight=False, soft_wrap=True)
    if "proof" not in cert:
        console.print(f"warning: no {ledger.checkpoints_path.name}: the certificate carries "
                      "no proof", highlight=False, soft_wrap=True)
    elif cert["signature"] is None:
        console.print("warning: the key that signed the ledger's checkpoints is not at hand "
                      f"(${KEY_ENV}, {ledger.directory / KEY_FILE}, {DATA_DIR / KEY_FILE}): "
                      "the certificate is unsigned and `verify-cert` will refuse it",
                      highlight=False, soft_wrap=True)
    if out is not None:
        stem = out.with_suffix("") if out.suffix in (".json", ".html") else out
        stem.parent.mkdir(parents=True, exist_ok=True)
        json_path = stem.parent / f"{stem.name}.json"
        html_path = stem.parent / f"{stem.name}.html"
        json_path.write_text(json.dumps(cert, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
        # (the page embeds a font subset: fontTools is imported only for it)
        from suanwang.ledger.certificate_page import render_certificate_html

        html_path.write_text(render_certificate_html(cert), encoding="utf-8")
        console.print(f"wrote {json_path} and {html_path}", highlight=False, soft_wrap=True)


@app.command()
def compact(
    path: DirArg,
    out: Annotated[Path | None, typer.Option(
        "--out", help="The compact file (default: ledger.parquet beside the ledger).")] = None,
) -> None:
    """Write a verified ledger as one compact Parquet file of its records' columns, from
    which `ledger expand` recomputes every line byte for byte."""
    ledger = _open(path)
    check = ledger.verify()
    if check.problem is not None:
        raise _fail(f"the ledger does not verify, not compacted: {check.problem.describe()}",
                    code=1)
    target = write_compact(ledger, out)
    before, after = ledger.path.stat().st_size, target.stat().st_size
    stdout().print(f"wrote {target}: {check.records:,} records, {after / 1e6:,.2f} MB "
                   f"({after / before:.1%} of the {before / 1e6:,.1f} MB of "
                   f"{ledger.path.name})", highlight=False, soft_wrap=True)


@app.command()
def expand(
    compact_file: Annotated[Path, typer.Argument(help="A compact ledger (ledger.parquet).")],
    out: Annotated[Path, typer.Option("--out", help="The ledger.jsonl to write.")],
) -> None:
    """Recompute the lines of a compact ledger into a ledger.jsonl (check it with `ledger
    verify` beside the head and checkpoints it was kept with)."""
    try:
        n = 0
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8", newline="\n") as f:
            for line in expand_compact(compact_file):
                f.write(line)
                n += 1
    except InputError as exc:
        raise _fail(str(exc)) from None
    stdout().print(f"wrote {out}: {n:,} records", highlight=False, soft_wrap=True)


@app.command("gec")
def gec_import(
    path: DirArg,
    gec_file: Annotated[Path, typer.Argument(
        help="Green certificates (绿证): serial,project,site,mwh,month,tradable.")],
) -> None:
    """Import green certificates and retire them against the green kWh the ledger matched per
    site and month; certificates then name the serials that back them. A serial listed twice,
    or already retired, is refused."""
    ledger = _open(path)
    records: list[tuple[int, Any]] = []
    check = ledger.verify(on_record=energy_only(lambda q, _d, r: records.append((q, r))))
    if check.problem is not None:
        raise _fail(f"the ledger does not verify: {check.problem.describe()}", code=1)
    target = ledger.directory / GEC_FILE
    try:
        registry = read_registry(target)
        before = certificates_of(registry)
        new = read_gec_csv(gec_file, already=[c.serial for c in before])
    except InputError as exc:
        raise _fail(str(exc)) from None
    result = retire(before + new, records)
    target.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    done = [c for c in result["certificates"] if c["retired"]]
    stdout().print(f"imported {len(new):,} certificates; {len(done):,} of "
                   f"{len(result['certificates']):,} retired ({sum(c['mwh'] for c in done):,} "
                   f"MWh) against the green kWh matched per site and month: {target}",
                   highlight=False, soft_wrap=True)
