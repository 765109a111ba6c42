"""order status as a PostgreSQL enum

Revision ID: 0004_order_status_enum
Revises: 0003_orders

Adding a NOT NULL column with a constant default is a catalog-only change since PostgreSQL 11 (no rewrite).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_order_status_enum"
down_revision: str | Sequence[str] | None = "0003_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORDER_STATUSES = ("pending", "paid", "shipped", "cancelled", "refunded")
order_status = postgresql.ENUM(*ORDER_STATUSES, name="order_status", create_type=False)


def upgrade() -> None:
    labels = ", ".join(f"'{label}'" for label in ORDER_STATUSES)
    op.execute(f"CREATE TYPE order_status AS ENUM ({labels})")
    op.add_column(
        "orders",
        sa.Column("status", order_status, server_default=sa.text("'pending'::order_status"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("orders", "status")
    op.execute("DROP TYPE order_status")
