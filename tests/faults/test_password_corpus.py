"""A corpus of DSN and SQL password forms fed through every command and output format; the secret never
appears. Real scram-sha-256 logins on an embedded server.

Each command runs in this process (``run_main``) with the process's remembered passwords cleared first, so a
pass never rests on a DSN an earlier command registered; one run goes through a real ``python -m migtui``.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar
from urllib.parse import quote

import psycopg
import pytest

from migtui import redact
from migtui.pg import harness
from tests.alembic_projects import Rev, make_project
from tests.conftest import run_cli, run_main

NO_ENV = {
    "MIGTUI_DSN": "",
    "MIGTUI_DATABASE_URL": "",
    "MIGTUI_REPLICA_DSN": "",
    "MIGTUI_REPLICA_URL": "",
    "MIGTUI_SCRATCH_DSN": "",
    "MIGTUI_MIGRATIONS": "",
}

# (id, password, how the DSN spells it): every one logs in for real
LOGIN_FORMS = [
    (
        "kv-quoted-space",
        "Sup3r S3cretKV",
        lambda r, pw, port, db: f"host=127.0.0.1 port={port} dbname={db} user={r} password='{pw}'",
    ),
    (
        "kv-escaped-quote",
        "it's-S3cretQ",
        lambda r, pw, port, db: f"host=127.0.0.1 port={port} dbname={db} user={r} password='it\\'s-S3cretQ'",
    ),
    (
        "url-encoded",
        "p@ss:w/rd%S3cretURL",
        lambda r, pw, port, db: f"postgresql://{r}:{quote(pw, safe='')}@127.0.0.1:{port}/{db}",
    ),
    (
        "url-query",
        "Qu3ry-S3cret",
        lambda r, pw, port, db: f"postgresql://{r}@127.0.0.1:{port}/{db}?password={quote(pw, safe='')}",
    ),
]
# DSNs libpq cannot use as written: the error must not show the password (or its tail)
BROKEN_FORMS = [
    ("url-stray-percent", "50%offS3cret", "postgresql://app:50%offS3cret@127.0.0.1:1/x", ("S3cret", "50%off")),
    ("url-unescaped-at", "Sup3r@S3cretAT", "postgresql://app:Sup3r@S3cretAT@127.0.0.1:1/x", ("S3cretAT", "Sup3r")),
    ("kv-unterminated", "Unterm S3cret", "host=127.0.0.1 port=1 password='Unterm S3cret", ("Unterm", "S3cret")),
]
# role passwords in a revision's SQL, one per string form
SQL_SECRETS = ["EscS3cretSQL", "DollarS3cretSQL", "TagS3cretSQL", "UniS3cretSQL", "PlainS3cretSQL"]


@pytest.fixture(autouse=True)
def _fresh_memory(monkeypatch):
    """Each test starts with no remembered password: what it proves, it proves on its own."""
    monkeypatch.setattr(redact, "_REMEMBERED", set())
    monkeypatch.setattr(redact, "_ORDERED", ())


def _forget() -> None:
    redact._REMEMBERED.clear()
    redact._ORDERED = ()


@pytest.fixture(scope="module")
def logins(pg):
    """{form id: (dsn, password)}: one scram role and database per login form."""
    if not isinstance(pg, harness.Cluster):
        pytest.skip("needs an embedded server to edit pg_hba.conf")
    made = {}
    hba = pg.datadir / "pg_hba.conf"
    lines = ""
    for form, password, build in LOGIN_FORMS:
        role = f"qa_pw_{form.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
        db = f"db_{role}"
        literal = password.replace("'", "''")
        pg.execute(
            "SET password_encryption = 'scram-sha-256'; "
            f"CREATE ROLE {role} LOGIN CREATEDB CREATEROLE PASSWORD '{literal}'"
        )
        pg.execute(f"CREATE DATABASE {db} OWNER {role}")
        lines += f"host all {role} 127.0.0.1/32 scram-sha-256\n"
        made[form] = (build(role, password, pg.port, db), password, role, db)
    hba.write_text(lines + hba.read_text())  # first match wins: before the trust lines
    pg.execute("SELECT pg_reload_conf()")
    yield {form: (dsn, pw) for form, (dsn, pw, _r, _d) in made.items()}
    for _dsn, _pw, role, db in made.values():
        pg.drop_database(db)
        pg.execute(f"DROP ROLE IF EXISTS {role}")
    hba.write_text(hba.read_text().replace(lines, ""))
    pg.execute("SELECT pg_reload_conf()")


def _project(tmp_path, role: str):
    sql = (
        f"CREATE ROLE {role} LOGIN PASSWORD E'{SQL_SECRETS[0]}\\'x'; "
        f"ALTER ROLE {role} PASSWORD $$" + SQL_SECRETS[1] + "$$; "
        f"ALTER ROLE {role} ENCRYPTED PASSWORD $t$" + SQL_SECRETS[2] + "$t$; "
        f"ALTER ROLE {role} PASSWORD U&'" + SQL_SECRETS[3] + "'; "
        f"ALTER ROLE {role} PASSWORD '{SQL_SECRETS[4]}'"
    )
    return make_project(
        tmp_path,
        [
            Rev("a1", "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))", "op.drop_table('t')"),
            Rev("a2", f"op.execute({sql!r})", f"op.execute('DROP ROLE {role}')"),
        ],
    )


class _Hook(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def _clean(label: str, proc, secrets: list[str]) -> None:
    text = proc.stdout + proc.stderr
    for secret in secrets:
        assert secret not in text, f"{label}: {secret!r} printed:\n{text}"
    assert "Traceback" not in text, f"{label}:\n{text}"


@pytest.mark.parametrize("form", [f[0] for f in LOGIN_FORMS])
def test_login_passwords_never_printed(form, logins, pg, tmp_path):
    dsn, password = logins[form]
    role = "qa_sql_" + uuid.uuid4().hex[:8]
    project = str(_project(tmp_path, role))
    secrets = [password, *SQL_SECRETS]
    scratch = pg.dsn()  # trust login: the scratch server's own DSN carries no password
    env = {**NO_ENV, "MIGTUI_DSN": dsn}
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    # the other report formats render the same redacted data whatever the DSN's form: once is enough
    every_format = ("sarif", "junit") if form == LOGIN_FORMS[0][0] else ()
    dry_run = ["dry-run", "--allow-primary", "--replica-dsn", dsn, "--scratch-dsn", scratch, "--migrations", project]
    drift = ["drift", "--scratch-dsn", scratch, "--migrations", project]
    runs = [
        ("config text", ["config", "--migrations", project], 0),
        ("config json", ["config", "--migrations", project, "--format", "json"], 0),
        *[(f"dry-run {fmt}", [*dry_run, "--format", fmt], None) for fmt in ("text", "json", *every_format)],
        ("up json", ["up", "--migrations", project, "--format", "json"], 0),
        ("status text", ["status", "--migrations", project], 0),
        ("status json", ["status", "--migrations", project, "--format", "json"], 0),
        ("history json", ["history", "--migrations", project, "--format", "json"], 0),
        ("down text", ["down", "-1", "--migrations", project], 0),
        ("drift text + webhook", [*drift, "--alert-webhook", hook], 1),
        *[(f"drift {fmt}", [*drift, "--format", fmt], 1) for fmt in ("json", *every_format)],
        ("argparse error", ["status", "--dsn", dsn, "--no-such-flag", password], 2),
    ]
    try:
        for label, argv, code in runs:
            if label == "drift text + webhook":  # something the migrations do not create: drift to report
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute("CREATE TABLE drifted (id int)")
            _forget()
            proc = run_main(*argv, env=env)
            if code is not None:
                assert proc.returncode == code, (label, proc.stderr)
            _clean(label, proc, secrets)
            if label == "up json":
                assert any('"statement_started"' in line for line in proc.stdout.splitlines())
    finally:
        server.shutdown()
        pg.execute(f"DROP ROLE IF EXISTS {role}")
    assert _Hook.bodies, "drift posted no alert"
    body = b"".join(_Hook.bodies).decode()
    assert password not in body and json.loads(_Hook.bodies[0])["target"]


def test_a_real_process_masks_a_quoted_kv_password(logins, tmp_path):
    dsn, password = logins["kv-quoted-space"]
    project = make_project(tmp_path, [Rev("a1", "pass")])
    proc = run_cli("up", "--migrations", str(project), "--format", "json", env={**NO_ENV, "MIGTUI_DSN": dsn})
    assert proc.returncode == 0, proc.stderr
    assert password not in proc.stdout + proc.stderr and "run_started" in proc.stdout


@pytest.mark.parametrize("form", BROKEN_FORMS, ids=[f[0] for f in BROKEN_FORMS])
@pytest.mark.parametrize("command", [["status"], ["config"], ["up", "--format", "json"]], ids=lambda c: c[0])
def test_broken_dsns_never_show_the_password(form, command, tmp_path):
    _id, password, dsn, pieces = form
    project = make_project(tmp_path, [Rev("a1", "pass")])
    proc = run_main(*command, "--dsn", dsn, "--migrations", str(project))
    _clean(" ".join(command), proc, [password, *pieces])
    if command[0] != "config":
        assert proc.returncode in (2, 6) and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
