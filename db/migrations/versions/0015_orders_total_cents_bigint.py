"""orders.total_cents integer -> bigint

Revision ID: 0015_orders_total_cents_bigint
Revises: 0014_orders_archived_at

Wholesale orders approach 2^31 cents. ALTER COLUMN ... TYPE bigint rewrites the whole table and its
indexes under ACCESS EXCLUSIVE: no reads, no writes on orders until it commits. The view
account_order_totals depends on the column, so it is dropped and recreated around the change
(sum(bigint) is numeric, so the view's total_cents becomes numeric).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015_orders_total_cents_bigint"
down_revision: str | Sequence[str] | None = "0014_orders_archived_at"
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
    op.execute("DROP VIEW account_order_totals")
    op.execute("ALTER TABLE orders ALTER COLUMN total_cents TYPE bigint")
    op.execute(VIEW_SQL)


def downgrade() -> None:
    op.execute("DROP VIEW account_order_totals")
    # fails (and rolls back) if an order now exceeds the integer range: nothing is silently truncated
    op.execute("ALTER TABLE orders ALTER COLUMN total_cents TYPE integer USING total_cents::integer")
    op.execute(VIEW_SQL)
