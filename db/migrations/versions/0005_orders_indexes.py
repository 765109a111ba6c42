"""indexes for the order list pages, built concurrently

Revision ID: 0005_orders_indexes
Revises: 0004_order_status_enum

CREATE INDEX CONCURRENTLY cannot run in a transaction: it runs in an autocommit block. A failed concurrent
build leaves an INVALID index behind, so each build first drops a leftover of the same name.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_orders_indexes"
down_revision: str | Sequence[str] | None = "0004_order_status_enum"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_orders_account_id_created_at": ["account_id", "created_at"],
    "ix_orders_user_id": ["user_id"],
}


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for name, columns in INDEXES.items():
            op.drop_index(name, table_name="orders", postgresql_concurrently=True, if_exists=True)
            op.create_index(name, "orders", columns, postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name in reversed(INDEXES):
            op.drop_index(name, table_name="orders", postgresql_concurrently=True, if_exists=True)
