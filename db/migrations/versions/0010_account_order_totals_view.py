"""account_order_totals: a reporting view over accounts and orders

Revision ID: 0010_account_order_totals_view
Revises: 0009_validate_orders_total_check
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_account_order_totals_view"
down_revision: str | Sequence[str] | None = "0009_validate_orders_total_check"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEW_SQL = """
CREATE VIEW account_order_totals AS
SELECT a.id AS account_id,
       a.name AS account_name,
       count(o.id) AS order_count,
       coalesce(sum(o.total_cents), 0) AS total_cents,
       max(o.created_at) AS last_order_at
FROM accounts a
LEFT JOIN orders o ON o.account_id = a.id AND o.status <> 'cancelled'
GROUP BY a.id, a.name
"""


def upgrade() -> None:
    op.execute(VIEW_SQL)


def downgrade() -> None:
    op.execute("DROP VIEW account_order_totals")
