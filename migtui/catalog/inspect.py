"""Snapshot one database's schema through catalog queries (the one inspector for rollback-test and drift).

Every value is what the server itself normalizes: ``format_type``, ``pg_get_constraintdef``,
``pg_get_indexdef``, ``pg_get_viewdef``, ``pg_get_triggerdef``, ``pg_get_expr``, function identity
arguments, role names. Names, never OIDs. Not part of a snapshot: column order (attnum), statistics,
relfilenodes, sequence state, system schemas, objects owned by an extension (only the extension itself),
implementation details that would double-report (the index behind a PK/UNIQUE/EXCLUDE constraint, an
identity column's sequence, PostgreSQL 18's NOT NULL constraint rows, the copies of a partitioned table's
indexes, constraints and triggers on its partitions) and the alembic version table.

Queries run in one REPEATABLE READ read-only transaction with ``search_path = pg_catalog`` so every
deparsed name outside pg_catalog is schema-qualified the same way on both sides of a comparison.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from migtui.catalog.model import CatalogObject, Snapshot
from migtui.errors import MigtuiError

# -- SQL fragments -------------------------------------------------------------------------------------

_USER_NS = (
    "{n}.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND {n}.nspname NOT LIKE 'pg\\_toast%%' AND {n}.nspname NOT LIKE 'pg\\_temp\\_%%'"
)


def _user_ns(alias: str = "n") -> str:
    return _USER_NS.format(n=alias)


def _not_extension_member(catalog: str, oid_expr: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = '{catalog}'::regclass "
        f"AND ed.objid = {oid_expr} AND ed.deptype = 'e')"
    )


def _grant_list(acl: str, owner: str) -> str:
    """An ACL as a sorted list like ``PUBLIC USAGE`` / ``reader SELECT WITH GRANT OPTION``.

    The object's owner is spelled ``OWNER`` so a change of owner is one difference (``owner``), not two.
    """
    return (
        f"ARRAY(SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' WHEN a.grantee = {owner} THEN 'OWNER' "
        "ELSE pg_get_userbyid(a.grantee) END || ' ' || a.privilege_type "
        "|| CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END "
        f"|| CASE WHEN a.grantor <> {owner} "
        "THEN ' (granted by ' || pg_get_userbyid(a.grantor) || ')' ELSE '' END "
        f"FROM aclexplode({acl}) a ORDER BY 1)"
    )


def _sorted_acl(acl: str, objtype: str, owner: str) -> str:
    """An object's grants; NULL (never granted/revoked) means the default ACL for its type and owner."""
    return _grant_list(f"coalesce({acl}, acldefault('{objtype}', {owner}))", owner)


# a relation's ACL; never granted (NULL) means the default for its type: a sequence's is not a table's
_RELATION_ACL = "coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner))"


def _sorted_array(expr: str) -> str:
    return f"ARRAY(SELECT x FROM unnest({expr}) x ORDER BY 1)"


SCHEMAS_SQL = f"""
SELECT n.nspname AS name, pg_get_userbyid(n.nspowner) AS owner,
       {_sorted_acl("n.nspacl", "n", "n.nspowner")} AS grants,
       obj_description(n.oid, 'pg_namespace') AS comment
FROM pg_namespace n
WHERE {_user_ns()} AND {_not_extension_member("pg_namespace", "n.oid")}
"""

EXTENSIONS_SQL = """
SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema,
       obj_description(e.oid, 'pg_extension') AS comment
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
"""

COLLATIONS_SQL = f"""
SELECT n.nspname AS schema, c.collname AS name, c.collprovider AS provider,
       c.collisdeterministic AS deterministic, c.collcollate AS lc_collate, c.collctype AS lc_ctype,
       coalesce(to_jsonb(c)->>'colllocale', to_jsonb(c)->>'colliculocale') AS locale,
       to_jsonb(c)->>'collicurules' AS rules,
       pg_get_userbyid(c.collowner) AS owner, obj_description(c.oid, 'pg_collation') AS comment
FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
WHERE {_user_ns()} AND {_not_extension_member("pg_collation", "c.oid")}
"""

TYPES_SQL = f"""
SELECT t.oid, n.nspname AS schema, t.typname AS name, t.typtype,
       pg_get_userbyid(t.typowner) AS owner,
       {_sorted_acl("t.typacl", "T", "t.typowner")} AS grants,
       obj_description(t.oid, 'pg_type') AS comment,
       CASE WHEN t.typtype = 'e' THEN
         ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
       END AS enum_values,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
       t.typnotnull AS not_null,
       CASE WHEN t.typtype = 'd' THEN coalesce(pg_get_expr(t.typdefaultbin, 0, true), t.typdefault) END
         AS default_expr,
       CASE WHEN t.typtype = 'd' AND t.typcollation <> bt.typcollation
            THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
       CASE WHEN t.typtype = 'c' THEN ARRAY(
         SELECT quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                || CASE WHEN a.attcollation <> at.typcollation
                        THEN ' COLLATE ' || quote_ident(acn.nspname) || '.' || quote_ident(aco.collname)
                        ELSE '' END
         FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
         LEFT JOIN pg_collation aco ON aco.oid = a.attcollation
         LEFT JOIN pg_namespace acn ON acn.oid = aco.collnamespace
         WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)
       END AS fields,
       CASE WHEN t.typtype = 'r' THEN format_type(r.rngsubtype, NULL) END AS subtype,
       CASE WHEN t.typtype = 'r' THEN quote_ident(opcn.nspname) || '.' || quote_ident(opc.opcname) END
         AS subtype_opclass,
       CASE WHEN t.typtype = 'r' AND r.rngcollation <> 0
            THEN quote_ident(rcn.nspname) || '.' || quote_ident(rco.collname) END AS range_collation,
       CASE WHEN t.typtype = 'r' AND r.rngcanonical <> 0 THEN r.rngcanonical::regproc::text END AS canonical,
       CASE WHEN t.typtype = 'r' AND r.rngsubdiff <> 0 THEN r.rngsubdiff::regproc::text END AS subtype_diff
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
LEFT JOIN pg_collation co ON co.oid = t.typcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_class tc ON tc.oid = t.typrelid
LEFT JOIN pg_range r ON r.rngtypid = t.oid
LEFT JOIN pg_opclass opc ON opc.oid = r.rngsubopc
LEFT JOIN pg_namespace opcn ON opcn.oid = opc.opcnamespace
LEFT JOIN pg_collation rco ON rco.oid = r.rngcollation
LEFT JOIN pg_namespace rcn ON rcn.oid = rco.collnamespace
WHERE {_user_ns()} AND {_not_extension_member("pg_type", "t.oid")}
  AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND tc.relkind = 'c'))
"""

RELATIONS_SQL = f"""
SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind, c.relpersistence,
       pg_get_userbyid(c.relowner) AS owner,
       {_grant_list(_RELATION_ACL, "c.relowner")} AS grants,
       obj_description(c.oid, 'pg_class') AS comment,
       {_sorted_array("c.reloptions")} AS reloptions,
       c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.relispartition, c.relispopulated,
       CASE WHEN c.reloftype <> 0 THEN format_type(c.reloftype, NULL) END AS of_type,
       am.amname AS access_method, ts.spcname AS tablespace,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       CASE WHEN c.relispartition THEN (
         SELECT quote_ident(pn.nspname) || '.' || quote_ident(pc.relname)
         FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
         JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE i.inhrelid = c.oid) END AS partition_of,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       CASE WHEN NOT c.relispartition THEN ARRAY(
         SELECT quote_ident(pn.nspname) || '.' || quote_ident(pc.relname)
         FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
         JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE i.inhrelid = c.oid ORDER BY i.inhseqno) END AS inherits,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS definition,
       CASE WHEN c.relreplident = 'i' THEN (
         SELECT ri.relname FROM pg_index x JOIN pg_class ri ON ri.oid = x.indexrelid
         WHERE x.indrelid = c.oid AND x.indisreplident) END AS replica_identity_index,
       fs.srvname AS foreign_server, {_sorted_array("ft.ftoptions")} AS foreign_options,
       s.seqtypid, s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle,
       (SELECT d.deptype::text || ':' || quote_ident(dn.nspname) || '.' || quote_ident(dc.relname) || '.'
               || quote_ident(da.attname)
        FROM pg_depend d JOIN pg_class dc ON dc.oid = d.refobjid
        JOIN pg_namespace dn ON dn.oid = dc.relnamespace
        JOIN pg_attribute da ON da.attrelid = d.refobjid AND da.attnum = d.refobjsubid
        WHERE c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid
          AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1) AS sequence_owner
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_am am ON am.oid = c.relam
LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
LEFT JOIN pg_sequence s ON s.seqrelid = c.oid
WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND {_user_ns()}
  AND {_not_extension_member("pg_class", "c.oid")}
  AND c.oid <> ALL(%(excluded)s::oid[])
"""

COLUMNS_SQL = f"""
SELECT n.nspname AS schema, c.relname AS relname, a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       a.attidentity, a.attgenerated,
       pg_get_expr(ad.adbin, ad.adrelid, true) AS expr,
       CASE WHEN a.attcollation <> t.typcollation
            THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
       CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END AS storage,
       nullif(a.attcompression::text, '') AS compression,
       col_description(c.oid, a.attnum) AS comment,
       CASE WHEN a.attacl IS NULL THEN ARRAY[]::text[]
            ELSE {_grant_list("a.attacl", "c.relowner")} END AS grants,
       seq.seqtypid, seq.seqstart, seq.seqincrement, seq.seqmax, seq.seqmin, seq.seqcache, seq.seqcycle
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_depend idd ON a.attidentity <> '' AND idd.refclassid = 'pg_class'::regclass
     AND idd.refobjid = c.oid AND idd.refobjsubid = a.attnum AND idd.classid = 'pg_class'::regclass
     AND idd.deptype = 'i'
LEFT JOIN pg_sequence seq ON seq.seqrelid = idd.objid
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f') AND {_user_ns()}
  AND {_not_extension_member("pg_class", "c.oid")}
  AND c.oid <> ALL(%(excluded)s::oid[])
"""

CONSTRAINTS_SQL = f"""
SELECT n.nspname AS schema, co.conname AS name, co.contype,
       c.relname AS relname, c.relkind, t.typname AS domain,
       pg_get_constraintdef(co.oid, true) AS definition,
       co.condeferrable, co.condeferred, co.convalidated,
       coalesce((to_jsonb(co)->>'conenforced')::boolean, true) AS enforced,
       co.confupdtype, co.confdeltype,
       obj_description(co.oid, 'pg_constraint') AS comment
FROM pg_constraint co
JOIN pg_namespace n ON n.oid = co.connamespace
LEFT JOIN pg_class c ON c.oid = co.conrelid AND co.conrelid <> 0
LEFT JOIN pg_type t ON t.oid = co.contypid AND co.contypid <> 0
WHERE co.contype <> 'n' AND co.conparentid = 0 AND {_user_ns()}
  AND (c.oid IS NOT NULL OR t.oid IS NOT NULL)
  AND coalesce(c.oid, 0) <> ALL(%(excluded)s::oid[])
  AND {_not_extension_member("pg_class", "coalesce(c.oid, 0)")}
  AND {_not_extension_member("pg_type", "coalesce(t.oid, 0)")}
"""

INDEXES_SQL = f"""
SELECT n.nspname AS schema, ic.relname AS name, tn.nspname AS table_schema, tc.relname AS relname,
       tc.relkind, i.indisunique AS is_unique, am.amname AS method,
       ARRAY(
         SELECT pg_get_indexdef(i.indexrelid, k, true)
                || CASE WHEN i.indcollation[k - 1] <> 0
                         AND i.indcollation[k - 1] <> coalesce(ta.attcollation, ka.typcollation)
                        THEN ' COLLATE ' || quote_ident(kcn.nspname) || '.' || quote_ident(kco.collname)
                        ELSE '' END
                || CASE WHEN NOT kopc.opcdefault
                        THEN ' ' || quote_ident(kopcn.nspname) || '.' || quote_ident(kopc.opcname)
                        ELSE '' END
                || CASE WHEN i.indoption[k - 1] & 1 = 1 THEN ' DESC' ELSE '' END
                || CASE WHEN i.indoption[k - 1] & 3 = 2 THEN ' NULLS FIRST'
                        WHEN i.indoption[k - 1] & 3 = 1 THEN ' NULLS LAST' ELSE '' END
         FROM generate_series(1, i.indnkeyatts) k
         JOIN pg_attribute ia ON ia.attrelid = i.indexrelid AND ia.attnum = k
         JOIN pg_type ka ON ka.oid = ia.atttypid
         LEFT JOIN pg_attribute ta ON ta.attrelid = i.indrelid AND ta.attnum = i.indkey[k - 1]
              AND i.indkey[k - 1] <> 0
         LEFT JOIN pg_collation kco ON kco.oid = i.indcollation[k - 1]
         LEFT JOIN pg_namespace kcn ON kcn.oid = kco.collnamespace
         LEFT JOIN pg_opclass kopc ON kopc.oid = i.indclass[k - 1]
         LEFT JOIN pg_namespace kopcn ON kopcn.oid = kopc.opcnamespace
         ORDER BY k) AS columns,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(i.indnkeyatts + 1, i.indnatts) k ORDER BY k) AS include,
       pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
       coalesce((to_jsonb(i)->>'indnullsnotdistinct')::boolean, false) AS nulls_not_distinct,
       {_sorted_array("ic.reloptions")} AS reloptions,
       ts.spcname AS tablespace, i.indisvalid AS valid,
       obj_description(ic.oid, 'pg_class') AS comment
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace tn ON tn.oid = tc.relnamespace
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
WHERE {_user_ns()} AND tc.relkind IN ('r', 'p', 'm', 'f') AND NOT ic.relispartition
  AND {_not_extension_member("pg_class", "tc.oid")}
  AND tc.oid <> ALL(%(excluded)s::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid
                  AND x.contype IN ('p', 'u', 'x')
                  AND x.conrelid = i.indrelid)
"""

FUNCTIONS_SQL = f"""
SELECT n.nspname AS schema, p.proname AS name, pg_get_function_identity_arguments(p.oid) AS identity,
       p.prokind, pg_get_function_arguments(p.oid) AS arguments,
       CASE WHEN p.prokind <> 'p' THEN pg_get_function_result(p.oid) END AS returns,
       l.lanname AS language, p.provolatile, p.prosecdef, p.proisstrict, p.proleakproof, p.proparallel,
       p.procost, p.prorows, {_sorted_array("p.proconfig")} AS config,
       {{body}} AS body, p.probin,
       pg_get_userbyid(p.proowner) AS owner,
       {_sorted_acl("p.proacl", "f", "p.proowner")} AS grants,
       obj_description(p.oid, 'pg_proc') AS comment,
       ag.aggtransfn::regproc::text AS agg_transfn,
       nullif(ag.aggfinalfn::regproc::text, '-') AS agg_finalfn,
       format_type(ag.aggtranstype, NULL) AS agg_stype, ag.agginitval AS agg_initcond,
       nullif(ag.aggcombinefn::regproc::text, '-') AS agg_combinefn
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
LEFT JOIN pg_aggregate ag ON ag.aggfnoid = p.oid
WHERE {_user_ns()} AND {_not_extension_member("pg_proc", "p.oid")}
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                  AND d.deptype = 'i')  -- e.g. a range type's constructors: part of the type
"""

TRIGGERS_SQL = f"""
SELECT n.nspname AS schema, c.relname AS relname, c.relkind, tg.tgname AS name,
       pg_get_triggerdef(tg.oid, true) AS definition, tg.tgenabled::text AS enabled,
       obj_description(tg.oid, 'pg_trigger') AS comment
FROM pg_trigger tg
JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT tg.tgisinternal AND coalesce((to_jsonb(tg)->>'tgparentid')::oid, 0) = 0 AND {_user_ns()}
  AND {_not_extension_member("pg_class", "c.oid")}
  AND {_not_extension_member("pg_trigger", "tg.oid")}
  AND c.oid <> ALL(%(excluded)s::oid[])
"""

EVENT_TRIGGERS_SQL = f"""
SELECT e.evtname AS name, e.evtevent AS event, e.evtfoid::regproc::text AS function,
       {_sorted_array("e.evttags")} AS tags, e.evtenabled::text AS enabled,
       pg_get_userbyid(e.evtowner) AS owner, obj_description(e.oid, 'pg_event_trigger') AS comment
FROM pg_event_trigger e
WHERE {_not_extension_member("pg_event_trigger", "e.oid")}
"""

POLICIES_SQL = f"""
SELECT n.nspname AS schema, c.relname AS relname, p.polname AS name, p.polcmd::text AS command,
       p.polpermissive AS permissive,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r) END
             FROM unnest(p.polroles) r ORDER BY 1) AS roles,
       pg_get_expr(p.polqual, p.polrelid, true) AS using_expr,
       pg_get_expr(p.polwithcheck, p.polrelid, true) AS with_check,
       obj_description(p.oid, 'pg_policy') AS comment
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_user_ns()} AND c.oid <> ALL(%(excluded)s::oid[])
  AND {_not_extension_member("pg_class", "c.oid")}
"""

RULES_SQL = f"""
SELECT n.nspname AS schema, c.relname AS relname, c.relkind, r.rulename AS name,
       pg_get_ruledef(r.oid, true) AS definition, r.ev_enabled::text AS enabled,
       obj_description(r.oid, 'pg_rewrite') AS comment
FROM pg_rewrite r
JOIN pg_class c ON c.oid = r.ev_class
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE r.rulename <> '_RETURN' AND {_user_ns()} AND c.oid <> ALL(%(excluded)s::oid[])
  AND {_not_extension_member("pg_class", "c.oid")}
"""

STATISTICS_SQL = f"""
SELECT n.nspname AS schema, s.stxname AS name, pg_get_statisticsobjdef(s.oid) AS definition,
       coalesce(s.stxstattarget::int, -1) AS target,
       pg_get_userbyid(s.stxowner) AS owner, obj_description(s.oid, 'pg_statistic_ext') AS comment,
       tn.nspname AS table_schema, tc.relname AS relname
FROM pg_statistic_ext s
JOIN pg_namespace n ON n.oid = s.stxnamespace
JOIN pg_class tc ON tc.oid = s.stxrelid
JOIN pg_namespace tn ON tn.oid = tc.relnamespace
WHERE {_user_ns()} AND tc.oid <> ALL(%(excluded)s::oid[])
  AND {_not_extension_member("pg_statistic_ext", "s.oid")}
"""

DEFAULT_PRIVILEGES_SQL = """
SELECT pg_get_userbyid(d.defaclrole) AS role, n.nspname AS schema, d.defaclobjtype::text AS objtype,
       ARRAY(SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END
                    || ' ' || a.privilege_type || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
             FROM aclexplode(d.defaclacl) a ORDER BY 1) AS grants
FROM pg_default_acl d
LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
"""

EXCLUDED_SQL = """
SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname = coalesce(%(schema)s, current_schema()) AND c.relname = %(name)s
"""

# -- value vocabularies (one spelling in text, JSON and docs) ------------------------------------------

_RELKIND_TABLE = {"r": "table", "p": "partitioned table", "f": "foreign table"}
_PERSISTENCE = {"p": "permanent", "u": "unlogged", "t": "temporary"}
_REPLICA_IDENTITY = {"d": "default", "n": "nothing", "f": "full", "i": "index"}
_IDENTITY = {"a": "always", "d": "by default"}
_GENERATED = {"s": "stored", "v": "virtual"}
_STORAGE = {"p": "plain", "e": "external", "m": "main", "x": "extended"}
_COMPRESSION = {"p": "pglz", "l": "lz4"}
_CONSTRAINT_TYPE = {
    "p": "primary key",
    "f": "foreign key",
    "u": "unique",
    "c": "check",
    "x": "exclusion",
    "t": "constraint trigger",
}
_FUNCTION_KIND = {"f": "function", "p": "procedure", "a": "aggregate", "w": "window"}
_VOLATILITY = {"i": "immutable", "s": "stable", "v": "volatile"}
_PARALLEL = {"s": "safe", "r": "restricted", "u": "unsafe"}
_TRIGGER_ENABLED = {"O": "enabled", "D": "disabled", "R": "replica", "A": "always"}
_POLICY_COMMAND = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
_COLLATION_PROVIDER = {"c": "libc", "i": "icu", "b": "builtin", "d": "default"}
_FK_ACTION = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

_INT_LIMITS = {
    "smallint": (-32768, 32767),
    "integer": (-2147483648, 2147483647),
    "bigint": (-9223372036854775808, 9223372036854775807),
}


def _q(*parts: str) -> str:
    """A display name: parts joined by dots (unquoted; names are compared, not executed)."""
    return ".".join(parts)


def _sequence_options(row: dict[str, Any], type_name: str, *, omit_defaults: bool) -> dict[str, Any]:
    low, high = _INT_LIMITS.get(type_name, (None, None))
    inc = int(row["seqincrement"])
    default_min = 1 if inc > 0 else low
    default_max = high if inc > 0 else -1
    default_start = int(row["seqmin"]) if inc > 0 else int(row["seqmax"])
    options = {
        "start": int(row["seqstart"]),
        "increment": inc,
        "minvalue": int(row["seqmin"]),
        "maxvalue": int(row["seqmax"]),
        "cache": int(row["seqcache"]),
        "cycle": bool(row["seqcycle"]),
    }
    if omit_defaults:
        defaults = {
            "start": default_start,
            "increment": 1,
            "minvalue": default_min,
            "maxvalue": default_max,
            "cache": 1,
            "cycle": False,
        }
        options = {k: v for k, v in options.items() if defaults[k] != v}
    return options


def _strip_suffix(text: str, suffix: str, present: bool) -> str:
    if present and text.endswith(suffix):
        return text[: -len(suffix)]
    return text


# -- the inspector -------------------------------------------------------------------------------------


def inspect_database(
    target: Any,
    *,
    version_table: str | None = "alembic_version",
    version_table_schema: str | None = None,
    exclude_tables: Iterable[tuple[str | None, str]] = (),
) -> Snapshot:
    """Snapshot every schema object of one database.

    ``target`` is a DSN or an open psycopg connection. The alembic version table (``version_table`` in
    ``version_table_schema``, default: the connection's current schema) and ``exclude_tables``
    (``(schema or None, name)`` pairs) are left out, with their columns, constraints, indexes, triggers and
    policies.
    """
    if isinstance(target, str):
        from migtui.pg.connect import connect

        with connect(target, application_name="migtui-catalog") as conn:
            return _inspect(conn, version_table, version_table_schema, exclude_tables)
    return _inspect(target, version_table, version_table_schema, exclude_tables)


def _inspect(
    conn: Any,
    version_table: str | None,
    version_table_schema: str | None,
    exclude_tables: Iterable[tuple[str | None, str]],
) -> Snapshot:
    import psycopg
    from psycopg.pq import TransactionStatus

    status = conn.info.transaction_status
    if status == TransactionStatus.INTRANS:
        # the caller's open transaction: read inside it (it sees its own changes), in a savepoint that is
        # rolled back so the caller's search_path and work are untouched
        snap: Snapshot | None = None
        with conn.transaction():
            snap = _read(conn, version_table, version_table_schema, exclude_tables)
            raise psycopg.Rollback()
        assert snap is not None
        return snap
    if status != TransactionStatus.IDLE:
        raise MigtuiError("cannot read the catalog: the connection is busy or in a failed transaction")
    previous_autocommit = conn.autocommit
    conn.autocommit = False
    try:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _read(conn, version_table, version_table_schema, exclude_tables)
    finally:
        conn.rollback()
        conn.autocommit = previous_autocommit


def _read(
    conn: Any,
    version_table: str | None,
    version_table_schema: str | None,
    exclude_tables: Iterable[tuple[str | None, str]],
) -> Snapshot:
    """Every catalog query, inside a transaction the caller provides."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        version_num = int(conn.info.server_version)
        excluded: list[int] = []
        wanted = list(exclude_tables)
        if version_table:
            wanted.append((version_table_schema, version_table))
        for schema, name in wanted:  # current_schema() of the caller's search_path, as alembic sees it
            cur.execute(EXCLUDED_SQL, {"schema": schema, "name": name})
            excluded.extend(int(r["oid"]) for r in cur.fetchall())
        cur.execute("SET LOCAL search_path = pg_catalog")
        snap = Snapshot(version_num)
        params = {"excluded": excluded}

        def rows(sql: str) -> list[dict[str, Any]]:
            cur.execute(sql, params)
            return cur.fetchall()

        _schemas(snap, rows(SCHEMAS_SQL))
        _extensions(snap, rows(EXTENSIONS_SQL))
        _collations(snap, rows(COLLATIONS_SQL))
        _types(snap, rows(TYPES_SQL))
        _relations(snap, rows(RELATIONS_SQL))
        columns_sql = COLUMNS_SQL
        if version_num < 140000:  # no column compression before PostgreSQL 14
            columns_sql = columns_sql.replace("nullif(a.attcompression::text, '')", "NULL::text")
        _columns(snap, rows(columns_sql))
        _constraints(snap, rows(CONSTRAINTS_SQL))
        _indexes(snap, rows(INDEXES_SQL))
        body = "CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) ELSE p.prosrc END"
        _functions(snap, rows(FUNCTIONS_SQL.format(body=body if version_num >= 140000 else "p.prosrc")))
        _triggers(snap, rows(TRIGGERS_SQL))
        _event_triggers(snap, rows(EVENT_TRIGGERS_SQL))
        _policies(snap, rows(POLICIES_SQL))
        _rules(snap, rows(RULES_SQL))
        _statistics(snap, rows(STATISTICS_SQL))
        _default_privileges(snap, rows(DEFAULT_PRIVILEGES_SQL))
    return snap


def _schemas(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        snap.add(
            CatalogObject(
                "schema",
                r["name"],
                {
                    "owner": r["owner"],
                    "grants": r["grants"],
                    "comment": r["comment"],
                },
            )
        )


def _extensions(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        snap.add(
            CatalogObject(
                "extension",
                r["name"],
                {
                    "version": r["version"],
                    "schema": r["schema"],
                    "comment": r["comment"],
                },
            )
        )


def _collations(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        snap.add(
            CatalogObject(
                "collation",
                _q(r["schema"], r["name"]),
                {
                    "provider": _COLLATION_PROVIDER.get(r["provider"], r["provider"]),
                    "deterministic": r["deterministic"],
                    "lc_collate": r["lc_collate"],
                    "lc_ctype": r["lc_ctype"],
                    "locale": r["locale"],
                    "rules": r["rules"],
                    "owner": r["owner"],
                    "comment": r["comment"],
                },
                parent=("schema", r["schema"]),
            )
        )


def _types(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        name = _q(r["schema"], r["name"])
        common = {"owner": r["owner"], "grants": r["grants"], "comment": r["comment"]}
        parent = ("schema", r["schema"])
        if r["typtype"] == "e":
            snap.add(CatalogObject("enum", name, {"values": r["enum_values"], **common}, parent))
        elif r["typtype"] == "d":
            snap.add(
                CatalogObject(
                    "domain",
                    name,
                    {
                        "base_type": r["base_type"],
                        "not_null": r["not_null"],
                        "default": r["default_expr"],
                        "collation": r["collation"],
                        **common,
                    },
                    parent,
                )
            )
        elif r["typtype"] == "c":
            snap.add(CatalogObject("composite type", name, {"fields": r["fields"], **common}, parent))
        elif r["typtype"] == "r":
            snap.add(
                CatalogObject(
                    "range type",
                    name,
                    {
                        "subtype": r["subtype"],
                        "subtype_opclass": r["subtype_opclass"],
                        "collation": r["range_collation"],
                        "canonical": r["canonical"],
                        "subtype_diff": r["subtype_diff"],
                        **common,
                    },
                    parent,
                )
            )


def _relations(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        name = _q(r["schema"], r["name"])
        parent = ("schema", r["schema"])
        common = {"owner": r["owner"], "grants": r["grants"], "comment": r["comment"]}
        kind = r["relkind"]
        if kind in _RELKIND_TABLE:
            attrs: dict[str, Any] = {
                "table_kind": _RELKIND_TABLE[kind],
                "persistence": _PERSISTENCE.get(r["relpersistence"], r["relpersistence"]),
                "partition_key": r["partition_key"],
                "partition_of": f"{r['partition_of']} {r['partition_bound']}" if r["partition_of"] else None,
                "inherits": r["inherits"] or [],
                "of_type": r["of_type"],
                "reloptions": r["reloptions"],
                "access_method": r["access_method"],
                "tablespace": r["tablespace"],
                "row_security": r["relrowsecurity"],
                "force_row_security": r["relforcerowsecurity"],
                "replica_identity": _REPLICA_IDENTITY.get(r["relreplident"], r["relreplident"])
                + (f" ({r['replica_identity_index']})" if r["replica_identity_index"] else ""),
                **common,
            }
            if kind == "f":
                attrs["foreign_server"] = r["foreign_server"]
                attrs["foreign_options"] = r["foreign_options"]
            snap.add(CatalogObject("table", name, attrs, parent))
        elif kind == "v":
            snap.add(
                CatalogObject(
                    "view",
                    name,
                    {
                        "definition": r["definition"],
                        "options": r["reloptions"],
                        **common,
                    },
                    parent,
                )
            )
        elif kind == "m":
            snap.add(
                CatalogObject(
                    "materialized view",
                    name,
                    {
                        "definition": r["definition"],
                        "options": r["reloptions"],
                        "access_method": r["access_method"],
                        "tablespace": r["tablespace"],
                        "populated": r["relispopulated"],
                        **common,
                    },
                    parent,
                )
            )
        elif kind == "S":
            owner_dep = r["sequence_owner"] or ""
            if owner_dep.startswith("i:"):
                continue  # an identity column's sequence: part of the column's "identity" attribute
            type_name = _format_int_type(r["seqtypid"])
            owned_by = owner_dep[2:] or None
            attrs = {
                "data_type": type_name,
                "persistence": _PERSISTENCE.get(r["relpersistence"], r["relpersistence"]),
                **_sequence_options(r, type_name, omit_defaults=False),
                "owned_by": owned_by,
                **common,
            }
            if owned_by:
                # an owned sequence always has its table's owner (PostgreSQL refuses anything else), and
                # goes with its table: it is the table's part, not a separate difference
                del attrs["owner"]
                parent = ("table", owned_by.rsplit(".", 1)[0])
            snap.add(CatalogObject("sequence", name, attrs, parent))


def _format_int_type(oid: int | None) -> str:
    return {21: "smallint", 23: "integer", 20: "bigint"}.get(int(oid or 0), str(oid))


def _columns(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        table = _q(r["schema"], r["relname"])
        identity = None
        if r["attidentity"]:
            identity = "GENERATED " + _IDENTITY.get(r["attidentity"], r["attidentity"]).upper() + " AS IDENTITY"
            if r["seqtypid"] is not None:
                type_name = _format_int_type(r["seqtypid"])
                options = _sequence_options(r, type_name, omit_defaults=True)
                if options:
                    identity += (
                        " ("
                        + " ".join(
                            (k.upper() if v else "NO " + k.upper()) if isinstance(v, bool) else f"{k.upper()} {v}"
                            for k, v in options.items()
                        )
                        + ")"
                    )
        generated = None
        if r["attgenerated"]:
            generated = f"{r['expr']} {_GENERATED.get(r['attgenerated'], r['attgenerated']).upper()}"
        snap.add(
            CatalogObject(
                "column",
                _q(table, r["name"]),
                {
                    "type": r["type"],
                    "not_null": r["not_null"],
                    "default": None if r["attgenerated"] else r["expr"],
                    "identity": identity,
                    "generated": generated,
                    "collation": r["collation"],
                    "storage": _STORAGE.get(r["storage"], r["storage"]) if r["storage"] else None,
                    "compression": _COMPRESSION.get(r["compression"], r["compression"]) if r["compression"] else None,
                    "grants": r["grants"],
                    "comment": r["comment"],
                },
                parent=("table", table),
            )
        )


def _constraints(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        if r["relname"] is not None:
            owner_name = _q(r["schema"], r["relname"])
            parent = ("table", owner_name)
        else:
            owner_name = _q(r["schema"], r["domain"])
            parent = ("domain", owner_name)
        definition: str = r["definition"]
        # deferrability, enforcement and validity are their own attributes: strip their suffixes
        definition = _strip_suffix(definition, " NOT VALID", not r["convalidated"])
        definition = _strip_suffix(definition, " NOT ENFORCED", not r["enforced"])
        definition = _strip_suffix(definition, " INITIALLY DEFERRED", r["condeferred"])
        definition = _strip_suffix(definition, " DEFERRABLE", r["condeferrable"])
        attrs: dict[str, Any] = {
            "constraint_type": _CONSTRAINT_TYPE.get(r["contype"], r["contype"]),
            "definition": definition,
        }
        if r["contype"] == "f":
            on_delete = on_update = "NO ACTION"
            if r["confdeltype"] != "a":
                cut = definition.rfind(" ON DELETE ")
                if cut >= 0:
                    on_delete = definition[cut + len(" ON DELETE ") :]
                    definition = definition[:cut]
            if r["confupdtype"] != "a":
                cut = definition.rfind(" ON UPDATE ")
                if cut >= 0:
                    on_update = definition[cut + len(" ON UPDATE ") :]
                    definition = definition[:cut]
            attrs["definition"] = definition
            attrs["on_update"] = on_update
            attrs["on_delete"] = on_delete
        attrs.update(
            {
                "deferrable": (
                    "NOT DEFERRABLE"
                    if not r["condeferrable"]
                    else "DEFERRABLE INITIALLY DEFERRED"
                    if r["condeferred"]
                    else "DEFERRABLE INITIALLY IMMEDIATE"
                ),
                # NOT ENFORCED (PostgreSQL 18) implies not validated: one attribute for both
                "validity": "NOT ENFORCED" if not r["enforced"] else ("valid" if r["convalidated"] else "NOT VALID"),
                "comment": r["comment"],
            }
        )
        snap.add(CatalogObject("constraint", _q(owner_name, r["name"]), attrs, parent))


def _indexes(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        table = _q(r["table_schema"], r["relname"])
        parent_kind = "materialized view" if r["relkind"] == "m" else "table"
        snap.add(
            CatalogObject(
                "index",
                _q(r["schema"], r["name"]),
                {
                    "table": table,
                    "unique": r["is_unique"],
                    "method": r["method"],
                    "columns": r["columns"],
                    "include": r["include"],
                    "predicate": r["predicate"],
                    "nulls_not_distinct": r["nulls_not_distinct"],
                    "reloptions": r["reloptions"],
                    "tablespace": r["tablespace"],
                    "valid": r["valid"],
                    "comment": r["comment"],
                },
                parent=(parent_kind, table),
            )
        )


def _functions(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        name = f"{_q(r['schema'], r['name'])}({r['identity']})"
        attrs: dict[str, Any] = {
            "function_kind": _FUNCTION_KIND.get(r["prokind"], r["prokind"]),
            "arguments": r["arguments"],
            "returns": r["returns"],
            "language": r["language"],
            "body": r["body"],
            "volatility": _VOLATILITY.get(r["provolatile"], r["provolatile"]),
            "security": "definer" if r["prosecdef"] else "invoker",
            "strict": r["proisstrict"],
            "leakproof": r["proleakproof"],
            "parallel": _PARALLEL.get(r["proparallel"], r["proparallel"]),
            "cost": float(r["procost"]),
            "rows": float(r["prorows"]),
            "config": r["config"],
            "object_file": r["probin"],
        }
        if r["prokind"] == "a":
            attrs["aggregate"] = {
                "sfunc": r["agg_transfn"],
                "stype": r["agg_stype"],
                "finalfunc": r["agg_finalfn"],
                "combinefunc": r["agg_combinefn"],
                "initcond": r["agg_initcond"],
            }
        attrs.update({"owner": r["owner"], "grants": r["grants"], "comment": r["comment"]})
        snap.add(CatalogObject("function", name, attrs, parent=("schema", r["schema"])))


def _triggers(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        rel = _q(r["schema"], r["relname"])
        parent_kind = {"v": "view", "m": "materialized view"}.get(r["relkind"], "table")
        snap.add(
            CatalogObject(
                "trigger",
                _q(rel, r["name"]),
                {
                    "definition": r["definition"],
                    "enabled": _TRIGGER_ENABLED.get(r["enabled"], r["enabled"]),
                    "comment": r["comment"],
                },
                parent=(parent_kind, rel),
            )
        )


def _event_triggers(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        snap.add(
            CatalogObject(
                "event trigger",
                r["name"],
                {
                    "event": r["event"],
                    "function": r["function"],
                    "tags": r["tags"],
                    "enabled": _TRIGGER_ENABLED.get(r["enabled"], r["enabled"]),
                    "owner": r["owner"],
                    "comment": r["comment"],
                },
            )
        )


def _policies(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        table = _q(r["schema"], r["relname"])
        snap.add(
            CatalogObject(
                "policy",
                _q(table, r["name"]),
                {
                    "command": _POLICY_COMMAND.get(r["command"], r["command"]),
                    "permissive": r["permissive"],
                    "roles": r["roles"],
                    "using": r["using_expr"],
                    "with_check": r["with_check"],
                    "comment": r["comment"],
                },
                parent=("table", table),
            )
        )


_RULE_ENABLED = _TRIGGER_ENABLED
_DEFAULT_ACL_OBJTYPE = {"r": "tables", "S": "sequences", "f": "functions", "T": "types", "n": "schemas"}


def _rules(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        rel = _q(r["schema"], r["relname"])
        parent_kind = {"v": "view", "m": "materialized view"}.get(r["relkind"], "table")
        snap.add(
            CatalogObject(
                "rule",
                _q(rel, r["name"]),
                {
                    "definition": r["definition"],
                    "enabled": _RULE_ENABLED.get(r["enabled"], r["enabled"]),
                    "comment": r["comment"],
                },
                parent=(parent_kind, rel),
            )
        )


def _statistics(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        table = _q(r["table_schema"], r["relname"])
        snap.add(
            CatalogObject(
                "statistics",
                _q(r["schema"], r["name"]),
                {
                    "definition": r["definition"],
                    "target": r["target"],
                    "owner": r["owner"],
                    "comment": r["comment"],
                },
                parent=("table", table),
            )
        )


def _default_privileges(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        on = _DEFAULT_ACL_OBJTYPE.get(r["objtype"], r["objtype"])
        where = f" in schema {r['schema']}" if r["schema"] else ""
        parent = ("schema", r["schema"]) if r["schema"] else None
        snap.add(
            CatalogObject("default privileges", f"for {r['role']}{where} on {on}", {"grants": r["grants"]}, parent)
        )
