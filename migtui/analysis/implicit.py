"""The relations a statement locks without naming them, added to the classifier's actions as roles.

PostgreSQL locks more than the statement names: an ALTER TABLE on a partitioned table or an inheritance parent
recurses into every partition and child; DML through a view writes its base table; TRUNCATE ... RESTART
IDENTITY, SET UNLOGGED, OWNER TO and DROP reach the sequences a table owns; an INSERT advances the sequences its
defaults call; ALTER DOMAIN ... ADD CHECK scans every table using the domain; CASCADE reaches dependent views,
tables and sequences. The catalog facts (``--dsn``, dry-run) name them; without a catalog the analysis states the
assumption instead. The lock mode of each role is the lock model's (``migtui.analysis.lock_model``); the probe
``tests/analysis/test_lock_corpus.py`` measures both on real servers.

Roles added here:

- ``partitions`` / ``children``: every partition (any depth) / inheritance child of ``table``
- ``heaps``: the relations with storage among ``table`` and, for a recursing form, its descendants (a
  partitioned table has none: its partitions are rewritten and scanned)
- ``sequence``: sequences the statement advances (defaults, identity, ``nextval('...')``)
- ``owned_sequence``: sequences owned by ``table`` (serial, identity) or by the dropped column
- ``base``: the base relations of a view written, locked or selected FOR UPDATE through
- ``domain_table``: tables with a column of the altered domain
- ``referencing_write``: tables whose foreign key cascades (or sets NULL / DEFAULT) on the DELETE / key UPDATE
- ``cascade``: relations dropped or truncated through CASCADE (dependent views, tables, schema contents)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from orjson import dumps as _dumps

from migtui.analysis.facts import CatalogFacts
from migtui.analysis.lock_model import FORMS

if TYPE_CHECKING:  # classify imports this module; typed, the compiled code reads an Action's fields directly
    from migtui.analysis.classify import Action

# relation options whose change takes AccessExclusiveLock (reloptions.c); the others take
# ShareUpdateExclusiveLock
EXCLUSIVE_REL_OPTIONS: Final = frozenset({"user_catalog_table", "security_barrier", "check_option", "security_invoker"})
SEQUENCE_FUNCTIONS: Final = frozenset({"nextval", "setval"})
_WRITES: Final = {event: re.compile(rf"ON {event} (CASCADE|SET NULL|SET DEFAULT)") for event in ("UPDATE", "DELETE")}
_REFERENCES: Final = re.compile(r"FOREIGN KEY \((?P<cols>[^)]*)\) REFERENCES [^(]+\((?P<refcols>[^)]*)\)")


def dict_nodes(node: Any) -> list[dict[str, Any]]:
    """Every dict node of a decoded JSON parse tree, depth first, the last child first (the order of a stack of
    children). A list and a loop without recursion (no tree is too deep for it) that stacks only the dicts and
    lists: compiled, a generator per node and a list.extend of every dict's values cost several times more."""
    out: list[dict[str, Any]] = []
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):  # decoded JSON: only exact dicts and lists nest
            out.append(item)
            for value in item.values():
                if isinstance(value, dict) or isinstance(value, list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return out


def _qualified(name: str, schema: str = "public") -> str:
    return name if "." in name else f"{schema}.{name}"


def _names(items: list[dict[str, Any]] | None) -> list[str]:
    return [i["String"]["sval"] for i in items or [] if "String" in i]


# PostgreSQL version -> form -> _recurses' answer (two lookups by str and int cost less than building and hashing a
# (form, version) tuple per call)
_RECURSES: Final[dict[int, dict[str, tuple[bool, bool]]]] = {}


def _recurses(form: str, pg_version: int) -> tuple[bool, bool]:
    """(takes locks on partitions, on inheritance children) for a form."""
    by_form = _RECURSES.get(pg_version)
    if by_form is None:
        by_form = _RECURSES[pg_version] = {}
    found = by_form.get(form)
    if found is None:
        roles = {role for role, _mode in FORMS[form].locks_for(pg_version)}
        found = by_form[form] = ("partitions" in roles, "children" in roles)
    return found


def _rangevar_only(rv: dict[str, Any]) -> str | None:
    if "relname" in rv and not rv.get("inh"):
        return f"{rv.get('schemaname') or 'public'}.{rv.get('relname', '')}"
    return None


_NO_RELATIONS: Final[frozenset[str]] = frozenset()


def _only_relations(node: dict[str, Any]) -> set[str] | frozenset[str]:
    """Relations the statement names with ONLY (a RangeVar without ``inh``)."""
    relation = node.get("relation")
    if type(relation) is dict and "relname" in relation and "relations" not in node and "fromClause" not in node:
        if relation.get("inh"):  # the common case, no ONLY: nothing to build
            return _NO_RELATIONS
        name = _rangevar_only(relation)  # the statement's one target (ALTER TABLE, CREATE INDEX, DML)
        return {name} if name else set()
    out = set()
    for item in dict_nodes(node):
        rv = item.get("RangeVar", item)  # a statement's own relation field is a bare RangeVar
        if "relname" in rv and not rv.get("inh"):
            out.add(f"{rv.get('schemaname') or 'public'}.{rv.get('relname', '')}")
    return out


def _sequence_calls(node: dict[str, Any], sql: str | None = None) -> list[str]:
    if sql is not None:
        # a call of nextval/setval has the function's name in the statement's text (quoted or not, any case);
        # str.lower and `in` cost a fraction of a case-insensitive regular expression
        text_lower = sql.lower()
        if "nextval" not in text_lower and "setval" not in text_lower:
            return []
    text = _dumps(node)
    if b'"nextval"' not in text and b'"setval"' not in text:  # C-speed pre-check: most statements call neither
        return []
    out = []
    for item in dict_nodes(node):
        call = item.get("FuncCall")
        if not call or (_names(call.get("funcname")) or [""])[-1].lower() not in SEQUENCE_FUNCTIONS:
            continue
        args = call.get("args") or []
        const = args[0].get("A_Const", {}) if args else {}
        if "sval" in const:
            out.append(_qualified(const["sval"].get("sval", "").lower()))
        elif args and "TypeCast" in args[0]:
            inner = args[0]["TypeCast"].get("arg", {}).get("A_Const", {})
            if "sval" in inner:
                out.append(_qualified(inner["sval"].get("sval", "").lower()))
    return out


def _view_bases(facts: CatalogFacts, relation: str) -> list[str]:
    """The tables under a view (through views of views); [] for a table."""
    out: list[str] = []
    stack = [relation]
    while stack:
        current = stack.pop()
        if facts.relkinds.get(current) != "v":
            continue
        for source in facts.view_sources.get(current, []):
            if source not in out:
                out.append(source)
                stack.append(source)
    return out


def _dependent_views(facts: CatalogFacts, relations: list[str]) -> list[str]:
    out: list[str] = []
    stack = list(relations)
    while stack:
        current = stack.pop()
        for view in facts.dependent_views.get(current, []):
            if view not in out:
                out.append(view)
                stack.append(view)
    return out


# forms whose recursion the no-catalog assumption does not mention: row-level locks on every partition are what
# a reader of the statement expects
_QUIET_RECURSION: Final = frozenset(
    {"update", "update-all-rows", "delete", "delete-all-rows", "merge", "select-for-update", "analyze"}
)


def expand(
    pg_version: int,
    facts: CatalogFacts | None,
    node_type: str,
    node: dict[str, Any],
    actions: list[Action],
    known_tables: dict[str, Any] | None = None,
    sql: str | None = None,
) -> None:
    """Add the implicitly locked relations of one statement to its actions (in place).

    ``known_tables``: tables this lint run created (their partitions and children are known to be none).
    ``sql``: the statement's text, when known (a text test then skips a tree walk).
    """
    by_form = _RECURSES.get(pg_version)  # _recurses' answers, read here without a call per action once known
    for action in actions:
        if action.form in _REFINED:
            _refine_form(action, node_type, node, facts)
        elif action.form == "create-schema" and node_type in ("GrantStmt", "CommentStmt"):
            _grant_or_comment(action, node_type, node)
        form = action.form
        roles = action.roles
        tables = roles.get("table")
        table = tables[0] if tables else None
        if facts is None:
            if table is None:
                if form in _TEXT_ROLES:
                    _no_catalog_roles(action, node, sql)
                continue
            roles["heaps"] = [table]
            found = by_form.get(form) if by_form is not None else None
            parts, kids = found if found is not None else _recurses(form, pg_version)
            if (
                (parts or kids)
                and form not in _QUIET_RECURSION
                and table not in (known_tables or {})
                and table not in _only_relations(node)
            ):
                if parts and kids:
                    what = "is partitioned or has inheritance children, each partition and child"
                else:
                    what = "is partitioned, each partition" if parts else "has inheritance children, each child"
                action.assumptions.append(f"no catalog: if {table} {what} is locked too")
            if form in _TEXT_ROLES:
                _no_catalog_roles(action, node, sql)
            continue
        parts, kids = _recurses(form, pg_version)
        only = _only_relations(node) if (parts or kids) else _NO_RELATIONS
        recursing = (parts or kids) and table is not None and table not in only
        if recursing and table is not None and node_type != "InsertStmt":
            kind = facts.relkinds.get(table)
            descendants = facts.descendants(table)
            if kind == "p" and parts:
                action.add("partitions", *descendants)
            elif kind != "p" and kids:
                action.add("children", *descendants)
            else:
                descendants = []  # this form does not recurse into this kind of descendant
            for rel in (table, *descendants):
                if facts.has_storage(rel):
                    action.add("heaps", rel)
        elif table is not None and facts.has_storage(table):
            action.add("heaps", table)
        _catalog_roles(pg_version, facts, action, node_type, node, sql)


# forms whose ``source`` relations are read by a query (AccessShareLock on what is under them too)
_READING: Final = frozenset(
    {
        "select",
        "create-table-as",
        "create-materialized-view",
        "insert",
        "update",
        "update-all-rows",
        "delete",
        "delete-all-rows",
        "merge",
    }
)

# forms _refine_form may replace, and forms _no_catalog_roles adds roles to
_REFINED: Final = frozenset(
    {
        "set-storage-parameters",
        "set-statistics",
        "set-storage",
        "inherit",
        "alter-sequence",
        "add-identity",
        "alter-type",
        "set-tablespace",
        "set-access-method",
    }
)
_TEXT_ROLES: Final = frozenset(
    {
        "select",
        "insert",
        "update",
        "update-all-rows",
        "merge",
        "select-for-update",
        "create-table",
        "cluster",
        "cluster-on",
        "refresh-materialized-view",
    }
)


def _refine_form(action: Action, node_type: str, node: dict[str, Any], facts: CatalogFacts | None) -> None:
    """Forms the classifier cannot tell apart without the statement's details or the catalog."""
    form, info = action.form, action.info
    sub = info.get("subtype")
    if form == "set-storage-parameters":
        options = {d["DefElem"].get("defname") for d in dict_nodes(node) if "DefElem" in d}
        if options & EXCLUSIVE_REL_OPTIONS:
            action.form = "set-storage-parameters-exclusive"
    elif form == "set-statistics" and sub in ("AT_SetOptions", "AT_ResetOptions"):
        action.form = "set-attribute-options"
    elif form == "set-storage" and sub == "AT_SetCompression":
        action.form = "set-compression"
    elif form == "inherit" and sub == "AT_DropInherit":
        action.form = "no-inherit"
    elif form == "alter-sequence" and node_type == "AlterTableStmt":
        if sub in ("AT_SetLogged", "AT_SetUnLogged"):
            action.form = "set-logged"
        elif sub == "AT_ChangeOwner":
            action.form = "owner-to"
    elif form == "alter-sequence":
        options = {d["DefElem"].get("defname") for d in node.get("options") or [] if "DefElem" in d}
        if options and options <= {"owned_by"}:
            action.form = "alter-sequence-owned-by"
    elif form == "add-identity":
        if sub == "AT_DropIdentity":
            action.form = "drop-identity"
        elif sub == "AT_SetIdentity":
            options = {d["DefElem"].get("defname") for d in dict_nodes(node) if "DefElem" in d}
            action.form = "set-identity" if options - {"generated"} else "set-identity-generated"
    elif form == "alter-type" and node_type == "AlterDomainStmt":
        subtype = node.get("subtype")
        con = (node.get("def") or {}).get("Constraint", {})
        if subtype == "O" or (
            subtype == "C" and con.get("contype") == "CONSTR_CHECK" and not con.get("skip_validation")
        ):
            info["domain_validates"] = True
    elif form in ("set-tablespace", "set-access-method") and facts is not None and action.table:
        target = ""
        for item in dict_nodes(node):
            cmd = item.get("AlterTableCmd")
            if cmd is not None:
                target = cmd.get("name") or ""
        if form == "set-tablespace":
            current = facts.tablespace.get(action.table)
            same = current is not None and (current or "pg_default") == target
        else:
            current = facts.access_method.get(action.table)
            same = current is not None and current == (target or "heap")
        if same:
            action.form = form + "-unchanged"


def _grant_or_comment(action: Action, node_type: str, node: dict[str, Any]) -> None:
    """GRANT/REVOKE on named relations (PostgreSQL 18 locks them) and COMMENT ON CONSTRAINT (locks its table)."""
    if node_type == "GrantStmt":
        if node.get("targtype") == "ACL_TARGET_OBJECT" and node.get("objtype") in ("OBJECT_TABLE", "OBJECT_SEQUENCE"):
            action.form = "grant"
            for rv in node.get("objects") or []:
                item = rv.get("RangeVar", {})
                action.add("table", f"{item.get('schemaname') or 'public'}.{item.get('relname', '')}")
    elif node.get("objtype") == "OBJECT_TABCONSTRAINT":
        names = _names(node.get("object", {}).get("List", {}).get("items"))[:-1]
        if names:
            action.form = "comment-constraint"
            action.add("table", f"{names[-2]}.{names[-1]}" if len(names) > 1 else f"public.{names[0]}")


def _no_catalog_roles(action: Action, node: dict[str, Any], sql: str | None = None) -> None:
    """What the statement text alone tells: sequences called by name, a CREATE TABLE's INHERITS parents."""
    form = action.form
    if form in ("select", "insert", "update", "update-all-rows", "merge", "select-for-update"):
        action.add("sequence", *_sequence_calls(node, sql))
    if form == "create-table":
        for parent in node.get("inhRelations") or []:
            rv = parent.get("RangeVar", {})
            action.add("parent", f"{rv.get('schemaname') or 'public'}.{rv.get('relname', '')}")
        for elt in node.get("tableElts") or []:
            like = elt.get("TableLikeClause")
            if like is not None:
                rv = like.get("relation", {})
                action.add("source", f"{rv.get('schemaname') or 'public'}.{rv.get('relname', '')}")
    if form in ("cluster", "cluster-on") and action.table:
        _add_named_index(action, node)
    if form == "refresh-materialized-view" and node.get("skipData"):
        action.roles.pop("source", None)


def _add_named_index(action: Action, node: dict[str, Any]) -> None:
    name = node.get("indexname")
    if not name:
        for item in dict_nodes(node):
            cmd = item.get("AlterTableCmd")
            if cmd is not None:
                name = cmd.get("name")
    if name and action.table:
        action.add("index", f"{action.table.split('.', 1)[0]}.{name}")


def _catalog_roles(
    pg_version: int, facts: CatalogFacts, action: Action, node_type: str, node: dict[str, Any], sql: str | None = None
) -> None:
    _no_catalog_roles(action, node, sql)
    form, table, info = action.form, action.table, action.info
    if form in _READING and action.roles.get("source"):
        for rel in list(action.roles["source"]):  # a query reads the partitions, children and base tables too
            if facts.relkinds.get(rel) == "v":
                action.add("source", *_view_bases(facts, rel))
            else:
                action.add("source", *facts.descendants(rel))
    if form == "select-for-update":
        for rel in list(action.roles.get("source", [])):
            kind = facts.relkinds.get(rel)
            if kind == "v":
                action.add("base", *_view_bases(facts, rel))
            elif rel not in _only_relations(node):
                action.add("partitions" if kind == "p" else "children", *facts.descendants(rel))
    elif form == "detach-partition":
        default = facts.default_partition.get(action.roles.get("parent", [""])[0])
        if default and default not in action.roles.get("partition", []):
            action.add("default_partition", default)
    if table is None:
        _tableless_roles(facts, action, node)
        return
    owned = facts.table_sequences(table, "ai")
    if form == "set-logged" and pg_version >= 15:  # sequences follow their table's persistence since 15
        action.add("owned_sequence", *owned)
    elif form in ("owner-to", "set-schema"):
        action.add("owned_sequence", *owned)
    elif form == "drop-table":
        action.add("owned_sequence", *owned)
        parent = facts.partition_parent(table)
        if parent is not None:
            action.add("parent", parent)
            default = facts.default_partition.get(parent)
            if default and default != table:
                action.add("default_partition", default)
        if info.get("cascade") or facts.relkinds.get(table) == "p":  # partitions go with their table
            action.add("cascade", *facts.descendants(table))
    elif form in ("truncate", "truncate-cascade"):
        if node.get("restart_seqs"):
            for rel in action.roles.get("table", []):
                action.add("owned_sequence", *facts.table_sequences(rel, "ai"))
        for rel in list(action.roles.get("cascade", [])):
            if facts.has_storage(rel):
                action.add("heaps", rel)
    elif form == "drop-column":
        column = info.get("column")
        action.add("owned_sequence", *facts.table_sequences(table, "ai", column))
        if info.get("cascade") and column:
            views = list(facts.view_columns.get(table, {}).get(column, []))
            action.add("cascade", *views, *_dependent_views(facts, views))
    elif form in ("set-identity", "set-identity-generated", "drop-identity"):
        action.add("owned_sequence", *facts.table_sequences(table, "i", info.get("column")))
    elif form == "insert":
        listed = {t["ResTarget"].get("name") for t in node.get("cols") or [] if "ResTarget" in t}
        targets = [table]
        if facts.relkinds.get(table) == "v":
            bases = _view_bases(facts, table)
            action.add("base", *bases)
            targets = bases  # a view's columns carry the base table's names unless renamed
        for target in targets:
            for column, seq, how in facts.sequences.get(target, ()):
                if how in "di" and (not listed or column not in listed):  # defaults of the columns not given
                    action.add("sequence", seq)
        if facts.relkinds.get(table) == "p":
            action.assumptions.append(
                f"rows inserted into {table} take RowExclusiveLock on the partitions they are routed to"
            )
    elif form in ("update", "update-all-rows", "delete", "delete-all-rows", "merge", "lock-table"):
        for rel in action.roles.get("table", []):
            if facts.relkinds.get(rel) == "v":
                action.add("base", *_view_bases(facts, rel))
        if form.startswith("update"):
            _updated_keys(facts, action, node)
        elif form.startswith("delete"):
            _writing_references(facts, action, "DELETE")
        if form == "lock-table":
            _lock_descendants(facts, action, node)
    elif form == "validate-foreign-key":
        con = facts.constraint(table, info.get("constraint"))
        if con is not None and con.validated:
            action.roles.pop("referenced", None)  # already valid: nothing to check
    elif form == "drop-sequence" and info.get("cascade"):
        for other, seqs in facts.sequences.items():
            if any(seq == table and how == "d" for _col, seq, how in seqs):
                action.add("cascade", other)
    elif form in ("drop-index",) and facts.relkinds.get(table) == "p":
        action.add("partitions", *facts.descendants(table))


def _lock_descendants(facts: CatalogFacts, action: Action, node: dict[str, Any]) -> None:
    """LOCK TABLE recurses into every named table's descendants (not only the first)."""
    only = _only_relations(node)
    for rel in action.roles.get("table", [])[1:]:
        if rel in only:
            continue
        role = "partitions" if facts.relkinds.get(rel) == "p" else "children"
        action.add(role, *facts.descendants(rel))


def _updated_keys(facts: CatalogFacts, action: Action, node: dict[str, Any]) -> None:
    """An UPDATE that changes a referenced key checks (RowShareLock) every table referencing it."""
    table = action.table or ""
    changed = {t["ResTarget"].get("name") for t in node.get("targetList") or [] if "ResTarget" in t}
    for other, cons in facts.constraints.items():
        for con in cons:
            if con.type != "f" or con.referenced_table != table or other == table:
                continue
            match = _REFERENCES.search(con.definition)
            keys = {k.strip().strip('"') for k in match.group("refcols").split(",")} if match else set()
            if not match or keys & changed:
                action.add("referencing", other)
    _writing_references(facts, action, "UPDATE")


def _writing_references(facts: CatalogFacts, action: Action, event: str) -> None:
    """Referencing tables whose foreign key cascades (or sets NULL / DEFAULT) on this event are written
    (RowExclusiveLock), not only checked."""
    table = action.table or ""
    for other in list(action.roles.get("referencing", [])):
        for con in facts.constraints.get(other, ()):
            if con.type == "f" and con.referenced_table == table and _WRITES[event].search(con.definition):
                action.add("referencing_write", other)


def _tableless_roles(facts: CatalogFacts, action: Action, node: dict[str, Any]) -> None:
    form, info = action.form, action.info
    if form == "analyze" and not node.get("rels"):
        action.add("table", *sorted(r for r in facts.tables if facts.relkinds.get(r) in ("r", "p", "m")))
    elif form == "drop-schema" and info.get("cascade"):
        for schema in (info.get("dropped") or "").split(","):
            action.add("cascade", *sorted(r for r in facts.tables if r.startswith(schema + ".")))
    elif form == "alter-type" and info.get("domain_validates"):
        names = _names(node.get("typeName"))
        if names:
            domain = f"{names[-2]}.{names[-1]}" if len(names) > 1 else f"public.{names[0]}"
            action.add("domain_table", *facts.domain_tables.get(domain, []))
    elif form == "drop-type" and node.get("behavior") == "DROP_CASCADE" and node.get("removeType") == "OBJECT_DOMAIN":
        for obj in node.get("objects") or []:
            names = _names(obj.get("TypeName", {}).get("names"))
            if names:
                domain = f"{names[-2]}.{names[-1]}" if len(names) > 1 else f"public.{names[0]}"
                action.add("cascade", *facts.domain_tables.get(domain, []))
