"""index on orders (status, created_at) for the fulfilment queue

Revision ID: 0016_orders_status_index
Revises: 0015_orders_total_cents_bigint

A plain CREATE INDEX: it takes a SHARE lock on orders for the whole build, blocking every INSERT, UPDATE
and DELETE meanwhile (the linter flags it; CREATE INDEX CONCURRENTLY in an autocommit block would not).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016_orders_status_index"
down_revision: str | Sequence[str] | None = "0015_orders_total_cents_bigint"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_orders_status_created_at", "orders", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_orders_status_created_at", table_name="orders")
