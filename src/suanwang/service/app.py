"""The HTTP API (FastAPI), versioned under /v1, with /healthz and /metrics.

Tenants authenticate with `Authorization: Bearer <token>` (tokens are stored only as SHA-256
hashes). A tenant sees and cancels only its own jobs (another tenant's job is a 404); the
operator sees everything and may drain a site or change its capacity. No or an unknown token is
a 401, a tenant on an operator route a 403.

`create_app` assembles the app: the service and auth here; health, metrics, the network and
sites (`network_api`), the jobs API (`jobs_api`), the dashboard (`dashboard`), the ledger
(`ledger_api`), providers, accounts, invoices and /docs (`api_docs`) mount their own routes.

A `Service` plays one of three roles (`Settings.role`): `all` (one process: API and
scheduler, `suanwang serve | up`), `api` (an API replica: no scheduler inside, the leader's
view read from the database, `replica.LiveReplica`) or `scheduler` (the leader or a standby
waiting for the leader lock, `leader.Leader`; no HTTP).
"""


import logging
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from suanwang.accounts.account import month_of
from suanwang.executors.registry import load_deployment
from suanwang.market.billing import POSTED_ROUND
from suanwang.market.posted import ALPHA, PostedRule
from suanwang.model import Network
from suanwang.network.loader import load_network
from suanwang.service.account_needs import Need
from suanwang.service.account_store import Admission
from suanwang.service.accounts_api import mount_accounts
from suanwang.service.api_docs import mount_docs
from suanwang.service.billing_api import mount_billing
from suanwang.service.clock import RunClock
from suanwang.service.dashboard import mount_dashboard
from suanwang.service.db import JobRow, make_engine
from suanwang.service.executor_worker import ExecutorWorker, in_process_worker
from suanwang.service.grid_api import mount_grid
from suanwang.service.instance_lock import FileLock, InstanceBusy, PostgresLock, lock_database
from suanwang.service.jobs_api import mount_jobs
from suanwang.service.leader import Leader
from suanwang.service.ledger_api import mount_ledger
from suanwang.service.live import SERIES_DAYS, ExecInfo, LiveScheduler
from suanwang.service.market_api import mount_market
from suanwang.service.metrics import Metrics
from suanwang.service.network_api import mount_network
from suanwang.service.providers_api import mount_providers
from suanwang.service.replica import LiveReplica
from suanwang.service.store import JobSpec, Store, Tenant, row_to_job, spec_job
from suanwang.service.templates import JobTemplate
from suanwang.service.worker_dispatch import scheduler_executors, served_by_workers
from suanwang.sim.runner import energy_for

log = logging.getLogger("suanwang.service")
MAX_BODY_BYTES = 8 * 1024 * 1024


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
    role: str = "all"  # all | api | scheduler (see the module's doc)
    poll_s: float = 1.0  # scheduler role: take in the log at least this often (no NOTIFY)
    posted_rule: PostedRule = field(default_factory=PostedRule)  # posted prices' scarcity


ROLES = ("all", "api", "scheduler")


def posted_need(need: Need, spec: JobSpec) -> Need:
    """A job accepting the posted price holds (1 + ALPHA) x its worst case at list prices: a
    posted price is at most that over its floor (`market.posted`)."""
    if spec.market_round != POSTED_ROUND:
        return need
    return replace(need, worst_yuan=need.worst_yuan * (1.0 + ALPHA))


class Service:
    """Everything one running role owns: store, live scheduler (or its replica), metrics."""

    def __init__(self, settings: Settings, network: Network | None = None) -> None:
        if settings.role not in ROLES:
            raise ValueError(f"role {settings.role!r}: choose one of {', '.join(ROLES)}")
        self.settings = settings
        self.leader: Leader | None = None
        self.worker: ExecutorWorker | None = None  # `serve` on PostgreSQL with workers
        self.stopping = threading.Event()
        engine = make_engine(settings.db_url, settings.db_schema)
        # before anything is read: a second service on this database changes nothing
        # (API replicas take no lock: any number of them share the database; a scheduler
        # takes it once it is ready to lead, `_lead`)
        self.db_lock: FileLock | PostgresLock | None = None
        if settings.role == "all":
            self.db_lock = lock_database(engine)
        try:
            self._open(settings, network, engine)
        except BaseException:
            if self.db_lock is not None:
                self.db_lock.release()
            engine.dispose()
            raise

    def _lead(self, engine: Engine) -> None:
        """The scheduler role: take the leader lock, or wait for it as the standby."""
        try:
            self.db_lock = lock_database(engine)
        except InstanceBusy as exc:
            if engine.dialect.name != "postgresql":
                raise
            log.info("standby: %s; waiting for the leader lock", exc)
            self.db_lock = lock_database(engine, wait=True, stop=self.stopping)
        log.info("leader: holds the scheduler lock of this database")

    def _open(self, settings: Settings, network: Network | None, engine: Engine) -> None:
        self.network = network or load_network(settings.network_path)
        self.store = Store(engine)
        for token, (tenant, role) in settings.tokens.items():
            self.store.ensure_tenant(tenant, role, token)
        # the first role to start on a new database sets its clock; the others read it
        speed = self.store.init_meta("clock_speed", str(settings.speed))
        origin = self.store.init_meta("clock_origin_epoch_s", str(time.time()))
        self.clock = RunClock(float(origin), float(speed or settings.speed))
        self.live: LiveScheduler
        if settings.role == "api":
            self.executors: dict[str, Any] = {}
            self.live = LiveReplica(self.network, self.store, self.clock, settings.policy,
                                    seed=settings.seed, forecast_error=settings.forecast_error)
        else:
            series = None
            if settings.role == "scheduler":
                # a standby computes what does not depend on the jobs before it waits, so that
                # taking over costs only the reload of the jobs in flight
                series = energy_for(self.network, [], settings.seed, self.clock.start_utc,
                                    days=SERIES_DAYS)
                self._lead(engine)
            site_ids = [s.id for s in self.network.sites]
            providers = {s.id: [p.id for p in s.providers] for s in self.network.sites}
            configs = load_deployment(settings.deployment_path, site_ids,
                                      settings.executor_default, providers)
            # a binding the deployment gives to executor workers gets a `WorkerDispatch`
            self.executors = scheduler_executors(configs, self.store, settings.log_dir,
                                                 str(settings.deployment_path))
            if settings.role == "all" and served_by_workers(configs):
                # one command for a single machine: the workers run in this process
                self.worker = in_process_worker(configs, self.store, settings.log_dir)
            self.live = LiveScheduler(self.network, self.store, self.clock, settings.policy,
                                      seed=settings.seed,
                                      forecast_error=settings.forecast_error,
                                      series=series, executors=self.executors,
                                      posted_rule=settings.posted_rule)
        if settings.role == "scheduler":
            self.leader = Leader(self.live, self.db_lock if isinstance(
                self.db_lock, PostgresLock) else None, settings.db_url, settings.tick_s,
                settings.poll_s)
        self.metrics = Metrics(self.live)
        self.demo: Any = None

    def accept_specs(self, tenant: str, specs: list[JobSpec],
                     idempotency_key: str | None = None) -> tuple[list[JobRow], bool]:
        """Persist submissions (before anyone is told), then hand them to the scheduler."""
        now_s = self.clock.now_s()
        rows, created = self.store.add_jobs(tenant, specs, now_s, idempotency_key,
                                            self._admission(tenant, specs, now_s))
        if created:
            self.live.accept([row_to_job(r) for r in rows], [ExecInfo.of(r) for r in rows])
            by_kind = Counter(spec.kind.value for spec in specs)
            for kind, n in by_kind.items():
                self.metrics.submitted.labels(kind).inc(n)
        return rows, created

    def _admission(self, tenant: str, specs: list[JobSpec], now_s: float) -> Admission:
        """What the jobs would hold on the tenant's account, if it has one (computed by the
        store's writer only then)."""
        at = self.clock.at(now_s)

        def needs(basis: str) -> list[Need]:
            pricer = self.live.pricer
            return [posted_need(pricer.need(spec_job(tenant, spec, now_s), at, basis), spec)
                    for spec in specs]

        return Admission(tenant, month_of(at), needs)

    def start(self) -> None:
        if self.worker is not None:
            self.worker.start()
        if self.leader is not None:
            self.leader.start()
        elif self.settings.start_scheduler and self.settings.role == "all":
            self.live.start(self.settings.tick_s)
        if self.settings.demo_jobs_per_day > 0:
            from suanwang.service.demo import DemoStream

            self.demo = DemoStream(self, jobs_per_day=self.settings.demo_jobs_per_day,
                                   seed=self.settings.seed)
            self.demo.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.demo is not None:
            self.demo.stop()
        if self.leader is not None:
            self.leader.stop()
        self.live.stop()
        if self.worker is not None:
            self.worker.stop()
        for executor in {id(e): e for e in self.executors.values() if e is not None}.values():
            executor.close()
        if self.db_lock is not None:
            self.db_lock.release()
        self.store.close()


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

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """A 405 lists in `Allow` the methods of every route on the path (Starlette names
        only the first route's, e.g. GET of /v1/sites/{id} without its PATCH)."""
        if exc.status_code == 405:
            allowed = sorted({m for r in app.router.routes if isinstance(r, Route)
                              and r.matches(request.scope)[0] != Match.NONE
                              for m in (r.methods or ())})
            return JSONResponse({"detail": exc.detail}, 405,
                                headers={**(exc.headers or {}), "Allow": ", ".join(allowed)})
        return await http_exception_handler(request, exc)

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

    mount_network(app, service, tenant, operator)  # /healthz, /metrics, /v1/regions, sites, live
    mount_jobs(app, service, tenant)  # /v1/jobs*, /v1/templates, /v1/summary
    mount_dashboard(app, service, operator)  # the page at / and /v1/dashboard/*
    mount_ledger(app, service, tenant, operator)  # /v1/ledger*, /v1/jobs/{id}/certificate
    mount_providers(app, service, tenant)  # /v1/providers*
    mount_accounts(app, service, tenant, operator)  # /v1/accounts*
    mount_billing(app, service, tenant, operator)  # /v1/invoices*, provider statements
    mount_market(app, service, tenant, operator)  # /v1/market/*
    mount_grid(app, service, tenant)  # /v1/grid/* (issue 14)
    return app
