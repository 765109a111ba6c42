"""orders.total_cents must not be negative (constraint added NOT VALID)

Revision ID: 0008_orders_total_check
Revises: 0007_updated_at_trigger

NOT VALID: existing rows are not scanned, so the ACCESS EXCLUSIVE lock is held only for a catalog change.
New rows are checked at once; 0009_validate_orders_total_check validates the existing rows.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_orders_total_check"
down_revision: str | Sequence[str] | None = "0007_updated_at_trigger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE orders ADD CONSTRAINT ck_orders_total_cents_nonnegative CHECK (total_cents >= 0) NOT VALID")


def downgrade() -> None:
    op.drop_constraint("ck_orders_total_cents_nonnegative", "orders", type_="check")
