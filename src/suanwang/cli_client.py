"""`suanwang submit | jobs | status | cancel | logs`: the client of a running service.

Each command finds the service and its token in `--url` / `--token`, else `SUANWANG_URL` /
`SUANWANG_TOKEN`, else the client file `suanwang up` writes (`<data dir>/client.json`, pointed
to by `SUANWANG_CLIENT` or found in ./suanwang-data).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from suanwang.model import Kind
from suanwang.service.states import ACTIVE_STATES, TERMINAL_STATES

console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)
DEFAULT_CLIENT_FILE = Path("suanwang-data") / "client.json"
DEFAULT_URL = "http://127.0.0.1:8000"
STATES = (*ACTIVE_STATES, *TERMINAL_STATES)
CHINA_TZ = timezone(timedelta(hours=8), "+08:00")
JobState = StrEnum("JobState", {s.upper(): s for s in STATES})  # type: ignore[misc]


class Stream(StrEnum):
    BOTH = "both"
    STDOUT = "stdout"
    STDERR = "stderr"


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


@cache
def _regions_help() -> str:
    from suanwang.network.loader import load_network

    regions = ", ".join(f"{r.id} ({r.name_zh} {r.name_en})" for r in load_network(None).regions)
    return f"Region the job comes from: {regions} (the bundled network; a service started " \
           "with --network has its own)."


# ---- talking to the service --------------------------------------------------------------

UrlOpt = Annotated[str | None, typer.Option(
    "--url", help=f"The service; default: $SUANWANG_URL, else the client file, else "
                  f"{DEFAULT_URL}.", show_default=False)]
TokenOpt = Annotated[str | None, typer.Option(
    "--token", help="Bearer token; default: $SUANWANG_TOKEN, else the client file.",
    show_default=False)]


def _client(url: str | None, token: str | None) -> tuple[str, str]:
    url = url or os.environ.get("SUANWANG_URL")
    token = token or os.environ.get("SUANWANG_TOKEN")
    path = Path(os.environ.get("SUANWANG_CLIENT", DEFAULT_CLIENT_FILE))
    if (url is None or token is None) and path.exists():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            url, token = url or saved.get("url"), token or saved.get("token")
        except (OSError, ValueError, AttributeError) as exc:
            raise _fail(f"{path}: not a client file ({{url, token}}): {exc}") from None
    if not token:
        raise _fail("no token: give --token, set SUANWANG_TOKEN (and SUANWANG_URL), or run "
                    "`suanwang up` here, which writes suanwang-data/client.json")
    return (url or DEFAULT_URL).rstrip("/"), token


def _call(target: tuple[str, str], method: str, path: str, raw: bool = False,
          **kw: Any) -> Any:
    """The answer's JSON (`raw`: its text); an error answer exits naming its status and
    detail."""
    url, token = target
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
        if isinstance(detail, str):
            raise _fail(f"{r.status_code}: {detail}")
        raise _fail(f"{r.status_code}: {json.dumps(detail, ensure_ascii=False)}")
    return r.text if raw else r.json()


# ---- showing jobs ------------------------------------------------------------------------

class RunTimes:
    """Run-clock seconds as times of day: the run clock starts at the service's start and runs
    `speed` times the wall (from /healthz), shown in China's time zone."""

    def __init__(self, target: tuple[str, str]) -> None:
        health = _call(target, "GET", "/healthz")
        clock = health.get("clock") or {}
        self.start = datetime.fromisoformat(clock["start_utc"]) if "start_utc" in clock \
            else None
        self.speed = float(clock.get("speed", 1.0))

    def at(self, run_s: float | None) -> str:
        if run_s is None:
            return ""
        if self.start is None:
            return f"t={run_s:,.0f} s"
        when = (self.start + timedelta(seconds=run_s)).astimezone(CHINA_TZ)
        return f"{when:%Y-%m-%d %H:%M:%S} {when.tzname()}"

    def span(self, seconds: float) -> str:
        h, rest = divmod(round(seconds), 3600)
        return f"{h}:{rest // 60:02d}:{rest % 60:02d}"


def _job_table(jobs: list[dict[str, Any]]) -> Table:
    t = Table()
    for col in ("id", "tenant", "state", "origin", "kind", "units", "site", "provider",
                "rtt ms", "energy kWh", "green", "bill ¥", "exit", "reason"):
        t.add_column(col)
    for j in jobs:
        energy, green, bill = j.get("energy_kwh"), j.get("green_kwh"), j.get("bill_yuan")
        t.add_row(j["id"], j["tenant"], j["state"], j["origin"], j["kind"], str(j["units"]),
                  j.get("site") or "", j.get("provider") or "",
                  f"{j['rtt_ms']:g}" if j.get("rtt_ms") else "",
                  f"{energy:,.1f}" if energy is not None else "",
                  f"{green / energy:.0%}" if energy else "",
                  f"{bill:,.2f}" if bill is not None else "",
                  "" if j.get("exit_code") is None else str(j["exit_code"]),
                  (j.get("reason") or "")[:60])
    return t


# ---- the commands ------------------------------------------------------------------------

def _env_pairs(values: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _fail(f"--env {item!r}: give KEY=VALUE")
        env[key] = value
    return env


def submit(origin: Annotated[str, typer.Option(
               "--origin", help="Region the job comes from (listed above).")],
           kind: Annotated[Kind, typer.Option(
               "--kind", help="Kind of compute: general (CPU), intelligent (GPU/NPU) or hpc.")],
           units: Annotated[int, typer.Option(
               "--units", min=1, help="Units of that kind (cores, accelerators, nodes).")],
           duration_s: Annotated[float, typer.Option(
               "--duration-s", min=0.001, help="Run seconds the job takes (its time limit).")],
           rtt_bound_ms: Annotated[float | None, typer.Option(
               "--rtt-bound-ms", help="Real-time job: round trip to its site at most this; "
                                      "give this or --deadline-in-s.")] = None,
           deadline_in_s: Annotated[float | None, typer.Option(
               "--deadline-in-s", help="Batch job: ends within this many run seconds of "
                                       "submission.")] = None,
           data_gb: Annotated[float, typer.Option(
               "--data-gb", min=0.0, help="Input data moved to the site first, GB.")] = 0.0,
           command: Annotated[str | None, typer.Option(
               "--command", help="What to run, as one shell-quoted string (split, not run by "
                                 "a shell); the service must allow tenant commands. Default: a "
                                 "sleep of the duration.", show_default=False)] = None,
           template: Annotated[str | None, typer.Option(
               "--template", help="One of the operator's job templates (GET /v1/templates) "
                                  "instead of a command.", show_default=False)] = None,
           env: Annotated[list[str] | None, typer.Option(
               "--env", help="KEY=VALUE for the job's environment; repeat for more.",
               show_default=False)] = None,
           workdir: Annotated[str | None, typer.Option(
               "--workdir", help="Working directory on the site; default: one of its own.",
               show_default=False)] = None,
           max_retries: Annotated[int, typer.Option(
               "--max-retries", min=0, max=5, help="Run it again up to this many times if it "
                                                   "fails.")] = 0,
           idempotency_key: Annotated[str | None, typer.Option(
               "--idempotency-key", help="Resubmitting with the same key answers with the "
                                         "first job instead of a new one.",
               show_default=False)] = None,
           max_price: Annotated[float | None, typer.Option(
               "--max-price", help="Price cap: only providers selling at most this many yuan "
                                   "per unit-hour over the run.", show_default=False)] = None,
           max_bill: Annotated[float | None, typer.Option(
               "--max-bill", help="Cap on the job's expected bill (compute + egress), yuan.",
               show_default=False)] = None,
           prefer: Annotated[list[str] | None, typer.Option(
               "--prefer", help="A provider to try first (repeat: in this order); overflow "
                                "goes to the policy's choice.", show_default=False)] = None,
           allow: Annotated[list[str] | None, typer.Option(
               "--allow", help="Only this provider (repeat for more).",
               show_default=False)] = None,
           deny: Annotated[list[str] | None, typer.Option(
               "--deny", help="Never this provider (repeat for more).",
               show_default=False)] = None,
           accept_posted_price: Annotated[bool, typer.Option(
               "--accept-posted", help="Be billed at the posted prices of where and when "
                                             "it is placed (`suanwang market prices`), not the "
                                             "price items.")] = False,
           url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Submit one job to a running service (`suanwang provider list` names the providers)."""
    target = _client(url, token)
    body: dict[str, Any] = {"origin": origin, "kind": kind.value, "units": units,
                            "duration_s": duration_s, "rtt_bound_ms": rtt_bound_ms,
                            "deadline_in_s": deadline_in_s, "data_gb": data_gb,
                            "max_retries": max_retries}
    if command is not None:
        try:
            body["command"] = shlex.split(command)
        except ValueError as exc:
            raise _fail(f"--command {command!r}: {exc}") from None
    if template is not None:
        body["template"] = template
    if env:
        body["env"] = _env_pairs(env)
    if workdir is not None:
        body["workdir"] = workdir
    for key, value in (("max_price_yuan_per_unit_h", max_price), ("max_bill_yuan", max_bill),
                       ("providers_prefer", prefer), ("providers_allow", allow),
                       ("providers_deny", deny)):
        if value:
            body[key] = value
    if accept_posted_price:
        body["accept_posted_price"] = True
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    job = _call(target, "POST", "/v1/jobs", json=body, headers=headers)
    console.print(_job_table([job]))


def status(job_id: Annotated[str, typer.Argument(help="The job's id (from submit or jobs).")],
           url: UrlOpt = None, token: TokenOpt = None) -> None:
    """A job: its times of day, exit code, lifecycle history and the tail of its logs."""
    target = _client(url, token)
    events = _call(target, "GET", f"/v1/jobs/{job_id}/events")
    job = _call(target, "GET", f"/v1/jobs/{job_id}")  # after its events: as new as they are
    times = RunTimes(target)
    console.print(_job_table([job]))
    clock = f" (run clock x{times.speed:g})" if times.speed != 1 else ""
    lines = [f"submitted {times.at(job['submit_s'])}{clock}"]
    if job.get("deadline_s") is not None:
        lines.append(f"deadline  {times.at(job['deadline_s'])}")
    if job.get("start_s") is not None:
        lines.append(f"started   {times.at(job['start_s'])}")
    if job.get("end_s") is not None:
        ended = job["state"] in TERMINAL_STATES
        ran = f"  (ran {times.span(job['end_s'] - job['start_s'])})" \
            if ended and job.get("start_s") is not None else ""
        lines.append(f"{'ended    ' if ended else 'ends by  '} {times.at(job['end_s'])}{ran}")
    if job.get("provider"):
        lines.append(f"provider  {job['provider']} at {job.get('site')}")
    if job.get("bill_yuan") is not None:
        egress = job.get("egress_yuan") or 0.0
        lines.append(f"bill      ¥{job['bill_yuan']:,.2f} (compute "
                     f"¥{job['bill_yuan'] - egress:,.2f}, egress ¥{egress:,.2f})")
    if job.get("exit_code") is not None:
        lines.append(f"exit code {job['exit_code']}")
    if job.get("attempts"):
        lines.append(f"attempts  {job['attempts']} (max retries {job['max_retries']})")
    for line in lines:
        console.print(line, highlight=False)
    console.print("history:")
    for e in events:
        console.print(f"  {times.at(e['at_s'])}  {e['state']:<9} {e.get('site') or '':<12} "
                      f"{e['reason']}", highlight=False)
    logs = _call(target, "GET", f"/v1/jobs/{job_id}/logs", params={"max_bytes": 2000})
    for stream in ("stdout", "stderr"):
        text = (logs.get(stream) or {}).get("text") or ""
        if text.strip():
            console.print(f"{stream} (last lines; `suanwang logs {job_id}` for more):")
            console.print("\n".join("  " + x for x in text.splitlines()[-10:]),
                          highlight=False, markup=False)


def cancel(job_id: Annotated[str, typer.Argument(help="The job's id.")],
           url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Cancel a job (its process on the site is stopped too)."""
    target = _client(url, token)
    console.print(_job_table([_call(target, "POST", f"/v1/jobs/{job_id}/cancel")]))


def jobs(state: Annotated[JobState | None, typer.Option(
             "--state", help="Only jobs in this state.", show_default=False)] = None,
         origin: Annotated[str | None, typer.Option(
             "--origin", help="Only jobs from this region (bth, yrd, gba, cc on the bundled "
                              "network).", show_default=False)] = None,
         kind: Annotated[Kind | None, typer.Option(
             "--kind", help="Only jobs of this kind.", show_default=False)] = None,
         site: Annotated[str | None, typer.Option(
             "--site", help="Only jobs placed at this site (its id, as in /v1/sites).",
             show_default=False)] = None,
         tenant: Annotated[str | None, typer.Option(
             "--tenant", help="Only this tenant's jobs (operator token; a tenant sees only "
                              "its own anyway).", show_default=False)] = None,
         limit: Annotated[int, typer.Option(
             "--limit", min=1, max=1000, help="At most this many jobs.")] = 20,
         oldest_first: Annotated[bool, typer.Option(
             "--oldest-first", help="Oldest first (default: newest first).")] = False,
         url: UrlOpt = None, token: TokenOpt = None) -> None:
    """List jobs, newest first (yours, or everyone's with the operator token)."""
    target = _client(url, token)
    params: dict[str, Any] = {"limit": limit, "order": "asc" if oldest_first else "desc"}
    for name, value in (("state", state.value if state else None), ("origin", origin),
                        ("site", site),
                        ("tenant", tenant), ("kind", kind.value if kind else None)):
        if value is not None:
            params[name] = value
    console.print(_job_table(_call(target, "GET", "/v1/jobs", params=params)["jobs"]))


def logs(job_id: Annotated[str, typer.Argument(help="The job's id.")],
         stream: Annotated[Stream, typer.Option(
             "--stream", help="Which output to show.")] = Stream.BOTH,
         max_bytes: Annotated[int, typer.Option(
             "--max-bytes", min=1, max=1024 * 1024,
             help="At most this many bytes of the end of each.")] = 64 * 1024,
         url: UrlOpt = None, token: TokenOpt = None) -> None:
    """A job's stdout and stderr (their last --max-bytes), as the site's engine wrote them."""
    target = _client(url, token)
    got = _call(target, "GET", f"/v1/jobs/{job_id}/logs", params={"max_bytes": max_bytes})
    names = ("stdout", "stderr") if stream == Stream.BOTH else (stream.value,)
    for name in names:
        part = got.get(name) or {}
        size = part.get("size_bytes", 0)
        note = f", last {max_bytes:,} bytes of {size:,}" if part.get("truncated") else ""
        if stream == Stream.BOTH:
            err_console.print(f"==> {name} ({size:,} bytes{note}) <==", highlight=False)
        sys.stdout.write(part.get("text") or "")
        sys.stdout.flush()
    if not got.get("available", True):
        err_console.print(got.get("note", ""), highlight=False)


def register(app: typer.Typer) -> None:
    # the help of submit names the regions of the bundled network
    app.command(help=f"Submit one job to a running service.\n\n{_regions_help()}")(submit)
    for fn in (jobs, status, cancel, logs):
        app.command()(fn)

