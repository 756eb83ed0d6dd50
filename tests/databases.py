"""The databases tests run on: a SQLite file, and PostgreSQL where the environment names one
(KERN_COACH_TEST_DATABASE_URL; CI sets it). Each PostgreSQL test gets a fresh schema of its own,
so tests may run in parallel on one database; its URL carries the schema (psycopg's `options`),
so a coach in another process started with that URL works in the same schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get("KERN_COACH_TEST_DATABASE_URL")
KINDS = ["sqlite", "postgresql"]


def require_postgres() -> str:
    if not POSTGRES_URL:
        pytest.skip("KERN_COACH_TEST_DATABASE_URL is not set (CI sets it to a PostgreSQL)")
    return POSTGRES_URL


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A new, empty schema; yields the URL of it, dropped afterwards with all it holds."""
    base = require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@contextmanager
def database_url(kind: str, directory: Path) -> Iterator[str]:
    """The URL of a new, empty database of this kind (not yet migrated)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'kern-coach.db'}"
    else:
        with postgres_schema() as url:
            yield url


def reader(url: str) -> sa.Engine:
    """An engine for a test to look into a database a coach (perhaps in another process) writes:
    plain reads, none of the coach's SQLite settings (its `BEGIN IMMEDIATE` would take the write
    lock for a mere look)."""
    if url.startswith("sqlite"):
        return sa.create_engine(url, connect_args={"timeout": 30})
    return sa.create_engine(url, poolclass=sa.pool.NullPool)
