"""Zero-downtime changes in alembic: expand -> migrate -> contract, gated and resumable.

In a revision (see ``db/migrations/phased_revision.py.mako``)::

    from migtui import phases

    change = phases.rename_column("accounts", "email", "email_address")

    def upgrade():
        phases.expand(change)

    def downgrade():
        phases.downgrade(change)

then ``migtui phase status|run|advance|abort REV``. Engine code: ``state`` (phase table, compare-and-set),
``patterns`` (helpers and their SQL), ``sync_trigger`` (dual-write), ``backfill``, ``gates``, ``driver``.
"""

from __future__ import annotations

from migtui.phases.model import Backfill, Check, PhasedChange, Plan, PlanContext, Step
from migtui.phases.patterns import (
    add_foreign_key,
    add_not_null_column,
    add_unique_constraint,
    change_column_type,
    merge_columns,
    raw_sql,
    rename_column,
    set_not_null,
    split_column,
)
from migtui.phases.revision import downgrade, expand

__all__ = [
    "Backfill",
    "Check",
    "PhasedChange",
    "Plan",
    "PlanContext",
    "Step",
    "add_foreign_key",
    "add_not_null_column",
    "add_unique_constraint",
    "change_column_type",
    "downgrade",
    "expand",
    "merge_columns",
    "raw_sql",
    "rename_column",
    "set_not_null",
    "split_column",
]
