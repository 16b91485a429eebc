"""The ledger over HTTP: records, head, verification and a finished job's certificate.

- `GET /v1/ledger?cursor&limit&job_id&site&tenant&format`: records in seq order from `cursor`
  (a seq; pass `next_cursor` back for the next page). Each record is its stored line, served
  byte for byte: `format=json` (default) embeds the lines as the objects of `records`;
  `format=jsonl` returns the lines themselves, one a line, with the next cursor in the
  `X-Next-Cursor` header, so that the pages of a whole ledger, concatenated, are a
  `ledger.jsonl` that `suanwang ledger verify` checks. A tenant sees only its own records
  (`tenant` is the operator's filter).
- `GET /v1/ledger/head`: record count, last hash, the hours closed so far, what records mean.
- `GET /v1/ledger/verify` (operator): the whole chain checked; the first bad record named.
- `GET /v1/jobs/{id}/certificate` (`format=html` for the readable page): the green-power
  certificate of a finished job whose hours have all closed, built by `build_certificate` from a
  ledger that verifies. Another tenant's job is a 404, as everywhere in the API.

(No `from __future__ import annotations` here: FastAPI resolves the routes' annotations, which
name local aliases.)
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Response
from fastapi.responses import HTMLResponse

from suanwang.energy.series import HOUR_S
from suanwang.errors import InputError
from suanwang.ledger.certificate import LedgerBroken, Subject, build_certificate
from suanwang.ledger.certificate_page import render_certificate_html
from suanwang.service.ledger_store import DbLedger
from suanwang.service.store import FINISHED, Tenant

if TYPE_CHECKING:
    from suanwang.service.app import Service


def mount_ledger(app: FastAPI, service: "Service", tenant: Callable[..., Tenant],
                 operator: Callable[..., Tenant]) -> None:
    """Routes of the ledger; `tenant` and `operator` are the app's auth dependencies."""
    Who = Annotated[Tenant, Depends(tenant)]
    Operator = Annotated[Tenant, Depends(operator)]
    router = APIRouter(prefix="/v1", tags=["ledger"])

    def ledger() -> DbLedger:
        return service.live.ledger.ledger

    @router.get("/ledger")
    def records(who: Who, cursor: Annotated[int, Query(ge=0)] = 0,
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

    @router.get("/ledger/head")
    def head(who: Who) -> dict[str, Any]:
        """Count, last hash, closed hours (run clock) and what the records mean."""
        h = ledger().read_head()
        return {**h, "closed_until_s": h["next_hour"] * HOUR_S}

    @router.get("/ledger/verify")
    def verify(who: Operator) -> dict[str, Any]:
        """Check every record's hash and link, and the head; name the first bad record."""
        check = ledger().verify()
        p = check.problem
        return {"ok": check.ok, "records": check.records, "head": check.head,
                "problem": None if p is None else {
                    "seq": p.index, "job": p.job, "hour": p.hour, "reason": p.reason,
                    "message": p.describe()}}

    @router.get("/jobs/{job_id}/certificate", response_model=None)
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
        try:
            cert = build_certificate(ledger(), Subject(job=job_id), site_names={
                s.id: (s.name_zh, s.name_en) for s in service.network.sites})
        except LedgerBroken as exc:
            raise HTTPException(409, f"the ledger does not verify, no certificate issued: "
                                     f"{exc}") from None
        except InputError as exc:
            raise HTTPException(409, f"no certificate for job {job_id}: {exc.problem}") \
                from None
        if format == "html":
            return HTMLResponse(render_certificate_html(cert))
        return cert

    app.include_router(router)


def _hour_end(t_s: float) -> float:
    """The end of the run-clock hour that contains `t_s` (an hour ending exactly at `t_s`)."""
    return -(-t_s // HOUR_S) * HOUR_S
