"""a send budget shared by every process of one bot

Telegram's limit of about 30 messages a second is per bot, not per process: three processes
sent 111 in one second. One row per bot holds a token bucket that every process takes from
(bot/send_budget.py, docs/operating.md).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_budget",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("send_budget")
