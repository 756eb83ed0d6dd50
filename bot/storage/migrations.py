"""Schema migrations with Alembic, applied at start-up and by `kern-coach db upgrade`.

Start-up checks the recorded revision first and only imports Alembic when there is work to do,
so an up-to-date database costs one query.

Any number of processes may start together on a new database: the migration runs in one
transaction that first takes a lock, so the first process migrates and the others, once it has
committed, find the schema at head and do nothing. On PostgreSQL that lock is an advisory lock
(without it two processes create the same tables at once, and the second fails with a unique
violation in `pg_type`); SQLite needs none of its own, as every writing transaction takes the
database's write lock at its start (`BEGIN IMMEDIATE`, see `db.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPTS = Path(__file__).resolve().parent / "alembic"
HEAD = "0009"


def _alembic_config(connection: sa.Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    return config


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


# The advisory lock's key is per schema, so coaches in different schemas of one database (the
# tests' way) do not wait for each other; hashtext gives the 32-bit key PostgreSQL wants.
MIGRATION_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtext('kern-coach migration ' || current_schema()))"
)


def upgrade_engine(engine: sa.Engine) -> None:
    if current_revision(engine) == HEAD:
        return
    from alembic import command

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Held until this transaction ends; Alembic then reads the revision afresh.
            connection.execute(sa.text(MIGRATION_LOCK))
        command.upgrade(_alembic_config(connection), "head")


def upgrade(url: str) -> None:
    from bot.storage.db import make_engine

    engine = make_engine(url)
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()
