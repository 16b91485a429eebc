"""Fixtures of the service suite: every storage test runs on SQLite and on PostgreSQL
(the server on 127.0.0.1:5432, database `test`, each test in a schema of its own)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from svc_support import settings_for

from suanwang.model import Network
from suanwang.service.app import create_app

PG_URL = os.environ.get("SUANWANG_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """(url, schema) of an empty database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'svc.db'}", None
        return
    schema = f"sw_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield PG_URL, schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def make_client(db: tuple[str, str | None]) -> Iterator[Callable[..., TestClient]]:
    """Start a service on the test database (again, to test restarts), on `network` if
    given (else the settings'); closed at the end."""
    opened: list[TestClient] = []

    def make(network: Network | None = None, **kw: Any) -> TestClient:
        client = TestClient(create_app(settings_for(db, **kw), network))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def pg_schema() -> Iterator[tuple[str, str]]:
    """(URL whose connections use a fresh schema, schema) on the test PostgreSQL server: for
    tests that start role processes of their own."""
    schema = f"sw_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}", schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
