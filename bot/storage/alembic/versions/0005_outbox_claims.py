"""outbox rows held by a living process, not for a fixed lease

A process that takes rows from the outbox holds them through a claim (`outbox_claim`) that it
renews every second while it lives; a claim not renewed for a few seconds is dead, and the rows
it held are free. Before, a taken row was held for 30 s whether its process lived or not: a
killed process's chats waited that long.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 12:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_claim",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=64), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("alive_until", UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claim")
    op.drop_table("outbox_claim")
