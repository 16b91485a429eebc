"""Certificates that carry their proof: checked offline with nothing but the log's public key.

A bundle is the certificate (`certificate.build_certificate`) with two more members:

- `proof`: the signed checkpoint (C2SP note) of the Merkle log, and for each record of the
  certificate its stored line (the canonical bytes its hash covers) and its inclusion proof
  (RFC 9162, base64 hashes) in the tree of the checkpoint's size;
- `signature`: a signed note by the same key over the SHA-256 of the certificate's canonical
  JSON (every member but `signature`, keys sorted, no spaces, UTF-8), so that the figures,
  names and times written around the records are the operator's too.

`verify_bundle` checks, in order, and stops at the first failure with a one-line reason: the
checkpoint's signature; each record's line (hash, canonical form, figures) and its inclusion
in the checkpoint's tree; where the log keeps site-hour summaries (`sums`), that each record
adds up to its site-hour's summary, in the signed summary log, whose green allocated does not
exceed its supply (no double counting); that the certificate's list of records, its subject
and its totals are those of the proven records (sums recomputed); and the signature over the
whole. The
records of other tenants are never in a bundle: an inclusion proof shows only hashes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from suanwang.errors import InputError
from suanwang.ledger.chain import body_hash
from suanwang.ledger.checkpoint import Checkpoint, open_checkpoint
from suanwang.ledger.merkle import MerkleTree, ProofError, leaf_hash, verify_inclusion
from suanwang.ledger.note import (
    NoteError,
    Signer,
    Verifier,
    b64decode_strict,
    open_note,
    sign,
    split,
)
from suanwang.ledger.period import parse_period
from suanwang.ledger.record import LedgerRecord, decode_body, encode_record
from suanwang.ledger.sums import SiteHours, parse_extension, summary_leaf, verify_record_sum
from suanwang.ledger.totals import Totals

FORMAT = "suanwang-certificate-bundle/1"
_SIGNED_TITLE = "suanwang certificate"  # first line of the certificate's signed note
_RECORD_FIELDS = ("hour", "job", "site", "kind", "facility_kwh", "green_kwh", "grid_kwh",
                  "co2_location_kg", "co2_market_kg")


class CertificateInvalid(ValueError):
    """The bundle does not verify; the message is the one-line reason."""


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _signed_text(cert: Mapping[str, Any]) -> str:
    body = {k: v for k, v in cert.items() if k != "signature"}
    return f"{_SIGNED_TITLE}\n{hashlib.sha256(canonical(body)).hexdigest()}\n"


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode("ascii")


def attach_proof(cert: dict[str, Any], lines: Mapping[int, str], tree: MerkleTree,
                 checkpoint_note: str, signer: Signer | None,
                 sums: SiteHours | None = None,
                 summary_tree: MerkleTree | None = None) -> dict[str, Any]:
    """`cert` with its records' lines and inclusion proofs in the tree of the checkpoint,
    and (with `sums`) each record's path in its site-hour's sum tree and those summaries'
    inclusion proofs; signed by `signer` (unsigned if None). Raises ValueError if the trees do
    not have the checkpoint's roots (the ledger changed since it was signed)."""
    text, _ = split(checkpoint_note)
    cp = Checkpoint.parse_text(text)
    if tree.root(cp.size) != cp.root:
        raise ValueError(f"the ledger's first {cp.size} records no longer have the root of "
                         "its latest checkpoint")
    ext = parse_extension(cp.extensions)
    if ext is not None and (sums is None or summary_tree is None
                            or summary_tree.root(ext[0]) != ext[1]):
        raise ValueError("the site-hour summaries no longer have the root of the latest "
                         "checkpoint")
    records = []
    groups: set[int] = set()
    for r in cert["records"]:
        seq = r["seq"]
        if seq >= cp.size:
            raise ValueError(f"record {seq} is not yet under a checkpoint (size {cp.size})")
        entry: dict[str, Any] = {
            "seq": seq, "line": lines[seq],
            "inclusion": [_b64(h) for h in tree.inclusion_proof(seq, cp.size)]}
        if ext is not None and sums is not None:
            entry["sum"] = sums.record_proof(seq)
            groups.add(entry["sum"]["summary"])
        records.append(entry)
    proof: dict[str, Any] = {
        "log": cp.origin, "tree_size": cp.size, "checkpoint": checkpoint_note,
        "leaf": "SHA-256(0x00 || the record's hash as 32 bytes); nodes SHA-256(0x01 || left "
                "|| right) (RFC 9162)",
        "records": records}
    if ext is not None and sums is not None and summary_tree is not None:
        proof["summaries"] = [
            {"index": g, "line": sums.lines[g],
             "inclusion": [_b64(h) for h in summary_tree.inclusion_proof(g, ext[0])]}
            for g in sorted(groups)]
    out = {**cert, "format": FORMAT, "proof": proof}
    out["signature"] = sign(_signed_text(out), signer) if signer is not None else None
    return out


@dataclass(frozen=True)
class Verified:
    subject: dict[str, Any]
    records: int
    checkpoint: Checkpoint
    totals: dict[str, Any]
    site_hours: int  # site-hours whose allocations were checked against their supply


def _bad(reason: str) -> CertificateInvalid:
    return CertificateInvalid(reason)


def _record_of(i: int, entry: Any, cp: Checkpoint) -> tuple[int, str, LedgerRecord]:
    """(seq, hash, record) of a proven record; CertificateInvalid if anything is off."""
    if not isinstance(entry, dict) or not isinstance(entry.get("line"), str) \
            or type(entry.get("seq")) is not int or not isinstance(entry.get("inclusion"), list):
        raise _bad(f"proof record {i}: needs seq, line and inclusion")
    seq, line = entry["seq"], entry["line"]
    if not line.startswith('{"hash":"') or line[73:75] != '",':
        raise _bad(f"record {seq}: its line does not start with its hash")
    stored, body = line[9:73], "{" + line[75:]
    if body_hash(body) != stored:
        raise _bad(f"record {seq}: its hash does not match its content (the record was "
                   "altered)")
    try:
        seq_in, prev, record = decode_body(json.loads(body))
    except (ValueError, TypeError, KeyError) as exc:
        raise _bad(f"record {seq}: not a valid record ({exc})") from None
    if encode_record(record, seq_in, prev) != body:
        raise _bad(f"record {seq}: not in canonical form, or its figures do not add up")
    if seq_in != seq:
        raise _bad(f"record {seq}: its line says seq {seq_in}")
    try:
        path = [b64decode_strict(h) for h in entry["inclusion"]]
        verify_inclusion(seq, cp.size, leaf_hash(bytes.fromhex(stored)), path, cp.root)
    except (binascii.Error, ValueError, TypeError) as exc:
        why = str(exc) if isinstance(exc, ProofError) else f"a proof hash is not base64 ({exc})"
        raise _bad(f"record {seq}: not in the log of the checkpoint: {why}") from None
    return seq, stored, record


def _kwh(x: int) -> float:
    return x / 1_000_000


def verify_bundle(cert: Any, verifier: Verifier) -> Verified:
    """Check a bundle offline (see the module's doc); CertificateInvalid with the reason."""
    if not isinstance(cert, dict) or cert.get("format") != FORMAT:
        raise _bad(f"not a certificate bundle (format {FORMAT!r} expected)")
    proof = cert.get("proof")
    if not isinstance(proof, dict) or not isinstance(proof.get("checkpoint"), str):
        raise _bad("the certificate carries no proof")
    try:
        cp = open_checkpoint(proof["checkpoint"], verifier)
    except NoteError as exc:
        raise _bad(f"checkpoint: {exc}") from None
    if proof.get("tree_size") != cp.size or proof.get("log") != cp.origin:
        raise _bad("the proof's tree size or log differ from its checkpoint's")
    entries = proof.get("records")
    if not isinstance(entries, list) or not entries:
        raise _bad("the proof has no records")
    proven = [_record_of(i, e, cp) for i, e in enumerate(entries)]
    sums_checked = _check_sums(proof, entries, proven, cp)
    listed = cert.get("records")
    if not isinstance(listed, list) or len(listed) != len(proven):
        raise _bad("the certificate lists other records than it proves")
    totals, by_site = Totals(), {}
    for row, (seq, digest, r) in zip(listed, proven, strict=True):
        expect = {"seq": seq, "hash": digest, "hour": r.hour, "job": r.job, "site": r.site,
                  "kind": r.kind, "facility_kwh": _kwh(r.facility_ukwh),
                  "green_kwh": _kwh(r.green_ukwh), "grid_kwh": _kwh(r.grid_ukwh),
                  "co2_location_kg": _kwh(r.co2_location_ukg),
                  "co2_market_kg": _kwh(r.co2_market_ukg)}
        if row != expect:
            diff = next((k for k in expect if not isinstance(row, dict)
                         or row.get(k) != expect[k]), "its members")
            raise _bad(f"record {seq}: the certificate's {diff} differs from the proven record")
        totals.add(r)
        by_site.setdefault(r.site, Totals()).add(r)
    _check_subject(cert.get("subject"), [r for _, _, r in proven])
    if cert.get("totals") != totals.as_dict():
        key = next((k for k, v in totals.as_dict().items()
                    if not isinstance(cert.get("totals"), dict) or cert["totals"].get(k) != v),
                   "totals")
        raise _bad(f"totals: {key} is not the sum of the proven records")
    sites = cert.get("by_site")
    if not isinstance(sites, list) or [
            {k: v for k, v in s.items() if k not in ("site", "name_zh", "name_en")}
            if isinstance(s, dict) else s for s in sites] != [
            t.as_dict() for _, t in sorted(by_site.items())] or [
            s.get("site") for s in sites] != sorted(by_site):
        raise _bad("by_site: the sums per site are not those of the proven records")
    sig = cert.get("signature")
    if not isinstance(sig, str):
        raise _bad("the certificate is not signed")
    try:
        text, _ = open_note(sig, verifier)
    except NoteError as exc:
        raise _bad(f"signature: {exc}") from None
    if text != _signed_text(cert):
        raise _bad("signature: the certificate was altered after it was signed")
    return Verified(cert["subject"], len(proven), cp, cert["totals"], sums_checked)


_SUMMARY_KEYS = {"allocated_ukwh", "hour", "hour_start_s", "metered_ukwh", "records", "site",
                 "sum_root", "supply_ukwh"}


def _check_sums(proof: dict[str, Any], entries: list[Any],
                proven: list[tuple[int, str, LedgerRecord]], cp: Checkpoint) -> int:
    """Check each record against its site-hour's summary (see `sums`); the site-hours
    checked (0 if the log keeps no summaries)."""
    try:
        ext = parse_extension(cp.extensions)
    except ValueError:
        raise _bad("checkpoint: its summaries line is malformed") from None
    if ext is None:
        return 0
    size, root = ext
    given = proof.get("summaries")
    if not isinstance(given, list):
        raise _bad("the log keeps site-hour summaries but the certificate carries none")
    summaries: dict[int, dict[str, Any]] = {}
    for s in given:
        if not isinstance(s, dict) or type(s.get("index")) is not int \
                or not isinstance(s.get("line"), str) or not isinstance(s.get("inclusion"), list):
            raise _bad("a site-hour summary needs index, line and inclusion")
        try:
            path = [b64decode_strict(h) for h in s["inclusion"]]
            verify_inclusion(s["index"], size, summary_leaf(s["line"]), path, root)
            obj = json.loads(s["line"])
        except (binascii.Error, ValueError, TypeError) as exc:
            raise _bad(f"site-hour summary {s['index']}: not in the summary log of the "
                       f"checkpoint: {exc}") from None
        if not isinstance(obj, dict) or set(obj) != _SUMMARY_KEYS:
            raise _bad(f"site-hour summary {s['index']}: not a summary")
        summaries[s["index"]] = obj
    for entry, (seq, digest, r) in zip(entries, proven, strict=True):
        sp = entry.get("sum")
        summary = summaries.get(sp.get("summary")) if isinstance(sp, dict) else None
        if summary is None:
            raise _bad(f"record {seq}: no site-hour summary to check its green kWh against")
        if (summary["site"], summary["hour_start_s"]) != (r.site, r.hour_start_s):
            raise _bad(f"record {seq}: its site-hour summary is of another site or hour")
        try:
            verify_record_sum(sp, bytes.fromhex(digest), r.green_ukwh, r.facility_ukwh,
                              summary)
        except (ProofError, ValueError, TypeError) as exc:
            raise _bad(f"record {seq}: green kWh not provably within its site-hour's supply: "
                       f"{exc}") from None
    return len(summaries)


def _check_subject(subject: Any, records: Sequence[LedgerRecord]) -> None:
    if not isinstance(subject, dict):
        raise _bad("the certificate has no subject")
    job, tenant, period = subject.get("job"), subject.get("tenant"), subject.get("period")
    label = period.get("label") if isinstance(period, dict) else None
    try:
        within = parse_period(label, "certificate") if isinstance(label, str) else None
    except InputError as exc:
        raise _bad(f"subject: {exc.problem}") from None
    for r in records:
        if job is not None and r.job != job:
            raise _bad(f"subject: a proven record is of job {r.job}, not {job}")
        if r.tenant != tenant:
            raise _bad(f"subject: a proven record is of tenant {r.tenant}, not {tenant}")
        if within is not None and not within.contains(datetime.fromisoformat(r.hour)):
            raise _bad(f"subject: a proven record's hour {r.hour} is outside {label}")
