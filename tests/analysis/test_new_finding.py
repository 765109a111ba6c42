"""analyze.new_finding builds the Finding that Finding(rule, severity, message, hint, line) builds."""

from __future__ import annotations

import pickle

from migtui.analysis.analyze import analyze_sql, new_finding
from migtui.events import Finding


def test_new_finding_is_the_finding_init_builds() -> None:
    made = new_finding("blocking-lock", "warning", "AccessExclusiveLock on public.t", "use lock_timeout", 7)
    built = Finding("blocking-lock", "warning", "AccessExclusiveLock on public.t", "use lock_timeout", 7, at=made.at)
    assert type(made) is Finding
    assert made == built
    # the same attributes in the same order (vars() feeds copies, pickles and reprs)
    assert list(vars(made).items()) == list(vars(built).items())
    assert repr(made) == repr(built)
    assert pickle.loads(pickle.dumps(made)) == built
    assert made.located("a.sql", "rev1") == built.located("a.sql", "rev1")
    assert made.report_dict() == built.report_dict()
    made.severity = "error"  # approvals rewrite a finding in place
    assert made.severity == "error" and made != built


def test_analysis_findings_are_findings() -> None:
    (st,) = analyze_sql("ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid();", pg_version=16)
    assert st.findings
    for finding in st.findings:
        assert type(finding) is Finding
        assert list(vars(finding)) == list(vars(Finding("r", "info", "m")))
