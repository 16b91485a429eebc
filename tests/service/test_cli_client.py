"""The client commands as a user runs them: help that names regions, kinds and every option's
default; a misspelt state refused with the valid ones; --url/--token; submit with a command,
environment and retries; status with times of day, exit code and log tail; logs; filters."""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from svc_support import free_port, start_server, wait_for
from typer.testing import CliRunner

from suanwang.cli import app

TOKEN = "tok-cli-tenant"
OTHER = "tok-cli-other"


def run(*args: str, env: dict[str, str] | None = None, columns: int = 100) -> tuple[int, str]:
    base = {"COLUMNS": str(columns), "SUANWANG_CLIENT": "/nonexistent/client.json"}
    out = CliRunner().invoke(app, list(args), env={**base, **(env or {})})
    return out.exit_code, out.output


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("cli-data")
    (data / "tokens.json").write_text(json.dumps({
        TOKEN: {"tenant": "cli-user", "role": "tenant"},
        OTHER: {"tenant": "cli-other", "role": "tenant"}}), encoding="utf-8")
    port = free_port()
    proc = start_server(data, port, "--executor", "local", "--allow-tenant-commands")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.parametrize("columns", [80, 200])
def test_submit_help_names_regions_kinds_and_every_option(columns: int) -> None:
    code, out = run("submit", "--help", columns=columns)
    assert code == 0
    flat = " ".join(out.split())
    for region in ("bth", "yrd", "gba", "cc", "京津冀", "Chengdu-Chongqing"):
        assert region in flat
    for kind in ("general", "intelligent", "hpc"):
        assert kind in flat
    options = re.findall(r"(--[a-z][a-z-]+)", out)
    for opt in ("--command", "--env", "--workdir", "--max-retries", "--template", "--url",
                "--token", "--rtt-bound-ms", "--deadline-in-s", "--data-gb"):
        assert opt in options
    assert "[default: 0]" in flat  # --max-retries and --data-gb show theirs
    assert "…" not in out  # nothing cut short


@pytest.mark.parametrize("command", ["submit", "jobs", "status", "cancel", "logs"])
def test_every_client_command_takes_url_and_token_and_describes_its_options(
        command: str) -> None:
    code, out = run(command, "--help", columns=200)
    assert code == 0 and "--url" in out and "--token" in out
    for line in out.splitlines():
        m = re.match(r"\W*(--[a-z-]+)\s+\S+\s*(.*?)\s*\W*$", line)
        if m and m.group(1) != "--help":
            assert m.group(2), f"{command} {m.group(1)} has no description: {line!r}"


def test_a_misspelt_state_is_an_error_listing_the_states() -> None:
    code, out = run("jobs", "--state", "runing", "--token", "t")
    assert code == 2
    flat = " ".join(out.split())
    for state in ("submitted", "queued", "running", "finished", "failed", "cancelled"):
        assert f"'{state}'" in flat


def test_serve_says_that_optimal_is_offline_only(tmp_path: Path) -> None:
    code, out = run("serve", "--policy", "optimal", "--data-dir", str(tmp_path / "d"))
    assert code == 2 and "offline-only" in " ".join(out.split())
    assert not (tmp_path / "d").exists()  # refused before anything was made


def test_submit_with_a_command_then_status_and_logs(server: str) -> None:
    auth = ("--url", server, "--token", TOKEN)
    code, out = run("submit", "--origin", "bth", "--kind", "general", "--units", "4",
                    "--duration-s", "600", "--deadline-in-s", "86400",
                    "--command", "sh -c 'echo hi from $WHO; echo warn >&2'",
                    "--env", "WHO=the cli", "--max-retries", "1", *auth)
    assert code == 0, out
    job_id = re.search(r"(j[0-9a-f]+-[0-9a-z]+)", out)
    assert job_id, out
    jid = job_id.group(1)

    def finished() -> str:
        return run("status", jid, *auth, columns=200)[1]

    out = wait_for(finished, lambda text: re.search(r"^exit code", text, re.M) is not None)
    assert re.search(r"submitted\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00", out), out
    assert re.search(r"ended\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00", out), out
    assert "exit code 0" in out
    assert "hi from the cli" in out and "warn" in out  # the log tails
    code, logs = run("logs", jid, *auth)
    assert code == 0 and "hi from the cli" in logs and "warn" in logs
    code, only_err = run("logs", jid, "--stream", "stderr", *auth)
    assert code == 0 and "warn" in only_err and "hi from" not in only_err
    # the other tenant cannot read them
    code, out = run("logs", jid, "--url", server, "--token", OTHER)
    assert code == 2 and "404" in out


def test_submit_with_a_preference_and_a_price_cap_then_status_shows_provider_and_bill(
        server: str) -> None:
    auth = ("--url", server, "--token", TOKEN)
    code, out = run("submit", "--origin", "bth", "--kind", "intelligent", "--units", "2",
                    "--duration-s", "600", "--rtt-bound-ms", "5", "--prefer", "huawei",
                    "--max-price", "20", "--data-gb", "4", *auth, columns=200)
    assert code == 0, out
    jid = re.search(r"(j[0-9a-f]+-[0-9a-z]+)", out).group(1)  # type: ignore[union-attr]
    out = wait_for(lambda: run("status", jid, *auth, columns=200)[1],
                   lambda text: re.search(r"^bill ", text, re.M) is not None)
    assert "provider  huawei at jining" in out, out
    bill = re.search(r"^bill\s+¥([\d,.]+) \(compute ¥([\d,.]+), egress ¥([\d,.]+)\)", out,
                     re.M)
    assert bill, out
    total, compute, egress = (float(x.replace(",", "")) for x in bill.groups())
    assert egress == pytest.approx(4 * 0.5) and total == pytest.approx(compute + egress,
                                                                       abs=0.01)
    code, out = run("submit", "--origin", "bth", "--kind", "intelligent", "--units", "2",
                    "--duration-s", "600", "--rtt-bound-ms", "5", "--prefer", "nosuch", *auth)
    assert code == 2 and "providers_prefer" in out and "nosuch" in out


def test_jobs_filters_newest_first(server: str) -> None:
    env = {"SUANWANG_URL": server, "SUANWANG_TOKEN": OTHER}
    ids = []
    for origin, kind in (("yrd", "general"), ("gba", "intelligent"), ("yrd", "intelligent")):
        code, out = run("submit", "--origin", origin, "--kind", kind, "--units", "1",
                        "--duration-s", "60", "--deadline-in-s", "86400", env=env)
        assert code == 0, out
        ids.append(re.search(r"(j[0-9a-f]+-[0-9a-z]+)", out).group(1))  # type: ignore[union-attr]
    code, out = run("jobs", env=env, columns=200)
    assert code == 0
    assert [out.index(i) for i in reversed(ids)] == sorted(out.index(i) for i in ids)
    code, out = run("jobs", "--origin", "yrd", "--kind", "intelligent", env=env, columns=200)
    assert code == 0 and ids[2] in out and ids[0] not in out and ids[1] not in out
    code, out = run("jobs", "--oldest-first", env=env, columns=200)
    assert out.index(ids[0]) < out.index(ids[2])
    code, out = run("jobs", "--kind", "gpu", env=env)
    assert code == 2 and "intelligent" in out


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("command", ["serve", "up", "submit", "jobs", "status", "cancel",
                                     "logs"])
def test_help_is_never_cut_short(command: str, columns: int) -> None:
    code, out = run(command, "--help", columns=columns)
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= columns  # laid out for the width
    assert "…" not in out
