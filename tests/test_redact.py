"""``migtui.redact.error_line``: the one-line, password-free form of an exception every job reports."""

from __future__ import annotations

from migtui.redact import error_line


class _Wrapped(Exception):
    """Shaped like a SQLAlchemy error: its message dumps the statement, ``orig`` is the driver's error."""

    def __init__(self, message: str, orig: BaseException) -> None:
        super().__init__(message)
        self.orig = orig


def test_first_line_with_passwords_masked() -> None:
    exc = RuntimeError("cannot reach postgresql://app:s3cret@db/app\nsecond line")
    assert error_line(exc) == "cannot reach postgresql://app:***@db/app"


def test_empty_message_gives_the_class_name() -> None:
    assert error_line(ValueError("  ")) == "ValueError"


def test_driver_error_is_used_only_when_asked() -> None:
    exc = _Wrapped("(psycopg.errors.X) boom\n[SQL: SELECT 1]", ValueError("boom password=hunter2"))
    assert error_line(exc) == "(psycopg.errors.X) boom"
    assert error_line(exc, driver_error=True) == "boom password=***"
    assert error_line(RuntimeError("plain"), driver_error=True) == "plain"
