"""A user's mistake with a file ends in one line naming the path and what is wrong, exit code 2,
never a traceback, whichever offline command reads the file."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanwang.cli import app
from suanwang.cli_errors import user_error_message
from suanwang.errors import InputError, reading

runner = CliRunner()
SMALL = ["--jobs", "50", "--days", "0.5", "--seed", "1"]


def not_utf8(tmp_path: Path) -> Path:
    path = tmp_path / "latin1.csv"
    path.write_bytes("job_id,tenant,origin\nä,t,bth\n".encode("latin-1"))
    return path


def a_directory(tmp_path: Path) -> Path:
    path = tmp_path / "adir.csv"
    path.mkdir()
    return path


def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "plain.txt"
    path.write_text("x\n", encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def utf16_tokens(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.json"
    path.write_bytes('{"tok": {"tenant": "t", "role": "tenant"}}'.encode("utf-16"))
    return path


Case = Callable[[Path], tuple[list[str], Path, str]]

CASES: dict[str, Case] = {
    "simulate --trace missing": lambda p: (
        ["simulate", "--trace", str(p / "nosuch.csv")], p / "nosuch.csv",
        "no such file or directory"),
    "compare --trace directory": lambda p: (
        ["compare", "--trace", str(a_directory(p)), "--policies", "nearest"], p / "adir.csv",
        "is a directory, a file was expected"),
    "simulate --trace not UTF-8": lambda p: (
        ["simulate", "--trace", str(not_utf8(p))], p / "latin1.csv", "not UTF-8 text"),
    "simulate --energy-series missing": lambda p: (
        ["simulate", *SMALL, "--energy-series", str(p / "measured.csv")], p / "measured.csv",
        "no such file or directory"),
    "compare --energy-series not UTF-8": lambda p: (
        ["compare", *SMALL, "--policies", "nearest", "--energy-series", str(not_utf8(p))],
        p / "latin1.csv", "not UTF-8 text"),
    "energy plot --energy-series directory": lambda p: (
        ["energy", "plot", "--days", "1", "--out", str(p / "x.png"), "--energy-series",
         str(a_directory(p))], p / "adir.csv", "is a directory"),
    "network show --network directory": lambda p: (
        ["network", "show", "--network", str(a_directory(p))], p / "adir.csv",
        "is a directory, a file was expected"),
    "network show --network not UTF-8": lambda p: (
        ["network", "show", "--network", str(not_utf8(p))], p / "latin1.csv",
        "not UTF-8 text"),
    "serve --token-file UTF-16": lambda p: (
        ["serve", "--token-file", str(utf16_tokens(p)), "--data-dir", str(p / "data"),
         "--port", str(free_port())], p / "tokens.json", "not UTF-8 text: it is UTF-16"),
    "report bulletin --run missing": lambda p: (
        ["report", "bulletin", "--run", str(p / "norun"), "--out", str(p / "b")],
        p / "norun" / "network.json", "missing"),
    "simulate --out is a file": lambda p: (
        ["simulate", *SMALL, "--policy", "nearest", "--out", str(a_file(p))], p / "plain.txt",
        "exists already and is not a directory"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_path_is_one_line_naming_it(tmp_path: Path, name: str) -> None:
    args, path, problem = CASES[name](tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert str(path) in lines[0]
    assert problem in lines[0]


def test_a_bad_run_file_in_a_run_directory_is_named(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = runner.invoke(app, ["simulate", *SMALL, "--policy", "nearest", "--out", str(run),
                                 "--ledger"])
    assert result.exit_code == 0, result.output
    (run / "jobs.csv").write_bytes(b"\xff\xfe" + (run / "jobs.csv").read_bytes())
    result = runner.invoke(app, ["report", "bulletin", "--run", str(run),
                                 "--out", str(tmp_path / "b")])
    assert result.exit_code == 2, result.output
    line, = [x for x in result.output.splitlines() if x.strip()]
    assert str(run / "jobs.csv") in line and "not UTF-8 text" in line


def test_an_unreadable_file_says_permission_denied(tmp_path: Path) -> None:
    # as root every file is readable, so the refusal is raised where a reader would meet it
    path = tmp_path / "secret.csv"
    with pytest.raises(InputError) as info, reading(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    assert str(info.value) == f"{path}: permission denied"
    assert user_error_message(info.value) == f"{path}: permission denied"
    assert user_error_message(PermissionError(errno.EACCES, "x", str(path))) == \
        f"{path}: permission denied"
    assert user_error_message(ConnectionRefusedError(111, "refused")) is None  # not a file
