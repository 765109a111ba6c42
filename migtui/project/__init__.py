"""Alembic projects: loading (``load``), rendering, status and the project's own interpreter."""

# Set by the command line (every command but the full-screen TUI): standard output carries the report, so the
# project's own code (env.py, revisions, what they import) writes to standard error instead. Here, not in
# ``load``: setting it must not import what loading a project needs.
_REPORT_ON_STDOUT = False


def report_on_stdout(enabled: bool = True) -> None:
    """Keep standard output for the report while the project's code runs (``load.no_logging_config``): an env.py
    that logs to stdout (aodh's, through oslo.log) must not make ``--format json`` unparseable."""
    global _REPORT_ON_STDOUT
    _REPORT_ON_STDOUT = enabled


def reporting_on_stdout() -> bool:
    return _REPORT_ON_STDOUT
