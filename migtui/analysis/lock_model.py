"""The lock model: one table keyed by statement form, giving per relation role the lock mode taken, and
whether the statement rewrites or fully scans a relation, for PostgreSQL 13-18.

Derived from the PostgreSQL documentation ("Explicit Locking", ALTER TABLE, CREATE INDEX, ...) and source
(``AlterTableGetLockLevel`` in tablecmds.c, index.c, trigger.c, ...), and verified against real 16 and 18
servers by ``tests/analysis/test_lock_model_probe.py``: every form's ``example`` runs in a rolled-back transaction
(or, for forms that cannot run in one, from a second session) and the locks seen in ``pg_locks`` and the
relfilenode changes seen in ``pg_class`` must equal what the model predicts.

Roles name the relations a statement touches:

- ``table``: the relation named by the statement (ALTER TABLE x, CREATE INDEX ON x, ...)
- ``index``: the index named by DROP INDEX / REINDEX INDEX / ALTER INDEX
- ``referenced``: the table a foreign key points to
- ``referencing``: tables whose foreign keys point to ``table`` (catalog facts)
- ``parent`` / ``partition`` / ``default_partition``: partitioning
- ``source``: relations read by a query (views, CREATE TABLE AS, DML sub-selects)
- ``cascade``: relations reached through CASCADE (catalog facts)
- ``partitions`` / ``children``: every partition / inheritance child of ``table`` (a form that lists them
  recurses; ``ONLY`` stops it)
- ``heaps``: the relations with storage among ``table`` and the descendants it recurses into (what a rewrite
  or scan reads: a partitioned table has no storage of its own)
- ``sequence``: sequences advanced (column defaults, identity, ``nextval('...')``)
- ``owned_sequence``: sequences owned by ``table`` or the column (serial, identity)
- ``base``: the relations under a view the statement writes, locks or selects FOR UPDATE through
- ``domain_table``: tables with a column of the altered domain
- ``referencing_write``: tables whose foreign key cascades (or sets NULL / DEFAULT) on the DELETE / key UPDATE

``migtui.analysis.implicit`` fills the implicit roles from the catalog facts. The generated corpus
``tests/analysis/lock_corpus.py`` (over 500 statements on PostgreSQL 15, 16 and 18) measures the whole model;
``docs/locks.md`` is its published matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from migtui.analysis.lock_modes import (
    ACCESS_EXCLUSIVE as AE,
)
from migtui.analysis.lock_modes import (
    ACCESS_SHARE as AS,
)
from migtui.analysis.lock_modes import (
    EXCLUSIVE as EX,
)
from migtui.analysis.lock_modes import (
    ROW_EXCLUSIVE as RE,
)
from migtui.analysis.lock_modes import (
    ROW_SHARE as RS,
)
from migtui.analysis.lock_modes import (
    SHARE as SH,
)
from migtui.analysis.lock_modes import (
    SHARE_ROW_EXCLUSIVE as SRE,
)
from migtui.analysis.lock_modes import (
    SHARE_UPDATE_EXCLUSIVE as SUE,
)

MIN_VERSION: Final = 13
MAX_VERSION: Final = 18


@dataclass(frozen=True)
class Form:
    """One statement form of the lock model."""

    id: str
    title: str
    locks: tuple[tuple[str, str], ...] = ()  # (role, lock mode as pg_locks spells it)
    rewrites: tuple[str, ...] = ()  # roles whose table is rewritten (new relfilenode, work ~ table size)
    scans: tuple[str, ...] = ()  # roles read in full while the lock is held
    transactional: bool = True  # False: cannot run inside a transaction block
    min_version: int = MIN_VERSION
    max_version: int = MAX_VERSION
    example: str | None = None  # a statement of this form run against tests/analysis/lock_probe_schema.sql
    probe: str = "transaction"  # "transaction" | "second-session" | "none: <why>"
    # roles given a new, empty file (relfilenode) whose cost does not grow with the table: TRUNCATE, sequence
    # changes (a rewrite is listed in ``rewrites`` instead)
    new_files: tuple[str, ...] = ()
    # (first major, role, mode): from that PostgreSQL major on, the role is locked in that mode (added, or
    # replacing the mode in ``locks``)
    since: tuple[tuple[int, str, str], ...] = ()

    def lock_mode(self, role: str, pg_version: int = MAX_VERSION) -> str | None:
        for r, mode in self.locks_for(pg_version):
            if r == role:
                return mode
        return None

    def locks_for(self, pg_version: int) -> tuple[tuple[str, str], ...]:
        """The (role, mode) pairs on one PostgreSQL major."""
        if not self.since:
            return self.locks
        changed = {role: mode for first, role, mode in self.since if pg_version >= first}
        if not changed:
            return self.locks
        out = [(role, changed.pop(role, mode)) for role, mode in self.locks]
        return tuple(out + list(changed.items()))


def _f(*args, **kwargs) -> Form:
    return Form(*args, **kwargs)


FORMS_LIST: Final[list[Form]] = [
    # --- tables ----------------------------------------------------------------------------------------
    _f(
        "create-table",
        "CREATE TABLE",
        (("referenced", SRE), ("parent", SUE), ("source", AS)),
        example="CREATE TABLE new_t (id int PRIMARY KEY, parent_id int REFERENCES parent_t(id))",
    ),
    _f(
        "create-table-partition-of",
        "CREATE TABLE ... PARTITION OF",
        (("parent", AE), ("default_partition", AE)),
        scans=("default_partition",),
        example="CREATE TABLE part_q_2 PARTITION OF part_q FOR VALUES FROM (200) TO (300)",
    ),
    _f(
        "create-table-as",
        "CREATE TABLE ... AS / SELECT INTO",
        (("source", AS),),
        scans=("source",),
        example="CREATE TABLE copy_t AS SELECT * FROM other_t",
    ),
    _f(
        "drop-table",
        "DROP TABLE",
        (
            ("table", AE),
            ("referenced", AE),
            ("cascade", AE),
            ("owned_sequence", AE),
            ("parent", AE),
            ("default_partition", AE),
        ),
        example="DROP TABLE child_t",
    ),
    _f("rename-table", "ALTER TABLE ... RENAME TO", (("table", AE),), example="ALTER TABLE other_t RENAME TO other2_t"),
    _f(
        "set-schema",
        "ALTER TABLE ... SET SCHEMA",
        (("table", AE), ("owned_sequence", AE)),
        example="ALTER TABLE other_t SET SCHEMA aux",
    ),
    _f(
        "truncate",
        "TRUNCATE",
        (("table", AE), ("cascade", AE), ("partitions", AE), ("children", AE), ("owned_sequence", AE)),
        new_files=("heaps", "owned_sequence"),
        example="TRUNCATE other_t",
    ),
    _f(
        "truncate-cascade",
        "TRUNCATE ... CASCADE",
        (("table", AE), ("cascade", AE), ("partitions", AE), ("children", AE), ("owned_sequence", AE)),
        new_files=("heaps", "owned_sequence"),
        example="TRUNCATE parent_t CASCADE",
    ),
    # --- ALTER TABLE: columns -------------------------------------------------------------------------
    _f(
        "add-column",
        "ADD COLUMN (nullable, or with a non-volatile default)",
        (("table", AE), ("referenced", SRE), ("partitions", AE), ("children", AE)),
        example="ALTER TABLE other_t ADD COLUMN z int DEFAULT 0",
    ),
    _f(
        "add-column-volatile-default",
        "ADD COLUMN with a volatile DEFAULT",
        (("table", AE), ("partitions", AE), ("children", AE)),
        rewrites=("heaps",),
        scans=("heaps",),
        example="ALTER TABLE other_t ADD COLUMN z float8 DEFAULT random()",
    ),
    _f(
        "add-column-not-null",
        "ADD COLUMN ... NOT NULL without DEFAULT",
        (("table", AE), ("partitions", AE), ("children", AE)),
        scans=("heaps",),
        example="ALTER TABLE empty_t ADD COLUMN z int NOT NULL",
    ),
    _f(
        "add-column-serial",
        "ADD COLUMN serial/bigserial",
        (("table", AE), ("partitions", AE), ("children", AE)),
        rewrites=("heaps",),
        scans=("heaps",),
        example="ALTER TABLE other_t ADD COLUMN z bigserial",
    ),
    _f(
        "add-column-identity",
        "ADD COLUMN ... GENERATED AS IDENTITY",
        (("table", AE), ("partitions", AE), ("children", AE)),
        rewrites=("heaps",),
        scans=("heaps",),
        example="ALTER TABLE other_t ADD COLUMN z int GENERATED ALWAYS AS IDENTITY",
    ),
    _f(
        "add-column-stored-generated",
        "ADD COLUMN ... GENERATED ALWAYS AS (...) STORED",
        (("table", AE), ("partitions", AE), ("children", AE)),
        rewrites=("heaps",),
        scans=("heaps",),
        example="ALTER TABLE other_t ADD COLUMN z int GENERATED ALWAYS AS (x * 2) STORED",
    ),
    _f(
        "add-column-virtual-generated",
        "ADD COLUMN ... GENERATED ALWAYS AS (...) VIRTUAL",
        (("table", AE), ("partitions", AE), ("children", AE)),
        min_version=18,
        example="ALTER TABLE other_t ADD COLUMN z int GENERATED ALWAYS AS (x * 2) VIRTUAL",
    ),
    _f(
        "drop-column",
        "DROP COLUMN",
        (("table", AE), ("partitions", AE), ("children", AE), ("owned_sequence", AE), ("cascade", AE)),
        example="ALTER TABLE other_t DROP COLUMN y",
    ),
    _f(
        "rename-column",
        "RENAME COLUMN",
        (("table", AE), ("partitions", AE), ("children", AE)),
        example="ALTER TABLE other_t RENAME COLUMN y TO y2",
    ),
    _f(
        "alter-column-type",
        "ALTER COLUMN ... TYPE (rewrites)",
        (("table", AE), ("partitions", AE), ("children", AE)),
        rewrites=("heaps",),
        scans=("heaps",),
        example="ALTER TABLE parent_t ALTER COLUMN c TYPE bigint",
    ),
    _f(
        "alter-column-type-no-rewrite",
        "ALTER COLUMN ... TYPE (binary-coercible, no rewrite)",
        (("table", AE), ("partitions", AE), ("children", AE)),
        example="ALTER TABLE parent_t ALTER COLUMN v TYPE varchar(20)",
    ),
    _f(
        "set-default",
        "ALTER COLUMN ... SET/DROP DEFAULT",
        (("table", AE), ("partitions", AE), ("children", AE)),
        example="ALTER TABLE other_t ALTER COLUMN x SET DEFAULT 1",
    ),
    _f(
        "set-not-null",
        "ALTER COLUMN ... SET NOT NULL",
        (("table", AE), ("partitions", AE), ("children", AE)),
        scans=("heaps",),
        example="ALTER TABLE other_t ALTER COLUMN x SET NOT NULL",
    ),
    _f(
        "set-not-null-with-check",
        "ALTER COLUMN ... SET NOT NULL with a validated CHECK (col IS NOT NULL)",
        (("table", AE), ("partitions", AE), ("children", AE)),
        example="ALTER TABLE other_t ALTER COLUMN y SET NOT NULL",
    ),
    _f(
        "drop-not-null",
        "ALTER COLUMN ... DROP NOT NULL",
        (("table", AE), ("partitions", AE), ("children", AE)),
        example="ALTER TABLE parent_t ALTER COLUMN c DROP NOT NULL",
    ),
    _f(
        "add-identity",
        "ALTER COLUMN ... ADD/SET/DROP IDENTITY",
        (("table", AE),),
        example="ALTER TABLE parent_t ALTER COLUMN c ADD GENERATED BY DEFAULT AS IDENTITY",
    ),
    _f(
        "set-identity",
        "ALTER COLUMN ... SET (sequence options) / RESTART of an identity column",
        (("table", AE), ("owned_sequence", SRE)),
        new_files=("owned_sequence",),
        probe="none: measured by the corpus (tests/analysis/lock_corpus.py)",
    ),
    _f(
        "set-identity-generated",
        "ALTER COLUMN ... SET GENERATED ALWAYS/BY DEFAULT",
        (("table", AE), ("owned_sequence", SRE)),
        probe="none: measured by the corpus (tests/analysis/lock_corpus.py)",
    ),
    _f(
        "drop-identity",
        "ALTER COLUMN ... DROP IDENTITY (drops the sequence)",
        (("table", AE), ("owned_sequence", AE)),
        probe="none: measured by the corpus (tests/analysis/lock_corpus.py)",
    ),
    _f(
        "set-statistics",
        "ALTER COLUMN ... SET STATISTICS / SET (attribute options)",
        (("table", SUE), ("partitions", SUE), ("children", SUE)),
        example="ALTER TABLE other_t ALTER COLUMN x SET STATISTICS 500",
    ),
    _f(
        "set-attribute-options",
        "ALTER COLUMN ... SET/RESET (attribute options such as n_distinct; not recursive)",
        (("table", SUE),),
        example="ALTER TABLE other_t ALTER COLUMN x SET (n_distinct = 10)",
    ),
    _f(
        "set-compression",
        "ALTER COLUMN ... SET COMPRESSION (not recursive)",
        (("table", AE),),
        example="ALTER TABLE other_t ALTER COLUMN y SET COMPRESSION pglz",
    ),
    _f(
        "set-storage",
        "ALTER COLUMN ... SET STORAGE / COMPRESSION",
        (("table", AE), ("partitions", AE), ("children", AE)),
        example="ALTER TABLE other_t ALTER COLUMN y SET STORAGE EXTERNAL",
    ),
    _f(
        "set-expression",
        "ALTER COLUMN ... SET EXPRESSION",
        (("table", AE), ("partitions", AE), ("children", AE)),
        rewrites=("heaps",),
        scans=("heaps",),
        min_version=17,
        example="ALTER TABLE gen_t ALTER COLUMN g SET EXPRESSION AS (a * 3)",
    ),
    _f(
        "drop-expression",
        "ALTER COLUMN ... DROP EXPRESSION",
        (("table", AE), ("partitions", AE), ("children", AE)),
        example="ALTER TABLE gen_t ALTER COLUMN g DROP EXPRESSION",
    ),
    # --- ALTER TABLE: constraints ---------------------------------------------------------------------
    _f(
        "add-check",
        "ADD CONSTRAINT ... CHECK",
        (("table", AE), ("partitions", AE), ("children", AE)),
        scans=("heaps",),
        example="ALTER TABLE other_t ADD CONSTRAINT x_pos CHECK (x > 0)",
    ),
    _f(
        "add-check-not-valid",
        "ADD CONSTRAINT ... CHECK ... NOT VALID",
        (("table", AE), ("partitions", AE), ("children", AE)),
        example="ALTER TABLE other_t ADD CONSTRAINT x_pos CHECK (x > 0) NOT VALID",
    ),
    _f(
        "add-foreign-key",
        "ADD CONSTRAINT ... FOREIGN KEY",
        (("table", SRE), ("referenced", SRE), ("partitions", SRE)),
        scans=("heaps",),
        since=((18, "children", SRE),),
        example="ALTER TABLE fk_src ADD CONSTRAINT fk2 FOREIGN KEY (parent_id) REFERENCES parent_t(id)",
    ),
    _f(
        "add-foreign-key-not-valid",
        "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID",
        (("table", SRE), ("referenced", SRE), ("partitions", SRE)),
        since=((18, "children", SRE),),
        example="ALTER TABLE fk_src ADD CONSTRAINT fk2 FOREIGN KEY (parent_id) REFERENCES parent_t(id) NOT VALID",
    ),
    _f(
        "add-unique",
        "ADD CONSTRAINT ... UNIQUE (builds an index)",
        (("table", AE), ("partitions", SH)),
        scans=("heaps",),
        since=((18, "partitions", AE), (18, "children", AE)),
        example="ALTER TABLE other_t ADD CONSTRAINT other_y_key UNIQUE (y)",
    ),
    _f(
        "add-primary-key",
        "ADD PRIMARY KEY (builds an index)",
        (("table", AE), ("partitions", SH)),
        scans=("heaps",),
        since=((18, "partitions", AE), (18, "children", AE)),
        example="ALTER TABLE empty_t ADD PRIMARY KEY (id)",
    ),
    _f(
        "add-exclusion",
        "ADD CONSTRAINT ... EXCLUDE (builds an index)",
        (("table", AE), ("partitions", SH)),
        scans=("heaps",),
        since=((18, "partitions", AE), (18, "children", AE)),
        example="ALTER TABLE other_t ADD CONSTRAINT other_x_excl EXCLUDE USING btree (x WITH =)",
    ),
    _f(
        "add-not-null-constraint",
        "ADD CONSTRAINT ... NOT NULL col (named NOT NULL constraint)",
        (("table", AE), ("partitions", AE), ("children", AE)),
        scans=("heaps",),
        min_version=18,
        example="ALTER TABLE other_t ADD CONSTRAINT other_x_nn NOT NULL x",
    ),
    _f(
        "add-not-null-constraint-not-valid",
        "ADD CONSTRAINT ... NOT NULL col NOT VALID",
        (("table", AE), ("partitions", AE), ("children", AE)),
        min_version=18,
        example="ALTER TABLE other_t ADD CONSTRAINT other_x_nn NOT NULL x NOT VALID",
    ),
    _f(
        "add-constraint-using-index",
        "ADD CONSTRAINT ... UNIQUE/PRIMARY KEY USING INDEX",
        (("table", AE),),
        example="ALTER TABLE other_t ADD CONSTRAINT other_id_key UNIQUE USING INDEX other_t_id_uidx",
    ),
    _f(
        "validate-constraint",
        "VALIDATE CONSTRAINT (CHECK)",
        (("table", SUE), ("partitions", SUE), ("children", SUE)),
        scans=("heaps",),
        example="ALTER TABLE other_t VALIDATE CONSTRAINT other_x_check",
    ),
    _f(
        "validate-foreign-key",
        "VALIDATE CONSTRAINT (FOREIGN KEY)",
        (("table", SUE), ("referenced", RS)),
        scans=("heaps",),
        example="ALTER TABLE fk_src VALIDATE CONSTRAINT fk_src_nv",
    ),
    _f(
        "drop-constraint",
        "DROP CONSTRAINT",
        (("table", AE), ("partitions", AE), ("children", AE)),
        example="ALTER TABLE other_t DROP CONSTRAINT other_x_check",
    ),
    _f(
        "drop-foreign-key",
        "DROP CONSTRAINT (FOREIGN KEY)",
        (("table", AE), ("referenced", AE)),
        example="ALTER TABLE child_t DROP CONSTRAINT child_parent_fk",
    ),
    _f(
        "rename-constraint",
        "RENAME CONSTRAINT",
        (("table", AE), ("partitions", AE), ("children", AE)),
        example="ALTER TABLE other_t RENAME CONSTRAINT other_x_check TO other_x_check2",
    ),
    _f(
        "alter-constraint",
        "ALTER CONSTRAINT (deferrability)",
        (("table", AE), ("referenced", AE)),
        example="ALTER TABLE child_t ALTER CONSTRAINT child_parent_fk DEFERRABLE",
    ),
    # --- ALTER TABLE: table-level --------------------------------------------------------------------
    _f(
        "set-logged",
        "SET LOGGED / SET UNLOGGED",
        (("table", AE), ("owned_sequence", AE)),
        rewrites=("heaps",),
        scans=("heaps",),
        new_files=("owned_sequence",),
        example="ALTER TABLE other_t SET UNLOGGED",
    ),
    _f(
        "set-tablespace",
        "SET TABLESPACE",
        (("table", AE),),
        rewrites=("heaps",),
        scans=("heaps",),
        example="ALTER TABLE other_t SET TABLESPACE probe_space",
    ),
    _f(
        "set-tablespace-unchanged",
        "SET TABLESPACE to the tablespace it is in (no copy)",
        (("table", AE),),
        example="ALTER TABLE other_t SET TABLESPACE pg_default",
    ),
    _f(
        "set-access-method",
        "SET ACCESS METHOD",
        (("table", AE),),
        rewrites=("heaps",),
        scans=("heaps",),
        min_version=15,
        example="ALTER TABLE other_t SET ACCESS METHOD heap2",
    ),
    _f(
        "set-access-method-unchanged",
        "SET ACCESS METHOD to the one it has (no rewrite)",
        (("table", AE),),
        min_version=15,
        example="ALTER TABLE other_t SET ACCESS METHOD heap",
    ),
    _f(
        "set-storage-parameters",
        "SET/RESET (storage parameters such as fillfactor, autovacuum_*)",
        (("table", SUE),),
        example="ALTER TABLE other_t SET (fillfactor = 70)",
    ),
    _f(
        "set-storage-parameters-exclusive",
        "SET/RESET (user_catalog_table, or a view's security_barrier / check_option / security_invoker)",
        (("table", AE),),
        example="ALTER TABLE other_t SET (user_catalog_table = true)",
    ),
    _f(
        "cluster-on",
        "CLUSTER ON / SET WITHOUT CLUSTER",
        (("table", SUE), ("index", SUE)),
        example="ALTER TABLE other_t CLUSTER ON other_t_x_idx",
    ),
    _f(
        "enable-trigger",
        "ENABLE/DISABLE TRIGGER / RULE",
        (("table", SRE), ("partitions", SRE)),
        example="ALTER TABLE other_t DISABLE TRIGGER other_trg",
    ),
    _f(
        "row-level-security",
        "ENABLE/DISABLE/FORCE ROW LEVEL SECURITY",
        (("table", AE),),
        example="ALTER TABLE other_t ENABLE ROW LEVEL SECURITY",
    ),
    _f("replica-identity", "REPLICA IDENTITY", (("table", AE),), example="ALTER TABLE other_t REPLICA IDENTITY FULL"),
    _f(
        "owner-to",
        "OWNER TO",
        (("table", AE), ("owned_sequence", AE)),
        example="ALTER TABLE other_t OWNER TO probe_role",
    ),
    _f(
        "inherit",
        "INHERIT / NO INHERIT",
        (("table", AE), ("parent", SUE)),
        example="ALTER TABLE inh_child INHERIT empty_t",
    ),
    _f(
        "no-inherit",
        "NO INHERIT",
        (("table", AE), ("parent", AS)),
        example="ALTER TABLE inh_child NO INHERIT empty_t",
        probe="none: measured by the corpus (tests/analysis/lock_corpus.py)",
    ),
    _f(
        "alter-table-other",
        "other ALTER TABLE subcommand",
        (("table", AE),),
        probe="none: catch-all for subcommands not listed above",
    ),
    # --- partitions ----------------------------------------------------------------------------------
    _f(
        "attach-partition",
        "ATTACH PARTITION (validates the bound by scanning the partition)",
        (("parent", SUE), ("partition", AE), ("default_partition", AE)),
        scans=("partition", "default_partition"),
        example="ALTER TABLE part_p ATTACH PARTITION part_new FOR VALUES FROM (100) TO (200)",
    ),
    _f(
        "attach-partition-with-check",
        "ATTACH PARTITION with a matching validated CHECK (no scan)",
        (("parent", SUE), ("partition", AE), ("default_partition", AE)),
        scans=("default_partition",),
        example="ALTER TABLE part_p ATTACH PARTITION part_checked FOR VALUES FROM (100) TO (200)",
    ),
    _f(
        "detach-partition",
        "DETACH PARTITION",
        (("parent", AE), ("partition", AE), ("default_partition", AE)),
        example="ALTER TABLE part_p DETACH PARTITION part_1",
    ),
    _f(
        "detach-partition-concurrently",
        "DETACH PARTITION ... CONCURRENTLY",
        (("parent", SUE), ("partition", AE)),
        transactional=False,
        min_version=14,
        example="ALTER TABLE part_p DETACH PARTITION part_1 CONCURRENTLY",
        probe="second-session",
    ),
    # --- indexes -------------------------------------------------------------------------------------
    _f(
        "create-index",
        "CREATE INDEX",
        (("table", SH), ("partitions", SH)),
        scans=("heaps",),
        example="CREATE INDEX other_y_idx ON other_t (y)",
    ),
    _f(
        "create-index-concurrently",
        "CREATE INDEX CONCURRENTLY",
        (("table", SUE),),
        scans=("heaps",),
        transactional=False,
        example="CREATE INDEX CONCURRENTLY other_y_idx ON other_t (y)",
        probe="second-session",
    ),
    _f(
        "drop-index",
        "DROP INDEX",
        (("table", AE), ("index", AE), ("partitions", AE)),
        example="DROP INDEX other_t_x_idx",
    ),
    _f(
        "drop-index-concurrently",
        "DROP INDEX CONCURRENTLY",
        (("table", SUE), ("index", SUE)),
        transactional=False,
        example="DROP INDEX CONCURRENTLY other_t_x_idx",
        probe="second-session",
    ),
    _f(
        "reindex",
        "REINDEX INDEX/TABLE",
        (("table", SH), ("index", AE), ("partitions", SH)),
        scans=("heaps",),
        example="REINDEX INDEX other_t_x_idx",
    ),
    _f(
        "reindex-concurrently",
        "REINDEX ... CONCURRENTLY",
        (("table", SUE), ("index", SUE), ("partitions", SUE)),
        scans=("heaps",),
        transactional=False,
        example="REINDEX INDEX CONCURRENTLY other_t_x_idx",
        probe="second-session",
    ),
    _f(
        "rename-index",
        "ALTER INDEX ... RENAME",
        (("index", SUE),),
        example="ALTER INDEX other_t_x_idx RENAME TO other_t_x_idx2",
    ),
    _f(
        "alter-index",
        "ALTER INDEX ... SET (...) / SET STATISTICS",
        (("index", SUE),),
        example="ALTER INDEX other_t_x_idx SET (fillfactor = 80)",
    ),
    _f(
        "create-statistics",
        "CREATE STATISTICS",
        (("table", SUE),),
        example="CREATE STATISTICS other_st ON x, id FROM other_t",
    ),
    # --- triggers, policies, rules -------------------------------------------------------------------
    _f(
        "create-trigger",
        "CREATE TRIGGER",
        (("table", SRE), ("partitions", SRE)),
        example="CREATE TRIGGER other_trg2 BEFORE UPDATE ON other_t FOR EACH ROW EXECUTE FUNCTION trg_fn()",
    ),
    _f(
        "drop-trigger", "DROP TRIGGER", (("table", AE), ("partitions", AE)), example="DROP TRIGGER other_trg ON other_t"
    ),
    _f(
        "create-policy",
        "CREATE/ALTER/DROP POLICY",
        (("table", AE),),
        example="CREATE POLICY other_pol2 ON other_t USING (x > 0)",
    ),
    _f(
        "create-rule",
        "CREATE RULE",
        (("table", AE),),
        example="CREATE RULE other_rule AS ON DELETE TO other_t DO INSTEAD NOTHING",
    ),
    # --- views ---------------------------------------------------------------------------------------
    _f("create-view", "CREATE VIEW", (("source", AS),), example="CREATE VIEW v2 AS SELECT id FROM other_t"),
    _f(
        "replace-view",
        "CREATE OR REPLACE VIEW (existing view)",
        (("table", AE), ("source", AS)),
        example="CREATE OR REPLACE VIEW v_t AS SELECT id, x FROM other_t",
    ),
    _f("drop-view", "DROP VIEW", (("table", AE),), example="DROP VIEW v_t"),
    _f(
        "create-materialized-view",
        "CREATE MATERIALIZED VIEW",
        (("source", AS),),
        scans=("source",),
        example="CREATE MATERIALIZED VIEW mv2 AS SELECT id FROM other_t",
    ),
    _f(
        "refresh-materialized-view",
        "REFRESH MATERIALIZED VIEW",
        (("table", AE), ("source", AS)),
        rewrites=("heaps",),
        scans=("source",),
        example="REFRESH MATERIALIZED VIEW mv_t",
    ),
    _f(
        "refresh-materialized-view-concurrently",
        "REFRESH MATERIALIZED VIEW CONCURRENTLY",
        (("table", EX), ("source", AS)),
        scans=("source", "heaps"),
        example="REFRESH MATERIALIZED VIEW CONCURRENTLY mv_t",
    ),
    _f("drop-materialized-view", "DROP MATERIALIZED VIEW", (("table", AE),), example="DROP MATERIALIZED VIEW mv_t"),
    # --- types and sequences -------------------------------------------------------------------------
    _f("create-type", "CREATE TYPE / DOMAIN", example="CREATE TYPE color AS ENUM ('red')"),
    _f("alter-type-add-value", "ALTER TYPE ... ADD VALUE", example="ALTER TYPE mood ADD VALUE 'c'"),
    _f(
        "alter-type",
        "ALTER TYPE / DOMAIN (rename value, rename, owner; a domain's ADD CHECK / SET NOT NULL checks every "
        "column of the domain)",
        (("domain_table", SH),),
        scans=("domain_table",),
        example="ALTER TYPE mood RENAME VALUE 'a' TO 'aa'",
    ),
    _f("drop-type", "DROP TYPE", (("cascade", AE),), example="DROP TYPE unused_type"),
    _f("create-sequence", "CREATE SEQUENCE", example="CREATE SEQUENCE seq_new"),
    _f(
        "alter-sequence",
        "ALTER SEQUENCE",
        (("table", SRE),),
        new_files=("table",),
        example="ALTER SEQUENCE seq_s RESTART WITH 10",
    ),
    _f(
        "alter-sequence-owned-by",
        "ALTER SEQUENCE ... OWNED BY (no other option)",
        (("table", SRE),),
        example="ALTER SEQUENCE seq_s OWNED BY NONE",
    ),
    _f("drop-sequence", "DROP SEQUENCE", (("table", AE), ("cascade", AE)), example="DROP SEQUENCE seq_s"),
    # --- maintenance ---------------------------------------------------------------------------------
    # On a partitioned table VACUUM, CLUSTER and REINDEX process the partitions one by one, each in its own
    # transaction (so they cannot run in a transaction block): the partition locks below are from the
    # documentation and tablecmds/vacuum/cluster/indexcmds.c, not measured by the corpus, which runs every
    # statement inside a transaction.
    _f(
        "vacuum",
        "VACUUM / ANALYZE outside a transaction",
        (("table", SUE), ("partitions", SUE)),
        transactional=False,
        example="VACUUM other_t",
        probe="second-session",
    ),
    _f(
        "analyze",
        "ANALYZE",
        (("table", SUE), ("partitions", SUE), ("children", AS)),
        since=((18, "children", SUE),),
        example="ANALYZE other_t",
    ),
    _f(
        "vacuum-full",
        "VACUUM FULL",
        (("table", AE), ("partitions", AE)),
        rewrites=("heaps",),
        scans=("heaps",),
        transactional=False,
        example="VACUUM FULL other_t",
        probe="second-session",
    ),
    _f(
        "cluster",
        "CLUSTER",
        (("table", AE), ("index", AE), ("partitions", AE)),
        rewrites=("heaps",),
        scans=("heaps",),
        example="CLUSTER other_t USING other_t_x_idx",
    ),
    _f(
        "lock-table",
        "LOCK TABLE",
        (("table", AE), ("partitions", AE), ("children", AE), ("base", AE)),
        example="LOCK TABLE other_t IN SHARE MODE",
    ),
    _f("comment", "COMMENT ON", (("table", SUE),), example="COMMENT ON TABLE other_t IS 'x'"),
    _f(
        "comment-constraint",
        "COMMENT ON CONSTRAINT",
        (("table", AS),),
        example="COMMENT ON CONSTRAINT other_x_check ON other_t IS 'x'",
    ),
    _f(
        "grant",
        "GRANT / REVOKE on tables, views, sequences",
        since=((18, "table", AS),),
        example="GRANT SELECT ON other_t TO probe_role",
    ),
    # --- DML -----------------------------------------------------------------------------------------
    _f(
        "insert",
        "INSERT",
        (("table", RE), ("referenced", RS), ("source", AS), ("sequence", RE), ("base", RE)),
        example="INSERT INTO child_t VALUES (2, 1, 'x')",
    ),
    _f(
        "update",
        "UPDATE with a WHERE clause",
        (
            ("table", RE),
            ("referenced", RS),
            ("source", AS),
            ("partitions", RE),
            ("children", RE),
            ("sequence", RE),
            ("base", RE),
            ("referencing", RS),
            ("referencing_write", RE),
        ),
        example="UPDATE child_t SET parent_id = 2 WHERE id = 1",
    ),
    _f(
        "update-all-rows",
        "UPDATE without WHERE (every row)",
        (
            ("table", RE),
            ("referenced", RS),
            ("source", AS),
            ("partitions", RE),
            ("children", RE),
            ("sequence", RE),
            ("base", RE),
            ("referencing", RS),
            ("referencing_write", RE),
        ),
        scans=("heaps",),
        example="UPDATE other_t SET x = 2",
    ),
    _f(
        "delete",
        "DELETE with a WHERE clause",
        (
            ("table", RE),
            ("referencing", RS),
            ("source", AS),
            ("partitions", RE),
            ("children", RE),
            ("base", RE),
            ("referencing_write", RE),
        ),
        example="DELETE FROM parent_t WHERE id = 2",
    ),
    _f(
        "delete-all-rows",
        "DELETE without WHERE (every row)",
        (
            ("table", RE),
            ("referencing", RS),
            ("source", AS),
            ("partitions", RE),
            ("children", RE),
            ("base", RE),
            ("referencing_write", RE),
        ),
        scans=("heaps",),
        example="DELETE FROM other_t",
    ),
    _f(
        "merge",
        "MERGE",
        (("table", RE), ("source", AS), ("partitions", RE), ("children", RE), ("sequence", RE), ("base", RE)),
        min_version=15,
        example="MERGE INTO other_t o USING parent_t p ON o.id = p.id WHEN MATCHED THEN UPDATE SET x = 3",
    ),
    _f("select", "SELECT", (("source", AS), ("sequence", RE)), example="SELECT * FROM other_t"),
    _f(
        "select-for-update",
        "SELECT ... FOR UPDATE/SHARE",
        (("source", RS), ("partitions", RS), ("children", RS), ("sequence", RE), ("base", RS)),
        example="SELECT * FROM other_t FOR UPDATE",
    ),
    # --- no relation locks ---------------------------------------------------------------------------
    _f("set", "SET / RESET (session settings)", example="SET lock_timeout = '2s'"),
    _f("transaction-control", "BEGIN / COMMIT / ROLLBACK / SAVEPOINT", probe="none: takes no relation lock"),
    _f(
        "create-schema",
        "CREATE SCHEMA / EXTENSION / FUNCTION / ROLE / GRANT (no table lock)",
        example="CREATE SCHEMA aux2",
    ),
    _f("drop-schema", "DROP SCHEMA", (("cascade", AE),), example="DROP SCHEMA empty_schema"),
    _f("do-block", "DO block / function call (not analyzable)", probe="none: arbitrary code"),
    _f("other", "any other statement", probe="none: catch-all"),
]

FORMS: Final[dict[str, Form]] = {form.id: form for form in FORMS_LIST}
assert len(FORMS) == len(FORMS_LIST), "duplicate form id"


def form(form_id: str) -> Form:
    return FORMS[form_id]
