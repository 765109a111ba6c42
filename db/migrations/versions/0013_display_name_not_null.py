"""users.display_name SET NOT NULL through the validated check (step 2)

Revision ID: 0013_display_name_not_null
Revises: 0012_display_name_check

VALIDATE scans under SHARE UPDATE EXCLUSIVE (writes go on). SET NOT NULL then takes ACCESS EXCLUSIVE only
briefly: PostgreSQL 12+ proves the column has no NULLs from the validated check and skips its own scan.
The helper check is dropped afterwards.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_display_name_not_null"
down_revision: str | Sequence[str] | None = "0012_display_name_check"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_users_display_name_not_null")
    op.alter_column("users", "display_name", nullable=False)
    op.drop_constraint("ck_users_display_name_not_null", "users", type_="check")


def downgrade() -> None:
    op.alter_column("users", "display_name", nullable=True)
    op.execute(
        "ALTER TABLE users ADD CONSTRAINT ck_users_display_name_not_null CHECK (display_name IS NOT NULL) NOT VALID"
    )
