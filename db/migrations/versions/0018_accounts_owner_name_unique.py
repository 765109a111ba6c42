"""account names unique per owner, without blocking writes (phased)

Revision ID: 0018_accounts_owner_name_unique
Revises: 0017_drop_users_username

Phased revision (db/migrations/phased_revision.py.mako, docs/phases.md):
- expand (this upgrade): CREATE UNIQUE INDEX CONCURRENTLY uq_accounts_owner_id_name; writes go on.
- contract (`migtui phase run 0018_accounts_owner_name_unique`): once the index is valid, attach it as
  the UNIQUE constraint with USING INDEX (a catalog change, no scan).
- downgrade: before contract drops the index (CONCURRENTLY), after contract drops the constraint.
"""

from collections.abc import Sequence

from migtui import phases

revision: str = "0018_accounts_owner_name_unique"
down_revision: str | Sequence[str] | None = "0017_drop_users_username"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

change = phases.add_unique_constraint("accounts", ["owner_id", "name"], name="uq_accounts_owner_id_name")


def upgrade() -> None:
    phases.expand(change)


def downgrade() -> None:
    phases.downgrade(change)
