"""drop the legacy users.username

Revision ID: 0017_drop_users_username
Revises: 0016_orders_status_index

Sign-in is by email; display_name replaced it on screen. Destructive: the column's data is gone after
this. The downgrade brings the column back (nullable, as it was) but not its values.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_drop_users_username"
down_revision: str | Sequence[str] | None = "0016_orders_status_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # migtui: approve=drop-column reason="unused since email sign-in; copied to display_name by 0011"
    op.drop_column("users", "username")


def downgrade() -> None:
    op.add_column("users", sa.Column("username", sa.Text(), nullable=True))
