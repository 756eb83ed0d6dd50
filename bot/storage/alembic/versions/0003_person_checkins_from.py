"""person.checkins_from

The rule "may a check-in reach this person now" was written twice, once in the dispatcher's SQL
and once in Python. It now lives only in `flows.delivery`; its result is kept with the person
(saved with the state), and the dispatcher's query compares that moment with the check-in's.

Existing rows get the value the rule gives them, written here in SQL as the rule stood when this
migration was made (a migration is history: it keeps its literal even if the rule changes later):
NULL while paused or unreachable, otherwise the end of a hold or 1970-01-01 ("at once").

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:20:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("checkins_from", bot.storage.models.UTCDateTime(), nullable=True)
        )
    person = sa.table(
        "person",
        sa.column("paused", sa.Boolean()),
        sa.column("unreachable", sa.Boolean()),
        sa.column("held_until", bot.storage.models.UTCDateTime()),
        sa.column("checkins_from", bot.storage.models.UTCDateTime()),
    )
    at_once = sa.literal(datetime(1970, 1, 1, tzinfo=UTC), bot.storage.models.UTCDateTime())
    op.execute(
        person.update()
        .where(sa.not_(person.c.paused), sa.not_(person.c.unreachable))
        .values(
            checkins_from=sa.func.coalesce(
                person.c.held_until, at_once, type_=bot.storage.models.UTCDateTime()
            )
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("checkins_from")
