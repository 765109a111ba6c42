"""The one way a screen runs engine work in a worker thread: the outcome comes back as a message.

Screens never let an engine error escape a worker (Textual would tear the app down): an expected failure is
its one-line message and exit code, anything else a one-line "internal error" the operator can report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from migtui.errors import ExitCode, MigtuiError

T = TypeVar("T")


def post_outcome(
    post: Callable[[Any], Any],
    work: Callable[[], T],
    done: Callable[[T | None, str | None, int], Any],
    *,
    crash_prefix: str = "",
) -> None:
    """Call ``work()`` (in the worker thread) and ``post`` ``done(result, None, 0)``, or on failure
    ``done(None, one-line message, exit code)``."""
    try:
        result = work()
    except MigtuiError as exc:
        post(done(None, exc.message, int(exc.exit_code)))
        return
    except Exception as exc:  # keep the UI alive; one line
        from migtui.pg.monitor import one_line  # not on the first screen's import path (docs/tui.md, Start-up)

        message = f"{crash_prefix}{exc.__class__.__name__}: {one_line(str(exc), 200)}"
        post(done(None, message, int(ExitCode.INTERNAL)))
        return
    post(done(result, None, 0))
