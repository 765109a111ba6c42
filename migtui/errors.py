"""Exit codes and the one exception type that turns into a one-line error at the CLI."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented process exit codes (README "Exit codes"); one meaning each, for every command."""

    OK = 0
    FINDINGS = 1  # a check found problems (lint errors, drift, a broken downgrade, ...)
    USAGE = 2  # bad flags, configuration, input files, revision graph or revision file
    TIMEOUT = 3  # a revision ran past its timeout; it was cancelled and rolled back
    LOCK_NOT_ACQUIRED = 4  # another deploy held the advisory lock for longer than we were willing to wait
    MIGRATION_FAILED = 5  # a revision raised (SQL error, lock_timeout retries exhausted, ...); rolled back
    CONNECTION = 6  # database unreachable, authentication failed, server refused
    PROJECT_ERROR = 7  # the project's own code failed: env.py raised, a revision module or baseline failed
    WRONG_PHASE = 8  # migtui phase: the revision is not in a phase this action can start from
    INTERNAL = 70  # a bug in migtui (EX_SOFTWARE): one line, the traceback only with MIGTUI_DEBUG=1
    INTERRUPTED = 130  # Ctrl-C


class MigtuiError(Exception):
    """An expected failure with a one-line, secret-free message and an exit code.

    Raise it anywhere in the engine; the CLI prints ``migtui: error: <message>`` and exits with ``exit_code``.
    """

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class UsageError(MigtuiError):
    exit_code = ExitCode.USAGE


class ConnectionFailed(MigtuiError):
    exit_code = ExitCode.CONNECTION


class ProjectError(MigtuiError):
    """The project's own code or files failed: env.py raised, a revision module could not be imported, a baseline
    does not apply."""

    exit_code = ExitCode.PROJECT_ERROR


class RevisionCodeError(ProjectError):
    """A revision's own ``upgrade()``/``downgrade()`` raised a Python exception (not a database error): exit 7
    like every failure of the project's code; rollback-test records it for the revision instead of stopping."""


class MigrationFailed(MigtuiError):
    exit_code = ExitCode.MIGRATION_FAILED


class MigrationTimeout(MigtuiError):
    exit_code = ExitCode.TIMEOUT


class LockNotAcquired(MigtuiError):
    exit_code = ExitCode.LOCK_NOT_ACQUIRED


class Interrupted(MigtuiError):
    """The operator stopped the run (Ctrl-C, SIGTERM, or cancel in the TUI); the running revision rolled back."""

    exit_code = ExitCode.INTERRUPTED
