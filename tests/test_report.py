"""The job API's shared parts: the Cancel token, the one-line error policy, the Report shape."""

from __future__ import annotations

import pytest

from migtui.config import Settings
from migtui.errors import ExitCode, UsageError
from migtui.report import Cancel, Report, one_line_errors


def test_cancel_runs_callbacks_once_and_late_ones_at_once():
    calls: list[str] = []
    cancel = Cancel()
    cancel.on_cancel(lambda: calls.append("early"))
    assert not cancel.cancelled and calls == []
    cancel.cancel()
    cancel.cancel()
    assert cancel.cancelled and calls == ["early"]
    cancel.on_cancel(lambda: calls.append("late"))
    assert calls == ["early", "late"]


def test_one_line_errors(capsys, monkeypatch):
    monkeypatch.delenv("MIGTUI_DEBUG", raising=False)

    def usage() -> int:
        raise UsageError("bad postgresql://u:secret@h/db")

    def bug() -> int:
        raise RuntimeError("boom\nsecond line")

    assert one_line_errors("prog", usage) == ExitCode.USAGE
    assert capsys.readouterr().err == "prog: error: bad postgresql://u:***@h/db\n"
    assert one_line_errors("prog", bug, internal_hint=" (hint)") == ExitCode.INTERNAL == 70
    assert capsys.readouterr().err == "prog: internal error: RuntimeError: boom (hint)\n"


def test_lint_report_is_a_report(tmp_path):
    from migtui.lint.job import LintOptions, run_lint

    sql = tmp_path / "m.sql"
    sql.write_text("DROP TABLE archive;\n")
    report = run_lint(Settings(), LintOptions(paths=[str(sql)]))
    assert isinstance(report, Report)
    assert report.job == "lint" and report.target == str(sql)
    assert [(f.rule, f.severity) for f in report.findings] == [
        ("drop-table", "error"),
        ("lock-timeout-missing", "warning"),
        ("blocking-lock", "warning"),
    ]
    assert {f.path for f in report.findings} == {str(sql)}
    assert report.summary == "1 errors, 2 warnings, 0 info" and report.exit_code == 1


@pytest.mark.parametrize(
    "module, name",
    [
        ("migtui.dryrun.job", "run_dry_run"),
        ("migtui.rollback.job", "run_rollback_test"),
        ("migtui.drift.job", "run_drift"),
        ("migtui.runner.job", "run_up"),
        ("migtui.runner.job", "run_down"),
        ("migtui.phases.job", "run_phase"),
        ("migtui.demo.job", "run_demo"),
    ],
)
def test_every_job_takes_settings_options_sink(module, name):
    import importlib
    import inspect

    params = list(inspect.signature(getattr(importlib.import_module(module), name)).parameters)
    assert params == ["settings", "options", "sink"]
