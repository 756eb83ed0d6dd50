"""Schema migrations with Alembic, applied at start-up and by `kern-coach db upgrade`.

Start-up checks the recorded revision first and only imports Alembic when there is work to do,
so an up-to-date database costs one query.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPTS = Path(__file__).resolve().parent / "alembic"
HEAD = "0004"


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


def upgrade_engine(engine: sa.Engine) -> None:
    if current_revision(engine) == HEAD:
        return
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "head")


def upgrade(url: str) -> None:
    from bot.storage.db import make_engine

    engine = make_engine(url)
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()
