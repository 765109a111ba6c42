"""users.display_name, backfilled in batches

Revision ID: 0011_users_display_name
Revises: 0010_account_order_totals_view

The column is added nullable (catalog-only), then filled in batches of BATCH_SIZE ids, each batch its own
short transaction (autocommit block), so no row stays locked for long and the backfill can be resumed: a
re-run (after a kill) finds the column there and skips rows already filled. Offline (--sql) the backfill
renders as one UPDATE (no row counts there).
NOT NULL comes later, safely: 0012 (check NOT VALID) and 0013 (validate, SET NOT NULL).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_users_display_name"
down_revision: str | Sequence[str] | None = "0010_account_order_totals_view"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH_SIZE = 10_000
BACKFILL = (
    "UPDATE users SET display_name = coalesce(nullif(username, ''), split_part(email, '@', 1)) "
    "WHERE display_name IS NULL"
)


def upgrade() -> None:
    # IF NOT EXISTS: the column commits before the backfill starts, so a run killed mid-backfill re-runs
    op.execute("ALTER TABLE users ADD COLUMN IF NOT EXISTS display_name text")
    context = op.get_context()
    with context.autocommit_block():
        if context.as_sql:
            op.execute(BACKFILL)
            return
        low, high = op.get_bind().execute(sa.text("SELECT min(id), max(id) FROM users")).one()
        if low is None:
            return
        for start in range(low, high + 1, BATCH_SIZE):
            op.execute(
                sa.text(BACKFILL + " AND id >= :start AND id < :stop").bindparams(start=start, stop=start + BATCH_SIZE)
            )


def downgrade() -> None:
    op.drop_column("users", "display_name")
