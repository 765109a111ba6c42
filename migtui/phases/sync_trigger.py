"""The dual-write trigger: keeps the old and the new shape of a row in sync, both ways.

The write path of each row write is decided by the session setting ``migtui.write_path``:

- ``new``: the new application wrote; old columns are derived from new ones (``backward``).
- ``old``: the old application wrote; new columns are derived from old ones (``forward``).
- ``backfill``: migtui's backfill touched the row; derived like ``old`` but not counted.
- unset, with versioned schemas published: the path of the first version schema in the session's
  ``search_path`` (``current_schemas``), so an application that reaches the table through its version's
  views writes on its own path without any setting.
- unset otherwise: guessed — an INSERT that fills only new columns, or an UPDATE that changes only new columns,
  is ``new``; anything else is ``old``. New application versions should set it explicitly, e.g. with
  ``options='-c migtui.write_path=new'`` in their connection string.

Every non-backfill write bumps a per-backend counter in ``migtui.phase_writes`` (revision, path,
backend pid), so the gates can tell whether old-path writes are still happening, and when the last one
was. One counter row per backend keeps concurrent writers from contending on one row. The application
usually connects as another role than the migration: the trigger function runs as the writer (the
revision's derivations never run with more rights than the writer has), and only the counter goes
through ``migtui.count_<rev>(path)``, a ``SECURITY DEFINER`` function with a fixed ``search_path`` that
can do nothing but bump the counter; ``USAGE`` on the ``migtui`` schema is granted to PUBLIC with the
schema (``state.DDL``) so writers can reach it (its tables keep their owner-only privileges).
"""

from __future__ import annotations

import re

from psycopg import sql

from migtui.phases.model import SyncSpec

STATE_SCHEMA = "migtui"


def object_suffix(revision: str) -> str:
    """A revision id made safe for object names (lower-case letters, digits, underscores)."""
    return re.sub(r"[^a-z0-9_]", "_", revision.lower())[:40]


def function_name(revision: str) -> str:
    return f"sync_{object_suffix(revision)}"


def counter_name(revision: str) -> str:
    return f"count_{object_suffix(revision)}"


def counter_sql(revision: str) -> str:
    """The write counter, run with its owner's rights so that any role writing the table can count."""
    return (
        sql.SQL(
            # plpgsql: its body is resolved at the first call, not at creation (dry-run replays it alone)
            "CREATE OR REPLACE FUNCTION {fn}(write_path text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER "
            "SET search_path = pg_catalog, pg_temp AS $migtui_count$BEGIN "
            "INSERT INTO {writes} AS w (revision, path, backend, writes, first_write_at, last_write_at) "
            "VALUES ({revision}, write_path, pg_backend_pid(), 1, clock_timestamp(), clock_timestamp()) "
            "ON CONFLICT (revision, path, backend) "
            "DO UPDATE SET writes = w.writes + 1, last_write_at = excluded.last_write_at; "
            "END$migtui_count$"
        )
        .format(
            fn=sql.Identifier(STATE_SCHEMA, counter_name(revision)),
            writes=sql.Identifier(STATE_SCHEMA, "phase_writes"),
            revision=sql.Literal(revision),
        )
        .as_string(None)
    )


def trigger_name(revision: str) -> str:
    return f"migtui_sync_{object_suffix(revision)}"


def _derive(targets: list[str], exprs: dict[str, str]) -> sql.Composable:
    """``SELECT e1, e2 INTO NEW.a, NEW.b FROM (SELECT NEW.*) AS migtui_row;`` (expressions see bare columns)."""
    return sql.SQL("SELECT {exprs} INTO {targets} FROM (SELECT NEW.*) AS migtui_row;").format(
        exprs=sql.SQL(", ").join(sql.SQL("({})").format(sql.SQL(exprs[c])) for c in targets),
        targets=sql.SQL(", ").join(sql.SQL("NEW.{}").format(sql.Identifier(c)) for c in targets),
    )


def _any(parts: list[sql.Composable]) -> sql.Composable:
    return sql.SQL("({})").format(sql.SQL(" OR ").join(parts)) if parts else sql.SQL("false")


def _all(parts: list[sql.Composable]) -> sql.Composable:
    return sql.SQL("({})").format(sql.SQL(" AND ").join(parts)) if parts else sql.SQL("true")


def function_sql(revision: str, spec: SyncSpec) -> str:
    new_cols = list(spec.new_columns)
    old_cols = list(spec.old_columns)
    col = sql.Identifier
    insert_is_new = sql.SQL("{} AND {}").format(
        _any([sql.SQL("NEW.{} IS NOT NULL").format(col(c)) for c in new_cols]),
        _all([sql.SQL("NEW.{} IS NULL").format(col(c)) for c in old_cols]),
    )
    update_is_new = sql.SQL("{} AND {}").format(
        _any([sql.SQL("NEW.{0} IS DISTINCT FROM OLD.{0}").format(col(c)) for c in new_cols]),
        _all([sql.SQL("NEW.{0} IS NOT DISTINCT FROM OLD.{0}").format(col(c)) for c in old_cols]),
    )
    forward_targets = [c for c in new_cols if c in spec.forward]
    backward_targets = [c for c in old_cols if c in spec.backward]
    forward = _derive(forward_targets, spec.forward) if forward_targets else sql.SQL("NULL;")
    backward = _derive(backward_targets, spec.backward) if backward_targets else sql.SQL("NULL;")
    by_schema = sql.SQL("")
    if spec.version_paths:
        by_schema = sql.SQL(
            """
  IF migtui_path_ NOT IN ('old', 'new', 'backfill') THEN
    FOREACH migtui_schema_ IN ARRAY current_schemas(false) LOOP
      migtui_path_ := CASE migtui_schema_ {whens} ELSE '' END;
      EXIT WHEN migtui_path_ <> '';
    END LOOP;
  END IF;"""
        ).format(
            whens=sql.SQL(" ").join(
                sql.SQL("WHEN {} THEN {}").format(sql.Literal(schema), sql.Literal(path))
                for schema, path in sorted(spec.version_paths.items())
            )
        )
    body = sql.SQL(
        """
#variable_conflict use_column
DECLARE
  migtui_path_ text := coalesce(current_setting('migtui.write_path', true), '');
  migtui_schema_ name;
BEGIN{by_schema}
  IF migtui_path_ NOT IN ('old', 'new', 'backfill') THEN
    IF TG_OP = 'INSERT' THEN
      migtui_path_ := CASE WHEN {insert_is_new} THEN 'new' ELSE 'old' END;
    ELSE
      migtui_path_ := CASE WHEN {update_is_new} THEN 'new' ELSE 'old' END;
    END IF;
  END IF;
  IF migtui_path_ = 'new' THEN
    {backward}
  ELSE
    {forward}
  END IF;
  IF migtui_path_ <> 'backfill' THEN
    PERFORM {counter}(migtui_path_);
  END IF;
  RETURN NEW;
END
"""
    ).format(
        by_schema=by_schema,
        insert_is_new=insert_is_new,
        update_is_new=update_is_new,
        backward=backward,
        forward=forward,
        counter=sql.Identifier(STATE_SCHEMA, counter_name(revision)),
    )
    body_text = body.as_string(None)
    tag = "$migtui_sync$"
    stmt = sql.SQL("CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS {tag}{body}{tag}").format(
        fn=sql.Identifier(STATE_SCHEMA, function_name(revision)),
        tag=sql.SQL(tag),
        body=sql.SQL(body_text.replace("{", "{{").replace("}", "}}")),
    )
    return counter_sql(revision) + ";\n" + stmt.as_string(None)


def create_trigger_sql(revision: str, spec: SyncSpec) -> str:
    return (
        sql.SQL(
            "CREATE OR REPLACE TRIGGER {trg} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {fn}()"
        )
        .format(
            trg=sql.Identifier(trigger_name(revision)),
            table=sql.Identifier(spec.schema, spec.table),
            fn=sql.Identifier(STATE_SCHEMA, function_name(revision)),
        )
        .as_string(None)
    )


def drop_trigger_sql(revision: str, spec: SyncSpec) -> str:
    return (
        sql.SQL("DROP TRIGGER IF EXISTS {trg} ON {table}")
        .format(trg=sql.Identifier(trigger_name(revision)), table=sql.Identifier(spec.schema, spec.table))
        .as_string(None)
    )


def drop_function_sql(revision: str) -> str:
    return (
        sql.SQL("DROP FUNCTION IF EXISTS {fn}();\nDROP FUNCTION IF EXISTS {counter}(text)")
        .format(
            fn=sql.Identifier(STATE_SCHEMA, function_name(revision)),
            counter=sql.Identifier(STATE_SCHEMA, counter_name(revision)),
        )
        .as_string(None)
    )


def trigger_exists_sql(revision: str, spec: SyncSpec) -> str:
    return (
        sql.SQL("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = {name} AND tgrelid = to_regclass({table}))")
        .format(
            name=sql.Literal(trigger_name(revision)),
            table=sql.Literal(sql.Identifier(spec.schema, spec.table).as_string(None)),
        )
        .as_string(None)
    )
