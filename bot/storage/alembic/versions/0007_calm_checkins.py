"""check-ins that arrive as one calm conversation

A check-in keeps the moment it was meant for (`planned_at`) apart from the moment it may be
delivered (`due_at`, which waits out quiet hours or its turn), and whether the person chose that
moment (`chosen`: quiet hours do not hold it back). A pause may end by itself
(`person.paused_until`). Check-ins due at once get two more statuses, folded and dropped, which
need no column.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        # NULL: meant for its due moment, as every check-in before this was.
        batch_op.add_column(sa.Column("planned_at", sa.DateTime(), nullable=True))
        # server_default: no earlier check-in knew whether the person chose its moment.
        batch_op.add_column(
            sa.Column("chosen", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # A daily check-in is always at the time the person chose (or agreed to), as every new one
    # is marked: one at 22:30 must not wait for the morning once, just because it was planned
    # before quiet hours existed.
    op.execute(
        sa.text("UPDATE checkin SET chosen = :yes WHERE kind = 'daily'").bindparams(yes=True)
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        # NULL: pauses before this had no end (until /hervat), and checkins_from stays right.
        batch_op.add_column(sa.Column("paused_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("paused_until")
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_column("chosen")
        batch_op.drop_column("planned_at")
