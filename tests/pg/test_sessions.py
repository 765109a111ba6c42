"""migtui.pg.sessions on real sessions: pre-flight, cancel / terminate, refused without the privilege."""

from __future__ import annotations

import dataclasses
import datetime
import threading

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from migtui.pg.sessions import SessionActionRefused, preflight, session_facts, signal_session
from tests.monitor_scenarios import wait_until


def test_preflight_cancel_terminate_and_refusal(fresh_db):
    setup = psycopg.connect(fresh_db, autocommit=True)
    setup.execute("CREATE TABLE accounts (id int primary key)")
    setup.execute("DROP ROLE IF EXISTS migtui_plain")
    setup.execute("CREATE ROLE migtui_plain LOGIN")
    plain_dsn = make_conninfo(fresh_db, user="migtui_plain")
    holder = psycopg.connect(fresh_db, application_name="test-holder")
    sleeper = psycopg.connect(fresh_db, autocommit=True, application_name="test-sleeper")
    errors: list[str] = []
    try:
        holder.execute("SELECT count(*) FROM accounts")  # idle in transaction, AccessShareLock held
        pid = holder.info.backend_pid

        (found,) = [s for s in preflight(fresh_db, {"public.accounts"}, 3600.0) if s.pid == pid]
        assert found.locks == ("holds AccessShareLock on public.accounts",)
        assert found.state == "idle in transaction" and found.application_name == "test-holder"
        assert pid not in {s.pid for s in preflight(fresh_db, {"public.other"}, 3600.0)}
        assert pid in {s.pid for s in preflight(fresh_db, {"public.other"}, 0.0)}  # a long transaction

        facts = session_facts(fresh_db, pid)
        assert facts.describe().startswith(f"pid {pid} [test-holder] idle in transaction for ")

        # a role without pg_signal_backend cannot touch a superuser's session: refused, one line, nothing done
        with pytest.raises(SessionActionRefused) as refused:
            signal_session(plain_dsn, facts, "terminate")
        assert "refused by the server" in refused.value.message and "\n" not in refused.value.message
        holder.execute("SELECT 1")  # still alive

        # a backend that has ended (another start time under the same pid) is left alone
        other = dataclasses.replace(facts, backend_start=facts.backend_start - datetime.timedelta(seconds=1))
        with pytest.raises(SessionActionRefused, match="has ended"):
            signal_session(fresh_db, other, "terminate")

        # cancel: the running query stops, the session stays
        spid = sleeper.info.backend_pid

        def sleep() -> None:
            try:
                sleeper.execute("SELECT pg_sleep(60)")
            except psycopg.errors.QueryCanceled:
                errors.append("cancelled")

        thread = threading.Thread(target=sleep, daemon=True)
        thread.start()
        assert wait_until(lambda: session_facts(fresh_db, spid).state == "active")
        assert "cancelled the running query" in signal_session(fresh_db, session_facts(fresh_db, spid), "cancel")
        thread.join(10)
        assert errors == ["cancelled"]
        sleeper.execute("SELECT 1")

        # terminate as the superuser: the holder's session is gone
        assert "terminated" in signal_session(fresh_db, facts, "terminate")
        with pytest.raises(psycopg.OperationalError):
            holder.execute("SELECT 1")
    finally:
        holder.close()
        sleeper.close()
        setup.execute("DROP ROLE IF EXISTS migtui_plain")
        setup.close()
