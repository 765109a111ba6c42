"""Demo data for the sample application in ``db/migrations``.

``migtui demo`` upgrades a fresh database to ``DEMO_STOP_REVISION`` (leaving the last revisions pending),
then calls ``load_demo_data(dsn)``: set-based SQL (``generate_series``) fills users, accounts, orders and
order_items with realistic distributions, then VACUUM (ANALYZE), so that row counts, lock times and rewrite costs of
the pending revisions are real.

What the data looks like (``scale`` = number of orders, default 1,000,000):

- users: scale/10; a third have no legacy ``username`` (display_name falls back to the e-mail's local part).
- accounts: scale/40, owned by users; plans 80% free, 17% team, 3% enterprise.
- orders: ``scale`` rows over the last three years, more of them recent; a few big accounts place most of
  them (account ids drawn with a cubic skew); status by age (old orders mostly shipped, some cancelled or
  refunded, a few stuck in pending; recent ones pending/paid/shipped); USD/EUR/GBP.
- order_items: 1-2 lines per order (~1.5 x scale); ``orders.total_cents`` is the sum of its lines.

Rows that make the pending revisions worth looking at:

- ``0014_orders_archived_at`` updates every settled order older than a year: roughly half of ``orders``.
- ``0015_orders_total_cents_bigint``: a handful of wholesale orders total more than 2,100,000,000 cents,
  close to the integer limit (2,147,483,647) the revision widens.
- ``0016_orders_status_index`` builds an index over all of ``orders``.
- ``0017_drop_users_username`` drops a column that holds values in two thirds of ``users``.

Only psycopg here (no SQLAlchemy, no alembic): the demo calls this right after the upgrade.
"""

from __future__ import annotations

import time
from pathlib import Path

from migtui.errors import UsageError
from migtui.pg.connect import connect

DEMO_STOP_REVISION = "0013_display_name_not_null"
"""The revision ``migtui demo`` upgrades to; 0014-0017 stay pending."""

SAMPLE_MIGRATIONS = Path(__file__).resolve().parents[2] / "db" / "migrations"
"""The sample alembic project in a source checkout (or editable install) of migtui."""

TABLES: tuple[str, ...] = ("users", "accounts", "orders", "order_items")
WHOLESALE_ORDERS = 5  # orders with totals close to the integer limit
MIN_SCALE = 100

# Each statement gets its sizes as parameters: n_users, n_accounts, n_orders.
_USERS = """
INSERT INTO users (id, email, username, full_name, display_name, created_at, updated_at)
SELECT g,
       'user' || g || '@' || (ARRAY['example.com', 'example.org', 'mail.test', 'corp.example'])[1 + g %% 4],
       username,
       full_name,
       coalesce(username, 'user' || g),
       created_at,
       created_at + (now() - created_at) * r_update
FROM (
    SELECT g,
           CASE WHEN g %% 3 = 0 THEN NULL ELSE 'user' || g END AS username,
           (ARRAY['Ada', 'Grace', 'Linus', 'Barbara', 'Ken', 'Margaret', 'Edsger', 'Frances', 'Dennis',
                  'Radia', 'Tim', 'Hedy'])[1 + abs(hashint8(g)) %% 12]
             || ' ' ||
           (ARRAY['Lovelace', 'Hopper', 'Torvalds', 'Liskov', 'Thompson', 'Hamilton', 'Dijkstra', 'Allen',
                  'Ritchie', 'Perlman', 'Berners-Lee', 'Lamarr', 'Stonebraker', 'Codd'])
             [1 + abs(hashint8(g + 7)) %% 14] AS full_name,
           now() - interval '1095 days' * random() AS created_at,
           random() AS r_update
    FROM generate_series(1, %(n_users)s::bigint) AS g
) AS u
"""

_ACCOUNTS = """
INSERT INTO accounts (id, owner_id, name, plan, created_at, updated_at)
SELECT g,
       1 + (g * 7919) %% %(n_users)s,
       (ARRAY['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Tyrell', 'Cyberdyne',
              'Soylent'])[1 + g %% 10] || ' ' || (ARRAY['Labs', 'Corp', 'GmbH', 'Ltd', 'Inc', 'Studio'])
              [1 + abs(hashint8(g)) %% 6] || ' #' || g,
       CASE WHEN r < 0.80 THEN 'free' WHEN r < 0.97 THEN 'team' ELSE 'enterprise' END,
       created_at,
       created_at
FROM (
    SELECT g, random() AS r, now() - interval '1095 days' * random() AS created_at
    FROM generate_series(1, %(n_accounts)s::bigint) AS g
) AS a
"""

# Lines of order o: n(o) lines (1 or 2). Line l has a deterministic sku, quantity and price, so orders.total_cents
# can be computed before the lines are inserted. Wholesale orders (every n_orders/WHOLESALE-th) have one
# line of 1000 x 2,100,000+ cents.
_LINE_COUNT = "CASE WHEN {o} %% %(wholesale_every)s = 0 THEN 1 ELSE 1 + abs(hashint8({o})) %% 2 END"
_QUANTITY = "CASE WHEN {o} %% %(wholesale_every)s = 0 THEN 1000 ELSE 1 + abs(hashint8({o} * 4 + {l} + 1)) %% 4 END"
_PRICE = (
    "CASE WHEN {o} %% %(wholesale_every)s = 0 THEN 2100000 + (abs(hashint8({o})) %% 40000)::int "
    "ELSE 199 + (abs(hashint8({o} * 4 + {l})) %% 20000)::int END"
)

_ORDERS = f"""
INSERT INTO orders (id, account_id, user_id, total_cents, currency, status, created_at, updated_at)
SELECT o,
       1 + floor(%(n_accounts)s * r_account ^ 3)::bigint,
       1 + floor(%(n_users)s * r_user)::bigint,
       ({_QUANTITY.format(o="o", l="1")}) * ({_PRICE.format(o="o", l="1")})
         + CASE WHEN {_LINE_COUNT.format(o="o")} >= 2
                THEN ({_QUANTITY.format(o="o", l="2")}) * ({_PRICE.format(o="o", l="2")}) ELSE 0 END,
       CASE WHEN r_currency < 0.90 THEN 'USD' WHEN r_currency < 0.97 THEN 'EUR' ELSE 'GBP' END,
       (CASE
          WHEN age > interval '30 days' THEN
            CASE WHEN r_status < 0.85 THEN 'shipped' WHEN r_status < 0.93 THEN 'cancelled'
                 WHEN r_status < 0.97 THEN 'refunded' WHEN r_status < 0.99 THEN 'paid' ELSE 'pending' END
          ELSE
            CASE WHEN r_status < 0.30 THEN 'pending' WHEN r_status < 0.60 THEN 'paid'
                 WHEN r_status < 0.90 THEN 'shipped' ELSE 'cancelled' END
        END)::order_status,
       now() - age,
       now() - age * r_update
FROM (
    SELECT o, r_account, r_user, r_currency, r_status, r_update,
           interval '1095 days' * (1 - sqrt(r_age)) AS age
    FROM (
        SELECT o, random() AS r_account, random() AS r_user, random() AS r_currency, random() AS r_status,
               random() AS r_update, random() AS r_age
        FROM generate_series(1, %(n_orders)s::bigint) AS o
    ) AS draws
) AS x
"""

_ORDER_ITEMS = f"""
INSERT INTO order_items (order_id, sku, quantity, unit_price_cents)
SELECT o,
       'SKU-' || lpad((abs(hashint8(o * 4 + l)) %% 5000)::text, 5, '0'),
       {_QUANTITY.format(o="o", l="l")},
       {_PRICE.format(o="o", l="l")}
FROM generate_series(1, %(n_orders)s::bigint) AS o,
     LATERAL generate_series(1, {_LINE_COUNT.format(o="o")}) AS l
"""


# Indexes of the demo tables that no constraint owns (primary keys and unique constraints stay).
_PLAIN_INDEXES = """
SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = ANY (SELECT to_regclass(t)::oid FROM unnest(%s::text[]) AS t)
  AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY c.relname
"""


def demo_sizes(scale: int) -> dict[str, int]:
    """Rows per parent table for ``scale`` orders."""
    return {
        "n_orders": scale,
        "n_users": max(scale // 10, 10),
        "n_accounts": max(scale // 40, 5),
        "wholesale_every": max(scale // WHOLESALE_ORDERS, 1),
    }


def load_demo_data(dsn: str, scale: int = 1_000_000) -> dict[str, int]:
    """Fill the sample tables (at ``DEMO_STOP_REVISION``) with ``scale`` orders and their users, accounts
    and lines; VACUUM (ANALYZE); return ``{table: row count}`` counted after loading.

    The tables must exist (database at DEMO_STOP_REVISION) and be empty: nothing is overwritten.
    Raises ``UsageError`` otherwise, ``ConnectionFailed`` if the database cannot be reached.
    """
    from psycopg import errors, sql

    if scale < MIN_SCALE:
        raise UsageError(f"demo data scale must be at least {MIN_SCALE} orders, got {scale}")
    params = demo_sizes(scale)
    with connect(dsn, application_name="migtui-demo-data", autocommit=False) as conn:
        revision = _current_revision(conn)
        if revision != DEMO_STOP_REVISION:
            raise UsageError(
                f"demo data needs the database at revision {DEMO_STOP_REVISION}, it is at {revision or 'base'}"
            )
        for table in TABLES:
            if _scalar(conn, sql.SQL("SELECT EXISTS (SELECT FROM {})").format(sql.Identifier(table))):
                raise UsageError(f"demo data goes into empty tables: {table} already has rows")
        conn.execute("SET LOCAL synchronous_commit = off")
        conn.execute("SELECT setseed(0.42)")  # the same data every time
        # Foreign keys are checked by per-row triggers; the generated ids are consistent by construction,
        # so a superuser skips those checks (the constraints themselves stay in place and valid).
        try:
            with conn.transaction():
                conn.execute("SET LOCAL session_replication_role = replica")
        except errors.InsufficientPrivilege:
            pass
        # Like pg_restore: plain indexes are dropped for the load and rebuilt from their own definitions
        # afterwards, in this same transaction: one build costs less than maintaining them row by row (the
        # figures: docs/sample-project.md, Demo data).
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        indexes = conn.execute(_PLAIN_INDEXES, (list(TABLES),)).fetchall()
        for schema, name, _definition in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, name)))
        for statement in (_USERS, _ACCOUNTS, _ORDERS, _ORDER_ITEMS):
            conn.execute(statement, params)
        for _schema, _name, definition in indexes:
            conn.execute(definition)  # pg_get_indexdef() output: the catalog's own, schema-qualified SQL
        for table in TABLES:
            conn.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'), (SELECT max(id) FROM {}))").format(
                    sql.Literal(table), sql.Identifier(table)
                )
            )
        conn.commit()
    with connect(dsn, application_name="migtui-demo-data", autocommit=True) as conn:
        # VACUUM too, so the tables look like settled production tables (hint bits set, visibility map)
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.SQL(", ").join(sql.Identifier(t) for t in TABLES)))
        return {
            table: _scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))) for table in TABLES
        }


def _scalar(conn, query):
    return conn.execute(query).fetchone()[0]


def _current_revision(conn) -> str | None:
    exists = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()[0]
    if not exists:
        return None
    rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    return rows[0][0] if len(rows) == 1 else None


def main(argv: list[str] | None = None) -> int:
    """``python -m migtui.demo.data DSN [SCALE]``: load and print row counts and the time taken."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m migtui.demo.data DSN [SCALE]", file=sys.stderr)
        return 2
    from migtui.errors import MigtuiError
    from migtui.redact import redact

    started = time.perf_counter()
    try:
        scale = int(args[1]) if len(args) > 1 else 1_000_000
        counts = load_demo_data(args[0], scale)
    except ValueError:
        print(f"demo data: error: SCALE must be a whole number, got {args[1]!r}", file=sys.stderr)
        return 2
    except MigtuiError as exc:
        print(f"demo data: error: {redact(exc.message)}", file=sys.stderr)
        return int(exc.exit_code)
    elapsed = time.perf_counter() - started
    for table, count in counts.items():
        print(f"{table:12} {count:>10,}")
    print(f"loaded in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
