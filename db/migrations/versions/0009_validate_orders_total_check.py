"""validate ck_orders_total_cents_nonnegative

Revision ID: 0009_validate_orders_total_check
Revises: 0008_orders_total_check

VALIDATE CONSTRAINT scans the table under SHARE UPDATE EXCLUSIVE: reads and writes go on meanwhile.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_validate_orders_total_check"
down_revision: str | Sequence[str] | None = "0008_orders_total_check"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_total_cents_nonnegative")


def downgrade() -> None:
    # there is no "un-validate": put the constraint back exactly as 0008 left it (NOT VALID)
    op.drop_constraint("ck_orders_total_cents_nonnegative", "orders", type_="check")
    op.execute("ALTER TABLE orders ADD CONSTRAINT ck_orders_total_cents_nonnegative CHECK (total_cents >= 0) NOT VALID")
