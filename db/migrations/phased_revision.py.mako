"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Phased (zero-downtime) revision, expand -> migrate -> contract (docs/phases.md):
- `migtui up` / `alembic upgrade` runs the EXPAND phase only: new columns, indexes built CONCURRENTLY,
  constraints NOT VALID, and a dual-write trigger that keeps the old and the new shape in sync.
- `migtui phase run ${up_revision}` backfills in throttled, resumable batches (MIGRATE), checks the
  gates (backfill verified, old-path writes quiet, no old-application session), then CONTRACTs under
  lock_timeout + retry. `migtui phase status ${up_revision}` shows where it is and why.
- Until contract, downgrade() (or `migtui phase abort ${up_revision}`) restores the original shape with
  no data loss. After contract, downgrade() runs the pattern's reverse where one exists.
- The new application version connects with options='-c migtui.write_path=new' so its writes are
  counted as new-path writes (and the old shape is derived from them). With versions=True on
  rename_column / change_column_type, each version instead sets its search_path to its version schema
  (`migtui phase status ${up_revision}` prints both): old and new run side by side with no code change.
"""

from collections.abc import Sequence

from migtui import phases

revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}

# ONE change per phased revision. Helpers (arguments in docs/phases.md):
#   phases.add_not_null_column("orders", "currency_code", "text", fill="upper(currency)")
#   phases.rename_column("users", "full_name", "legal_name", type="text")
#   phases.change_column_type("orders", "total_cents", "bigint", new_column="total_cents_big")
#   phases.set_not_null("orders", "archived_at", fill="created_at")
#   phases.add_unique_constraint("accounts", ["owner_id", "name"], name="uq_accounts_owner_id_name")
#   phases.add_foreign_key("orders", ["account_id"], "accounts", ["id"])
#   phases.split_column("users", "full_name", {"first_name": ("text", "split_part(full_name, ' ', 1)"),
#                                              "last_name": ("text", "split_part(full_name, ' ', 2)")},
#                       merge_back="first_name || ' ' || last_name")
#   phases.merge_columns(...), phases.raw_sql(expand=[...], contract=[...], abort=[...])
# Optional on every helper: old_application=["billing-v1%"] (application_name LIKE patterns the
# no_old_sessions gate waits for). On rename_column / change_column_type: versions=True (or
# versions=("app_v1", "app_v2")) publishes a schema of views per application version.
change = phases.rename_column("table_name", "old_column", "new_column", type="text")


def upgrade() -> None:
    phases.expand(change)


def downgrade() -> None:
    phases.downgrade(change)
