"""answers that set off the crisis check are marked

Words that set off the crisis check stay the person's (shown in /mijn and /export, marked so) but
are never quoted back in a reminder, evaluation or repeat; the mark travels with the answer row.
Notes (words no question asked for) are answer rows of kind "note" and need no column of their own.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("answer", schema=None) as batch_op:
        # server_default: existing rows were not marked (a NOT NULL column needs a value for them).
        batch_op.add_column(
            sa.Column("crisis", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.drop_column("crisis")
