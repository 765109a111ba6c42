"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Checklist (see docs/sample-project.md):
- DDL on a busy table: keep each revision short; migtui applies it under lock_timeout with retries.
- New index on an existing table: CREATE INDEX CONCURRENTLY inside op.get_context().autocommit_block().
- New constraint on an existing table: ADD ... NOT VALID here, VALIDATE in a later revision.
- Anything that destroys data carries an approval on the line above it:
      # migtui: approve=<rule-id> reason="why this is safe"
- downgrade() must bring the schema back exactly (types, functions, triggers, views too).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
