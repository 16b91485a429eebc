"""`suanwang serve | up` run the live service; `submit | status | cancel | jobs` talk to one.

The client finds the service and its token in `SUANWANG_URL` / `SUANWANG_TOKEN`, or else in
the client file `suanwang up` writes (`<data dir>/client.json`, pointed to by
`SUANWANG_CLIENT` or found in ./suanwang-data).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)
DEFAULT_DATA_DIR = Path("suanwang-data")


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
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
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {tok: (v["tenant"], v.get("role", "tenant")) for tok, v in raw.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _fail(f"{path}: not a token file ({{token: {{tenant, role}}}}): {exc}") from None


def _serve(host: str, port: int, db: str | None, data_dir: Path, policy: str, speed: float,
           network: Path | None, seed: int, token_file: Path | None, demo_jobs_per_day: int,
           forecast_error: float, deployment: Path | None = None,
           executor: str = "clock") -> None:
    import uvicorn

    from suanwang.errors import InputError
    from suanwang.policies.registry import POLICIES
    from suanwang.service.app import Settings, create_app

    if policy not in POLICIES:
        raise _fail(f"unknown policy {policy!r}; choose one of: {', '.join(POLICIES)}")
    data_dir.mkdir(parents=True, exist_ok=True)
    tokens = _tokens(data_dir, token_file)
    settings = Settings(db_url=db or f"sqlite:///{(data_dir / 'suanwang.db').resolve()}",
                        network_path=network, policy=policy, seed=seed, speed=speed,
                        forecast_error=forecast_error, tokens=tokens,
                        demo_jobs_per_day=demo_jobs_per_day, deployment_path=deployment,
                        executor_default=executor, log_dir=data_dir / "logs")
    try:
        app = create_app(settings)
    except InputError as exc:
        raise _fail(str(exc)) from None
    url = f"http://{host}:{port}"
    operator_token = next((t for t, (_, r) in tokens.items() if r == "operator"), None)
    tenant_names = [name for name, r in tokens.values() if r == "tenant"]
    console.print(f"suanwang 算网 serving on {url}  (policy {policy}, clock x{speed:g}, "
                  f"db {settings.db_url})")
    if operator_token is not None:
        client = {"url": url, "token": operator_token}
        (data_dir / "client.json").write_text(json.dumps(client, indent=2), encoding="utf-8")
        (data_dir / "client.json").chmod(0o600)
        console.print(f"operator token and URL in {data_dir / 'client.json'}")
        console.print(f"dashboard: {url}/#token={operator_token}", highlight=False)
    console.print(f"tenant tokens in {token_file or data_dir / 'tokens.json'} "
                  f"({', '.join(tenant_names) or 'none'})")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    # hand the GIL over more often than every 5 ms, so that request threads are not held up
    # behind the scheduler's tick (p99 latency)
    sys.setswitchinterval(0.0005)
    uvicorn.run(app, host=host, port=port, log_level="warning")


HostOpt = Annotated[str, typer.Option("--host")]
PortOpt = Annotated[int, typer.Option("--port", min=1, max=65535)]
DbOpt = Annotated[str | None, typer.Option(
    "--db", help="Database URL (default: an SQLite file in the data dir); "
                 "postgresql://user@host/db runs on PostgreSQL.")]
DataOpt = Annotated[Path, typer.Option("--data-dir", help="Where the SQLite file and tokens live.")]
PolicyOpt = Annotated[str, typer.Option("--policy", help="Placement policy.")]
NetOpt = Annotated[Path | None, typer.Option("--network", help="Network file (YAML).")]
TokOpt = Annotated[Path | None, typer.Option(
    "--token-file", help="JSON {token: {tenant, role}}; default: made once in the data dir.")]


def serve(host: HostOpt = "127.0.0.1", port: PortOpt = 8000, db: DbOpt = None,
          data_dir: DataOpt = DEFAULT_DATA_DIR, policy: PolicyOpt = "green-window",
          speed: Annotated[float, typer.Option("--speed", min=0.001,
                                               help="Run seconds per wall second.")] = 1.0,
          network: NetOpt = None, seed: Annotated[int, typer.Option("--seed")] = 0,
          token_file: TokOpt = None,
          demo: Annotated[int, typer.Option(
              "--demo-jobs-per-day", min=0, help="Synthetic demand stream (0 = none).")] = 0,
          forecast_error: Annotated[float, typer.Option("--forecast-error", min=0.0)] = 1.0,
          deployment: Annotated[Path | None, typer.Option(
              "--deployment", help="YAML: which backend (local, slurm, ray, clock) runs each "
                                   "site, with its settings.")] = None,
          executor: Annotated[str, typer.Option(
              "--executor", help="Backend of sites the deployment file does not name: clock "
                                 "(jobs just take their duration) or local processes.")
          ] = "clock",
          ) -> None:
    """Run the HTTP API and the scheduler on the wall clock."""
    _serve(host, port, db, data_dir, policy, speed, network, seed, token_file, demo,
           forecast_error, deployment, executor)


def up(host: HostOpt = "127.0.0.1", port: PortOpt = 8000, data_dir: DataOpt = DEFAULT_DATA_DIR,
       policy: PolicyOpt = "green-window",
       speed: Annotated[float, typer.Option("--speed", min=0.001)] = 60.0,
       demo: Annotated[int, typer.Option("--demo-jobs-per-day", min=0)] = 3000) -> None:
    """The main job: the service on 127.0.0.1:8000 with the national network, an SQLite file,
    a demo demand stream, a clock running 60x, and every job a real local process."""
    _serve(host, port, None, data_dir, policy, speed, None, 0, None, demo, 1.0, None, "local")


# ---- the client --------------------------------------------------------------------------

def _client() -> tuple[str, str]:
    url, token = os.environ.get("SUANWANG_URL"), os.environ.get("SUANWANG_TOKEN")
    path = Path(os.environ.get("SUANWANG_CLIENT", DEFAULT_DATA_DIR / "client.json"))
    if (url is None or token is None) and path.exists():
        saved = json.loads(path.read_text(encoding="utf-8"))
        url, token = url or saved.get("url"), token or saved.get("token")
    if not token:
        raise _fail("no token: set SUANWANG_TOKEN (and SUANWANG_URL), or run `suanwang up` "
                    "here, which writes suanwang-data/client.json")
    return url or "http://127.0.0.1:8000", token


def _call(method: str, path: str, **kw: Any) -> Any:
    url, token = _client()
    try:
        r = httpx.request(method, url + path, headers={"Authorization": f"Bearer {token}",
                                                       **kw.pop("headers", {})},
                          timeout=30, **kw)
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach {url}: {exc}") from None
    if r.status_code >= 400:
        try:
            detail = r.json().get("detail")
        except ValueError:
            detail = r.text
        raise _fail(f"{r.status_code}: {json.dumps(detail, ensure_ascii=False)}")
    return r.json()


def _job_table(jobs: list[dict[str, Any]]) -> Table:
    t = Table()
    for col in ("id", "tenant", "state", "origin", "kind", "units", "site", "rtt ms",
                "energy kWh", "green", "reason"):
        t.add_column(col)
    for j in jobs:
        energy, green = j.get("energy_kwh"), j.get("green_kwh")
        t.add_row(j["id"], j["tenant"], j["state"], j["origin"], j["kind"], str(j["units"]),
                  j.get("site") or "", f"{j['rtt_ms']:g}" if j.get("rtt_ms") else "",
                  f"{energy:,.1f}" if energy is not None else "",
                  f"{green / energy:.0%}" if energy else "", (j.get("reason") or "")[:60])
    return t


def submit(origin: Annotated[str, typer.Option("--origin")],
           kind: Annotated[str, typer.Option("--kind")],
           units: Annotated[int, typer.Option("--units")],
           duration_s: Annotated[float, typer.Option("--duration-s")],
           rtt_bound_ms: Annotated[float | None, typer.Option("--rtt-bound-ms")] = None,
           deadline_in_s: Annotated[float | None, typer.Option("--deadline-in-s")] = None,
           data_gb: Annotated[float, typer.Option("--data-gb")] = 0.0,
           idempotency_key: Annotated[str | None, typer.Option("--idempotency-key")] = None,
           ) -> None:
    """Submit one job to a running service."""
    body = {"origin": origin, "kind": kind, "units": units, "duration_s": duration_s,
            "rtt_bound_ms": rtt_bound_ms, "deadline_in_s": deadline_in_s, "data_gb": data_gb}
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    job = _call("POST", "/v1/jobs", json=body, headers=headers)
    console.print(_job_table([job]))


def status(job_id: str) -> None:
    """A job and its lifecycle history."""
    job = _call("GET", f"/v1/jobs/{job_id}")
    console.print(_job_table([job]))
    for e in _call("GET", f"/v1/jobs/{job_id}/events"):
        console.print(f"  t={e['at_s']:>12,.1f} s  {e['state']:<9} {e.get('site') or ''} "
                      f"{e['reason']}", highlight=False)


def cancel(job_id: str) -> None:
    """Cancel a job."""
    console.print(_job_table([_call("POST", f"/v1/jobs/{job_id}/cancel")]))


def jobs(state: Annotated[str | None, typer.Option("--state")] = None,
         limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 20) -> None:
    """List jobs (yours, or all with the operator token)."""
    params: dict[str, Any] = {"limit": limit}
    if state:
        params["state"] = state
    console.print(_job_table(_call("GET", "/v1/jobs", params=params)["jobs"]))


def register(app: typer.Typer) -> None:
    for fn in (serve, up, submit, status, cancel, jobs):
        app.command()(fn)
