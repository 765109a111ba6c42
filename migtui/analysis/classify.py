"""Classify parsed statements into lock-model forms, with the relations in each role.

Input: a statement's JSON parse tree (pglast ``parse_sql_json``). Output: one ``Action`` per thing the
statement does (an ALTER TABLE with three subcommands gives three), naming the form of
``migtui.analysis.lock_model`` and the relations per role, plus details the rules need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from orjson import dumps as _dumps  # serializes in C: the source_relations pre-check costs less than a walk

from migtui.analysis.facts import CatalogFacts, MigrationKnowledge
from migtui.analysis.implicit import dict_nodes
from migtui.analysis.implicit import expand as expand_implicit
from migtui.analysis.lock_modes import LOCKMODE_BY_NUMBER
from migtui.analysis.types import type_change_narrows, type_change_rewrites

DEFAULT_SCHEMA: Final = "public"

# functions whose result does not change per row (a DEFAULT using only these needs no rewrite on PG >= 11),
# with the argument counts PostgreSQL has for them: ``now(123)`` or ``myschema.now()`` is another function
# (unknown volatility), not ``pg_catalog.now()``. VARIADIC = any count.
VARIADIC: Final = range(0, 101)
NON_VOLATILE_FUNCTIONS: Final[dict[str, range]] = {
    "now": range(0, 1),
    "transaction_timestamp": range(0, 1),
    "statement_timestamp": range(0, 1),
    "lower": range(1, 2),
    "upper": range(1, 2),
    "length": range(1, 3),
    "concat": VARIADIC,
    "concat_ws": range(1, 101),
    "to_timestamp": range(1, 3),
    "to_date": range(2, 3),
    "to_char": range(2, 3),
    "make_date": range(3, 4),
    "make_timestamp": range(6, 7),
    "make_timestamptz": range(6, 8),
    "make_interval": range(0, 8),
    "abs": range(1, 2),
    "round": range(1, 3),
    "btrim": range(1, 3),
    "ltrim": range(1, 3),
    "rtrim": range(1, 3),
    "jsonb_build_object": VARIADIC,
    "json_build_object": VARIADIC,
    "jsonb_build_array": VARIADIC,
    "json_build_array": VARIADIC,
    "array_fill": range(2, 4),
    "current_setting": range(1, 3),
    "md5": range(1, 2),
    "date_trunc": range(2, 4),
    "timezone": range(2, 3),
}
VOLATILE_FUNCTIONS: Final[dict[str, range]] = {
    "random": range(0, 3),
    "gen_random_uuid": range(0, 1),
    "uuid_generate_v1": range(0, 1),
    "uuid_generate_v1mc": range(0, 1),
    "uuid_generate_v4": range(0, 1),
    "uuidv4": range(0, 1),
    "uuidv7": range(0, 2),
    "nextval": range(1, 2),
    "clock_timestamp": range(0, 1),
    "timeofday": range(0, 1),
    "gen_random_bytes": range(1, 2),
    "txid_current": range(0, 1),
    "setseed": range(1, 2),
    "random_normal": range(0, 3),
}


@dataclass(init=False)
class Action:
    # Hand-written __init__ (here and in analyze.py): mypyc compiles it; a dataclass-generated one stays
    # interpreted Python, and these are built for every statement.
    form: str
    roles: dict[str, list[str]]
    info: dict[str, Any]
    assumptions: list[str]

    def __init__(
        self,
        form: str,
        roles: dict[str, list[str]] | None = None,
        info: dict[str, Any] | None = None,
        assumptions: list[str] | None = None,
    ) -> None:
        self.form = form
        self.roles = {} if roles is None else roles
        self.info = {} if info is None else info
        self.assumptions = [] if assumptions is None else assumptions

    def add(self, role: str, *relations: str) -> None:
        bucket = self.roles.setdefault(role, [])
        for rel in relations:
            if rel and rel not in bucket:
                bucket.append(rel)

    @property
    def table(self) -> str | None:
        rels = self.roles.get("table")
        return rels[0] if rels else None


def rangevar_name(rv: dict[str, Any] | None) -> str:
    if not rv:
        return ""
    # typed, not reassigned: compiled, a get on a dict is a C call, on an Any a Python method call
    var: dict[str, Any] = rv["RangeVar"] if "RangeVar" in rv else rv
    schema = var.get("schemaname") or DEFAULT_SCHEMA
    return f"{schema}.{var.get('relname', '')}"


def _names(items: list[dict[str, Any]] | None) -> list[str]:
    out: list[str] = []  # a loop, not a comprehension: no function object per call (interpreted)
    for i in items or []:
        if "String" in i:
            out.append(i["String"]["sval"])
    return out


def qualified_from_list(items: list[dict[str, Any]] | None) -> str:
    names = _names(items)
    if not names:
        return ""
    if len(names) == 1:
        return f"{DEFAULT_SCHEMA}.{names[0]}"
    return f"{names[-2]}.{names[-1]}"


def type_name_text(type_name: dict[str, Any] | None) -> str:
    """A TypeName node as SQL text: ``varchar(20)``, ``numeric(10,2)``, ``int8``."""
    if not type_name:
        return ""
    # a loop, not _names and a comprehension: two function objects and calls per column type, interpreted
    names: list[str] = []
    item: dict[str, Any]
    for item in type_name.get("names") or []:
        if "String" in item:
            name: str = item["String"]["sval"]
            if name != "pg_catalog":
                names.append(name)
    base = ".".join(names)
    mods = []
    for mod in type_name.get("typmods") or []:
        const = mod.get("A_Const", {})
        if "ival" in const:
            mods.append(str(const["ival"].get("ival", 0)))
    text = base + (f"({','.join(mods)})" if mods else "")
    if type_name.get("arrayBounds"):
        text += "[]"
    return text


def _builtin_call(call: dict[str, Any], table: dict[str, range]) -> str | None:
    """The name of a call to a built-in of ``table`` (bare or ``pg_catalog.``-qualified, plain positional
    arguments, an argument count PostgreSQL has): None for anything else, which is another function."""
    names = _names(call.get("funcname"))
    if not names or (len(names) > 1 and names[:-1] != ["pg_catalog"]):
        return None
    name = names[-1].lower()
    arity = table.get(name)
    if arity is None or call.get("agg_star") or call.get("func_variadic") or call.get("over"):
        return None
    args = call.get("args") or []
    if len(args) not in arity or any("NamedArgExpr" in a for a in args):
        return None
    return name


def expression_volatility(expr: Any) -> tuple[list[str], list[str]]:
    """(volatile function names, unknown calls as ``name(N arguments)``) used by a DEFAULT expression."""
    volatile: list[str] = []
    unknown: list[str] = []
    for node in dict_nodes(expr):
        call = node.get("FuncCall")
        if call:
            if _builtin_call(call, VOLATILE_FUNCTIONS):
                volatile.append(_names(call.get("funcname"))[-1].lower())
            elif not _builtin_call(call, NON_VOLATILE_FUNCTIONS):
                count = len(call.get("args") or [])
                shown = "*" if call.get("agg_star") else f"{count} argument{'' if count == 1 else 's'}"
                unknown.append(f"{'.'.join(_names(call.get('funcname')))}({shown})")
        if "SubLink" in node:
            unknown.append("subquery")
    return volatile, unknown


def source_relations(node: Any, exclude: set[str] | None = None) -> list[str]:
    """Relations read by a query (every RangeVar in FROM clauses / sub-selects), CTE names excluded."""
    if not node:
        return []
    text = _dumps(node)
    if b'"RangeVar"' not in text:  # C-speed pre-check: most sub-trees have none
        return []
    # every RangeVar key appears in the text (a string value spelled "RangeVar" only adds to the count): once that
    # many are found and no CTE name can exclude one, the rest of the walk finds nothing
    expected = -1 if b'"CommonTableExpr"' in text else text.count(b'"RangeVar"')
    # one pass over the tree, in dict_nodes' order, keeping only what it needs
    ctes: set[str] = set()
    found: list[dict[str, Any]] = []
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "CommonTableExpr" in item:
                cte = item["CommonTableExpr"]
                if cte:
                    ctes.add(cte.get("ctename", ""))
            if "RangeVar" in item:
                rv = item["RangeVar"]
                if rv is not None:
                    found.append(rv)
                    if len(found) == expected:
                        break
            for value in item.values():
                if isinstance(value, dict) or isinstance(value, list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    if not found:
        return []
    out: list[str] = []
    for rv in found:
        if not rv.get("schemaname") and rv.get("relname") in ctes:
            continue
        name = rangevar_name(rv)
        if name not in out and (not exclude or name not in exclude):
            out.append(name)
    return out


def option_enabled(options: list[dict[str, Any]] | None, name: str) -> bool | None:
    """A boolean option of a parenthesised option list read by its value, as PostgreSQL's defGetBoolean
    does: ``REINDEX (CONCURRENTLY false)``, ``VACUUM (FULL 0)``, ``CLUSTER (VERBOSE off)`` are off; a bare
    name or true/on/1 is on. None when the option is absent (the last one wins when repeated)."""
    value: bool | None = None
    for option in options or []:
        elem = option.get("DefElem")
        if elem is None or elem.get("defname") != name:
            continue
        arg = elem.get("arg")
        if not arg:
            value = True
        elif "Integer" in arg:
            value = arg["Integer"].get("ival", 0) != 0
        elif "Boolean" in arg:
            value = bool(arg["Boolean"].get("boolval", False))
        elif "String" in arg:
            value = str(arg["String"].get("sval", "")).lower() not in ("false", "off", "0")
        else:
            value = True
    return value


SYSTEM_SCHEMAS: Final = frozenset({"pg_catalog"})  # pg_toast holds user tables' TOAST too: those reindex concurrently


class Classifier:
    """Turns one statement into ``Action`` objects. Holds catalog facts and the target version."""

    def __init__(
        self, pg_version: int, facts: CatalogFacts | None, knowledge: MigrationKnowledge | None = None
    ) -> None:
        self.pg_version = pg_version
        self.facts = facts
        self.knowledge = knowledge if knowledge is not None else MigrationKnowledge()
        # table -> column -> type known from the migration itself (alembic ``existing_type``)
        self.type_hints: dict[str, dict[str, str]] = {}

    # --- catalog helpers -----------------------------------------------------------------------------
    def _refs_out(self, table: str, action: Action, what: str) -> None:
        if self.facts is None:
            action.assumptions.append(f"no catalog: {what} of {table} unknown")
            return
        action.add("referenced", *self.facts.referenced_tables(table))

    def _refs_in(self, table: str, action: Action, role: str, what: str) -> None:
        if self.facts is None:
            action.assumptions.append(f"no catalog: {what} of {table} unknown")
            return
        action.add(role, *self.facts.referencing_tables(table))

    def _old_type(self, table: str, column: str | None) -> str | None:
        """The column's type before this statement: what this run established last (newer than the catalog,
        which is the database before the run), else the catalog's, else alembic's ``existing_type``."""
        if column is None:
            return None
        if column in self.knowledge.column_types.get(table, {}):
            return self.knowledge.column_types[table][column]
        if self.facts is not None and column in self.facts.column_types.get(table, {}):
            return self.facts.column_types[table][column]
        if column in self.type_hints.get(table, {}):
            return self.type_hints[table][column]
        return self.knowledge.column_types.get(table, {}).get(column)

    def not_null_check_column(self, table: str, name: str | None) -> str | None:
        """The column of a ``CHECK (column IS NOT NULL)`` constraint, from this run or the catalog."""
        if not name:
            return None
        for (t, n), (column, _ok) in self.knowledge.not_null_checks.items():
            if t == table and n == name:
                return column
        con = self.facts.constraint(table, name) if self.facts else None
        if con is not None and con.type == "c":
            definition = con.definition.lower().replace('"', "")
            if definition.endswith(" not valid"):
                definition = definition[: -len(" not valid")]
            text = definition.replace("(", " ").replace(")", " ").split()
            if (len(text) == 4 and text[0] == "check" and text[2:] == ["is", "not"]) or (
                len(text) == 5 and text[0] == "check" and text[2:] == ["is", "not", "null"]
            ):
                return text[1]
        return None

    def column_is_not_null(self, table: str, column: str) -> bool:
        if (table, column) in self.knowledge.not_null_columns:
            return True
        if (table, column) in self.knowledge.nullable_columns:
            return False
        return self.facts is not None and column in self.facts.not_null.get(table, set())

    # --- entry point ---------------------------------------------------------------------------------
    def classify(self, node_type: str, node: dict[str, Any], sql: str | None = None) -> list[Action]:
        """The statement's actions. ``sql``, the statement's text, lets cheap text tests skip tree walks."""
        handler = _HANDLERS.get(node_type)
        if handler is None:
            return [Action("other", info={"node": node_type})]
        actions = handler(self, node)
        expand_implicit(self.pg_version, self.facts, node_type, node, actions, self.knowledge.column_types, sql)
        return actions

    # --- tables --------------------------------------------------------------------------------------
    def _CreateStmt(self, node: dict[str, Any]) -> list[Action]:
        table = rangevar_name(node.get("relation"))
        if node.get("partbound"):
            action = Action("create-table-partition-of", info={"created": table})
            for parent in node.get("inhRelations") or []:
                parent_name = rangevar_name(parent)
                action.add("parent", parent_name)
                if self.facts is not None:
                    default = self.facts.default_partition.get(parent_name)
                    if default:
                        action.add("default_partition", default)
                else:
                    action.assumptions.append(f"no catalog: default partition of {parent_name} unknown")
            return [action]
        action = Action(
            "create-table", info={"created": table, "columns": [], "if_not_exists": bool(node.get("if_not_exists"))}
        )
        # the parser's JSON nodes typed as dicts: compiled, their gets are C calls (on an Any, Python method calls)
        elt: dict[str, Any]
        col: dict[str, Any]
        con: dict[str, Any]
        c: dict[str, Any]
        for elt in node.get("tableElts") or []:
            if "ColumnDef" in elt:
                col = elt["ColumnDef"]
                action.info["columns"].append((col.get("colname"), type_name_text(col.get("typeName")), col))
                for con in col.get("constraints") or []:
                    c = con.get("Constraint", {})
                    if c.get("contype") == "CONSTR_FOREIGN":
                        action.add("referenced", rangevar_name(c.get("pktable")))
                        fk_name = c.get("conname") or f"{table.split('.', 1)[-1]}_{col.get('colname')}_fkey"
                        action.info.setdefault("foreign_keys", []).append((fk_name, rangevar_name(c.get("pktable"))))
            elif "Constraint" in elt:
                c = elt["Constraint"]
                if c.get("contype") == "CONSTR_FOREIGN":
                    action.add("referenced", rangevar_name(c.get("pktable")))
                    columns = _names(c.get("fk_attrs"))
                    fk_name = c.get("conname") or f"{table.split('.', 1)[-1]}_{'_'.join(columns)}_fkey"
                    action.info.setdefault("foreign_keys", []).append((fk_name, rangevar_name(c.get("pktable"))))
                elif c.get("contype") == "CONSTR_PRIMARY":  # its columns are NOT NULL
                    action.info.setdefault("primary_key", []).extend(_names(c.get("keys")))
        action.roles.pop("table", None)
        return [action]

    def _CreateTableAsStmt(self, node: dict[str, Any]) -> list[Action]:
        into = node.get("into", {}).get("IntoClause", {})
        created = rangevar_name(into.get("rel"))
        if node.get("objtype") == "OBJECT_MATVIEW":
            action = Action("create-materialized-view", info={"created": created})
        else:
            action = Action("create-table-as", info={"created": created})
        action.add("source", *source_relations(node.get("query")))
        return [action]

    def _DropStmt(self, node: dict[str, Any]) -> list[Action]:
        kind = node.get("removeType")
        cascade = node.get("behavior") == "DROP_CASCADE"
        objects = node.get("objects") or []
        actions = []
        if kind in ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_SEQUENCE", "OBJECT_FOREIGN_TABLE"):
            form = {
                "OBJECT_TABLE": "drop-table",
                "OBJECT_VIEW": "drop-view",
                "OBJECT_MATVIEW": "drop-materialized-view",
                "OBJECT_SEQUENCE": "drop-sequence",
                "OBJECT_FOREIGN_TABLE": "drop-table",
            }[kind]
            for obj in objects:
                name = qualified_from_list(obj.get("List", {}).get("items"))
                action = Action(
                    form, info={"cascade": cascade, "dropped": name, "if_exists": bool(node.get("missing_ok"))}
                )
                action.add("table", name)
                if form == "drop-table":
                    self._refs_out(name, action, "tables referenced by foreign keys")
                    if cascade:
                        self._refs_in(name, action, "cascade", "tables whose foreign keys are dropped by CASCADE")
                    if self.facts is not None:
                        for child in self.facts.partitions.get(name, []):
                            action.add("cascade", child)
                if cascade and self.facts is not None:
                    action.add("cascade", *self.facts.dependent_views.get(name, []))
                actions.append(action)
            return actions
        if kind == "OBJECT_INDEX":
            form = "drop-index-concurrently" if node.get("concurrent") else "drop-index"
            for obj in objects:
                name = qualified_from_list(obj.get("List", {}).get("items"))
                action = Action(form, info={"dropped": name, "if_exists": bool(node.get("missing_ok"))})
                action.add("index", name)
                self._index_table(name, action)
                actions.append(action)
            return actions
        if kind == "OBJECT_TRIGGER" or kind == "OBJECT_POLICY" or kind == "OBJECT_RULE":
            forms = {"OBJECT_TRIGGER": "drop-trigger", "OBJECT_POLICY": "create-policy", "OBJECT_RULE": "create-rule"}
            for obj in objects:
                names = _names(obj.get("List", {}).get("items"))
                table = f"{names[-3]}.{names[-2]}" if len(names) >= 3 else f"{DEFAULT_SCHEMA}.{names[0]}"
                action = Action(forms[kind], info={"dropped": names[-1], "if_exists": bool(node.get("missing_ok"))})
                action.add("table", table)
                actions.append(action)
            return actions
        if kind == "OBJECT_SCHEMA":
            action = Action(
                "drop-schema",
                info={
                    "cascade": cascade,
                    "dropped": ",".join(o.get("String", {}).get("sval", "") for o in objects),
                    "if_exists": bool(node.get("missing_ok")),
                },
            )
            if cascade:
                action.assumptions.append("DROP SCHEMA ... CASCADE locks every relation in the schema")
            return [action]
        if kind in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
            return [Action("drop-type", info={"dropped": str(len(objects)), "if_exists": bool(node.get("missing_ok"))})]
        if kind == "OBJECT_DATABASE":
            return [Action("other", info={"drop_database": True})]
        return [Action("create-schema", info={"drop_kind": kind})]

    def _DropdbStmt(self, node: dict[str, Any]) -> list[Action]:
        return [Action("other", info={"drop_database": True})]

    def _index_table(self, index: str, action: Action) -> None:
        if index in self.knowledge.index_tables:  # created earlier in this run
            action.add("table", self.knowledge.index_tables[index])
        elif self.facts is not None and index in self.facts.indexes:
            action.add("table", self.facts.indexes[index])
        elif self.facts is None:
            action.assumptions.append(f"no catalog: table of index {index} unknown")
        else:
            action.assumptions.append(
                f"index {index} is neither in the catalog nor created earlier in this run: its table is unknown"
            )

    def _TruncateStmt(self, node: dict[str, Any]) -> list[Action]:
        cascade = node.get("behavior") == "DROP_CASCADE"
        action = Action("truncate-cascade" if cascade else "truncate", info={"cascade": cascade})
        for rv in node.get("relations") or []:
            name = rangevar_name(rv)
            action.add("table", name)
            if cascade:
                self._refs_in(name, action, "cascade", "tables truncated by CASCADE")
        return [action]

    def _RenameStmt(self, node: dict[str, Any]) -> list[Action]:
        rtype = node.get("renameType")
        table = rangevar_name(node.get("relation"))
        if rtype == "OBJECT_COLUMN":
            action = Action("rename-column", info={"column": node.get("subname"), "new": node.get("newname")})
        elif rtype == "OBJECT_TABCONSTRAINT":
            action = Action("rename-constraint", info={"constraint": node.get("subname")})
        elif rtype == "OBJECT_INDEX":
            action = Action("rename-index", info={"new": node.get("newname")})
            action.add("index", table)
            return [action]
        elif rtype in ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_SEQUENCE", "OBJECT_FOREIGN_TABLE"):
            action = Action("rename-table", info={"new": node.get("newname")})
        elif rtype == "OBJECT_TRIGGER":
            action = Action("drop-trigger")  # RENAME TRIGGER takes AccessExclusiveLock like DROP TRIGGER
        elif rtype in ("OBJECT_TYPE", "OBJECT_ATTRIBUTE", "OBJECT_DOMAIN"):
            return [Action("alter-type")]
        else:
            return [Action("create-schema", info={"rename_kind": rtype})]
        action.add("table", table)
        return [action]

    def _AlterObjectSchemaStmt(self, node: dict[str, Any]) -> list[Action]:
        if node.get("relation"):
            action = Action("set-schema")
            action.add("table", rangevar_name(node.get("relation")))
            return [action]
        return [Action("alter-type")]

    # --- ALTER TABLE ---------------------------------------------------------------------------------
    def _AlterTableStmt(self, node: dict[str, Any]) -> list[Action]:
        objtype = node.get("objtype")
        table = rangevar_name(node.get("relation"))
        actions: list[Action] = []
        cmd_wrap: dict[str, Any]
        for cmd_wrap in node.get("cmds") or []:
            cmd: dict[str, Any] = cmd_wrap.get("AlterTableCmd", {})
            if objtype == "OBJECT_INDEX":
                action = Action("alter-index" if cmd.get("subtype") != "AT_SetTableSpace" else "alter-table-other")
                action.add("index", table)
                if action.form == "alter-table-other":
                    self._index_table(table, action)
                actions.append(action)
                continue
            action = self._alter_table_cmd(table, cmd, objtype)
            subtype = cmd.get("subtype")
            if not action.roles.get("table") and action.form not in (
                "attach-partition",
                "attach-partition-with-check",
                "detach-partition",
                "detach-partition-concurrently",
            ):
                action.add("table", table)
            action.info.setdefault("subtype", subtype)
            actions.append(action)
            if subtype == "AT_AddColumn":
                action.info["if_not_exists"] = bool(cmd.get("missing_ok"))
                actions.extend(self._inline_constraints(table, action))
        return actions

    def _inline_constraints(self, table: str, column_action: Action) -> list[Action]:
        """The work an ADD COLUMN's own constraints make PostgreSQL do under its AccessExclusiveLock, as the
        ADD CONSTRAINT forms it equals: UNIQUE / PRIMARY KEY build an index, CHECK scans every row, and
        REFERENCES checks every row when a DEFAULT fills the column (all NULL otherwise: nothing to check)."""
        coldef: dict[str, Any] = column_action.info.get("coldef") or {}
        if not coldef.get("constraints"):  # most columns: nothing to build
            return []
        column = column_action.info.get("column")
        constraints: list[dict[str, Any]] = [c.get("Constraint", {}) for c in coldef.get("constraints") or []]
        has_default = False
        for c in constraints:
            if c.get("contype") == "CONSTR_DEFAULT":
                has_default = True
                break
        out: list[Action] = []
        for con in constraints:
            contype = con.get("contype")
            info = {"constraint": con.get("conname"), "contype": contype, "inline_column": column, "column": column}
            if contype == "CONSTR_UNIQUE":
                out.append(Action("add-unique", info=info))
            elif contype == "CONSTR_PRIMARY":
                out.append(Action("add-primary-key", info=info))
            elif contype == "CONSTR_CHECK":
                out.append(Action("add-check", info=info))
            elif contype == "CONSTR_FOREIGN" and has_default:
                action = Action("add-foreign-key", info=info)
                action.add("table", table)
                action.add("referenced", rangevar_name(con.get("pktable")))
                out.append(action)
            else:
                continue
            out[-1].add("table", table)
            out[-1].info["subtype"] = "AT_AddColumn"
        return out

    def _alter_table_cmd(self, table: str, cmd: dict[str, Any], objtype: str | None) -> Action:
        sub: str = cmd.get("subtype", "")  # typed: compiled, its many comparisons are C string compares
        name = cmd.get("name")
        if objtype == "OBJECT_SEQUENCE":
            return Action("alter-sequence")
        if sub == "AT_AddColumn":
            return self._add_column(table, cmd.get("def", {}).get("ColumnDef", {}))
        if sub == "AT_DropColumn":
            return Action(
                "drop-column",
                info={
                    "column": name,
                    "cascade": cmd.get("behavior") == "DROP_CASCADE",
                    "if_exists": bool(cmd.get("missing_ok")),
                },
            )
        if sub == "AT_AlterColumnType":
            coldef = cmd.get("def", {}).get("ColumnDef", {})
            new_type = type_name_text(coldef.get("typeName"))
            old_type = self._old_type(table, name)
            rewrites = type_change_rewrites(old_type, new_type)
            info = {
                "column": name,
                "new_type": new_type,
                "old_type": old_type,
                "using": bool(coldef.get("raw_default")),
            }
            if coldef.get("raw_default"):
                rewrites = True if rewrites is None else rewrites or True
            info["narrows"] = type_change_narrows(old_type, new_type)
            if rewrites is False:
                return Action("alter-column-type-no-rewrite", info=info)
            action = Action("alter-column-type", info=info)
            if rewrites is None:
                action.assumptions.append(
                    f"type of {table}.{name} before the change unknown: assumed the change to {new_type} rewrites"
                )
            return action
        if sub == "AT_ColumnDefault":
            return Action("set-default", info={"column": name, "drop": not cmd.get("def")})
        if sub == "AT_SetNotNull":
            if name and self.column_is_not_null(table, name):  # nothing to check: PostgreSQL skips the scan
                return Action("set-not-null-with-check", info={"column": name, "already_not_null": True})
            if self._has_not_null_check(table, name):
                return Action("set-not-null-with-check", info={"column": name})
            action = Action("set-not-null", info={"column": name})
            if self.facts is None:
                action.assumptions.append(f"no catalog: assumed no validated CHECK ({name} IS NOT NULL) on {table}")
            elif table not in self.facts.tables and table not in self.knowledge.column_types:
                action.assumptions.append(
                    f"{table} is neither in the catalog nor created earlier in this run: assumed {name} nullable"
                )
            return action
        if sub == "AT_DropNotNull":
            return Action("drop-not-null", info={"column": name})
        if sub in ("AT_AddIdentity", "AT_SetIdentity", "AT_DropIdentity"):
            return Action("add-identity", info={"column": name})
        if sub in ("AT_SetStatistics", "AT_SetOptions", "AT_ResetOptions"):
            return Action("set-statistics", info={"column": name})
        if sub in ("AT_SetStorage", "AT_SetCompression"):
            return Action("set-storage", info={"column": name})
        if sub == "AT_SetExpression":
            return Action("set-expression", info={"column": name})
        if sub == "AT_DropExpression":
            return Action("drop-expression", info={"column": name})
        if sub in ("AT_AddConstraint", "AT_AddIndexConstraint"):
            return self._add_constraint(table, cmd.get("def", {}).get("Constraint", {}))
        if sub == "AT_ValidateConstraint":
            con = self.facts.constraint(table, name) if self.facts else None
            if con is not None and con.type == "f":
                action = Action("validate-foreign-key", info={"constraint": name})
                action.add("table", table)
                action.add("referenced", con.referenced_table or "")
                return action
            action = Action("validate-constraint", info={"constraint": name})
            if self.facts is None:
                action.assumptions.append(
                    f"no catalog: constraint {name} assumed not a foreign key (a foreign key also takes "
                    "RowShareLock on the referenced table)"
                )
            return action
        if sub == "AT_DropConstraint":
            con = self.facts.constraint(table, name) if self.facts else None
            info = {"constraint": name, "if_exists": cmd.get("missing_ok")}
            referenced = self.knowledge.foreign_keys.get((table, name or ""))  # created earlier in this run
            if referenced is None and con is not None and con.type == "f":
                referenced = con.referenced_table or ""
            if referenced is not None:
                action = Action("drop-foreign-key", info=info)
                action.add("table", table)
                action.add("referenced", referenced)
                return action
            action = Action("drop-constraint", info=info)
            if con is None and (table, name or "") not in self.knowledge.constraints:
                known = "no catalog" if self.facts is None else "not in the catalog nor created earlier in this run"
                action.assumptions.append(
                    f"{known}: constraint {name} assumed not a foreign key (dropping a foreign key also takes "
                    "AccessExclusiveLock on the referenced table)"
                )
            return action
        if sub == "AT_AlterConstraint":
            action = Action("alter-constraint", info={"constraint": name})
            action.add("table", table)
            con = (
                self.facts.constraint(table, (cmd.get("def", {}).get("Constraint", {}) or {}).get("conname", ""))
                if self.facts
                else None
            )
            if con is not None and con.referenced_table:
                action.add("referenced", con.referenced_table)
            return action
        if sub in ("AT_SetLogged", "AT_SetUnLogged"):
            return Action("set-logged", info={"logged": sub == "AT_SetLogged"})
        if sub == "AT_SetTableSpace":
            return Action("set-tablespace")
        if sub == "AT_SetAccessMethod":
            return Action("set-access-method")
        if sub in ("AT_SetRelOptions", "AT_ResetRelOptions"):
            return Action("set-storage-parameters")
        if sub in ("AT_ClusterOn", "AT_DropCluster"):
            return Action("cluster-on")
        if (
            sub.startswith("AT_EnableTrig")
            or sub.startswith("AT_DisableTrig")
            or sub.startswith("AT_EnableRule")
            or sub.startswith("AT_DisableRule")
            or sub in ("AT_EnableAlwaysTrig", "AT_EnableReplicaTrig", "AT_EnableAlwaysRule", "AT_EnableReplicaRule")
        ):
            return Action("enable-trigger")
        if sub in ("AT_EnableRowSecurity", "AT_DisableRowSecurity", "AT_ForceRowSecurity", "AT_NoForceRowSecurity"):
            return Action("row-level-security")
        if sub == "AT_ReplicaIdentity":
            return Action("replica-identity")
        if sub == "AT_ChangeOwner":
            return Action("owner-to")
        if sub in ("AT_AddInherit", "AT_DropInherit"):
            action = Action("inherit")
            action.add("table", table)
            action.add("parent", rangevar_name(cmd.get("def")))
            return action
        if sub == "AT_AttachPartition":
            part = rangevar_name(cmd.get("def", {}).get("PartitionCmd", {}).get("name"))
            checked = self._has_partition_check(part)
            action = Action("attach-partition-with-check" if checked else "attach-partition", info={"partition": part})
            action.add("parent", table)
            action.add("partition", part)
            if self.facts is not None:
                default = self.facts.default_partition.get(table)
                if default:
                    action.add("default_partition", default)
            else:
                action.assumptions.append(
                    f"no catalog: assumed {part} has no CHECK matching the partition bound (it is scanned) "
                    f"and {table}'s default partition, if any, is unknown"
                )
            return action
        if sub == "AT_DetachPartition":
            pcmd = cmd.get("def", {}).get("PartitionCmd", {})
            part = rangevar_name(pcmd.get("name"))
            action = Action(
                "detach-partition-concurrently" if pcmd.get("concurrent") else "detach-partition",
                info={"partition": part},
            )
            action.add("parent", table)
            action.add("partition", part)
            return action
        if sub == "AT_DetachPartitionFinalize":
            action = Action("detach-partition-concurrently")
            action.add("parent", table)
            return action
        return Action("alter-table-other", info={"subtype": sub})

    def _has_not_null_check(self, table: str, column: str | None) -> bool:
        if column is None:
            return False
        if self.knowledge.has_validated_not_null_check(table, column):
            return True
        if self.facts is None:
            return False
        if column in self.facts.not_null.get(table, set()):
            return True
        for con in self.facts.constraints.get(table, ()):
            if con.type == "c" and con.validated:
                text = con.definition.lower().replace('"', "")
                if f"({column} is not null)" in text or text == f"check ({column} is not null)":
                    return True
        return False

    def _has_partition_check(self, partition: str) -> bool:
        if self.facts is None:
            return False
        return any(c.type == "c" and c.validated for c in self.facts.constraints.get(partition, ()))

    def _add_column(self, table: str, col: dict[str, Any]) -> Action:
        type_text = type_name_text(col.get("typeName"))
        info: dict[str, Any] = {"column": col.get("colname"), "type": type_text, "coldef": col}
        base = type_text.split("(")[0].lower()
        # one loop over the constraints, no comprehension or generator objects: most columns have none or one
        kinds: set[Any] = set()
        refs: list[str] = []
        gen: dict[str, Any] | None = None  # the first GENERATED and DEFAULT constraints
        default: dict[str, Any] | None = None
        wrapper: dict[str, Any]
        for wrapper in col.get("constraints") or []:
            con: dict[str, Any] = wrapper.get("Constraint", {})
            contype = con.get("contype")
            kinds.add(contype)
            if contype == "CONSTR_FOREIGN":
                refs.append(rangevar_name(con.get("pktable")))
            elif contype == "CONSTR_GENERATED":
                if gen is None:
                    gen = con
            elif contype == "CONSTR_DEFAULT" and default is None:
                default = con
        if base in ("serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"):
            form = "add-column-serial"
        elif "CONSTR_IDENTITY" in kinds:
            form = "add-column-identity"
        elif gen is not None:
            # PG 18: GENERATED ... AS (expr) without STORED is VIRTUAL; before 18 only STORED exists
            stored = gen.get("generated_kind", "s") == "s" or self.pg_version < 18
            form = "add-column-stored-generated" if stored else "add-column-virtual-generated"
        else:
            if default is not None:
                volatile, unknown = expression_volatility(default.get("raw_expr"))
                info["default_unknown_functions"] = unknown
                info["default_volatile_functions"] = volatile
                if volatile or unknown:
                    form = "add-column-volatile-default"
                    info["volatile"] = True
                else:
                    form = "add-column"
            elif "CONSTR_NOTNULL" in kinds or "CONSTR_PRIMARY" in kinds:
                form = "add-column-not-null"
            else:
                form = "add-column"
        info["not_null"] = "CONSTR_NOTNULL" in kinds or "CONSTR_PRIMARY" in kinds
        info["unique"] = "CONSTR_UNIQUE" in kinds or "CONSTR_PRIMARY" in kinds
        info["has_default"] = "CONSTR_DEFAULT" in kinds
        info["check"] = "CONSTR_CHECK" in kinds
        action = Action(form, info=info)
        if info.get("default_unknown_functions") and not info.get("volatile_known"):
            names = ", ".join(sorted(set(info["default_unknown_functions"])))
            action.assumptions.append(f"volatility of {names} unknown: assumed volatile (rewrites the table)")
        if refs:
            action.add("table", table)
            action.add("referenced", *refs)
        return action

    def _add_constraint(self, table: str, con: dict[str, Any]) -> Action:
        contype = con.get("contype")
        not_valid = bool(con.get("skip_validation"))
        info = {"constraint": con.get("conname"), "not_valid": not_valid, "contype": contype}
        null_test = (con.get("raw_expr") or {}).get("NullTest")
        if contype == "CONSTR_CHECK" and null_test and null_test.get("nulltesttype") == "IS_NOT_NULL":
            fields = _names((null_test.get("arg") or {}).get("ColumnRef", {}).get("fields"))
            if len(fields) == 1:
                info["not_null_column"] = fields[0]
        if con.get("indexname"):
            return Action("add-constraint-using-index", info=info)
        if contype == "CONSTR_FOREIGN":
            action = Action("add-foreign-key-not-valid" if not_valid else "add-foreign-key", info=info)
            action.add("table", table)
            action.add("referenced", rangevar_name(con.get("pktable")))
            return action
        if contype == "CONSTR_CHECK":
            return Action("add-check-not-valid" if not_valid else "add-check", info=info)
        if contype == "CONSTR_UNIQUE":
            return Action("add-unique", info=info)
        if contype == "CONSTR_PRIMARY":
            return Action("add-primary-key", info=info)
        if contype == "CONSTR_EXCLUSION":
            return Action("add-exclusion", info=info)
        if contype == "CONSTR_NOTNULL":
            keys = _names(con.get("keys"))
            column = keys[0] if keys else None
            info["column"] = column
            if not not_valid and column and self._has_not_null_check(table, column):
                return Action("set-not-null-with-check", info=info)  # the validated CHECK proves it: no scan
            return Action("add-not-null-constraint-not-valid" if not_valid else "add-not-null-constraint", info=info)
        return Action("alter-table-other", info=info)

    # --- indexes -------------------------------------------------------------------------------------
    def _IndexStmt(self, node: dict[str, Any]) -> list[Action]:
        table = rangevar_name(node.get("relation"))
        form = "create-index-concurrently" if node.get("concurrent") else "create-index"
        action = Action(
            form,
            info={
                "index": node.get("idxname"),
                "unique": bool(node.get("unique")),
                "if_not_exists": bool(node.get("if_not_exists")),
            },
        )
        action.add("table", table)
        return [action]

    def _ReindexStmt(self, node: dict[str, Any]) -> list[Action]:
        concurrent = option_enabled(node.get("params"), "concurrently") or bool(node.get("concurrent"))
        action = Action("reindex-concurrently" if concurrent else "reindex")
        kind = node.get("kind", "")
        name = rangevar_name(node.get("relation")) if node.get("relation") else ""
        # system catalogs cannot be reindexed CONCURRENTLY: PostgreSQL rejects it (SYSTEM, a catalog table or
        # index) or skips every catalog (SCHEMA pg_catalog)
        action.info["kind"] = kind
        action.info["system"] = (
            kind == "REINDEX_OBJECT_SYSTEM"
            or (kind == "REINDEX_OBJECT_SCHEMA" and node.get("name") in SYSTEM_SCHEMAS)
            or (bool(name) and name.split(".", 1)[0] in SYSTEM_SCHEMAS)
        )
        if kind == "REINDEX_OBJECT_INDEX":
            action.add("index", name)
            self._index_table(name, action)
        elif kind == "REINDEX_OBJECT_TABLE":
            action.add("table", name)
            if self.facts is not None:
                action.add("index", *sorted(i for i, t in self.facts.indexes.items() if t == name))
        else:
            action.assumptions.append("REINDEX SCHEMA/DATABASE/SYSTEM locks every table it reindexes")
        return [action]

    def _CreateStatsStmt(self, node: dict[str, Any]) -> list[Action]:
        action = Action("create-statistics")
        for rel in node.get("relations") or []:
            action.add("table", rangevar_name(rel))
        return [action]

    # --- triggers, policies, rules, comments ------------------------------------------------------------
    def _CreateTrigStmt(self, node: dict[str, Any]) -> list[Action]:
        action = Action("create-trigger")
        action.add("table", rangevar_name(node.get("relation")))
        return [action]

    def _CreatePolicyStmt(self, node: dict[str, Any]) -> list[Action]:
        action = Action("create-policy")
        action.add("table", rangevar_name(node.get("table")))
        return [action]

    def _RuleStmt(self, node: dict[str, Any]) -> list[Action]:
        action = Action("create-rule")
        action.add("table", rangevar_name(node.get("relation")))
        return [action]

    def _CommentStmt(self, node: dict[str, Any]) -> list[Action]:
        objtype = node.get("objtype")
        if objtype in (
            "OBJECT_TABLE",
            "OBJECT_VIEW",
            "OBJECT_MATVIEW",
            "OBJECT_COLUMN",
            "OBJECT_INDEX",
            "OBJECT_SEQUENCE",
        ):
            obj = node.get("object", {})
            names = _names(obj.get("List", {}).get("items"))
            if objtype == "OBJECT_COLUMN":
                names = names[:-1]
            rel = f"{names[-2]}.{names[-1]}" if len(names) >= 2 else f"{DEFAULT_SCHEMA}.{names[-1]}"
            action = Action("comment")
            action.add("table", rel)
            return [action]
        return [Action("create-schema", info={"comment": objtype})]

    # --- views ---------------------------------------------------------------------------------------
    def _ViewStmt(self, node: dict[str, Any]) -> list[Action]:
        view = rangevar_name(node.get("view"))
        exists = self.facts is not None and view in self.facts.tables
        if node.get("replace") and (exists or self.facts is None):
            action = Action("replace-view", info={"created": view})
            action.add("table", view)
            if self.facts is None:
                action.assumptions.append(f"no catalog: assumed view {view} exists (OR REPLACE locks it)")
        else:
            action = Action("create-view", info={"created": view})
        action.add("source", *source_relations(node.get("query"), exclude={view}))
        return [action]

    def _RefreshMatViewStmt(self, node: dict[str, Any]) -> list[Action]:
        name = rangevar_name(node.get("relation"))
        action = Action(
            "refresh-materialized-view-concurrently" if node.get("concurrent") else "refresh-materialized-view"
        )
        action.add("table", name)
        if self.facts is not None:
            action.add("source", *self.facts.view_sources.get(name, []))
        return [action]

    # --- types, sequences ----------------------------------------------------------------------------
    def _CreateEnumStmt(self, node: dict[str, Any]) -> list[Action]:
        return [Action("create-type", info={"enum": True})]

    def _CompositeTypeStmt(self, node: dict[str, Any]) -> list[Action]:
        return [Action("create-type")]

    def _CreateDomainStmt(self, node: dict[str, Any]) -> list[Action]:
        return [Action("create-type", info={"domain_constraints": bool(node.get("constraints"))})]

    def _AlterEnumStmt(self, node: dict[str, Any]) -> list[Action]:
        if node.get("oldVal"):
            return [Action("alter-type", info={"rename_value": True})]
        return [Action("alter-type-add-value")]

    def _AlterDomainStmt(self, node: dict[str, Any]) -> list[Action]:
        return [Action("alter-type", info={"domain_add_constraint": node.get("subtype") == "C"})]

    def _CreateSeqStmt(self, node: dict[str, Any]) -> list[Action]:
        return [Action("create-sequence")]

    def _AlterSeqStmt(self, node: dict[str, Any]) -> list[Action]:
        action = Action("alter-sequence")
        action.add("table", rangevar_name(node.get("sequence")))
        return [action]

    # --- maintenance ---------------------------------------------------------------------------------
    def _VacuumStmt(self, node: dict[str, Any]) -> list[Action]:
        full = bool(option_enabled(node.get("options"), "full"))
        if not node.get("is_vacuumcmd", False):
            form = "analyze"
        else:
            form = "vacuum-full" if full else "vacuum"
        action = Action(form)
        rels = node.get("rels") or []
        for rel in rels:
            action.add("table", rangevar_name(rel.get("VacuumRelation", {}).get("relation")))
        if not rels:
            action.assumptions.append("no table named: every table in the database is processed")
        return [action]

    def _ClusterStmt(self, node: dict[str, Any]) -> list[Action]:
        action = Action("cluster")
        if node.get("relation"):
            action.add("table", rangevar_name(node.get("relation")))
        else:
            action.assumptions.append("no table named: every previously clustered table is processed")
        return [action]

    def _LockStmt(self, node: dict[str, Any]) -> list[Action]:
        mode = LOCKMODE_BY_NUMBER.get(int(node.get("mode", 8)), "AccessExclusiveLock")
        action = Action("lock-table", info={"mode": mode})
        for rv in node.get("relations") or []:
            action.add("table", rangevar_name(rv))
        return [action]

    # --- DML -----------------------------------------------------------------------------------------
    def _InsertStmt(self, node: dict[str, Any]) -> list[Action]:
        table = rangevar_name(node.get("relation"))
        action = Action("insert")
        action.add("table", table)
        if self.facts is not None:
            action.add("referenced", *self.facts.referenced_tables(table))
        action.add("source", *source_relations(node.get("selectStmt"), exclude={table}))
        return [action]

    def _UpdateStmt(self, node: dict[str, Any]) -> list[Action]:
        table = rangevar_name(node.get("relation"))
        action = Action("update" if node.get("whereClause") else "update-all-rows")
        action.add("table", table)
        if self.facts is not None:
            action.add("referenced", *self.facts.referenced_tables(table))
        extra = {k: v for k, v in node.items() if k in ("fromClause", "whereClause", "targetList", "withClause")}
        action.add("source", *source_relations(extra, exclude={table}))
        return [action]

    def _DeleteStmt(self, node: dict[str, Any]) -> list[Action]:
        table = rangevar_name(node.get("relation"))
        action = Action("delete" if node.get("whereClause") else "delete-all-rows")
        action.add("table", table)
        if self.facts is not None:
            action.add("referencing", *self.facts.referencing_tables(table))
        extra = {k: v for k, v in node.items() if k in ("usingClause", "whereClause", "withClause")}
        action.add("source", *source_relations(extra, exclude={table}))
        return [action]

    def _MergeStmt(self, node: dict[str, Any]) -> list[Action]:
        table = rangevar_name(node.get("relation"))
        action = Action("merge")
        action.add("table", table)
        action.add("source", *source_relations(node.get("sourceRelation"), exclude={table}))
        return [action]

    def _SelectStmt(self, node: dict[str, Any]) -> list[Action]:
        locking = bool(node.get("lockingClause"))
        action = Action("select-for-update" if locking else "select")
        sources = source_relations(node)
        action.add("source", *sources)
        calls = [_names(n["FuncCall"].get("funcname"))[-1] for n in dict_nodes(node) if "FuncCall" in n]
        if calls and not sources:
            action.info["calls"] = calls
        return [action]

    # --- session and transaction control -------------------------------------------------------------
    def _VariableSetStmt(self, node: dict[str, Any]) -> list[Action]:
        value = None
        args = node.get("args") or []
        if args:
            const = args[0].get("A_Const", {})
            if "sval" in const:
                value = const["sval"].get("sval")
            elif "ival" in const:
                value = str(const["ival"].get("ival", 0))
        return [
            Action(
                "set",
                info={
                    "name": node.get("name"),
                    "value": value,
                    "local": bool(node.get("is_local")),
                    "kind": node.get("kind"),
                },
            )
        ]

    def _TransactionStmt(self, node: dict[str, Any]) -> list[Action]:
        return [Action("transaction-control", info={"kind": node.get("kind")})]

    def _ExplainStmt(self, node: dict[str, Any]) -> list[Action]:
        # EXPLAIN ANALYZE runs the statement (and takes its locks); plain EXPLAIN only plans it
        query = node.get("query") or {}
        if option_enabled(node.get("options"), "analyze") and len(query) == 1:
            inner_type, inner = next(iter(query.items()))
            return self.classify(inner_type, inner)
        return [Action("other", info={"node": "ExplainStmt"})]

    def _DoStmt(self, node: dict[str, Any]) -> list[Action]:
        return [Action("do-block")]

    def _CreateSchemaStmt(self, node: dict[str, Any]) -> list[Action]:
        return [Action("create-schema")]


# statement node type (``AlterTableStmt``) -> the Classifier method ``_AlterTableStmt``, looked up once
_HANDLERS: Final = {
    name[1:]: handler
    for name, handler in vars(Classifier).items()
    if name.startswith("_") and name[1:2].isupper() and callable(handler)
}
# statement types handled like another one (no class-level aliases: the module may be compiled by mypyc)
_SAME_AS: Final = {
    "AlterPolicyStmt": "CreatePolicyStmt",
    **dict.fromkeys(
        (
            "CreateExtensionStmt",
            "CreateFunctionStmt",
            "GrantStmt",
            "CreateRoleStmt",
            "AlterFunctionStmt",
            "CreateCastStmt",
            "AlterRoleStmt",
            "AlterDefaultPrivilegesStmt",
            "CreateFdwStmt",
            "CreateForeignServerStmt",
            "AlterExtensionStmt",
        ),
        "CreateSchemaStmt",
    ),
}
_HANDLERS.update({alias: _HANDLERS[target] for alias, target in _SAME_AS.items()})
