"""orders.archived_at, set on settled orders older than a year

Revision ID: 0014_orders_archived_at
Revises: 0013_display_name_not_null

A data migration on the biggest table: one UPDATE touching every settled order older than a year (a large
share of the table), in the revision's transaction. Every updated row is a new row version and fires the
updated_at trigger. Dry-run shows how many rows it touches and for how long orders rows stay locked.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_orders_archived_at"
down_revision: str | Sequence[str] | None = "0013_display_name_not_null"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE orders SET archived_at = now() "
        "WHERE status IN ('shipped', 'cancelled', 'refunded') AND created_at < now() - interval '1 year'"
    )


def downgrade() -> None:
    op.drop_column("orders", "archived_at")
