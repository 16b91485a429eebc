"""`suanwang serve | up` run the live service (the client commands are in `cli_client`);
`suanwang api | scheduler | worker` run its roles as processes of their own on PostgreSQL.

Before anything is read or written, a start takes the data directory's lock and binds its
port; a second service on the same data directory, database or port exits with a message and
changes nothing (`service.instance_lock`). API replicas take no lock (any number share one
database); a second `suanwang scheduler` waits as the standby.
"""

from __future__ import annotations

import errno
import json
import logging
import secrets
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from suanwang.market.posted import LP_DUAL, SCARCITY_SOURCES, YUAN_PER_T_CO2, PostedRule

console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)
DEFAULT_DATA_DIR = Path("suanwang-data")


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


# ---- the service -------------------------------------------------------------------------

def _tokens(data_dir: Path, token_file: Path | None) -> dict[str, tuple[str, str]]:
    """Tokens from a file ({token: {tenant, role}}), or made once and kept in the data dir."""
    path = token_file or data_dir / "tokens.json"
    if token_file is None and not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        made = {secrets.token_urlsafe(24): {"tenant": "operator", "role": "operator"},
                secrets.token_urlsafe(24): {"tenant": "tenant-a", "role": "tenant"}}
        path.write_text(json.dumps(made, indent=2), encoding="utf-8")
        path.chmod(0o600)
    from suanwang.text_input import read_input_text

    text = read_input_text(path, max_bytes=1024 * 1024)  # the text rule of every input file
    try:
        raw = json.loads(text)
        return {tok: (v["tenant"], v.get("role", "tenant")) for tok, v in raw.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _fail(f"{path}: not a token file ({{token: {{tenant, role}}}}): {exc}") from None


def _listen(host: str, port: int) -> socket.socket:
    """The service's listening socket, bound now (before any state is touched)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise _fail(f"--host {host!r}: cannot resolve: {exc}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        why = "another program holds it" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise _fail(f"cannot listen on {host}:{port}: {why} ({exc}); stop that program or "
                    "choose another --port. Nothing was changed.") from None
    return sock


def _serve(host: str, port: int, db: str | None, data_dir: Path, policy: str, speed: float,
           network: Path | None, seed: int, token_file: Path | None, demo_jobs_per_day: int,
           forecast_error: float, deployment: Path | None = None,
           executor: str = "clock", allow_tenant_commands: bool = False,
           templates: Path | None = None, role: str = "all",
           starter_yuan: float = 0.0, posted_rule: PostedRule | None = None) -> None:
    import uvicorn

    from suanwang.errors import InputError
    from suanwang.policies.registry import OFFLINE_POLICIES, POLICIES
    from suanwang.service.app import Settings, create_app
    from suanwang.service.instance_lock import FileLock, InstanceBusy
    from suanwang.service.templates import load_templates

    if policy in OFFLINE_POLICIES:
        raise _fail(f"--policy {policy}: {policy} is offline-only (it plans a whole known trace: "
                    f"`suanwang simulate --policy {policy}` or `suanwang compare`); the live "
                    f"service decides online: choose one of {', '.join(POLICIES)}")
    if policy not in POLICIES:
        raise _fail(f"unknown policy {policy!r}; choose one of: {', '.join(POLICIES)}")
    try:
        job_templates = load_templates(templates)
    except InputError as exc:
        raise _fail(str(exc)) from None
    _check_role_db(role, db)
    # one service per data directory, and the port bound, before anything is read or written
    # (API replicas share a database and may share a data directory)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        dir_lock = (FileLock(data_dir / "service.lock", f"data directory {data_dir}")
                    if role == "all" else None)
    except (InstanceBusy, OSError) as exc:
        raise _fail(str(exc)) from None
    sock = _listen(host, port)
    tokens = _tokens(data_dir, token_file)
    settings = Settings(db_url=db or f"sqlite:///{(data_dir / 'suanwang.db').resolve()}",
                        network_path=network, policy=policy, seed=seed, speed=speed,
                        forecast_error=forecast_error, tokens=tokens,
                        demo_jobs_per_day=demo_jobs_per_day, deployment_path=deployment,
                        executor_default=executor, log_dir=data_dir / "logs",
                        allow_tenant_commands=allow_tenant_commands,
                        job_templates=job_templates, role=role,
                        posted_rule=posted_rule or PostedRule())
    try:
        app = create_app(settings)
    except (InputError, InstanceBusy) as exc:
        sock.close()
        raise _fail(str(exc)) from None
    url = f"http://{host}:{port}"
    operator_token = next((t for t, (_, r) in tokens.items() if r == "operator"), None)
    tenant_names = [name for name, r in tokens.values() if r == "tenant"]
    what = "serving" if role == "all" else "API replica serving"
    console.print(f"suanwang 算网 {what} on {url}  (policy {policy}, clock x{speed:g}, "
                  f"db {_shown(settings.db_url)})")
    if operator_token is not None:
        client = {"url": url, "token": operator_token}
        (data_dir / "client.json").write_text(json.dumps(client, indent=2), encoding="utf-8")
        (data_dir / "client.json").chmod(0o600)
        console.print(f"operator token and URL in {data_dir / 'client.json'}")
        console.print(f"dashboard: {url}/#token={operator_token}", highlight=False)
    console.print(f"tenant tokens in {token_file or data_dir / 'tokens.json'} "
                  f"({', '.join(tenant_names) or 'none'})")
    if starter_yuan > 0:
        _open_starter_accounts(app.state.service, tenant_names, starter_yuan)
        first = next(((t, n) for t, (n, r) in tokens.items() if r == "tenant"), None)
        if first is not None:
            console.print(f"as tenant {first[1]}: export SUANWANG_TOKEN={first[0]}; then "
                          "`suanwang submit ...`, `suanwang account show "
                          f"{first[1]}`, `suanwang invoice {first[1]} YYYY-MM`",
                          highlight=False)
    if allow_tenant_commands:
        console.print("[bold yellow]warning:[/] tenants may run commands of their own on "
                      "local sites (--allow-tenant-commands)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    # hand the GIL over more often than every 5 ms, so that request threads are not held up
    # behind the scheduler's tick (p99 latency)
    sys.setswitchinterval(0.0005)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    try:
        server.run(sockets=[sock])
    finally:
        if dir_lock is not None:
            dir_lock.release()
    service = app.state.service
    if any(getattr(e, "name", "") == "local" for e in service.executors.values()):
        console.print(f"stopped; local jobs still running go on as processes of their own, "
                      f"and the next start on {data_dir} re-adopts them", highlight=False)


def _open_starter_accounts(service: Any, tenants: list[str], yuan: float) -> None:
    """`suanwang up`: each tenant without an account gets one with a starter balance (an
    assumption of the demo, not a price), so that holds, bills and invoices show at once."""
    from suanwang.accounts.account import Limits
    from suanwang.service.account_store import AccountExists

    accounts = service.store.accounts
    for tenant in tenants:
        try:
            accounts.open(tenant, yuan, Limits(), service.clock.now_s(), "suanwang up")
        except AccountExists:
            continue
        console.print(f"account {tenant}: ¥{yuan:,.0f} starter balance "
                      f"(`suanwang account show {tenant}`)", highlight=False)


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def _check_role_db(role: str, db: str | None) -> None:
    if role != "all" and not (db or "").startswith("postgresql"):
        raise _fail(f"--db {db or '(none given)'}: the {role} role runs beside other "
                    "processes on one database, which must be PostgreSQL "
                    "(--db postgresql://HOST/DB); for one process on SQLite use "
                    "`suanwang serve` or `suanwang up`")


def _run_scheduler(db: str | None, data_dir: Path, policy: str, speed: float,
                   network: Path | None, seed: int, token_file: Path | None,
                   forecast_error: float, deployment: Path | None, executor: str,
                   tick_s: float, poll_s: float,
                   posted_rule: PostedRule | None = None) -> None:
    import signal
    import threading

    from suanwang.errors import InputError
    from suanwang.policies.registry import OFFLINE_POLICIES, POLICIES
    from suanwang.service.app import Service, Settings
    from suanwang.service.instance_lock import InstanceBusy

    _check_role_db("scheduler", db)
    if policy in OFFLINE_POLICIES or policy not in POLICIES:
        raise _fail(f"--policy {policy}: choose one of {', '.join(POLICIES)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    # the API replicas own the tokens; a scheduler only writes those of a --token-file
    tokens = _tokens(data_dir, token_file) if token_file is not None else {}
    settings = Settings(db_url=db or "", network_path=network, policy=policy, seed=seed,
                        speed=speed, forecast_error=forecast_error, tokens=tokens,
                        deployment_path=deployment, executor_default=executor,
                        log_dir=data_dir / "logs", role="scheduler", tick_s=tick_s,
                        poll_s=poll_s, posted_rule=posted_rule or PostedRule())
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    console.print(f"suanwang 算网 scheduler on {_shown(settings.db_url)} (policy {policy}); "
                  "leader, or standby until the leader's lock is free", highlight=False)
    try:
        service = Service(settings)
    except (InputError, InstanceBusy) as exc:
        raise _fail(str(exc)) from None
    console.print("leading: deciding the jobs the API replicas accept", highlight=False)
    service.start()
    assert service.leader is not None
    while not done.wait(0.2):
        if service.leader.lost.is_set():
            service.stop()
            raise _fail("lost the leader lock (its database connection); stopped deciding")
    service.stop()
    console.print("scheduler stopped", highlight=False)


def _worker_bindings(configs: dict[str, Any], site_ids: list[str], sites: list[str],
                     provider: str | None, checked: bool) -> list[str]:
    """The bindings `suanwang worker --site ... [--provider P]` serves."""
    from suanwang.executors.registry import binding_key

    if sites == ["all"]:
        if provider is not None:
            raise _fail("--provider: give it with one --site, not --site all")
        found = sorted(k for k, c in configs.items() if c.workers)
        if not found:
            raise _fail("--site all: the deployment gives no site to workers (add "
                        "`workers: true` to a site, or to `default`)")
        return found
    out = []
    for site in sites:
        if site not in site_ids:
            raise _fail(f"--site {site}: unknown site; known: {', '.join(site_ids)}, all")
        key = site if provider is None else binding_key(site, provider)
        if key not in configs:
            raise _fail(f"--provider {provider}: it has no binding of its own at {site} in "
                        f"the deployment (its jobs run on {site}'s binding: serve --site "
                        f"{site} without --provider)")
        if checked and not configs[key].workers:
            raise _fail(f"--site {site}{'' if provider is None else f' --provider {provider}'}"
                        f": the deployment does not give {key} to workers (add `workers: "
                        "true` to it), so the scheduler runs its jobs itself")
        out.append(key)
    return out


def _run_worker(db: str | None, data_dir: Path, sites: list[str], provider: str | None,
                backend: str | None, deployment: Path | None, network: Path | None,
                name: str | None, lease_s: float, poll_s: float, max_runs: int) -> None:
    import signal
    import threading

    from suanwang.errors import InputError
    from suanwang.executors.registry import BACKENDS, load_deployment
    from suanwang.network.loader import load_network
    from suanwang.service.db import make_engine
    from suanwang.service.executor_worker import ExecutorWorker, worker_executors
    from suanwang.service.store import Store
    from suanwang.service.work_queue import WorkQueue, default_worker_id

    _check_role_db("worker", db)
    if backend is not None and backend not in BACKENDS:
        raise _fail(f"--backend {backend}: unknown backend; known: {', '.join(BACKENDS)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    try:
        net = load_network(network)
        site_ids = [s.id for s in net.sites]
        providers = {s.id: [p.id for p in s.providers] for s in net.sites}
        configs = load_deployment(deployment, site_ids, backend or "local", providers)
    except InputError as exc:
        raise _fail(str(exc)) from None
    bindings = _worker_bindings(configs, site_ids, sites or [], provider,
                                checked=deployment is not None)
    if not bindings:
        raise _fail("--site: give the site this worker serves (or --site all)")
    try:
        executors = worker_executors(configs, bindings, data_dir / "logs", backend)
    except InputError as exc:
        raise _fail(str(exc)) from None
    store = Store(make_engine(db or ""))
    worker_id = name or default_worker_id()
    worker = ExecutorWorker(WorkQueue(store.engine, store.channel), executors, worker_id,
                            lease_s=lease_s, poll_s=poll_s, max_runs=max_runs)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    names = sorted({e.name for e in executors.values()})
    console.print(f"suanwang 算网 worker {worker_id} serving {', '.join(bindings)} "
                  f"({', '.join(names)}) on {_shown(db or '')}; lease {lease_s:g} s",
                  highlight=False)
    worker.start()
    done.wait()
    worker.stop()
    store.close()
    console.print(f"worker {worker_id} stopped; its runs go on and another worker adopts them",
                  highlight=False)


def _policy_help() -> str:
    from suanwang.policies.registry import OFFLINE_POLICIES, POLICIES

    return (f"Placement policy: {', '.join(POLICIES)} ({', '.join(OFFLINE_POLICIES)} is "
            "offline-only: simulate/compare).")


HostOpt = Annotated[str, typer.Option("--host", help="Address to listen on.")]
PortOpt = Annotated[int, typer.Option("--port", min=1, max=65535, metavar="PORT",
                                      help="Port to listen on (1 to 65535).")]
DbOpt = Annotated[str | None, typer.Option(
    "--db", metavar="URL", help="Database URL; default: the SQLite file suanwang.db in the "
                                "data dir; postgresql://HOST/DB runs on PostgreSQL.",
    show_default=False)]
DataOpt = Annotated[Path, typer.Option(
    "--data-dir", help="Where the SQLite file, tokens, job logs and the lock live.")]
PolicyOpt = Annotated[str, typer.Option("--policy", help=_policy_help())]
NetOpt = Annotated[Path | None, typer.Option(
    "--network", help="Network file (YAML); default: the bundled national network.",
    show_default=False)]
TokOpt = Annotated[Path | None, typer.Option(
    "--token-file", help="JSON {token: {tenant, role}}; default: made once in the data dir.",
    show_default=False)]
SpeedOpt = Annotated[float, typer.Option(
    "--speed", min=0.001, metavar="X",
    help="Run seconds per wall second (for a new database; an existing one keeps its clock).")]
DemoOpt = Annotated[int, typer.Option(
    "--demo-jobs-per-day", min=0, metavar="N",
    help="Synthetic demand stream as tenant demo (0 = none).")]
AllowOpt = Annotated[bool, typer.Option(
    "--allow-tenant-commands", help="Let tenants run commands of their own (and set env and "
                                    "workdir). Default off: tenants run the duration's sleep "
                                    "or a job template; only the operator's token may give "
                                    "commands.")]
TemplatesOpt = Annotated[Path | None, typer.Option(
    "--job-templates", help="YAML {name: {command: [...], env: {...}, description: ...}}: "
                            "commands tenants may run by name.", show_default=False)]


PostedSourceOpt = Annotated[str, typer.Option(
    "--posted-scarcity-source", metavar="SOURCE",
    help="Where posted prices' scarcity comes from: lp_dual (the planner's capacity duals, "
         "solved at each 15-minute revision) or utilisation (the booked share).")]
PostedCarbonOpt = Annotated[float, typer.Option(
    "--posted-yuan-per-t-co2", metavar="YUAN",
    help="Carbon price (yuan per tonne CO2) that turns the planner's carbon into yuan in the "
         "lp_dual scarcity.")]


def posted_rule_of(source: str, yuan_per_t_co2: float) -> PostedRule:
    """The posted prices' rule from the command line, refused naming the option."""
    if source not in SCARCITY_SOURCES:
        raise _fail(f"--posted-scarcity-source {source!r}: choose one of "
                    f"{', '.join(SCARCITY_SOURCES)}")
    try:
        return PostedRule(source, yuan_per_t_co2)
    except ValueError as exc:
        raise _fail(f"--posted-yuan-per-t-co2 {yuan_per_t_co2!r}: {exc}") from None


def serve(host: HostOpt = "127.0.0.1", port: PortOpt = 8000, db: DbOpt = None,
          data_dir: DataOpt = DEFAULT_DATA_DIR, policy: PolicyOpt = "green-window",
          speed: SpeedOpt = 1.0, network: NetOpt = None,
          seed: Annotated[int, typer.Option(
              "--seed", help="Seed of the energy series, forecasts and demo demand.")] = 0,
          token_file: TokOpt = None, demo: DemoOpt = 0,
          forecast_error: Annotated[float, typer.Option(
              "--forecast-error", min=0.0, metavar="X",
              help="Scale of forecast error (0 = perfect forecasts).")] = 1.0,
          deployment: Annotated[Path | None, typer.Option(
              "--deployment", help="YAML: which backend (local, slurm, ray, clock) runs each "
                                   "site, with its settings.", show_default=False)] = None,
          executor: Annotated[str, typer.Option(
              "--executor", help="Backend of sites the deployment file does not name: clock "
                                 "(jobs just take their duration) or local processes.")
          ] = "clock",
          allow_tenant_commands: AllowOpt = False, templates: TemplatesOpt = None,
          posted_scarcity_source: PostedSourceOpt = LP_DUAL,
          posted_yuan_per_t_co2: PostedCarbonOpt = YUAN_PER_T_CO2,
          ) -> None:
    """Run the HTTP API and the scheduler on the wall clock."""
    rule = posted_rule_of(posted_scarcity_source, posted_yuan_per_t_co2)
    _serve(host, port, db, data_dir, policy, speed, network, seed, token_file, demo,
           forecast_error, deployment, executor, allow_tenant_commands, templates,
           posted_rule=rule)


STARTER_YUAN = 10_000.0  # `up`: each tenant's first balance (a demo's assumption)


def up(host: HostOpt = "127.0.0.1", port: PortOpt = 8000, data_dir: DataOpt = DEFAULT_DATA_DIR,
       policy: PolicyOpt = "green-window", speed: SpeedOpt = 60.0, demo: DemoOpt = 3000,
       allow_tenant_commands: AllowOpt = False, templates: TemplatesOpt = None) -> None:
    """The main job: the service on 127.0.0.1:8000 with the national network, an SQLite file,
    a demo demand stream, a clock running 60x, and every job a real local process. Each
    tenant of the token file gets an account with a starter balance the first time."""
    _serve(host, port, None, data_dir, policy, speed, None, 0, None, demo, 1.0, None, "local",
           allow_tenant_commands, templates, starter_yuan=STARTER_YUAN)


PgDbOpt = Annotated[str | None, typer.Option(
    "--db", metavar="URL", help="PostgreSQL URL shared by all roles "
                                "(postgresql://HOST/DB).", show_default=False)]


def api(host: HostOpt = "127.0.0.1", port: PortOpt = 8000, db: PgDbOpt = None,
        data_dir: DataOpt = DEFAULT_DATA_DIR, policy: PolicyOpt = "green-window",
        speed: SpeedOpt = 1.0, network: NetOpt = None,
        seed: Annotated[int, typer.Option(
            "--seed", help="Seed of the energy series and forecasts (the scheduler's).")] = 0,
        token_file: TokOpt = None,
        forecast_error: Annotated[float, typer.Option(
            "--forecast-error", min=0.0, metavar="X",
            help="Scale of forecast error (the scheduler's).")] = 1.0,
        allow_tenant_commands: AllowOpt = False, templates: TemplatesOpt = None) -> None:
    """An API replica: accepts submissions and serves reads on PostgreSQL, with no scheduler
    inside (run `suanwang scheduler` beside it). Any number may run on different ports;
    give them all the same --token-file."""
    _serve(host, port, db, data_dir, policy, speed, network, seed, token_file, 0,
           forecast_error, None, "clock", allow_tenant_commands, templates, role="api")


def scheduler(db: PgDbOpt = None, data_dir: DataOpt = DEFAULT_DATA_DIR,
              policy: PolicyOpt = "green-window", speed: SpeedOpt = 1.0,
              network: NetOpt = None,
              seed: Annotated[int, typer.Option(
                  "--seed", help="Seed of the energy series and forecasts.")] = 0,
              token_file: TokOpt = None,
              forecast_error: Annotated[float, typer.Option(
                  "--forecast-error", min=0.0, metavar="X",
                  help="Scale of forecast error (0 = perfect forecasts).")] = 1.0,
              deployment: Annotated[Path | None, typer.Option(
                  "--deployment", help="YAML: which backend runs each site.",
                  show_default=False)] = None,
              executor: Annotated[str, typer.Option(
                  "--executor", help="Backend of sites the deployment file does not name.")
              ] = "clock",
              tick_s: Annotated[float, typer.Option(
                  "--tick-s", min=0.005, metavar="S", help="Wall seconds between ticks.")
              ] = 0.1,
              poll_s: Annotated[float, typer.Option(
                  "--poll-s", min=0.01, metavar="S",
                  help="Take in new jobs at least this often if no NOTIFY came.")] = 1.0,
              posted_scarcity_source: PostedSourceOpt = LP_DUAL,
              posted_yuan_per_t_co2: PostedCarbonOpt = YUAN_PER_T_CO2,
              ) -> None:
    """The scheduler on PostgreSQL: the leader holds the database's scheduler lock, takes in
    what the API replicas accept (woken by LISTEN/NOTIFY) and runs the jobs on the sites'
    executors; a second one waits as the standby and takes over when the leader dies."""
    rule = posted_rule_of(posted_scarcity_source, posted_yuan_per_t_co2)
    _run_scheduler(db, data_dir, policy, speed, network, seed, token_file, forecast_error,
                   deployment, executor, tick_s, poll_s, rule)


def worker(db: PgDbOpt = None, data_dir: DataOpt = DEFAULT_DATA_DIR,
           site: Annotated[list[str] | None, typer.Option(
               "--site", metavar="SITE",
               help="A site whose placed jobs this worker runs (again for more; `all`: every "
                    "binding the deployment gives to workers).", show_default=False)] = None,
           provider: Annotated[str | None, typer.Option(
               "--provider", metavar="ID", help="Serve this provider's own binding at --site.",
               show_default=False)] = None,
           backend: Annotated[str | None, typer.Option(
               "--backend", metavar="NAME", help="Run on this backend (its default settings) "
                                                 "instead of the deployment's.",
               show_default=False)] = None,
           deployment: Annotated[Path | None, typer.Option(
               "--deployment", help="YAML: the scheduler's deployment file (the backend and "
                                    "settings of each site; `workers: true` where workers "
                                    "serve it).", show_default=False)] = None,
           network: NetOpt = None,
           name: Annotated[str | None, typer.Option(
               "--name", help="This worker's id (default: host-pid).", show_default=False)
           ] = None,
           lease_s: Annotated[float, typer.Option(
               "--lease-s", min=0.5, metavar="S",
               help="Lease of each run held, renewed every step: a dead worker's runs are "
                    "taken over this long after it died.")] = 10.0,
           poll_s: Annotated[float, typer.Option(
               "--poll-s", min=0.01, metavar="S",
               help="Wall seconds between steps (claim, poll the backend, report).")] = 0.2,
           max_runs: Annotated[int, typer.Option(
               "--max-runs", min=1, metavar="N", help="Runs held at most.")] = 10_000,
           ) -> None:
    """An executor worker on PostgreSQL: claims the jobs the scheduler placed on its site (or
    provider), runs them on the backend and reports their start and end. Any number may serve
    one site; a dead worker's runs are taken over when their leases expire, and a run already
    started is adopted, not started again."""
    _run_worker(db, data_dir, site or [], provider, backend, deployment, network, name,
                lease_s, poll_s, max_runs)


def register(app: typer.Typer) -> None:
    from suanwang import cli_client

    for fn in (serve, up, api, scheduler, worker):
        app.command()(fn)
    cli_client.register(app)
