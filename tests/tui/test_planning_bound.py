"""The apply planning's bound on a read, from the settings' connect timeout as migtui.pg.connect gives it to
libpq (no database: the reads themselves are tested against a real server in test_apply_stall.py)."""

from __future__ import annotations

from migtui.pg.connect import DEFAULT_CONNECT_TIMEOUT
from migtui.tui.screens import apply as apply_screen
from migtui.tui.screens.apply import connect_timeout_of, planning_bound

URL = "postgresql://app@db.example:5432/app"


def test_the_connect_timeout_is_the_dsns_else_pgconnect_timeout_else_the_default(monkeypatch):
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    assert connect_timeout_of(URL) == DEFAULT_CONNECT_TIMEOUT
    assert connect_timeout_of(URL + "?connect_timeout=7") == 7
    assert connect_timeout_of("host=db.example dbname=app connect_timeout=4") == 4
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "12")
    assert connect_timeout_of(URL) == 12 and connect_timeout_of(URL + "?connect_timeout=7") == 7


def test_libpqs_floor_and_wait_forever_are_bounded(monkeypatch):
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    assert connect_timeout_of(URL + "?connect_timeout=1") == 2  # libpq waits 2 s for a 1
    assert connect_timeout_of(URL + "?connect_timeout=0") == DEFAULT_CONNECT_TIMEOUT  # libpq: forever
    assert connect_timeout_of("not a dsn = =") == DEFAULT_CONNECT_TIMEOUT  # connect says what is wrong


def test_the_bound_is_connecting_then_the_statement_timeout(monkeypatch):
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    monkeypatch.setattr(apply_screen, "PLANNING_STATEMENT_SECONDS", 5.0)
    assert planning_bound(URL + "?connect_timeout=3") == 8
    assert planning_bound(URL + "?connect_timeout=3", statement_seconds=1.5) == 4.5
