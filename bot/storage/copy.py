"""`kern-coach db copy FROM_URL TO_URL`: every row of every table from one database to another
(SQLite to PostgreSQL, and back), ids kept, in one transaction on each side, then verified by
counting the rows of each table on both sides. The target must be empty: nothing is merged."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import SQLModel

from bot.storage import db
from bot.storage import models as _models  # noqa: F401 - registers the tables in the metadata
from bot.storage.migrations import upgrade_engine

BATCH = 1000


class CopyError(Exception):
    """The copy cannot be made, or did not arrive whole."""


@dataclass(frozen=True)
class Copied:
    table: str
    source: int
    target: int


def tables() -> list[sa.Table]:
    """Every table of the coach, parents before children (foreign keys)."""
    return list(SQLModel.metadata.sorted_tables)


def copy(source_url: str, target_url: str) -> list[Copied]:
    source = db.make_engine(source_url)
    target = db.make_engine(target_url)
    try:
        upgrade_engine(source)
        upgrade_engine(target)
        # One transaction on each side: the source does not change under the copy (on SQLite
        # the coach waits meanwhile; PostgreSQL reads one snapshot), and the target gets all of
        # it or nothing: the counts are compared before it commits.
        with (
            _one_snapshot(source.connect()) as reading,
            target.connect() as writing,
            reading.begin(),
            writing.begin(),
        ):
            filled = [t.name for t in tables() if _count(writing, t)]
            if filled:
                raise CopyError(f"the target is not empty ({', '.join(filled)}); nothing copied")
            for table in tables():
                for rows in _batches(reading, table):
                    writing.execute(table.insert(), rows)
            if target.dialect.name == "postgresql":
                _advance_sequences(writing)
            result = [Copied(t.name, _count(reading, t), _count(writing, t)) for t in tables()]
            wrong = [c for c in result if c.source != c.target]
            if wrong:  # raised inside the transaction: the target is rolled back
                details = ", ".join(f"{c.table} {c.source} → {c.target}" for c in wrong)
                raise CopyError(f"the counts differ after the copy: {details}; nothing copied")
    finally:
        source.dispose()
        target.dispose()
    return result


def _one_snapshot(connection: sa.Connection) -> sa.Connection:
    """PostgreSQL's default (READ COMMITTED) would let each table be read at another moment."""
    if connection.dialect.name == "postgresql":
        return connection.execution_options(isolation_level="REPEATABLE READ")
    return connection


def _count(connection: sa.Connection, table: sa.Table) -> int:
    return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)


def _batches(connection: sa.Connection, table: sa.Table) -> Iterator[list[dict[str, object]]]:
    order = list(table.primary_key.columns)
    result = connection.execute(sa.select(table).order_by(*order))
    while rows := result.mappings().fetchmany(BATCH):
        yield [dict(row) for row in rows]


def _advance_sequences(connection: sa.Connection) -> None:
    """Ids were copied as they were: PostgreSQL's sequences must start past them."""
    for table in tables():
        for column in table.primary_key.columns:
            if not column.autoincrement or not isinstance(column.type, sa.Integer):
                continue
            if len(table.primary_key.columns) != 1:
                continue
            connection.execute(
                sa.text(
                    "SELECT setval(pg_get_serial_sequence(:table, :column), "
                    f'COALESCE((SELECT max("{column.name}") FROM "{table.name}"), 0) + 1, false)'
                ),
                {"table": table.name, "column": column.name},
            )
