-- The schema the lock-model probe runs every form's example against (tests/analysis/test_lock_model_probe.py).
CREATE SCHEMA aux;
CREATE SCHEMA empty_schema;
CREATE TABLE parent_t (id int PRIMARY KEY, name text, v varchar(10), n numeric(10, 2), c int NOT NULL);
CREATE TABLE child_t (
    id int PRIMARY KEY,
    parent_id int,
    note text,
    CONSTRAINT child_parent_fk FOREIGN KEY (parent_id) REFERENCES parent_t (id)
);
CREATE TABLE other_t (id int, x int, y text);
ALTER TABLE other_t ADD CONSTRAINT other_x_check CHECK (x > 0) NOT VALID;
ALTER TABLE other_t ADD CONSTRAINT other_y_nn CHECK (y IS NOT NULL);
CREATE INDEX other_t_x_idx ON other_t (x);
CREATE UNIQUE INDEX other_t_id_uidx ON other_t (id);
CREATE TABLE empty_t (id int, w int);
CREATE TABLE inh_child (id int, w int);
CREATE TABLE fk_src (id int, parent_id int);
ALTER TABLE fk_src ADD CONSTRAINT fk_src_nv FOREIGN KEY (parent_id) REFERENCES parent_t (id) NOT VALID;
CREATE TABLE gen_t (a int, g int GENERATED ALWAYS AS (a * 2) STORED);
CREATE TABLE part_p (id int, k int) PARTITION BY RANGE (k);
CREATE TABLE part_1 PARTITION OF part_p FOR VALUES FROM (0) TO (100);
CREATE TABLE part_new (id int, k int);
CREATE TABLE part_checked (id int, k int, CONSTRAINT part_checked_bound CHECK (k IS NOT NULL AND k >= 100 AND k < 200));
CREATE TABLE part_q (id int, k int) PARTITION BY RANGE (k);
CREATE TABLE part_q_def PARTITION OF part_q DEFAULT;
CREATE VIEW v_t AS SELECT id, x FROM other_t;
CREATE MATERIALIZED VIEW mv_t AS SELECT id FROM other_t;
CREATE UNIQUE INDEX mv_t_id ON mv_t (id);
CREATE SEQUENCE seq_s;
CREATE TYPE mood AS ENUM ('a', 'b');
CREATE TYPE unused_type AS ENUM ('x');
CREATE FUNCTION trg_fn() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER other_trg BEFORE INSERT ON other_t FOR EACH ROW EXECUTE FUNCTION trg_fn();
CREATE POLICY other_pol ON other_t USING (true);
DO $$ BEGIN CREATE ROLE probe_role; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
INSERT INTO parent_t VALUES (1, 'a', 'x', 1, 1), (2, 'b', 'y', 2, 2);
INSERT INTO child_t VALUES (1, 1, 'n');
INSERT INTO other_t VALUES (1, 1, 'y'), (2, 2, 'z');
INSERT INTO fk_src VALUES (1, 1);
INSERT INTO gen_t VALUES (1);
INSERT INTO part_p VALUES (1, 1);
INSERT INTO part_new VALUES (1, 150);
INSERT INTO part_checked VALUES (1, 150);
REFRESH MATERIALIZED VIEW mv_t;
CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
