"""The catalog model and diff against real servers.

One template database holds a schema with every object kind. Each case clones it, changes exactly one
attribute of one object, and must see exactly that one difference (kind, object, change, attribute).
"""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

from migtui.catalog import diff_snapshots, inspect_database
from migtui.catalog.model import Snapshot

ROLE = "catalog_test_reader"

BASE_SQL = f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN CREATE ROLE {ROLE}; END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
CREATE SCHEMA app;
CREATE SCHEMA aux;
CREATE TABLE aux.lonely (id int PRIMARY KEY, note text);
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE app.level AS ENUM ('low', 'high');
CREATE DOMAIN app.posint AS integer NOT NULL DEFAULT 1 CONSTRAINT posint_positive CHECK (VALUE > 0);
CREATE DOMAIN app.code AS text;
CREATE TYPE app.pair AS (a int, b text);
CREATE TYPE app.span AS RANGE (subtype = int4);
CREATE SEQUENCE app.counter INCREMENT 2 START 10 MINVALUE 5 MAXVALUE 1000 CACHE 1;
CREATE TABLE app.people (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email varchar(50) NOT NULL,
    name text NOT NULL DEFAULT 'anon',
    mood app.mood,
    score numeric(10, 2) DEFAULT 0,
    doubled int GENERATED ALWAYS AS (id * 2) STORED,
    bio text,
    CONSTRAINT people_email_key UNIQUE (email),
    CONSTRAINT people_score_check CHECK (score >= 0)
);
CREATE TABLE app.orders (
    id serial PRIMARY KEY,
    person_id int NOT NULL,
    amount int,
    placed date,
    tags text,
    memo text,
    CONSTRAINT orders_person_fk FOREIGN KEY (person_id) REFERENCES app.people(id)
        ON DELETE CASCADE ON UPDATE NO ACTION DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT orders_no_overlap EXCLUDE USING btree (id WITH =)
);
ALTER TABLE app.orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID;
ALTER TABLE app.orders ADD CONSTRAINT orders_tags_key UNIQUE NULLS NOT DISTINCT (tags);
CREATE INDEX orders_amount_idx ON app.orders (amount, placed) WHERE amount > 10;
CREATE INDEX orders_expr_idx ON app.orders ((lower(tags))) INCLUDE (amount);
CREATE UNIQUE INDEX people_name_idx ON app.people (name text_pattern_ops);
CREATE INDEX people_bio_idx ON app.people (bio) WITH (fillfactor = 80);
CREATE TABLE app.base_a (x int);
CREATE TABLE app.child_a (x int, y int) INHERITS (app.base_a);
CREATE TABLE app.events (k int, at date) PARTITION BY RANGE (at);
CREATE TABLE app.events_2020 PARTITION OF app.events FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE app.bare (k int) PARTITION BY LIST (k);
CREATE VIEW app.big_orders AS SELECT id, amount FROM app.orders WHERE amount > 100;
CREATE MATERIALIZED VIEW app.order_totals AS
    SELECT person_id, sum(amount) AS total FROM app.orders GROUP BY 1;
CREATE FUNCTION app.add_one(a int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE RETURN a + 1;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.bio := 'x'; RETURN NEW; END$$;
CREATE FUNCTION app.series(n int) RETURNS SETOF int LANGUAGE sql STABLE AS 'SELECT generate_series(1, n)';
CREATE PROCEDURE app.cleanup(days int) LANGUAGE sql AS $$DELETE FROM app.orders WHERE amount < days$$;
CREATE FUNCTION app.noop_evt() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN END$$;
CREATE TRIGGER people_touch BEFORE INSERT ON app.people FOR EACH ROW EXECUTE FUNCTION app.touch();
ALTER TABLE app.people ENABLE ROW LEVEL SECURITY;
CREATE POLICY people_read ON app.people FOR SELECT TO PUBLIC USING (id > 0);
CREATE POLICY people_write ON app.people FOR INSERT TO {ROLE} WITH CHECK (id > 0);
COMMENT ON TABLE app.people IS 'people';
CREATE TYPE app.shape AS (w int);
CREATE TABLE app.typed OF app.shape;
CREATE STATISTICS app.people_stats (ndistinct) ON email, name FROM app.people;
CREATE RULE orders_no_delete AS ON DELETE TO app.orders WHERE old.amount > 1000000 DO INSTEAD NOTHING;
ALTER DEFAULT PRIVILEGES IN SCHEMA aux GRANT USAGE ON SEQUENCES TO {ROLE};
CREATE TABLE public.alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO public.alembic_version VALUES ('abc');
"""

# (id, SQL applied to a clone, expected difference: (kind, object, change, attribute))
CASES: list[tuple[str, str, tuple[str, str, str, str | None]]] = [
    # schemas
    ("schema-added", "CREATE SCHEMA extra", ("schema", "extra", "added", None)),
    ("schema-removed", "DROP SCHEMA aux CASCADE", ("schema", "aux", "removed", None)),
    ("schema-owner", f"ALTER SCHEMA app OWNER TO {ROLE}", ("schema", "app", "modified", "owner")),
    ("schema-grants", f"GRANT USAGE ON SCHEMA app TO {ROLE}", ("schema", "app", "modified", "grants")),
    ("schema-comment", "COMMENT ON SCHEMA app IS 'x'", ("schema", "app", "modified", "comment")),
    # collations
    ("collation-added", 'CREATE COLLATION app.c2 FROM "C"', ("collation", "app.c2", "added", None)),
    # enums
    ("enum-value-added", "ALTER TYPE app.mood ADD VALUE 'meh'", ("enum", "app.mood", "modified", "values")),
    (
        "enum-value-order",
        "DROP TYPE app.level; CREATE TYPE app.level AS ENUM ('high', 'low')",
        ("enum", "app.level", "modified", "values"),
    ),
    ("enum-owner", f"ALTER TYPE app.level OWNER TO {ROLE}", ("enum", "app.level", "modified", "owner")),
    ("enum-comment", "COMMENT ON TYPE app.level IS 'x'", ("enum", "app.level", "modified", "comment")),
    # domains and their constraints
    (
        "domain-not-null",
        "ALTER DOMAIN app.posint DROP NOT NULL",
        ("domain", "app.posint", "modified", "not_null"),
    ),
    (
        "domain-default",
        "ALTER DOMAIN app.posint SET DEFAULT 2",
        ("domain", "app.posint", "modified", "default"),
    ),
    (
        "domain-base-type",
        "DROP DOMAIN app.code; CREATE DOMAIN app.code AS varchar(10)",
        ("domain", "app.code", "modified", "base_type"),
    ),
    (
        "domain-collation",
        'DROP DOMAIN app.code; CREATE DOMAIN app.code AS text COLLATE "C"',
        ("domain", "app.code", "modified", "collation"),
    ),
    (
        "domain-check",
        "ALTER DOMAIN app.posint DROP CONSTRAINT posint_positive; "
        "ALTER DOMAIN app.posint ADD CONSTRAINT posint_positive CHECK (VALUE > 1)",
        ("constraint", "app.posint.posint_positive", "modified", "definition"),
    ),
    (
        "domain-check-removed",
        "ALTER DOMAIN app.posint DROP CONSTRAINT posint_positive",
        ("constraint", "app.posint.posint_positive", "removed", None),
    ),
    # composite and range types
    (
        "composite-field",
        "ALTER TYPE app.pair ADD ATTRIBUTE c int",
        ("composite type", "app.pair", "modified", "fields"),
    ),
    (
        "composite-field-type",
        "ALTER TYPE app.pair ALTER ATTRIBUTE a TYPE bigint",
        ("composite type", "app.pair", "modified", "fields"),
    ),
    (
        "range-added",
        "CREATE TYPE app.fspan AS RANGE (subtype = float8)",
        ("range type", "app.fspan", "added", None),
    ),
    # sequences (state is not schema: see test_no_noise_from_state)
    (
        "sequence-increment",
        "ALTER SEQUENCE app.counter INCREMENT 3",
        ("sequence", "app.counter", "modified", "increment"),
    ),
    (
        "sequence-start",
        "ALTER SEQUENCE app.counter START 11",
        ("sequence", "app.counter", "modified", "start"),
    ),
    (
        "sequence-minvalue",
        "ALTER SEQUENCE app.counter MINVALUE 6",
        ("sequence", "app.counter", "modified", "minvalue"),
    ),
    (
        "sequence-maxvalue",
        "ALTER SEQUENCE app.counter MAXVALUE 999",
        ("sequence", "app.counter", "modified", "maxvalue"),
    ),
    (
        "sequence-cache",
        "ALTER SEQUENCE app.counter CACHE 5",
        ("sequence", "app.counter", "modified", "cache"),
    ),
    ("sequence-cycle", "ALTER SEQUENCE app.counter CYCLE", ("sequence", "app.counter", "modified", "cycle")),
    (
        "sequence-type",
        "ALTER SEQUENCE app.counter AS integer",
        ("sequence", "app.counter", "modified", "data_type"),
    ),
    (
        "sequence-owned-by",
        "ALTER SEQUENCE app.orders_id_seq OWNED BY app.orders.amount",
        ("sequence", "app.orders_id_seq", "modified", "owned_by"),
    ),
    (
        "sequence-unlogged",
        "ALTER SEQUENCE app.counter SET UNLOGGED",
        ("sequence", "app.counter", "modified", "persistence"),
    ),
    (
        "sequence-grants",
        f"GRANT USAGE ON SEQUENCE app.counter TO {ROLE}",
        ("sequence", "app.counter", "modified", "grants"),
    ),
    # tables
    (
        "table-added",
        "CREATE TABLE app.extra (id int PRIMARY KEY, v text)",
        ("table", "app.extra", "added", None),
    ),
    ("table-removed", "DROP TABLE aux.lonely", ("table", "aux.lonely", "removed", None)),
    (
        "table-unlogged",
        "ALTER TABLE app.base_a SET UNLOGGED",
        ("table", "app.base_a", "modified", "persistence"),
    ),
    (
        "table-reloptions",
        "ALTER TABLE app.orders SET (fillfactor = 70)",
        ("table", "app.orders", "modified", "reloptions"),
    ),
    (
        "table-rls",
        "ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY",
        ("table", "app.orders", "modified", "row_security"),
    ),
    (
        "table-rls-forced",
        "ALTER TABLE app.people FORCE ROW LEVEL SECURITY",
        ("table", "app.people", "modified", "force_row_security"),
    ),
    (
        "table-replica-identity",
        "ALTER TABLE app.orders REPLICA IDENTITY FULL",
        ("table", "app.orders", "modified", "replica_identity"),
    ),
    ("table-owner", f"ALTER TABLE app.orders OWNER TO {ROLE}", ("table", "app.orders", "modified", "owner")),
    ("table-grants", f"GRANT SELECT ON app.orders TO {ROLE}", ("table", "app.orders", "modified", "grants")),
    (
        "table-comment",
        "COMMENT ON TABLE app.people IS 'persons'",
        ("table", "app.people", "modified", "comment"),
    ),
    (
        "table-inherits",
        "ALTER TABLE app.child_a NO INHERIT app.base_a",
        ("table", "app.child_a", "modified", "inherits"),
    ),
    (
        "table-partition-detached",
        "ALTER TABLE app.events DETACH PARTITION app.events_2020",
        ("table", "app.events_2020", "modified", "partition_of"),
    ),
    (
        "table-partition-bound",
        "ALTER TABLE app.events DETACH PARTITION app.events_2020; "
        "ALTER TABLE app.events ATTACH PARTITION app.events_2020 "
        "FOR VALUES FROM ('2020-01-01') TO ('2020-06-01')",
        ("table", "app.events_2020", "modified", "partition_of"),
    ),
    (
        "table-partition-key",
        "DROP TABLE app.bare; CREATE TABLE app.bare (k int) PARTITION BY HASH (k)",
        ("table", "app.bare", "modified", "partition_key"),
    ),
    (
        "table-partition-added",
        "CREATE TABLE app.events_2021 PARTITION OF app.events FOR VALUES FROM ('2021-01-01') TO ('2022-01-01')",
        ("table", "app.events_2021", "added", None),
    ),
    (
        "partitioned-index-added",
        "CREATE INDEX events_k_idx ON app.events (k)",
        ("index", "app.events_k_idx", "added", None),
    ),
    (
        "partitioned-trigger-added",
        "CREATE TRIGGER events_touch BEFORE INSERT ON app.events FOR EACH ROW EXECUTE FUNCTION app.touch()",
        ("trigger", "app.events.events_touch", "added", None),
    ),
    (
        "partitioned-constraint-added",
        "ALTER TABLE app.events ADD CONSTRAINT events_k_fk FOREIGN KEY (k) REFERENCES app.people(id)",
        ("constraint", "app.events.events_k_fk", "added", None),
    ),
    # columns
    (
        "column-added",
        "ALTER TABLE app.orders ADD COLUMN note text",
        ("column", "app.orders.note", "added", None),
    ),
    (
        "column-removed",
        "ALTER TABLE app.orders DROP COLUMN memo",
        ("column", "app.orders.memo", "removed", None),
    ),
    (
        "column-type",
        "ALTER TABLE app.orders ALTER placed TYPE timestamp",
        ("column", "app.orders.placed", "modified", "type"),
    ),
    (
        "column-typmod",
        "ALTER TABLE app.people ALTER email TYPE varchar(60)",
        ("column", "app.people.email", "modified", "type"),
    ),
    (
        "column-not-null",
        "ALTER TABLE app.people ALTER name DROP NOT NULL",
        ("column", "app.people.name", "modified", "not_null"),
    ),
    (
        "column-default",
        "ALTER TABLE app.people ALTER name SET DEFAULT 'someone'",
        ("column", "app.people.name", "modified", "default"),
    ),
    (
        "column-default-dropped",
        "ALTER TABLE app.people ALTER score DROP DEFAULT",
        ("column", "app.people.score", "modified", "default"),
    ),
    (
        "column-identity-lost",
        "ALTER TABLE app.people ALTER id DROP IDENTITY",
        ("column", "app.people.id", "modified", "identity"),
    ),
    (
        "column-identity-kind",
        "ALTER TABLE app.people ALTER id SET GENERATED BY DEFAULT",
        ("column", "app.people.id", "modified", "identity"),
    ),
    (
        "column-identity-options",
        "ALTER TABLE app.people ALTER id SET INCREMENT BY 5",
        ("column", "app.people.id", "modified", "identity"),
    ),
    (
        "column-generated-dropped",
        "ALTER TABLE app.people ALTER doubled DROP EXPRESSION",
        ("column", "app.people.doubled", "modified", "generated"),
    ),
    (
        "column-generated-expr",
        "ALTER TABLE app.people DROP COLUMN doubled; "
        "ALTER TABLE app.people ADD COLUMN doubled int GENERATED ALWAYS AS (id * 3) STORED",
        ("column", "app.people.doubled", "modified", "generated"),
    ),
    (
        "column-collation",
        'ALTER TABLE app.people ALTER bio TYPE text COLLATE "C"',
        ("column", "app.people.bio", "modified", "collation"),
    ),
    (
        "column-storage",
        "ALTER TABLE app.people ALTER bio SET STORAGE EXTERNAL",
        ("column", "app.people.bio", "modified", "storage"),
    ),
    (
        "column-compression",
        "ALTER TABLE app.people ALTER bio SET COMPRESSION pglz",
        ("column", "app.people.bio", "modified", "compression"),
    ),
    (
        "column-comment",
        "COMMENT ON COLUMN app.people.bio IS 'about'",
        ("column", "app.people.bio", "modified", "comment"),
    ),
    (
        "column-grants",
        f"GRANT SELECT (bio) ON app.people TO {ROLE}",
        ("column", "app.people.bio", "modified", "grants"),
    ),
    # constraints
    (
        "pk-removed",
        "ALTER TABLE aux.lonely DROP CONSTRAINT lonely_pkey",
        ("constraint", "aux.lonely.lonely_pkey", "removed", None),
    ),
    (
        "fk-on-delete",
        "ALTER TABLE app.orders DROP CONSTRAINT orders_person_fk; "
        "ALTER TABLE app.orders ADD CONSTRAINT orders_person_fk "
        "FOREIGN KEY (person_id) REFERENCES app.people(id) "
        "DEFERRABLE INITIALLY DEFERRED",
        ("constraint", "app.orders.orders_person_fk", "modified", "on_delete"),
    ),
    (
        "fk-on-update",
        "ALTER TABLE app.orders DROP CONSTRAINT orders_person_fk; "
        "ALTER TABLE app.orders ADD CONSTRAINT orders_person_fk "
        "FOREIGN KEY (person_id) REFERENCES app.people(id) "
        "ON DELETE CASCADE ON UPDATE RESTRICT DEFERRABLE INITIALLY DEFERRED",
        ("constraint", "app.orders.orders_person_fk", "modified", "on_update"),
    ),
    (
        "fk-not-deferrable",
        "ALTER TABLE app.orders ALTER CONSTRAINT orders_person_fk NOT DEFERRABLE",
        ("constraint", "app.orders.orders_person_fk", "modified", "deferrable"),
    ),
    (
        "fk-initially-immediate",
        "ALTER TABLE app.orders ALTER CONSTRAINT orders_person_fk INITIALLY IMMEDIATE",
        ("constraint", "app.orders.orders_person_fk", "modified", "deferrable"),
    ),
    (
        "fk-match-full",
        "ALTER TABLE app.orders DROP CONSTRAINT orders_person_fk; "
        "ALTER TABLE app.orders ADD CONSTRAINT orders_person_fk "
        "FOREIGN KEY (person_id) REFERENCES app.people(id) "
        "MATCH FULL ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
        ("constraint", "app.orders.orders_person_fk", "modified", "definition"),
    ),
    (
        "check-validated",
        "ALTER TABLE app.orders VALIDATE CONSTRAINT orders_amount_positive",
        ("constraint", "app.orders.orders_amount_positive", "modified", "validity"),
    ),
    (
        "check-expression",
        "ALTER TABLE app.people DROP CONSTRAINT people_score_check; "
        "ALTER TABLE app.people ADD CONSTRAINT people_score_check CHECK (score > 0)",
        ("constraint", "app.people.people_score_check", "modified", "definition"),
    ),
    (
        "unique-nulls-distinct",
        "ALTER TABLE app.orders DROP CONSTRAINT orders_tags_key; "
        "ALTER TABLE app.orders ADD CONSTRAINT orders_tags_key UNIQUE (tags)",
        ("constraint", "app.orders.orders_tags_key", "modified", "definition"),
    ),
    (
        "exclusion-definition",
        "ALTER TABLE app.orders DROP CONSTRAINT orders_no_overlap; "
        "ALTER TABLE app.orders ADD CONSTRAINT orders_no_overlap EXCLUDE USING btree (person_id WITH =)",
        ("constraint", "app.orders.orders_no_overlap", "modified", "definition"),
    ),
    (
        "constraint-comment",
        "COMMENT ON CONSTRAINT people_email_key ON app.people IS 'x'",
        ("constraint", "app.people.people_email_key", "modified", "comment"),
    ),
    # indexes (not the ones behind constraints: those are the constraint)
    (
        "index-added",
        "CREATE INDEX orders_placed_idx ON app.orders (placed)",
        ("index", "app.orders_placed_idx", "added", None),
    ),
    (
        "index-removed",
        "DROP INDEX app.orders_amount_idx",
        ("index", "app.orders_amount_idx", "removed", None),
    ),
    (
        "index-predicate",
        "DROP INDEX app.orders_amount_idx; CREATE INDEX orders_amount_idx ON app.orders (amount, placed)",
        ("index", "app.orders_amount_idx", "modified", "predicate"),
    ),
    (
        "index-column-order",
        "DROP INDEX app.orders_amount_idx; "
        "CREATE INDEX orders_amount_idx ON app.orders (placed, amount) WHERE amount > 10",
        ("index", "app.orders_amount_idx", "modified", "columns"),
    ),
    (
        "index-desc",
        "DROP INDEX app.orders_amount_idx; "
        "CREATE INDEX orders_amount_idx ON app.orders (amount DESC, placed) WHERE amount > 10",
        ("index", "app.orders_amount_idx", "modified", "columns"),
    ),
    (
        "index-unique",
        "DROP INDEX app.people_name_idx; CREATE INDEX people_name_idx ON app.people (name text_pattern_ops)",
        ("index", "app.people_name_idx", "modified", "unique"),
    ),
    (
        "index-opclass",
        "DROP INDEX app.people_name_idx; CREATE UNIQUE INDEX people_name_idx ON app.people (name)",
        ("index", "app.people_name_idx", "modified", "columns"),
    ),
    (
        "index-collation",
        "DROP INDEX app.people_name_idx; "
        'CREATE UNIQUE INDEX people_name_idx ON app.people (name COLLATE "C" text_pattern_ops)',
        ("index", "app.people_name_idx", "modified", "columns"),
    ),
    (
        "index-method",
        "DROP INDEX app.people_bio_idx; CREATE INDEX people_bio_idx ON app.people USING hash (bio) "
        "WITH (fillfactor = 80)",
        ("index", "app.people_bio_idx", "modified", "method"),
    ),
    (
        "index-reloptions",
        "ALTER INDEX app.people_bio_idx SET (fillfactor = 90)",
        ("index", "app.people_bio_idx", "modified", "reloptions"),
    ),
    (
        "index-include",
        "DROP INDEX app.orders_expr_idx; CREATE INDEX orders_expr_idx ON app.orders ((lower(tags)))",
        ("index", "app.orders_expr_idx", "modified", "include"),
    ),
    (
        "index-expression",
        "DROP INDEX app.orders_expr_idx; CREATE INDEX orders_expr_idx ON app.orders ((upper(tags))) INCLUDE (amount)",
        ("index", "app.orders_expr_idx", "modified", "columns"),
    ),
    (
        "index-nulls-not-distinct",
        "DROP INDEX app.people_name_idx; "
        "CREATE UNIQUE INDEX people_name_idx ON app.people (name text_pattern_ops) NULLS NOT DISTINCT",
        ("index", "app.people_name_idx", "modified", "nulls_not_distinct"),
    ),
    (
        "index-invalid",
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'app.people_bio_idx'::regclass",
        ("index", "app.people_bio_idx", "modified", "valid"),
    ),
    (
        "index-comment",
        "COMMENT ON INDEX app.people_bio_idx IS 'x'",
        ("index", "app.people_bio_idx", "modified", "comment"),
    ),
    # views and materialized views
    (
        "view-definition",
        "CREATE OR REPLACE VIEW app.big_orders AS SELECT id, amount FROM app.orders WHERE amount > 200",
        ("view", "app.big_orders", "modified", "definition"),
    ),
    (
        "view-options",
        "ALTER VIEW app.big_orders SET (security_barrier = true)",
        ("view", "app.big_orders", "modified", "options"),
    ),
    ("view-removed", "DROP VIEW app.big_orders", ("view", "app.big_orders", "removed", None)),
    (
        "view-grants",
        f"GRANT SELECT ON app.big_orders TO {ROLE}",
        ("view", "app.big_orders", "modified", "grants"),
    ),
    (
        "matview-definition",
        "DROP MATERIALIZED VIEW app.order_totals; CREATE MATERIALIZED VIEW app.order_totals AS "
        "SELECT person_id, sum(amount) AS total FROM app.orders WHERE amount > 0 GROUP BY 1",
        ("materialized view", "app.order_totals", "modified", "definition"),
    ),
    (
        "matview-not-populated",
        "REFRESH MATERIALIZED VIEW app.order_totals WITH NO DATA",
        ("materialized view", "app.order_totals", "modified", "populated"),
    ),
    # functions and procedures
    (
        "function-body",
        "CREATE OR REPLACE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN NEW.bio := 'y'; RETURN NEW; END$$",
        ("function", "app.touch()", "modified", "body"),
    ),
    (
        "function-sql-body",
        "CREATE OR REPLACE FUNCTION app.add_one(a int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE RETURN a + 2",
        ("function", "app.add_one(a integer)", "modified", "body"),
    ),
    (
        "function-volatility",
        "ALTER FUNCTION app.add_one(int) STABLE",
        ("function", "app.add_one(a integer)", "modified", "volatility"),
    ),
    (
        "function-security",
        "ALTER FUNCTION app.add_one(int) SECURITY DEFINER",
        ("function", "app.add_one(a integer)", "modified", "security"),
    ),
    (
        "function-strict",
        "ALTER FUNCTION app.add_one(int) STRICT",
        ("function", "app.add_one(a integer)", "modified", "strict"),
    ),
    (
        "function-parallel",
        "ALTER FUNCTION app.add_one(int) PARALLEL SAFE",
        ("function", "app.add_one(a integer)", "modified", "parallel"),
    ),
    (
        "function-leakproof",
        "ALTER FUNCTION app.add_one(int) LEAKPROOF",
        ("function", "app.add_one(a integer)", "modified", "leakproof"),
    ),
    (
        "function-cost",
        "ALTER FUNCTION app.add_one(int) COST 5",
        ("function", "app.add_one(a integer)", "modified", "cost"),
    ),
    (
        "function-rows",
        "ALTER FUNCTION app.series(int) ROWS 10",
        ("function", "app.series(n integer)", "modified", "rows"),
    ),
    (
        "function-config",
        "ALTER FUNCTION app.add_one(int) SET search_path = app",
        ("function", "app.add_one(a integer)", "modified", "config"),
    ),
    (
        "function-default-arg",
        "CREATE OR REPLACE FUNCTION app.add_one(a int DEFAULT 2) RETURNS int LANGUAGE sql IMMUTABLE RETURN a + 1",
        ("function", "app.add_one(a integer)", "modified", "arguments"),
    ),
    (
        "function-returns",
        "DROP FUNCTION app.series(int); CREATE FUNCTION app.series(n int) RETURNS SETOF bigint "
        "LANGUAGE sql STABLE AS 'SELECT generate_series(1, n)'",
        ("function", "app.series(n integer)", "modified", "returns"),
    ),
    (
        "function-grants",
        "REVOKE EXECUTE ON FUNCTION app.add_one(int) FROM PUBLIC",
        ("function", "app.add_one(a integer)", "modified", "grants"),
    ),
    (
        "function-owner",
        f"ALTER FUNCTION app.add_one(int) OWNER TO {ROLE}",
        ("function", "app.add_one(a integer)", "modified", "owner"),
    ),
    (
        "function-comment",
        "COMMENT ON FUNCTION app.add_one(int) IS 'x'",
        ("function", "app.add_one(a integer)", "modified", "comment"),
    ),
    (
        "function-overload-added",
        "CREATE FUNCTION app.add_one(a text) RETURNS text LANGUAGE sql RETURN a || '1'",
        ("function", "app.add_one(a text)", "added", None),
    ),
    (
        "procedure-body",
        "CREATE OR REPLACE PROCEDURE app.cleanup(days int) LANGUAGE sql AS "
        "$$DELETE FROM app.orders WHERE amount <= days$$",
        ("function", "app.cleanup(IN days integer)", "modified", "body"),
    ),
    (
        "aggregate-added",
        "CREATE AGGREGATE app.total(int) (sfunc = int4pl, stype = int, initcond = '0')",
        ("function", "app.total(integer)", "added", None),
    ),
    # triggers
    (
        "trigger-disabled",
        "ALTER TABLE app.people DISABLE TRIGGER people_touch",
        ("trigger", "app.people.people_touch", "modified", "enabled"),
    ),
    (
        "trigger-definition",
        "DROP TRIGGER people_touch ON app.people; CREATE TRIGGER people_touch BEFORE INSERT OR "
        "UPDATE ON app.people FOR EACH ROW EXECUTE FUNCTION app.touch()",
        ("trigger", "app.people.people_touch", "modified", "definition"),
    ),
    (
        "trigger-removed",
        "DROP TRIGGER people_touch ON app.people",
        ("trigger", "app.people.people_touch", "removed", None),
    ),
    (
        "trigger-comment",
        "COMMENT ON TRIGGER people_touch ON app.people IS 'x'",
        ("trigger", "app.people.people_touch", "modified", "comment"),
    ),
    (
        "event-trigger-added",
        "CREATE EVENT TRIGGER noop ON ddl_command_end EXECUTE FUNCTION app.noop_evt()",
        ("event trigger", "noop", "added", None),
    ),
    # rules, extended statistics objects, typed tables, default privileges
    (
        "rule-added",
        "CREATE RULE orders_no_update AS ON UPDATE TO app.orders DO INSTEAD NOTHING",
        ("rule", "app.orders.orders_no_update", "added", None),
    ),
    (
        "rule-definition",
        "CREATE OR REPLACE RULE orders_no_delete AS ON DELETE TO app.orders DO INSTEAD NOTHING",
        ("rule", "app.orders.orders_no_delete", "modified", "definition"),
    ),
    (
        "rule-disabled",
        "ALTER TABLE app.orders DISABLE RULE orders_no_delete",
        ("rule", "app.orders.orders_no_delete", "modified", "enabled"),
    ),
    (
        "statistics-added",
        "CREATE STATISTICS app.orders_stats (dependencies) ON amount, placed FROM app.orders",
        ("statistics", "app.orders_stats", "added", None),
    ),
    (
        "statistics-definition",
        "DROP STATISTICS app.people_stats; CREATE STATISTICS app.people_stats (mcv) ON email, name FROM app.people",
        ("statistics", "app.people_stats", "modified", "definition"),
    ),
    (
        "statistics-target",
        "ALTER STATISTICS app.people_stats SET STATISTICS 500",
        ("statistics", "app.people_stats", "modified", "target"),
    ),
    ("table-not-of-type", "ALTER TABLE app.typed NOT OF", ("table", "app.typed", "modified", "of_type")),
    (
        "default-privileges-added",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO {ROLE}",
        ("default privileges", "for postgres in schema app on tables", "added", None),
    ),
    (
        "default-privileges-grants",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA aux GRANT SELECT ON SEQUENCES TO {ROLE}",
        ("default privileges", "for postgres in schema aux on sequences", "modified", "grants"),
    ),
    # row-level security policies
    (
        "policy-using",
        "ALTER POLICY people_read ON app.people USING (id > 1)",
        ("policy", "app.people.people_read", "modified", "using"),
    ),
    (
        "policy-with-check",
        "ALTER POLICY people_write ON app.people WITH CHECK (id > 1)",
        ("policy", "app.people.people_write", "modified", "with_check"),
    ),
    (
        "policy-roles",
        f"ALTER POLICY people_read ON app.people TO {ROLE}",
        ("policy", "app.people.people_read", "modified", "roles"),
    ),
    (
        "policy-command",
        f"DROP POLICY people_write ON app.people; CREATE POLICY people_write ON app.people FOR UPDATE "
        f"TO {ROLE} WITH CHECK (id > 0)",
        ("policy", "app.people.people_write", "modified", "command"),
    ),
    (
        "policy-restrictive",
        "DROP POLICY people_read ON app.people; CREATE POLICY people_read ON app.people AS "
        "RESTRICTIVE FOR SELECT TO PUBLIC USING (id > 0)",
        ("policy", "app.people.people_read", "modified", "permissive"),
    ),
    (
        "policy-removed",
        "DROP POLICY people_read ON app.people",
        ("policy", "app.people.people_read", "removed", None),
    ),
]


@pytest.fixture(scope="module")
def template(pg):
    """(server, template database name, its snapshot)."""
    name = "tpl_catalog_" + uuid.uuid4().hex[:8]
    pg.create_database(name)
    pg.execute(BASE_SQL, dbname=name)
    snapshot = inspect_database(pg.dsn(name))
    yield pg, name, snapshot
    pg.drop_database(name)


@pytest.fixture
def clone(template):
    server, name, _ = template
    copy = "t_cat_" + uuid.uuid4().hex[:10]
    server.create_database(copy, template=name)
    yield server, copy
    server.drop_database(copy)


@pytest.fixture(scope="module")
def template18(pg18):
    """The same template on PostgreSQL 18 (NOT NULL constraint rows, NOT ENFORCED, virtual columns)."""
    name = "tpl_catalog18_" + uuid.uuid4().hex[:8]
    pg18.create_database(name)
    pg18.execute(BASE_SQL, dbname=name)
    yield pg18, name, inspect_database(pg18.dsn(name))
    pg18.drop_database(name)


def _items(before: Snapshot, after: Snapshot) -> list[tuple]:
    return [(d.kind, d.object, d.change, d.attribute) for d in diff_snapshots(before, after)]


@pytest.mark.parametrize(("sql", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_one_change_is_one_difference(template, clone, sql, expected):
    server, copy = clone
    server.execute(sql, dbname=copy)
    after = inspect_database(server.dsn(copy))
    assert _items(template[2], after) == [expected]


def test_template_covers_every_kind(template):
    kinds = {kind for kind, _ in template[2].objects}
    assert kinds >= {
        "schema",
        "extension",
        "enum",
        "domain",
        "composite type",
        "range type",
        "sequence",
        "table",
        "column",
        "constraint",
        "index",
        "view",
        "materialized view",
        "function",
        "trigger",
        "policy",
    }
    # implementation details are not objects of their own
    assert template[2].get("index", "app.people_pkey") is None  # the index behind the primary key
    assert not [n for n in template[2].names("sequence") if n.startswith("app.people_id")]  # identity sequence
    assert template[2].get("table", "public.alembic_version") is None  # the version table
    assert template[2].get("sequence", "app.orders_id_seq").attributes["owned_by"] == "app.orders.id"


def test_no_noise_from_state(template, clone):
    """Data, sequence positions, statistics, rewrites (new relfilenodes), column order and the version table
    are not differences."""
    server, copy = clone
    script = """
        INSERT INTO app.people (email, name) VALUES ('a@x', 'a'), ('b@x', 'b');
        INSERT INTO app.orders (person_id, amount, tags) SELECT id, 5, 't' || id FROM app.people;
        SELECT nextval('app.counter'), nextval('app.counter');
        ANALYZE;
        VACUUM FULL app.orders;
        CLUSTER app.people USING people_pkey;
        REFRESH MATERIALIZED VIEW app.order_totals;
        ALTER TABLE app.orders DROP COLUMN placed CASCADE;
        ALTER TABLE app.orders ADD COLUMN placed date;
        CREATE INDEX orders_amount_idx ON app.orders (amount, placed) WHERE amount > 10;
        ALTER TABLE app.people ALTER COLUMN bio SET STATISTICS 500;
        GRANT SELECT ON app.orders TO catalog_test_reader;
        REVOKE SELECT ON app.orders FROM catalog_test_reader;
        UPDATE public.alembic_version SET version_num = 'def';
        ALTER TABLE public.alembic_version ADD COLUMN extra int
        """
    for statement in script.split(";"):  # one by one: VACUUM cannot run in a multi-statement transaction
        server.execute(statement, dbname=copy)
    assert _items(template[2], inspect_database(server.dsn(copy))) == []


def test_extension_members_are_not_objects(template, clone):
    server, copy = clone
    available = server.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'", dbname=copy)
    if not available and not hasattr(server, "binaries"):  # the embedded servers ship pgvector
        pytest.skip("pgvector not available on this external server")
    server.execute("CREATE EXTENSION vector SCHEMA app", dbname=copy)
    assert _items(template[2], inspect_database(server.dsn(copy))) == [("extension", "vector", "added", None)]


def test_removed_table_is_one_item_and_names_what_it_had(template, clone):
    server, copy = clone
    server.execute("DROP TABLE app.orders CASCADE", dbname=copy)
    items = diff_snapshots(template[2], inspect_database(server.dsn(copy)))
    assert [(d.kind, d.object, d.change) for d in items] == [
        ("table", "app.orders", "removed"),
        ("view", "app.big_orders", "removed"),
        ("materialized view", "app.order_totals", "removed"),
    ]
    assert items[0].describe() == "table app.orders: missing (expected)"
    assert items[0].expected["owner"] == "postgres"


def test_exclude_attributes_and_describe(template, clone):
    server, copy = clone
    server.execute(
        f"ALTER TABLE app.orders OWNER TO {ROLE}; COMMENT ON TABLE app.orders IS 'o'; "
        "ALTER TABLE app.people ALTER name SET DEFAULT 'x'",
        dbname=copy,
    )
    after = inspect_database(server.dsn(copy))
    items = diff_snapshots(template[2], after, exclude=("owner", "grants", "comment"))
    assert [d.describe() for d in items] == [
        "column app.people.name: default: expected \"'anon'::text\", actual \"'x'::text\""
    ]
    assert items[0].to_dict() == {
        "kind": "column",
        "object": "app.people.name",
        "change": "modified",
        "attribute": "default",
        "expected": "'anon'::text",
        "actual": "'x'::text",
    }
    assert len(diff_snapshots(template[2], after)) == 3


def test_every_attribute_is_known_and_excludable(template):
    from migtui.catalog.model import ATTRIBUTES, check_exclude
    from migtui.errors import UsageError

    used = {k for obj in template[2].objects.values() for k in obj.attributes}
    assert used <= ATTRIBUTES, used - ATTRIBUTES
    assert check_exclude(["owner", "extension"]) == ("owner", "extension")
    with pytest.raises(UsageError, match="unknown name to exclude: 'ownr'"):
        check_exclude(["ownr"])


def test_snapshot_round_trips_through_json(template):
    import json

    from migtui.catalog.model import Snapshot as Snap

    data = json.loads(json.dumps(template[2].to_dict()))
    again = Snap.from_dict(data)
    assert diff_snapshots(template[2], again) == []
    assert again.pg_version == template[0].pg_version


@pytest.mark.db
@pytest.mark.parametrize("version", [16, 18])
def test_restored_dump_shows_no_difference(version, request):
    """pg_dump | psql into a new database: the same schema (per server version), no differences."""
    server = request.getfixturevalue(f"pg{version}")
    if not hasattr(server, "binaries"):
        pytest.skip("needs an embedded server (pg_dump of the same version)")
    source = "t_dump_src_" + uuid.uuid4().hex[:8]
    target = "t_dump_dst_" + uuid.uuid4().hex[:8]
    server.create_database(source)
    server.create_database(target)
    try:
        server.execute(BASE_SQL, dbname=source)
        server.execute(
            "INSERT INTO app.people (email) VALUES ('a@x'); INSERT INTO app.orders (person_id, amount) VALUES (1, 50)",
            dbname=source,
        )
        dump = subprocess.run(
            [server.binaries.tool("pg_dump"), "--no-sync", "-d", server.dsn(source)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        psql = server.binaries.tool("psql") if shutil.which(server.binaries.tool("psql")) else "psql"
        subprocess.run(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", server.dsn(target)],
            input=dump,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        before = inspect_database(server.dsn(source))
        after = inspect_database(server.dsn(target))
        assert len(before) > 60
        assert _items(before, after) == []
    finally:
        server.drop_database(source)
        server.drop_database(target)


# Where PostgreSQL 18 stores things differently (NOT NULL as pg_constraint rows, domain NOT NULL, identity,
# FK deferrability), plus what only 18 has.
PG18_CASES = [
    c
    for c in CASES
    if c[0].startswith(("column-", "domain-", "fk-", "check-", "pk-", "unique-", "table-inherits", "table-partition"))
] + [
    (
        "check-not-enforced",
        "ALTER TABLE app.people DROP CONSTRAINT people_score_check; "
        "ALTER TABLE app.people ADD CONSTRAINT people_score_check CHECK (score >= 0) NOT ENFORCED",
        ("constraint", "app.people.people_score_check", "modified", "validity"),
    ),
    (
        "column-generated-virtual",
        "ALTER TABLE app.people DROP COLUMN doubled; "
        "ALTER TABLE app.people ADD COLUMN doubled int GENERATED ALWAYS AS (id * 2) VIRTUAL",
        ("column", "app.people.doubled", "modified", "generated"),
    ),
]


@pytest.mark.parametrize(("sql", "expected"), [(c[1], c[2]) for c in PG18_CASES], ids=[c[0] for c in PG18_CASES])
def test_one_change_is_one_difference_pg18(template18, sql, expected):
    server, name, before = template18
    copy = "t_cat18_" + uuid.uuid4().hex[:10]
    server.create_database(copy, template=name)
    try:
        server.execute(sql, dbname=copy)
        assert _items(before, inspect_database(server.dsn(copy))) == [expected]
    finally:
        server.drop_database(copy)


def test_inspect_inside_the_callers_transaction_leaves_it_alone(template, clone):
    """Given a connection in an open transaction, the snapshot sees its uncommitted DDL and keeps it."""
    import psycopg

    server, copy = clone
    with psycopg.connect(server.dsn(copy)) as conn:  # autocommit off: a transaction opens
        conn.execute("SET search_path = app, public")
        conn.execute("CREATE TABLE app.uncommitted (id int)")
        snap = inspect_database(conn)
        assert ("table", "app.uncommitted", "added", None) in _items(template[2], snap)
        assert conn.execute("SHOW search_path").fetchone()[0] == "app, public"
        assert conn.execute("SELECT to_regclass('app.uncommitted') IS NOT NULL").fetchone()[0]
        conn.rollback()
    assert _items(template[2], inspect_database(server.dsn(copy))) == []


@pytest.fixture(scope="module")
def template15(request):
    """The template on Debian's PostgreSQL 15 (system binaries), when installed."""
    from migtui.pg import harness

    if request.config.getoption("--pg-dsn") or 15 not in harness.available_versions():
        pytest.skip("PostgreSQL 15 binaries not installed")
    server = harness.start_cluster(15)
    try:
        server.create_database("tpl15")
        server.execute(BASE_SQL, dbname="tpl15")
        yield server, "tpl15", inspect_database(server.dsn("tpl15"))
    finally:
        server.cleanup()


# the version-sensitive cases (no NOT ENFORCED or virtual columns before 18)
PG15_CASES = [c for c in PG18_CASES if c[0] not in ("check-not-enforced", "column-generated-virtual")]


@pytest.mark.db
@pytest.mark.parametrize(("sql", "expected"), [(c[1], c[2]) for c in PG15_CASES], ids=[c[0] for c in PG15_CASES])
def test_one_change_is_one_difference_pg15(template15, sql, expected):
    server, name, before = template15
    copy = "t_cat15_" + uuid.uuid4().hex[:10]
    server.create_database(copy, template=name)
    try:
        server.execute(sql, dbname=copy)
        assert _items(before, inspect_database(server.dsn(copy))) == [expected]
    finally:
        server.drop_database(copy)
