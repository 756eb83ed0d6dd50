"""the outbox indexed by chat and order

The sender asks, at every pass, which message is the first of its chat; with this index that is
one look per candidate instead of grouping the whole outbox (10,000 check-ins due at once).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:30:00.000000
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_chat", "outbox", ["channel", "address", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_chat", table_name="outbox")
