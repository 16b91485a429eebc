"""The ledger over HTTP: records, head, verification and a finished job's certificate.

- `GET /v1/ledger?cursor&limit&job_id&site&tenant&format`: records in seq order from `cursor`
  (a seq; pass `next_cursor` back for the next page). Each record is its stored line, served
  byte for byte: `format=json` (default) embeds the lines as the objects of `records`;
  `format=jsonl` returns the lines themselves, one a line, with the next cursor in the
  `X-Next-Cursor` header, so that the pages of a whole ledger, concatenated, are a
  `ledger.jsonl` that `suanwang ledger verify` checks. A tenant sees only its own records
  (`tenant` is the operator's filter).
- `GET /v1/ledger/head`: record count, last hash, the hours closed so far, what records mean.
- `GET /v1/ledger/verify` (operator): the whole chain checked, then the `hash` column and
  the Merkle root against the latest checkpoint; the first bad record named.
- `GET /v1/jobs/{id}/certificate` (`format=html` for the readable page): the green-power
  certificate of a finished job whose hours have all closed, built by `build_certificate` from a
  ledger that verifies, as a bundle (`suanwang.ledger.bundle`): its records' lines, their
  inclusion proofs and the latest signed checkpoint, signed; `suanwang ledger verify-cert`
  checks it offline with the public key. Another tenant's job is a 404, as everywhere.
- `GET /v1/ledger/certificate?period=2024-06` (`tenant=` for the operator): the bundle of the
  caller's records over a period, Beijing time.
- `GET /v1/ledger/checkpoint[?hour=h]` (anyone, no token): the latest signed checkpoint (that
  of run-clock hour h), a C2SP note as text; `GET /v1/ledger/key` (anyone): the verifier key.
- `GET /v1/ledger/consistency?old=m&new=n`: the RFC 9162 consistency proof between the trees
  of m and n records, for `suanwang ledger consistency OLD NEW --proof FILE`.

The signing key: `$SUANWANG_LEDGER_KEY`, else `ledger.key` in the data directory (the parent
of the log directory; generated there, mode 0600, on the first start if the directory exists),
else a key of the process alone (a warning says so).

(No `from __future__ import annotations` here: FastAPI resolves the routes' annotations, which
name local aliases.)
"""

import base64
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

from suanwang.energy.series import HOUR_S
from suanwang.errors import InputError
from suanwang.ledger.certificate import LedgerBroken, Subject, build_bundle
from suanwang.ledger.certificate_page import render_certificate_html
from suanwang.ledger.checkpoint import find_signer, read_signer, write_keys
from suanwang.ledger.merkle import ProofError
from suanwang.ledger.note import Signer
from suanwang.ledger.period import parse_period
from suanwang.service.api_responses import (
    AUTH,
    MAX_INT32,
    MAX_INT64,
    OPERATOR,
    errors,
    json_or_text_body,
    text_body,
)
from suanwang.service.ledger_store import DbLedger
from suanwang.service.store import FINISHED, Tenant

if TYPE_CHECKING:
    from suanwang.service.app import Service

log = logging.getLogger("suanwang.service")
KEY_NAME = "suanwang.local/ledger"


def ledger_signer(data_dir: Path) -> Signer | None:
    """The service's signing key (see the module's doc); None: a key of the process alone."""
    found = find_signer(data_dir)
    if found is not None:
        return found
    if not data_dir.is_dir():
        return None
    key, _ = write_keys(data_dir, KEY_NAME)
    log.info("ledger: generated the signing key %s", key)
    return read_signer(key)


def mount_ledger(app: FastAPI, service: "Service", tenant: Callable[..., Tenant],
                 operator: Callable[..., Tenant]) -> None:
    """Routes of the ledger; `tenant` and `operator` are the app's auth dependencies."""
    Who = Annotated[Tenant, Depends(tenant)]
    Operator = Annotated[Tenant, Depends(operator)]
    router = APIRouter(prefix="/v1", tags=["ledger"])
    service.live.ledger.ledger.signer = ledger_signer(service.settings.log_dir.parent)

    def ledger() -> DbLedger:
        return service.live.ledger.ledger

    def site_names() -> dict[str, tuple[str, str]]:
        return {s.id: (s.name_zh, s.name_en) for s in service.network.sites}

    def bundle(subject: Subject, what: str) -> dict[str, Any]:
        try:
            return build_bundle(ledger(), subject, ledger().signer, site_names=site_names())
        except LedgerBroken as exc:
            raise HTTPException(409, f"the ledger does not verify, no certificate issued: "
                                     f"{exc}") from None
        except InputError as exc:
            raise HTTPException(409, f"no certificate for {what}: {exc.problem}") from None

    @router.get("/ledger", responses={**json_or_text_body(
        "application/x-ndjson", "The records: JSON, or (format=jsonl) their lines"),
        **errors(AUTH)})
    def records(who: Who, cursor: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
                limit: Annotated[int, Query(ge=1, le=10000)] = 100,
                job_id: str | None = None, site: str | None = None,
                tenant: str | None = None,
                format: Literal["json", "jsonl"] = "json") -> Response:
        """Ledger records in seq order from `cursor`, each exactly as stored."""
        rows = ledger().page(cursor=cursor, limit=limit, job_id=job_id, site=site,
                             tenant=tenant if who.operator else who.id)
        next_cursor = rows[-1][0] + 1 if len(rows) == limit else None
        if format == "jsonl":
            headers = {} if next_cursor is None else {"X-Next-Cursor": str(next_cursor)}
            return Response("".join(line + "\n" for _, line in rows), headers=headers,
                            media_type="application/x-ndjson")
        body = ('{"records":[' + ",".join(line for _, line in rows) + '],"next_cursor":'
                + ("null" if next_cursor is None else str(next_cursor)) + "}")
        return Response(body, media_type="application/json")

    @router.get("/ledger/events", responses=errors(AUTH, 422))
    def events(who: Who, type: Literal["grid_settlement", "market_clearing"] | None = None,
               ref: Annotated[str | None, Query(max_length=128)] = None,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> dict[str, Any]:
        """The ledger's event records (grid-event settlements, market clearings), oldest
        first, each with its seq, hash, type, ref, time and payload; verify them with the
        rest of the chain (`/v1/ledger/verify`)."""
        return {"events": [{"seq": seq, "hash": digest, "type": r.type, "ref": r.ref,
                            "at": r.at, "at_s": r.at_s, "payload": r.payload}
                           for seq, digest, r in ledger().events(type, ref, limit)]}

    @router.get("/ledger/head", responses=errors(AUTH))
    def head(who: Who) -> dict[str, Any]:
        """Count, last hash, closed hours (run clock) and what the records mean."""
        h = ledger().read_head()
        return {**h, "closed_until_s": h["next_hour"] * HOUR_S}

    @router.get("/ledger/verify", responses=errors(OPERATOR))
    def verify(who: Operator) -> dict[str, Any]:
        """Check every record's hash and link, and the head; name the first bad record."""
        digests: list[str] = []
        check = ledger().verify(on_record=lambda _s, d, _r: digests.append(d))
        p = check.problem
        problem = None if p is None else {
            "seq": p.index, "job": p.job, "hour": p.hour, "reason": p.reason,
            "message": p.describe()}
        if p is None and (bad := ledger().check_log(digests)) is not None:
            seq, reason = bad
            problem = {"seq": seq, "job": None, "hour": None, "reason": reason,
                       "message": f"record {seq}: {reason}"}
        cp = ledger().checkpoint()
        return {"ok": problem is None, "records": check.records, "head": check.head,
                "checkpoint": None if cp is None else {"hour": cp.hour,
                                                       "tree_size": cp.tree_size,
                                                       "root": cp.root},
                "problem": problem}

    @router.get("/jobs/{job_id}/certificate", response_model=None, responses={
        **json_or_text_body("text/html", "The certificate bundle, or (format=html) its page"),
        **errors(AUTH, 404, 409)})
    def certificate(job_id: str, who: Who,
                    format: Literal["json", "html"] = "json") -> dict[str, Any] | HTMLResponse:
        """The green-power certificate (绿电溯源证书) of a finished job."""
        row = service.store.get_job(job_id)
        if row is None or (not who.operator and row.tenant != who.id):
            raise HTTPException(404, f"no job {job_id}")
        if row.state != FINISHED:
            raise HTTPException(409, f"job {job_id} is {row.state}: a certificate is issued "
                                     "once it has finished and its hours have closed")
        closed_until_s = ledger().head().next_hour * HOUR_S
        if row.end_s is not None and row.end_s > closed_until_s:
            raise HTTPException(409, f"job {job_id} ended at run second {row.end_s:.0f}; its "
                                     f"last hour closes at {_hour_end(row.end_s):.0f} (closed "
                                     f"so far: up to {closed_until_s:.0f})")
        cert = bundle(Subject(job=job_id), f"job {job_id}")
        if format == "html":
            return HTMLResponse(render_certificate_html(cert))
        return cert

    @router.get("/ledger/certificate", response_model=None, responses={
        **json_or_text_body("text/html", "The certificate bundle, or (format=html) its page"),
        **errors(AUTH, 409, 422)})
    def period_certificate(who: Who, period: str, tenant: str | None = None,
                           format: Literal["json", "html"] = "json"
                           ) -> dict[str, Any] | HTMLResponse:
        """The certificate bundle of the caller's records over a period (Beijing time:
        2024, 2024-Q2, 2024-06, 2024-06-03, 2024-06-01..2024-06-07)."""
        try:
            p = parse_period(period, "query")
        except InputError as exc:
            raise HTTPException(422, str(exc)) from None
        whose = tenant if who.operator and tenant is not None else who.id
        cert = bundle(Subject(tenant=whose, period=p), f"tenant {whose} in {period}")
        if format == "html":
            return HTMLResponse(render_certificate_html(cert))
        return cert

    @router.get("/ledger/checkpoint", response_model=None, responses={
        **text_body("text/plain", "The signed checkpoint, a C2SP note"), **errors(404)})
    def checkpoint(hour: Annotated[int | None, Query(ge=0, le=MAX_INT32)] = None
                   ) -> PlainTextResponse:
        """The latest signed checkpoint of the Merkle log (a C2SP note), or that of the
        run-clock hour `hour`. No token needed: it holds only a size and a root."""
        cp = ledger().checkpoint(hour)
        if cp is None:
            raise HTTPException(404, "no hour has closed yet" if hour is None
                                else f"no checkpoint of hour {hour}")
        return PlainTextResponse(cp.note, headers={"X-Tree-Size": str(cp.tree_size),
                                                   "X-Hour": str(cp.hour)})

    @router.get("/ledger/key", response_model=None, responses={
        **text_body("text/plain", "The verifier key, one line"), **errors(404)})
    def key() -> PlainTextResponse:
        """The verifier key of the checkpoints and certificates (better got out of band)."""
        signer = ledger().signer
        if signer is None:
            raise HTTPException(404, "no hour has closed yet: no key has signed anything")
        return PlainTextResponse(signer.verifier.key_string() + "\n")

    @router.get("/ledger/consistency", responses=errors(AUTH, 422))
    def consistency(who: Who, old: Annotated[int, Query(ge=0, le=MAX_INT64)],
                    new: Annotated[int, Query(ge=0, le=MAX_INT64)]) -> dict[str, Any]:
        """The consistency proof from the tree of `old` records to that of `new`."""
        tree = ledger().tree()
        try:
            proof = tree.consistency_proof(old, new)
        except ProofError as exc:
            raise HTTPException(422, f"old = {old}, new = {new}: {exc}") from None
        return {"old_size": old, "new_size": new,
                "proof": [base64.b64encode(h).decode("ascii") for h in proof]}

    app.include_router(router)


def _hour_end(t_s: float) -> float:
    """The end of the run-clock hour that contains `t_s` (an hour ending exactly at `t_s`)."""
    return -(-t_s // HOUR_S) * HOUR_S
