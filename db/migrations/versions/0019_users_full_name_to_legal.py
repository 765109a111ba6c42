"""rename users.full_name to legal_name while old and new application versions both write (phased)

Revision ID: 0019_users_full_name_to_legal
Revises: 0018_accounts_owner_name_unique

Phased revision (db/migrations/phased_revision.py.mako, docs/phases.md):
- expand (this upgrade): add nullable legal_name (no rewrite) and a dual-write trigger: the old
  application writes full_name and legal_name is derived; the new one (migtui.write_path=new) writes
  legal_name and full_name is derived.
- migrate (`migtui phase run 0019_users_full_name_to_legal`): keyset backfill of legal_name.
- contract, once every row is verified, old-path writes have stopped and no old session is left:
  legal_name NOT NULL (CHECK NOT VALID -> VALIDATE -> SET NOT NULL; NOT NULL NOT VALID on 18), then drop
  the trigger and full_name in one short transaction under lock_timeout.
- downgrade before contract: drop the trigger and legal_name (full_name was kept current). After contract
  the revision cannot be downgraded (full_name's column is gone).
"""

from collections.abc import Sequence

from migtui import phases

revision: str = "0019_users_full_name_to_legal"
down_revision: str | Sequence[str] | None = "0018_accounts_owner_name_unique"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

change = phases.rename_column("users", "full_name", "legal_name", type="text")


def upgrade() -> None:
    phases.expand(change)


def downgrade() -> None:
    phases.downgrade(change)
