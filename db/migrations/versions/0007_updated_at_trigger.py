"""updated_at columns kept current by a trigger function

Revision ID: 0007_updated_at_trigger
Revises: 0006_order_items

now() is STABLE, not VOLATILE: ADD COLUMN ... NOT NULL DEFAULT now() is a catalog-only change (no rewrite);
existing rows read the time of this migration.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_updated_at_trigger"
down_revision: str | Sequence[str] | None = "0006_order_items"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "accounts", "orders")


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION set_updated_at() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            NEW.updated_at := now();
            RETURN NEW;
        END;
        $$
        """
    )
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        )
        op.execute(
            f"CREATE TRIGGER trg_{table}_set_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(f"DROP TRIGGER trg_{table}_set_updated_at ON {table}")
        op.drop_column(table, "updated_at")
    op.execute("DROP FUNCTION set_updated_at()")
