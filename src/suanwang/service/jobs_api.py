"""The jobs API: submit (one or a batch), list, read, events, logs, cancel, templates, the
summary of accounted jobs. A tenant sees and cancels only its own jobs (another tenant's job
is a 404); the operator sees everything.

(No `from __future__ import annotations` here: FastAPI resolves the routes' annotations, which
name local aliases.)
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Response
from fastapi.exceptions import RequestValidationError

from suanwang.executors.base import LOG_STREAMS, BackendUnavailable, read_log
from suanwang.market.billing import POSTED_ROUND
from suanwang.service.account_store import AccountRefused
from suanwang.service.api_responses import AUTH, LIMIT_ERRORS, MAX_INT32, errors
from suanwang.service.db import JobEventRow, JobRow
from suanwang.service.schemas import BatchIn, JobIn, validate_against, validate_run_policy
from suanwang.service.store import TERMINAL_STATES, Tenant

if TYPE_CHECKING:
    from suanwang.service.app import Service

MAX_LOG_BYTES = 1024 * 1024
# a batch's jobs are stored under KEY, KEY#1, KEY#2 ...: a client's key has no "#"
IdempotencyKey = Annotated[str | None, Header(
    max_length=200, pattern=r"^[^#]*$",
    description="Repeat a request safely: the same key (no '#') gives back what the first "
                "request made")]


def job_out(row: Any) -> dict[str, Any]:
    lists = row.providers or {}
    return {
        "id": row.id, "tenant": row.tenant, "state": row.state, "reason": row.reason,
        "origin": row.origin, "kind": row.kind, "units": row.units,
        "duration_s": row.duration_s, "submit_s": row.submit_s,
        "rtt_bound_ms": row.rtt_bound_ms, "deadline_s": row.deadline_s,
        "data_gb": row.data_gb, "workload": row.workload, "command": row.command,
        "site": row.site, "rtt_ms": row.rtt_ms, "placed_s": row.placed_s,
        "start_s": row.start_s, "end_s": row.end_s, "defer_until_s": row.defer_until_s,
        "energy_kwh": row.energy_kwh, "green_kwh": row.green_kwh,
        "carbon_kg": row.carbon_kg, "cost_yuan": row.cost_yuan,
        "baseline_site": row.baseline_site, "baseline_carbon_kg": row.baseline_carbon_kg,
        "baseline_cost_yuan": row.baseline_cost_yuan, "max_retries": row.max_retries,
        "attempts": row.attempts, "exec_handle": row.exec_handle, "exit_code": row.exit_code,
        "log_tail": row.log_tail,
        "provider": row.provider, "bill_yuan": row.bill_yuan, "egress_yuan": row.egress_yuan,
        "max_price_yuan_per_unit_h": row.max_price_yuan_per_unit_h,
        "max_bill_yuan": row.max_bill_yuan,
        "providers_allow": list(lists.get("allow", ())),
        "providers_deny": list(lists.get("deny", ())),
        "providers_prefer": list(lists.get("prefer", ())),
        "market_bid": row.market_bid, "market_round": row.market_round,
        "market_price_yuan_per_unit_h": row.market_price_yuan_per_unit_h,
        "accept_posted_price": row.market_round == POSTED_ROUND,
    }


def json_response(content: Any, status_code: int) -> Response:
    """A JSON response serialised by orjson (the hot submit paths)."""
    return Response(orjson.dumps(content), status_code=status_code,
                    media_type="application/json")


def event_out(row: JobEventRow) -> dict[str, Any]:
    return {"at_s": row.at_s, "state": row.state, "reason": row.reason, "site": row.site}


def mount_jobs(app: FastAPI, service: "Service", tenant: Callable[..., Tenant]) -> None:
    """Routes of jobs; `tenant` is the app's auth dependency."""
    Who = Annotated[Tenant, Depends(tenant)]
    settings = service.settings
    router = APIRouter(tags=["jobs"])

    def own_job(job_id: str, who: Tenant) -> JobRow:
        row = service.store.get_job(job_id)
        if row is None or (not who.operator and row.tenant != who.id):
            raise HTTPException(404, f"no job {job_id}")
        return row

    def check(jobs: list[JobIn], batch: bool, who: Tenant) -> None:
        errors: list[dict[str, Any]] = []
        commands_ok = settings.allow_tenant_commands or who.operator
        for i, j in enumerate(jobs):
            loc: tuple[Any, ...] = ("body", "jobs", i) if batch else ("body",)
            errors.extend(validate_against(j, service.network, loc))
            if j.command is not None or j.env is not None or j.workdir is not None \
                    or j.template is not None:
                errors.extend(validate_run_policy(j, settings.job_templates, commands_ok,
                                                  loc))
        if errors:
            raise RequestValidationError(errors)

    def accept(who: Tenant, jobs: list[JobIn], key: str | None) -> tuple[list[JobRow], bool]:
        """Accept the jobs, or raise `AccountRefused` (nothing accepted) if they would break
        a limit of the tenant's account."""
        templates = settings.job_templates
        return service.accept_specs(who.id, [j.to_spec(templates) for j in jobs], key)

    # ---- jobs ----------------------------------------------------------------------------

    @router.post("/v1/jobs", status_code=201, responses={
        200: {"description": "The job this idempotency key already made (nothing new)"},
        **errors(AUTH, 400, 413, 422), **LIMIT_ERRORS})
    def submit(body: JobIn, who: Who,
               idempotency_key: IdempotencyKey = None
               ) -> Response:
        check([body], batch=False, who=who)
        try:
            rows, created = accept(who, [body], idempotency_key)
        except AccountRefused as exc:
            service.metrics.refused.labels(exc.limit_key).inc()
            return json_response(exc.body(), exc.status_code)
        return json_response(job_out(rows[0]), 201 if created else 200)

    @router.post("/v1/jobs/batch", status_code=201, responses={
        200: {"description": "The jobs this idempotency key already made (nothing new)"},
        **errors(AUTH, 400, 413, 422), **LIMIT_ERRORS})
    def submit_batch(body: BatchIn, who: Who,
                     idempotency_key: IdempotencyKey = None
                     ) -> Response:
        check(body.jobs, batch=True, who=who)
        try:
            rows, created = accept(who, body.jobs, idempotency_key)
        except AccountRefused as exc:  # the whole batch: nothing of it is accepted
            service.metrics.refused.labels(exc.limit_key).inc()
            return json_response(exc.body(), exc.status_code)
        # a batch answers with each job's id and state (GET /v1/jobs/{id} has the rest)
        return json_response({"count": len(rows), "jobs": [
            {"id": r.id, "state": r.state, "submit_s": r.submit_s, "deadline_s": r.deadline_s}
            for r in rows]}, 201 if created else 200)

    @router.get("/v1/jobs", responses=errors(AUTH))
    def list_jobs(who: Who, state: str | None = None, origin: str | None = None,
                  kind: str | None = None, site: str | None = None,
                  tenant: str | None = None,
                  cursor: Annotated[int, Query(ge=0, le=MAX_INT32)] = 0,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                  order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
                  ) -> dict[str, Any]:
        """Jobs in submission order (`order=desc`: newest first); pass `next_cursor` back as
        `cursor` for the next page."""
        scope = tenant if who.operator else who.id
        rows = service.store.list_jobs(scope, state=state, origin=origin, kind=kind,
                                       site=site, after_seq=cursor, limit=limit,
                                       newest_first=order == "desc")
        return {"jobs": [job_out(r) for r in rows],
                "next_cursor": rows[-1].seq if len(rows) == limit else None}

    @router.get("/v1/jobs/{job_id}", responses=errors(AUTH, 404))
    def get_job(job_id: str, who: Who) -> dict[str, Any]:
        return job_out(own_job(job_id, who))

    @router.get("/v1/jobs/{job_id}/events", responses=errors(AUTH, 404))
    def job_events(job_id: str, who: Who) -> list[dict[str, Any]]:
        own_job(job_id, who)
        return [event_out(e) for e in service.store.events(job_id)]

    @router.get("/v1/jobs/{job_id}/logs", responses=errors(AUTH, 404))
    def job_logs(job_id: str, who: Who,
                 max_bytes: Annotated[int, Query(ge=1, le=MAX_LOG_BYTES)] = 64 * 1024
                 ) -> dict[str, Any]:
        """The end of the job's stdout and stderr (at most `max_bytes` of each), as its
        site's engine wrote them; `available` is false where the backend keeps no log files
        here (the clock backend runs nothing)."""
        row = own_job(job_id, who)
        out: dict[str, Any] = {"job": job_id, "available": False}
        for stream in LOG_STREAMS:
            got = read_log(settings.log_dir, job_id, stream, max_bytes)
            if got is not None:
                out["available"] = True
            out[stream] = {"text": got.text if got else "",
                           "size_bytes": got.size_bytes if got else 0,
                           "truncated": got.truncated if got else False}
        if not out["available"]:
            out["note"] = (f"no log files for {job_id} on this service"
                           + (f"; last recorded: {row.log_tail}" if row.log_tail else ""))
        return out

    @router.get("/v1/templates", responses=errors(AUTH))
    def templates(who: Who) -> dict[str, Any]:
        """The job templates tenants may run (`"template": name` in a submission), and
        whether this service lets tenants give commands of their own."""
        return {"tenant_commands": settings.allow_tenant_commands,
                "templates": [{"name": n, "command": list(t.command), "env": t.env,
                               "description": t.description}
                              for n, t in settings.job_templates.items()]}

    @router.post("/v1/jobs/{job_id}/cancel", responses=errors(AUTH, 404, 409, 503))
    def cancel(job_id: str, who: Who) -> dict[str, Any]:
        row = own_job(job_id, who)
        if row.state in TERMINAL_STATES:
            raise HTTPException(409, f"job {job_id} is already {row.state}")
        try:
            cancelled = service.live.cancel(job_id)
        except BackendUnavailable as exc:
            raise HTTPException(503, f"the backend running {job_id} cannot be reached: {exc}; "
                                     "try again") from None
        if not cancelled:
            raise HTTPException(409, f"job {job_id} could not be cancelled (it just ended)")
        return job_out(own_job(job_id, who))

    @router.get("/v1/summary", responses=errors(AUTH))
    def summary(who: Who) -> dict[str, Any]:
        totals = service.store.totals(None if who.operator else who.id)
        energy = totals["energy_kwh"]
        return {**totals, "now_s": service.clock.now_s(), "policy": settings.policy,
                "green_share": totals["green_kwh"] / energy if energy else 0.0}

    app.include_router(router)
