"""Alembic migrations of the service's database; `upgrade(engine)` brings it to head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Engine

HERE = Path(__file__).resolve().parent


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # roles starting together on one database upgrade it one at a time
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('suanwang-migrate:' || "
                              "current_schema()))"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
