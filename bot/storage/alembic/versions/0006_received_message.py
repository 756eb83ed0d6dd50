"""received_message: what a channel receives is kept before it is handled

signal-cli hands a message over once: a coach killed between receiving and committing the turn
would lose it. The channel keeps each message here first (one row per sender and timestamp, so
a message delivered again is recognised), hands the row's id to `Coach.handle` as its update id,
and empties the content once the turn is committed. An id is never used twice (AUTOINCREMENT
on SQLite; PostgreSQL's sequences never go back): a reused id would look handled already.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "received_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("received_at", bot.storage.models.UTCDateTime(), nullable=False),
        sa.Column("handled_at", bot.storage.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "sender", "sent_at"),
        # Its id is the turn's update id: never handed out twice, also after pruning.
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("received_message")
