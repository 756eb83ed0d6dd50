"""check-in delivery attempts

A check-in whose delivery raised used to be marked failed at once, ending a daily or repeat chain
for good on a passing fault. It is now tried again a few times; this column counts the tries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 23:28:09.364711
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        # server_default: existing rows get 0 (a NOT NULL column needs a value for them).
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_column("attempts")
