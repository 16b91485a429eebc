"""The HTTP API (FastAPI), versioned under /v1, with /healthz and /metrics.

Tenants authenticate with `Authorization: Bearer <token>` (tokens are stored only as SHA-256
hashes). A tenant sees and cancels only its own jobs (another tenant's job is a 404); the
operator sees everything and may drain a site or change its capacity. No or an unknown token is
a 401, a tenant on an operator route a 403.
"""


import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.engine import Engine

from suanwang.executors.base import LOG_STREAMS, BackendUnavailable, read_log
from suanwang.executors.registry import load_deployment, make_executors
from suanwang.model import Kind, Network
from suanwang.network.loader import load_network
from suanwang.service.api_docs import mount_docs
from suanwang.service.clock import RunClock
from suanwang.service.dashboard import mount_dashboard
from suanwang.service.db import JobEventRow, JobRow, make_engine
from suanwang.service.instance_lock import lock_database
from suanwang.service.ledger_api import mount_ledger
from suanwang.service.live import ExecInfo, LiveScheduler
from suanwang.service.metrics import Metrics
from suanwang.service.schemas import (
    BatchIn,
    JobIn,
    SitePatch,
    capacity_errors,
    validate_against,
    validate_run_policy,
)
from suanwang.service.store import TERMINAL_STATES, JobSpec, Store, Tenant, row_to_job
from suanwang.service.templates import JobTemplate

log = logging.getLogger("suanwang.service")
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_LOG_BYTES = 1024 * 1024


@dataclass
class Settings:
    db_url: str = "sqlite:///suanwang-data/suanwang.db"
    db_schema: str | None = None  # PostgreSQL schema (tests isolate themselves with one)
    network_path: Path | None = None
    policy: str = "green-window"
    seed: int = 0
    speed: float = 1.0  # run seconds per wall second, for a new database
    forecast_error: float = 1.0
    tick_s: float = 0.1
    deployment_path: Path | None = None  # which backend runs each site (executors.registry)
    executor_default: str = "clock"  # backend of sites the deployment file does not name
    log_dir: Path = Path("suanwang-data/logs")  # stdout/stderr of jobs run by executors
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # token -> (tenant, role)
    start_scheduler: bool = True
    demo_jobs_per_day: int = 0  # > 0: a synthetic demand stream as tenant "demo"
    allow_tenant_commands: bool = False  # tenants may give command, env, workdir
    job_templates: dict[str, JobTemplate] = field(default_factory=dict)  # what they may run


def job_out(row: Any) -> dict[str, Any]:
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
    }


def json_response(content: Any, status_code: int) -> Response:
    """A JSON response serialised by orjson (the hot submit paths)."""
    return Response(orjson.dumps(content), status_code=status_code,
                    media_type="application/json")


def event_out(row: JobEventRow) -> dict[str, Any]:
    return {"at_s": row.at_s, "state": row.state, "reason": row.reason, "site": row.site}


class Service:
    """Everything one running API owns: store, live scheduler, metrics."""

    def __init__(self, settings: Settings, network: Network | None = None) -> None:
        self.settings = settings
        engine = make_engine(settings.db_url, settings.db_schema)
        # before anything is read: a second service on this database changes nothing
        self.db_lock = lock_database(engine)
        try:
            self._open(settings, network, engine)
        except BaseException:
            if self.db_lock is not None:
                self.db_lock.release()
            engine.dispose()
            raise

    def _open(self, settings: Settings, network: Network | None, engine: Engine) -> None:
        self.network = network or load_network(settings.network_path)
        self.store = Store(engine)
        for token, (tenant, role) in settings.tokens.items():
            self.store.ensure_tenant(tenant, role, token)
        origin = self.store.meta("clock_origin_epoch_s")
        speed = self.store.meta("clock_speed")
        if origin is None:
            origin, speed = str(time.time()), str(settings.speed)
            self.store.set_meta("clock_origin_epoch_s", origin)
            self.store.set_meta("clock_speed", speed)
        self.clock = RunClock(float(origin), float(speed or settings.speed))
        site_ids = [s.id for s in self.network.sites]
        self.executors = make_executors(
            load_deployment(settings.deployment_path, site_ids, settings.executor_default),
            settings.log_dir)
        self.live = LiveScheduler(self.network, self.store, self.clock, settings.policy,
                                  seed=settings.seed, forecast_error=settings.forecast_error,
                                  executors=self.executors)
        self.metrics = Metrics(self.live)
        self.demo: Any = None

    def accept_specs(self, tenant: str, specs: list[JobSpec],
                     idempotency_key: str | None = None) -> tuple[list[JobRow], bool]:
        """Persist submissions (before anyone is told), then hand them to the scheduler."""
        rows, created = self.store.add_jobs(tenant, specs, self.clock.now_s(), idempotency_key)
        if created:
            self.live.accept([row_to_job(r) for r in rows], [ExecInfo.of(r) for r in rows])
            by_kind = Counter(spec.kind.value for spec in specs)
            for kind, n in by_kind.items():
                self.metrics.submitted.labels(kind).inc(n)
        return rows, created

    def start(self) -> None:
        if self.settings.start_scheduler:
            self.live.start(self.settings.tick_s)
        if self.settings.demo_jobs_per_day > 0:
            from suanwang.service.demo import DemoStream

            self.demo = DemoStream(self, jobs_per_day=self.settings.demo_jobs_per_day,
                                   seed=self.settings.seed)
            self.demo.start()

    def stop(self) -> None:
        if self.demo is not None:
            self.demo.stop()
        self.live.stop()
        for executor in {id(e): e for e in self.executors.values() if e is not None}.values():
            executor.close()
        if self.db_lock is not None:
            self.db_lock.release()
        self.store.engine.dispose()


class _LimitsAndTiming:
    """Pure ASGI middleware: refuses bodies over MAX_BODY_BYTES (413) and times requests
    into the latency histogram. (Starlette's decorator middleware costs a task per request.)"""

    def __init__(self, app: Any, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY_BYTES:
                response = JSONResponse(status_code=413, content={
                    "detail": f"body of {int(value):,} bytes is larger than {MAX_BODY_BYTES:,}"})
                await response(scope, receive, send)
                return
        started = time.perf_counter()
        status = 500

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            self.service.metrics.requests.labels(
                scope["method"], getattr(route, "path", "other"), str(status)).observe(
                time.perf_counter() - started)


def create_app(settings: Settings, network: Network | None = None) -> FastAPI:
    service = Service(settings, network)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(title="suanwang 算网", version="1", lifespan=lifespan,
                  description="Monitoring and scheduling of the East-Data-West-Compute network",
                  docs_url=None, redoc_url=None)
    mount_docs(app)  # /docs from the package's own Swagger UI files
    app.state.service = service

    app.add_middleware(_LimitsAndTiming, service=service)

    bearer = HTTPBearer(auto_error=False, description="A tenant's or the operator's token "
                                                      "(`suanwang up` prints where they are)")

    def tenant(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
               ) -> Tenant:
        if credentials is None or not credentials.credentials.strip():
            raise HTTPException(401, "missing bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
        found = service.store.tenant_by_token(credentials.credentials.strip())
        if found is None:
            raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
        return found

    def operator(who: Annotated[Tenant, Depends(tenant)]) -> Tenant:
        if not who.operator:
            raise HTTPException(403, "this needs the operator role")
        return who

    Who = Annotated[Tenant, Depends(tenant)]
    Operator = Annotated[Tenant, Depends(operator)]

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
        templates = settings.job_templates
        return service.accept_specs(who.id, [j.to_spec(templates) for j in jobs], key)

    # ---- health and metrics ----------------------------------------------------------------

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        clock = service.clock
        return {"status": "ok", "now_s": clock.now_s(), "policy": settings.policy,
                "clock": {"start_utc": clock.start_utc.isoformat(), "speed": clock.speed}}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(service.metrics.registry),
                        media_type=CONTENT_TYPE_LATEST)

    # ---- network -------------------------------------------------------------------------

    @app.get("/v1/regions")
    def regions(who: Who) -> list[dict[str, Any]]:
        return [{"id": r.id, "name_zh": r.name_zh, "name_en": r.name_en, "lat": r.lat,
                 "lon": r.lon} for r in service.network.regions]

    def site_out(i: int) -> dict[str, Any]:
        s = service.network.sites[i]
        topo = service.live.topology
        return {"id": s.id, "name_zh": s.name_zh, "name_en": s.name_en, "hub": s.hub_id,
                "province": s.province_en, "lat": s.lat, "lon": s.lon, "pue": s.pue,
                "price_yuan_per_kwh": s.price_yuan_per_kwh, "green_share": s.green_share,
                "drained": s.id in service.live.drained_sites(),
                "healthy": s.id not in service.live.unhealthy,
                "backend": getattr(service.live.executors[s.id], "name", "clock"),
                "pools": [{"kind": topo.pool_kind[p].value,
                           "capacity_units": topo.pool_capacity[p],
                           "pflops_per_unit": topo.pools[p].pflops_per_unit,
                           "kw_per_unit": topo.pools[p].kw_per_unit}
                          for p in range(len(topo.pools)) if topo.pool_site[p] == i]}

    def site_index(site_id: str) -> int:
        ids = [s.id for s in service.network.sites]
        if site_id not in ids:
            raise HTTPException(404, f"no site {site_id}")
        return ids.index(site_id)

    @app.get("/v1/sites")
    def sites(who: Who) -> list[dict[str, Any]]:
        return [site_out(i) for i in range(len(service.network.sites))]

    @app.get("/v1/sites/{site_id}")
    def site(site_id: str, who: Who) -> dict[str, Any]:
        return site_out(site_index(site_id))

    @app.patch("/v1/sites/{site_id}")
    def patch_site(site_id: str, body: SitePatch, who: Operator) -> dict[str, Any]:
        """Drain or undrain a site, or set its pools' installed units. A cut below the units
        busy now is applied (running jobs keep their units; nothing new is placed there until
        enough end) and the answer's `warnings` say so."""
        i = site_index(site_id)
        installed = {p.kind: p.units for p in service.network.sites[i].pools}
        errors = capacity_errors(body, installed, site_id)
        if errors:
            raise RequestValidationError(errors)
        busy = {p["kind"]: p["busy_units"] for s in service.live.live_state()[0]["sites"]
                if s["site"] == site_id for p in s["pools"]}
        warnings = [f"capacity_units.{kind} = {units} is below the {busy[kind]} units busy "
                    "now: running jobs keep them; nothing new is placed there until enough end"
                    for kind, units in (body.capacity_units or {}).items()
                    if units < busy.get(kind, 0)]
        for kind, units in (body.capacity_units or {}).items():
            service.live.set_capacity(site_id, Kind(kind), units)
        if body.drained is not None:
            service.live.drain(site_id, body.drained)
        log.info("operator %s changed site %s: %s", who.id, site_id,
                 body.model_dump(exclude_none=True))
        return {**site_out(i), **({"warnings": warnings} if warnings else {})}

    @app.get("/v1/live")
    def live(who: Who) -> dict[str, Any]:
        return service.live.live_state()[0]

    # ---- jobs ----------------------------------------------------------------------------

    @app.post("/v1/jobs", status_code=201)
    def submit(body: JobIn, who: Who,
               idempotency_key: Annotated[str | None, Header(max_length=200)] = None
               ) -> Response:
        check([body], batch=False, who=who)
        rows, created = accept(who, [body], idempotency_key)
        return json_response(job_out(rows[0]), 201 if created else 200)

    @app.post("/v1/jobs/batch", status_code=201)
    def submit_batch(body: BatchIn, who: Who,
                     idempotency_key: Annotated[str | None, Header(max_length=200)] = None
                     ) -> Response:
        check(body.jobs, batch=True, who=who)
        rows, created = accept(who, body.jobs, idempotency_key)
        # a batch answers with each job's id and state (GET /v1/jobs/{id} has the rest)
        return json_response({"count": len(rows), "jobs": [
            {"id": r.id, "state": r.state, "submit_s": r.submit_s, "deadline_s": r.deadline_s}
            for r in rows]}, 201 if created else 200)

    @app.get("/v1/jobs")
    def list_jobs(who: Who, state: str | None = None, origin: str | None = None,
                  kind: str | None = None, site: str | None = None,
                  tenant: str | None = None,
                  cursor: Annotated[int, Query(ge=0)] = 0,
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

    @app.get("/v1/jobs/{job_id}")
    def get_job(job_id: str, who: Who) -> dict[str, Any]:
        return job_out(own_job(job_id, who))

    @app.get("/v1/jobs/{job_id}/events")
    def job_events(job_id: str, who: Who) -> list[dict[str, Any]]:
        own_job(job_id, who)
        return [event_out(e) for e in service.store.events(job_id)]

    @app.get("/v1/jobs/{job_id}/logs")
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

    @app.get("/v1/templates")
    def templates(who: Who) -> dict[str, Any]:
        """The job templates tenants may run (`"template": name` in a submission), and
        whether this service lets tenants give commands of their own."""
        return {"tenant_commands": settings.allow_tenant_commands,
                "templates": [{"name": n, "command": list(t.command), "env": t.env,
                               "description": t.description}
                              for n, t in settings.job_templates.items()]}

    @app.post("/v1/jobs/{job_id}/cancel")
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

    @app.get("/v1/summary")
    def summary(who: Who) -> dict[str, Any]:
        totals = service.store.totals(None if who.operator else who.id)
        energy = totals["energy_kwh"]
        return {**totals, "now_s": service.clock.now_s(), "policy": settings.policy,
                "green_share": totals["green_kwh"] / energy if energy else 0.0}

    mount_dashboard(app, service, operator)  # the page at / and /v1/dashboard/*
    mount_ledger(app, service, tenant, operator)  # /v1/ledger*, /v1/jobs/{id}/certificate
    return app
