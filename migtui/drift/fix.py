"""The SQL that brings a drifted object back to what the migrations say, where it can be written.

``fix_sql(difference, expected, actual)`` returns SQL text (one or more statements, each ending in ``;``)
or None when there is no safe mechanical fix (e.g. an enum value added by hand: PostgreSQL cannot drop it).
Identifiers are quoted with ``psycopg.sql``; expressions and definitions are the server's own deparsed text
(schema-qualified, so they run under any search_path). Statements that destroy data start with a
``-- destroys data`` comment line. Review before running: this is a suggestion, not a migration.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from migtui.catalog import CatalogObject, Difference, Snapshot

DESTROYS_DATA = "-- destroys data: review before running\n"

_RELATION_KEYWORD = {
    "table": "TABLE",
    "view": "VIEW",
    "materialized view": "MATERIALIZED VIEW",
    "sequence": "SEQUENCE",
}
_TYPE_KEYWORD = {"enum": "TYPE", "composite type": "TYPE", "range type": "TYPE", "domain": "DOMAIN"}


def _text(statement: sql.Composable) -> str:
    return statement.as_string(None)


def _object(diff: Difference, expected: Snapshot, actual: Snapshot) -> CatalogObject | None:
    return expected.get(diff.kind, diff.object) or actual.get(diff.kind, diff.object)


def _schema_of(obj: CatalogObject, expected: Snapshot, actual: Snapshot) -> str:
    parent = obj.parent
    seen = 0
    while parent is not None and seen < 5:
        if parent[0] == "schema":
            return parent[1]
        up = expected.objects.get(parent) or actual.objects.get(parent)
        if up is None:
            break
        parent = up.parent
        seen += 1
    return obj.name.split(".", 1)[0]


def _qualified(obj: CatalogObject, expected: Snapshot, actual: Snapshot) -> sql.Identifier:
    """Identifier of a schema-level object (table, view, sequence, type, index, ...)."""
    schema = _schema_of(obj, expected, actual)
    local = obj.name[len(schema) + 1 :] if obj.name.startswith(schema + ".") else obj.name
    return sql.Identifier(schema, local)


def _child(obj: CatalogObject) -> tuple[str, str]:
    """(parent name, local name) of a column, constraint, trigger or policy."""
    assert obj.parent is not None
    parent_name = obj.parent[1]
    return parent_name, obj.name[len(parent_name) + 1 :]


def _parent_identifier(obj: CatalogObject, expected: Snapshot, actual: Snapshot) -> sql.Identifier:
    assert obj.parent is not None
    parent = expected.objects.get(obj.parent) or actual.objects.get(obj.parent)
    if parent is None:
        schema, _, local = obj.parent[1].partition(".")
        return sql.Identifier(schema, local)
    return _qualified(parent, expected, actual)


def _function_signature(obj: CatalogObject, expected: Snapshot, actual: Snapshot) -> sql.Composable:
    schema = _schema_of(obj, expected, actual)
    rest = obj.name[len(schema) + 1 :]
    name, _, args = rest.partition("(")
    return sql.SQL("{}({}").format(sql.Identifier(schema, name), sql.SQL(args))


def fix_sql(diff: Difference, expected: Snapshot, actual: Snapshot) -> str | None:
    """SQL that makes ``actual`` match ``expected`` for this one difference, or None."""
    obj = _object(diff, expected, actual)
    if obj is None:
        return None
    try:
        if diff.change == "added":
            return _drop(obj, expected, actual)
        if diff.change == "removed":
            if any(o.parent == obj.key for o in expected.objects.values()):
                return None  # its contents are missing too: re-run the revision that creates them
            created = _create(obj, expected, actual)
            comment = obj.attributes.get("comment")
            if created and comment:
                created += "\n" + (_comment(obj, comment, expected, actual) or "")
            return created.rstrip("\n") if created else None
        return _alter(diff, obj, expected, actual)
    except (KeyError, AssertionError, TypeError, ValueError):
        return None


# -- objects only in the database: drop them ------------------------------------------------------------------


def _drop(obj: CatalogObject, expected: Snapshot, actual: Snapshot) -> str | None:
    kind = obj.kind
    if kind == "schema":
        return _text(sql.SQL("DROP SCHEMA {};").format(sql.Identifier(obj.name)))
    if kind == "extension":
        return _text(sql.SQL("DROP EXTENSION {};").format(sql.Identifier(obj.name)))
    if kind in ("table", "materialized view"):
        keyword = _RELATION_KEYWORD[kind]
        return DESTROYS_DATA + _text(sql.SQL("DROP {} {};").format(sql.SQL(keyword), _qualified(obj, expected, actual)))
    if kind in ("view", "sequence"):
        return _text(sql.SQL("DROP {} {};").format(sql.SQL(_RELATION_KEYWORD[kind]), _qualified(obj, expected, actual)))
    if kind in _TYPE_KEYWORD:
        return _text(sql.SQL("DROP {} {};").format(sql.SQL(_TYPE_KEYWORD[kind]), _qualified(obj, expected, actual)))
    if kind == "collation":
        return _text(sql.SQL("DROP COLLATION {};").format(_qualified(obj, expected, actual)))
    if kind == "index":
        return _text(sql.SQL("DROP INDEX CONCURRENTLY {};").format(_qualified(obj, expected, actual)))
    if kind == "column":
        _, column = _child(obj)
        return DESTROYS_DATA + _text(
            sql.SQL("ALTER TABLE {} DROP COLUMN {};").format(
                _parent_identifier(obj, expected, actual), sql.Identifier(column)
            )
        )
    if kind == "constraint":
        _, name = _child(obj)
        keyword = "DOMAIN" if obj.parent and obj.parent[0] == "domain" else "TABLE"
        return _text(
            sql.SQL("ALTER {} {} DROP CONSTRAINT {};").format(
                sql.SQL(keyword), _parent_identifier(obj, expected, actual), sql.Identifier(name)
            )
        )
    if kind == "trigger":
        _, name = _child(obj)
        return _text(
            sql.SQL("DROP TRIGGER {} ON {};").format(sql.Identifier(name), _parent_identifier(obj, expected, actual))
        )
    if kind == "policy":
        _, name = _child(obj)
        return _text(
            sql.SQL("DROP POLICY {} ON {};").format(sql.Identifier(name), _parent_identifier(obj, expected, actual))
        )
    if kind == "function":
        keyword = "PROCEDURE" if obj.attributes.get("function_kind") == "procedure" else "FUNCTION"
        if obj.attributes.get("function_kind") == "aggregate":
            keyword = "AGGREGATE"
        return _text(sql.SQL("DROP {} {};").format(sql.SQL(keyword), _function_signature(obj, expected, actual)))
    if kind == "event trigger":
        return _text(sql.SQL("DROP EVENT TRIGGER {};").format(sql.Identifier(obj.name)))
    if kind == "rule" and obj.parent is not None:
        _, name = _child(obj)
        return _text(
            sql.SQL("DROP RULE {} ON {};").format(sql.Identifier(name), _parent_identifier(obj, expected, actual))
        )
    if kind == "statistics":
        return _text(sql.SQL("DROP STATISTICS {};").format(_qualified(obj, expected, actual)))
    return None


# -- objects only in the migrations: create them (where the snapshot holds enough) ---------------------------


def _create(obj: CatalogObject, expected: Snapshot, actual: Snapshot) -> str | None:
    kind, a = obj.kind, obj.attributes
    if kind == "schema":
        return _text(sql.SQL("CREATE SCHEMA {};").format(sql.Identifier(obj.name)))
    if kind == "extension":
        return _text(
            sql.SQL("CREATE EXTENSION {} SCHEMA {} VERSION {};").format(
                sql.Identifier(obj.name), sql.Identifier(a["schema"]), sql.Literal(a["version"])
            )
        )
    if kind == "enum":
        values = sql.SQL(", ").join(sql.Literal(v) for v in a["values"])
        return _text(sql.SQL("CREATE TYPE {} AS ENUM ({});").format(_qualified(obj, expected, actual), values))
    if kind == "index":
        return _create_index(obj, expected, actual)
    if kind == "column":
        _, column = _child(obj)
        parts = [
            sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                _parent_identifier(obj, expected, actual), sql.Identifier(column), sql.SQL(a["type"])
            )
        ]
        if a.get("generated"):
            parts.append(sql.SQL("GENERATED ALWAYS AS ({})").format(sql.SQL(a["generated"].rsplit(" ", 1)[0])))
            parts.append(sql.SQL(a["generated"].rsplit(" ", 1)[1]))
        if a.get("default"):
            parts.append(sql.SQL("DEFAULT {}").format(sql.SQL(a["default"])))
        if a.get("identity"):
            parts.append(sql.SQL(a["identity"]))
        if a.get("not_null"):
            parts.append(sql.SQL("NOT NULL"))
        return _text(sql.SQL(" ").join(parts)) + ";"
    if kind == "constraint":
        _, name = _child(obj)
        keyword = "DOMAIN" if obj.parent and obj.parent[0] == "domain" else "TABLE"
        definition = a["definition"]
        if a.get("constraint_type") == "foreign key":
            definition += f" ON UPDATE {a['on_update']} ON DELETE {a['on_delete']}"
        if a.get("deferrable") and a["deferrable"] != "NOT DEFERRABLE":
            definition += " " + a["deferrable"]
        if a.get("validated") is False or a.get("validity") == "NOT VALID":
            definition += " NOT VALID"
        elif a.get("validity") == "NOT ENFORCED":
            definition += " NOT ENFORCED"
        return _text(
            sql.SQL("ALTER {} {} ADD CONSTRAINT {} {};").format(
                sql.SQL(keyword), _parent_identifier(obj, expected, actual), sql.Identifier(name), sql.SQL(definition)
            )
        )
    if kind == "view":
        return (
            _text(
                sql.SQL("CREATE VIEW {} AS {}").format(_qualified(obj, expected, actual), sql.SQL(a["definition"]))
            ).rstrip(";")
            + ";"
        )
    if kind == "materialized view":
        return (
            _text(
                sql.SQL("CREATE MATERIALIZED VIEW {} AS {}").format(
                    _qualified(obj, expected, actual), sql.SQL(a["definition"].rstrip().rstrip(";"))
                )
            )
            + ";"
        )
    if kind == "trigger":
        text = a["definition"].rstrip(";") + ";"
        if a.get("enabled") and a["enabled"] != "enabled":
            text += "\n" + (_trigger_enabled(obj, a["enabled"], expected, actual) or "")
        return text
    if kind == "policy":
        return _create_policy(obj, expected, actual)
    if kind in ("rule", "statistics") and str(a.get("definition") or "").upper().startswith("CREATE "):
        return a["definition"].rstrip().rstrip(";") + ";"  # pg_get_ruledef / pg_get_statisticsobjdef
    if kind == "sequence":
        seq = _qualified(obj, expected, actual)
        text = _text(
            sql.SQL(
                "CREATE {}SEQUENCE {} AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {};"
            ).format(
                sql.SQL("UNLOGGED " if a.get("persistence") == "unlogged" else ""),
                seq,
                sql.SQL(a["data_type"]),
                sql.Literal(a["increment"]),
                sql.Literal(a["minvalue"]),
                sql.Literal(a["maxvalue"]),
                sql.Literal(a["start"]),
                sql.Literal(a["cache"]),
                sql.SQL("CYCLE" if a["cycle"] else "NO CYCLE"),
            )
        )
        if a.get("owned_by"):
            text += "\n" + (_alter_sequence(obj, "owned_by", a["owned_by"], expected, actual) or "")
        return text
    if kind == "function":
        return _create_function(obj, expected, actual, replace=False)
    return None  # tables, types: re-run the revision that creates them


_VOLATILITY_SQL = {"immutable": "IMMUTABLE", "stable": "STABLE", "volatile": "VOLATILE"}
_PARALLEL_SQL = {"safe": "PARALLEL SAFE", "restricted": "PARALLEL RESTRICTED", "unsafe": "PARALLEL UNSAFE"}


def _create_function(obj: CatalogObject, expected: Snapshot, actual: Snapshot, *, replace: bool) -> str | None:
    """CREATE [OR REPLACE] FUNCTION/PROCEDURE from the snapshot (not for aggregates, window or C functions)."""
    a = obj.attributes
    function_kind = a.get("function_kind")
    if function_kind not in ("function", "procedure") or a.get("object_file") or a.get("body") is None:
        return None
    if a.get("language") in ("c", "internal"):
        return None
    schema = _schema_of(obj, expected, actual)
    name = obj.name[len(schema) + 1 :].partition("(")[0]
    head = sql.SQL("CREATE {}{} {}({})").format(
        sql.SQL("OR REPLACE " if replace else ""),
        sql.SQL(function_kind.upper()),
        sql.Identifier(schema, name),
        sql.SQL(a.get("arguments") or ""),
    )
    parts: list[str] = [_text(head)]
    if function_kind == "function":
        parts.append(f"RETURNS {a['returns']}")
    parts.append(_text(sql.SQL("LANGUAGE {}").format(sql.Identifier(a["language"]))))
    if function_kind == "function":
        parts.append(_VOLATILITY_SQL.get(str(a.get("volatility")), "VOLATILE"))
        parts.append("STRICT" if a.get("strict") else "CALLED ON NULL INPUT")
        parts.append("LEAKPROOF" if a.get("leakproof") else "NOT LEAKPROOF")
        parts.append(_PARALLEL_SQL.get(str(a.get("parallel")), "PARALLEL UNSAFE"))
        if a.get("cost") is not None:
            parts.append(f"COST {a['cost']:g}")
        if a.get("rows") and str(a.get("returns", "")).upper().startswith(("SETOF ", "TABLE(")):
            parts.append(f"ROWS {a['rows']:g}")
    parts.append("SECURITY DEFINER" if a.get("security") == "definer" else "SECURITY INVOKER")
    for setting in a.get("config") or []:
        key, _, value = str(setting).partition("=")
        parts.append(_text(sql.SQL("SET {} = {}").format(sql.Identifier(key), sql.SQL(value or "DEFAULT"))))
    body = str(a["body"])
    if a["language"] == "sql" and body.lstrip().upper().startswith(("RETURN ", "BEGIN ATOMIC")):
        parts.append(body.rstrip().rstrip(";"))  # an SQL-standard body, as the server deparsed it
    else:
        tag = "$migtui$"
        counter = 0
        while tag in body:
            counter += 1
            tag = f"$migtui{counter}$"
        parts.append(f"AS {tag}{body}{tag}")
    return "\n".join(parts) + ";"


def _create_index(obj: CatalogObject, expected: Snapshot, actual: Snapshot) -> str:
    a = obj.attributes
    schema = _schema_of(obj, expected, actual)
    local = obj.name[len(schema) + 1 :]
    table = expected.get("table", a["table"]) or expected.get("materialized view", a["table"])
    table_ident = _qualified(table, expected, actual) if table else sql.SQL(a["table"])
    parts: list[sql.Composable] = [
        sql.SQL("CREATE {}INDEX CONCURRENTLY {} ON {} USING {} ({})").format(
            sql.SQL("UNIQUE " if a.get("unique") else ""),
            sql.Identifier(local),
            table_ident,
            sql.Identifier(a["method"]),
            sql.SQL(", ".join(a["columns"])),
        )
    ]
    if a.get("include"):
        parts.append(sql.SQL("INCLUDE ({})").format(sql.SQL(", ".join(a["include"]))))
    if a.get("nulls_not_distinct"):
        parts.append(sql.SQL("NULLS NOT DISTINCT"))
    if a.get("reloptions"):
        parts.append(sql.SQL("WITH ({})").format(sql.SQL(", ".join(a["reloptions"]))))
    if a.get("predicate"):
        parts.append(sql.SQL("WHERE {}").format(sql.SQL(a["predicate"])))
    return _text(sql.SQL(" ").join(parts)) + ";"


def _create_policy(obj: CatalogObject, expected: Snapshot, actual: Snapshot) -> str:
    a = obj.attributes
    _, name = _child(obj)
    roles = [sql.SQL("PUBLIC") if r == "public" else sql.Identifier(r) for r in (a.get("roles") or ["public"])]
    parts: list[sql.Composable] = [
        sql.SQL("CREATE POLICY {} ON {} AS {} FOR {} TO {}").format(
            sql.Identifier(name),
            _parent_identifier(obj, expected, actual),
            sql.SQL("PERMISSIVE" if a.get("permissive") else "RESTRICTIVE"),
            sql.SQL(str(a.get("command") or "ALL").upper()),
            sql.SQL(", ").join(roles),
        )
    ]
    if a.get("using"):
        parts.append(sql.SQL("USING ({})").format(sql.SQL(a["using"])))
    if a.get("with_check"):
        parts.append(sql.SQL("WITH CHECK ({})").format(sql.SQL(a["with_check"])))
    return _text(sql.SQL(" ").join(parts)) + ";"


def _trigger_enabled(obj: CatalogObject, state: str, expected: Snapshot, actual: Snapshot) -> str | None:
    _, name = _child(obj)
    verb = {"enabled": "ENABLE", "disabled": "DISABLE", "replica": "ENABLE REPLICA", "always": "ENABLE ALWAYS"}
    if state not in verb:
        return None
    return _text(
        sql.SQL("ALTER TABLE {} {} TRIGGER {};").format(
            _parent_identifier(obj, expected, actual), sql.SQL(verb[state]), sql.Identifier(name)
        )
    )


# -- objects on both sides: alter the one attribute ---------------------------------------------------------


def _alter(diff: Difference, obj: CatalogObject, expected: Snapshot, actual: Snapshot) -> str | None:
    attribute, want = diff.attribute, diff.expected
    if attribute == "owner":
        return _owner(obj, want, expected, actual)
    if attribute == "comment":
        return _comment(obj, want, expected, actual)
    if attribute == "grants":
        return _grants(obj, diff.expected or [], diff.actual or [], expected, actual)
    kind = obj.kind
    if kind == "column":
        return _alter_column(obj, attribute, want, expected, actual)
    if kind == "table":
        table = _qualified(obj, expected, actual)
        if attribute == "row_security":
            verb = "ENABLE" if want else "DISABLE"
            return _text(sql.SQL("ALTER TABLE {} {} ROW LEVEL SECURITY;").format(table, sql.SQL(verb)))
        if attribute == "force_row_security":
            verb = "FORCE" if want else "NO FORCE"
            return _text(sql.SQL("ALTER TABLE {} {} ROW LEVEL SECURITY;").format(table, sql.SQL(verb)))
        if attribute == "persistence" and want in ("permanent", "unlogged"):
            verb = "LOGGED" if want == "permanent" else "UNLOGGED"
            return _text(sql.SQL("ALTER TABLE {} SET {};").format(table, sql.SQL(verb)))
        if attribute == "reloptions":
            return _reloptions("TABLE", table, want or [], diff.actual or [])
        return None
    if kind in ("rule", "statistics") and attribute != "definition":
        return None
    if kind in ("index", "constraint", "policy", "rule", "statistics") or (
        kind == "trigger" and attribute != "enabled"
    ):
        if (
            kind == "constraint"
            and (
                (attribute == "validated" and want is True) or (attribute == "validity" and diff.actual == "NOT VALID")
            )
            and want in (True, "valid")
        ):
            _, name = _child(obj)
            keyword = "DOMAIN" if obj.parent and obj.parent[0] == "domain" else "TABLE"
            return _text(
                sql.SQL("ALTER {} {} VALIDATE CONSTRAINT {};").format(
                    sql.SQL(keyword), _parent_identifier(obj, expected, actual), sql.Identifier(name)
                )
            )
        if kind == "index" and attribute == "reloptions":
            return _reloptions("INDEX", _qualified(obj, expected, actual), want or [], diff.actual or [])
        want_obj = expected.get(kind, obj.name)
        have_obj = actual.get(kind, obj.name)
        if want_obj is None or have_obj is None:
            return None
        drop, create = _drop(have_obj, expected, actual), _create(want_obj, expected, actual)
        if drop is None or create is None:
            return None
        return f"{drop}\n{create}"
    if kind == "trigger" and attribute == "enabled":
        return _trigger_enabled(obj, want, expected, actual)
    if kind == "view" and attribute == "definition":
        return (
            _text(
                sql.SQL("CREATE OR REPLACE VIEW {} AS {}").format(_qualified(obj, expected, actual), sql.SQL(want))
            ).rstrip(";")
            + ";"
        )
    if kind == "view" and attribute == "options":
        return _reloptions("VIEW", _qualified(obj, expected, actual), want or [], diff.actual or [])
    if kind == "materialized view" and attribute == "definition":
        want_obj = expected.get(kind, obj.name)
        return (
            DESTROYS_DATA
            + _text(sql.SQL("DROP MATERIALIZED VIEW {};").format(_qualified(obj, expected, actual)))
            + "\n"
            + (_create(want_obj, expected, actual) or "")
            if want_obj
            else None
        )
    if kind == "sequence":
        return _alter_sequence(obj, attribute, want, expected, actual)
    if kind == "enum" and attribute == "values":
        have = list(diff.actual or [])
        missing = [v for v in want if v not in have]
        if [v for v in have if v not in want] or not missing:
            return None  # values added by hand or reordered: PostgreSQL cannot drop or move enum values
        statements = []
        for value in missing:
            index = want.index(value)
            after = next((want[i] for i in range(index - 1, -1, -1) if want[i] in have), None)
            position = sql.SQL(" AFTER {}").format(sql.Literal(after)) if after else sql.SQL("")
            statements.append(
                _text(
                    sql.SQL("ALTER TYPE {} ADD VALUE {}{};").format(
                        _qualified(obj, expected, actual), sql.Literal(value), position
                    )
                )
            )
            have.insert(have.index(after) + 1 if after else 0, value)
        return "\n".join(statements)
    if kind == "domain":
        domain = _qualified(obj, expected, actual)
        if attribute == "not_null":
            verb = "SET NOT NULL" if want else "DROP NOT NULL"
            return _text(sql.SQL("ALTER DOMAIN {} {};").format(domain, sql.SQL(verb)))
        if attribute == "default":
            if want is None:
                return _text(sql.SQL("ALTER DOMAIN {} DROP DEFAULT;").format(domain))
            return _text(sql.SQL("ALTER DOMAIN {} SET DEFAULT {};").format(domain, sql.SQL(want)))
        return None
    if kind == "extension" and attribute == "version":
        return _text(sql.SQL("ALTER EXTENSION {} UPDATE TO {};").format(sql.Identifier(obj.name), sql.Literal(want)))
    if kind == "function":
        want_obj = expected.get(kind, obj.name)
        if want_obj is None:
            return None
        if attribute in ("returns", "arguments", "function_kind"):
            drop, create = _drop(obj, expected, actual), _create_function(want_obj, expected, actual, replace=False)
            return f"{drop}\n{create}" if drop and create else None
        if attribute in ("owner", "grants", "comment"):
            return None
        return _create_function(want_obj, expected, actual, replace=True)
    return None


def _alter_column(obj: CatalogObject, attribute: str | None, want: Any, expected: Snapshot, actual: Snapshot):
    _, column = _child(obj)
    head = sql.SQL("ALTER TABLE {} ALTER COLUMN {}").format(
        _parent_identifier(obj, expected, actual), sql.Identifier(column)
    )
    if attribute == "not_null":
        return _text(sql.SQL("{} {};").format(head, sql.SQL("SET NOT NULL" if want else "DROP NOT NULL")))
    if attribute == "default":
        if want is None:
            return _text(sql.SQL("{} DROP DEFAULT;").format(head))
        return _text(sql.SQL("{} SET DEFAULT {};").format(head, sql.SQL(want)))
    if attribute == "type":
        return _text(sql.SQL("{} TYPE {};").format(head, sql.SQL(want)))
    if attribute == "collation" and want:
        column_type = (expected.get("column", obj.name) or obj).attributes["type"]
        return _text(sql.SQL("{} TYPE {} COLLATE {};").format(head, sql.SQL(column_type), sql.SQL(want)))
    if attribute == "storage":
        if want is None and actual.pg_version < 16:  # SET STORAGE DEFAULT is PostgreSQL 16+
            column_type = str((expected.get("column", obj.name) or obj).attributes.get("type", ""))
            want = _type_default_storage(column_type)
        return _text(sql.SQL("{} SET STORAGE {};").format(head, sql.SQL(str(want or "DEFAULT").upper())))
    if attribute == "compression":
        return _text(sql.SQL("{} SET COMPRESSION {};").format(head, sql.SQL(str(want or "DEFAULT"))))
    if attribute == "identity":
        if want is None:
            return _text(sql.SQL("{} DROP IDENTITY;").format(head))
        return None
    return None


def _type_default_storage(column_type: str) -> str:
    """The storage a built-in varlena type defaults to (pg_type.typstorage): MAIN for numeric, inet and cidr,
    EXTENDED for the others. Fixed-length types are always PLAIN and cannot differ in storage at all."""
    base = column_type.split("(", 1)[0].strip().lower()
    return "main" if base in ("numeric", "inet", "cidr") and not column_type.endswith("[]") else "extended"


def _alter_sequence(obj: CatalogObject, attribute: str | None, want: Any, expected: Snapshot, actual: Snapshot):
    seq = _qualified(obj, expected, actual)
    options = {
        "increment": "INCREMENT BY {}",
        "minvalue": "MINVALUE {}",
        "maxvalue": "MAXVALUE {}",
        "start": "START WITH {}",
        "cache": "CACHE {}",
    }
    if attribute in options:
        return _text(sql.SQL("ALTER SEQUENCE {} " + options[attribute] + ";").format(seq, sql.Literal(want)))
    if attribute == "cycle":
        return _text(sql.SQL("ALTER SEQUENCE {} {};").format(seq, sql.SQL("CYCLE" if want else "NO CYCLE")))
    if attribute == "data_type":
        return _text(sql.SQL("ALTER SEQUENCE {} AS {};").format(seq, sql.SQL(want)))
    if attribute == "persistence" and want in ("permanent", "unlogged"):
        return _text(
            sql.SQL("ALTER SEQUENCE {} SET {};").format(seq, sql.SQL("LOGGED" if want == "permanent" else "UNLOGGED"))
        )
    if attribute == "owned_by":
        if want is None:
            return _text(sql.SQL("ALTER SEQUENCE {} OWNED BY NONE;").format(seq))
        *table, column = want.split(".")
        return _text(sql.SQL("ALTER SEQUENCE {} OWNED BY {};").format(seq, sql.Identifier(*table, column)))
    return None


def _reloptions(keyword: str, ident: sql.Composable, want: list[str], have: list[str]) -> str | None:
    statements = []
    want_keys = {item.split("=", 1)[0]: item for item in want}
    reset = [k for k in (item.split("=", 1)[0] for item in have) if k not in want_keys]
    if reset:
        statements.append(
            _text(sql.SQL("ALTER {} {} RESET ({});").format(sql.SQL(keyword), ident, sql.SQL(", ".join(reset))))
        )
    if want:
        statements.append(
            _text(sql.SQL("ALTER {} {} SET ({});").format(sql.SQL(keyword), ident, sql.SQL(", ".join(want))))
        )
    return "\n".join(statements) or None


def _alter_target(obj: CatalogObject, expected: Snapshot, actual: Snapshot) -> sql.Composable | None:
    """``TABLE app.t`` / ``FUNCTION app.f(int)`` / ``SCHEMA app``: the object as ALTER/COMMENT/GRANT name it."""
    kind = obj.kind
    if kind == "schema":
        return sql.SQL("SCHEMA {}").format(sql.Identifier(obj.name))
    if kind in _RELATION_KEYWORD:
        return sql.SQL("{} {}").format(sql.SQL(_RELATION_KEYWORD[kind]), _qualified(obj, expected, actual))
    if kind in _TYPE_KEYWORD:
        return sql.SQL("{} {}").format(sql.SQL(_TYPE_KEYWORD[kind]), _qualified(obj, expected, actual))
    if kind == "function":
        keyword = {"procedure": "PROCEDURE", "aggregate": "AGGREGATE"}.get(
            obj.attributes.get("function_kind"), "FUNCTION"
        )
        return sql.SQL("{} {}").format(sql.SQL(keyword), _function_signature(obj, expected, actual))
    if kind == "index":
        return sql.SQL("INDEX {}").format(_qualified(obj, expected, actual))
    if kind == "collation":
        return sql.SQL("COLLATION {}").format(_qualified(obj, expected, actual))
    if kind == "extension":
        return sql.SQL("EXTENSION {}").format(sql.Identifier(obj.name))
    if kind == "event trigger":
        return sql.SQL("EVENT TRIGGER {}").format(sql.Identifier(obj.name))
    if kind == "column":
        _, column = _child(obj)
        return sql.SQL("COLUMN {}").format(
            sql.Composed([_parent_identifier(obj, expected, actual), sql.SQL("."), sql.Identifier(column)])
        )
    if kind in ("constraint", "trigger", "policy"):
        _, name = _child(obj)
        keyword = {"constraint": "CONSTRAINT", "trigger": "TRIGGER", "policy": "POLICY"}[kind]
        on = "ON DOMAIN" if obj.parent and obj.parent[0] == "domain" else "ON"
        return sql.SQL("{} {} {} {}").format(
            sql.SQL(keyword), sql.Identifier(name), sql.SQL(on), _parent_identifier(obj, expected, actual)
        )
    return None


def _owner(obj: CatalogObject, want: Any, expected: Snapshot, actual: Snapshot) -> str | None:
    target = _alter_target(obj, expected, actual)
    if target is None or not want or obj.kind in ("column", "constraint", "trigger", "policy", "index"):
        return None
    return _text(sql.SQL("ALTER {} OWNER TO {};").format(target, sql.Identifier(want)))


def _comment(obj: CatalogObject, want: Any, expected: Snapshot, actual: Snapshot) -> str | None:
    target = _alter_target(obj, expected, actual)
    if target is None:
        return None
    value = sql.Literal(want) if want is not None else sql.SQL("NULL")
    return _text(sql.SQL("COMMENT ON {} IS {};").format(target, value))


def _grants(obj: CatalogObject, want: list[str], have: list[str], expected: Snapshot, actual: Snapshot):
    """GRANT/REVOKE statements from the two sorted grant lists (``grantee PRIVILEGE [WITH GRANT OPTION]``)."""
    if obj.kind == "column":
        return _column_grants(obj, want, have, expected, actual)
    target = _alter_target(obj, expected, actual)
    if target is None or obj.kind in ("constraint", "trigger", "policy", "index", "extension", "event trigger"):
        return None
    if obj.kind in ("view", "materialized view"):
        target = sql.SQL("TABLE {}").format(_qualified(obj, expected, actual))
    if obj.kind in _TYPE_KEYWORD:
        target = sql.SQL("{} {}").format(sql.SQL(_TYPE_KEYWORD[obj.kind]), _qualified(obj, expected, actual))
    statements: list[str] = []
    for entry in sorted(set(have) - set(want)):
        parsed = _parse_grant(entry, obj, expected, actual)
        if parsed is None:
            return None
        grantee, privilege, _option = parsed
        statements.append(_text(sql.SQL("REVOKE {} ON {} FROM {};").format(sql.SQL(privilege), target, grantee)))
    for entry in sorted(set(want) - set(have)):
        parsed = _parse_grant(entry, obj, expected, actual)
        if parsed is None:
            return None
        grantee, privilege, option = parsed
        suffix = sql.SQL(" WITH GRANT OPTION") if option else sql.SQL("")
        statements.append(_text(sql.SQL("GRANT {} ON {} TO {}{};").format(sql.SQL(privilege), target, grantee, suffix)))
    return "\n".join(statements) or None


def _column_grants(obj, want, have, expected, actual):
    table = _parent_identifier(obj, expected, actual)
    _, column = _child(obj)
    statements = []
    for entry, verb in [(e, "REVOKE") for e in sorted(set(have) - set(want))] + [
        (e, "GRANT") for e in sorted(set(want) - set(have))
    ]:
        parsed = _parse_grant(entry, obj, expected, actual)
        if parsed is None:
            return None
        grantee, privilege, option = parsed
        template = "REVOKE {} ({}) ON TABLE {} FROM {};" if verb == "REVOKE" else "GRANT {} ({}) ON TABLE {} TO {}{};"
        args = [sql.SQL(privilege), sql.Identifier(column), table, grantee]
        if verb == "GRANT":
            args.append(sql.SQL(" WITH GRANT OPTION") if option else sql.SQL(""))
        statements.append(_text(sql.SQL(template).format(*args)))
    return "\n".join(statements) or None


_PRIVILEGES = {
    "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "USAGE", "CREATE",
    "EXECUTE", "MAINTAIN", "TEMPORARY", "CONNECT",
}  # fmt: skip


def _parse_grant(entry: str, obj: CatalogObject, expected: Snapshot, actual: Snapshot):
    """``reader SELECT WITH GRANT OPTION`` -> (grantee, privilege, grant option); None when granted by
    another role (``(granted by x)``): that needs SET ROLE, so it is left to a human."""
    if "(granted by" in entry:
        return None
    option = entry.endswith(" WITH GRANT OPTION")
    text = entry.removesuffix(" WITH GRANT OPTION")
    grantee, _, privilege = text.rpartition(" ")
    if privilege not in _PRIVILEGES or not grantee:
        return None
    if grantee == "PUBLIC":
        return sql.SQL("PUBLIC"), privilege, option
    if grantee == "OWNER":
        owner_obj = expected.get(obj.kind, obj.name) or obj
        owner = owner_obj.attributes.get("owner")
        if not owner:
            parent = expected.objects.get(obj.parent) if obj.parent else None
            owner = parent.attributes.get("owner") if parent else None
        if not owner:
            return None
        return sql.Identifier(owner), privilege, option
    return sql.Identifier(grantee), privilege, option
