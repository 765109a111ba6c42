"""users.display_name IS NOT NULL check, NOT VALID (safe SET NOT NULL, step 1)

Revision ID: 0012_display_name_check
Revises: 0011_users_display_name
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_display_name_check"
down_revision: str | Sequence[str] | None = "0011_users_display_name"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE users ADD CONSTRAINT ck_users_display_name_not_null CHECK (display_name IS NOT NULL) NOT VALID"
    )


def downgrade() -> None:
    op.drop_constraint("ck_users_display_name_not_null", "users", type_="check")
