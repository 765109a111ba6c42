"""JUnit XML: one <testcase> per item, so CI systems (GitHub, GitLab, Jenkins) show results natively.

xml = junit_xml("migtui rollback-test", [JUnitCase("a1b2 add orders", "rollback-test", 0.41)])
xml = findings_junit("migtui lint", "lint", report.findings, checked=[(path, revision), ...], fail_on="error")
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

from migtui.events import Finding
from migtui.redact import redact
from migtui.render.findings import at_least, severity_counts


@dataclass
class JUnitCase:
    name: str
    classname: str
    seconds: float = 0.0
    failure: str | None = None  # one-line message; the case failed
    details: str = ""  # failure body (e.g. the list of differences)
    skipped: str | None = None  # reason; the case was skipped
    output: str = ""  # <system-out>


def junit_xml(suite: str, cases: list[JUnitCase], *, seconds: float | None = None) -> str:
    """A ``<testsuites>`` document with one ``<testsuite>``; text is redacted and XML-escaped."""
    failures = sum(c.failure is not None for c in cases)
    skipped = sum(c.skipped is not None and c.failure is None for c in cases)
    total = seconds if seconds is not None else sum(c.seconds for c in cases)
    root = ET.Element("testsuites", name=suite, tests=str(len(cases)), failures=str(failures), time=f"{total:.3f}")
    node = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{total:.3f}",
    )
    for case in cases:
        element = ET.SubElement(node, "testcase", name=case.name, classname=case.classname, time=f"{case.seconds:.3f}")
        if case.failure is not None:
            failure = ET.SubElement(element, "failure", message=redact(case.failure), type="failure")
            failure.text = redact(case.details or case.failure)
        elif case.skipped is not None:
            ET.SubElement(element, "skipped", message=redact(case.skipped))
        if case.output:
            ET.SubElement(element, "system-out").text = redact(case.output)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


Place = tuple[str | None, str | None]  # (path, revision)


def _place_name(place: Place) -> str:
    path, revision = place
    if path and revision:
        return f"{path} (revision {revision})"
    return path or revision or ""


def _finding_line(finding: Finding) -> str:
    where = f"line {finding.line}: " if finding.line else ""
    fix = f" (fix: {finding.hint})" if finding.hint else ""
    approved = f" (approved: {finding.approved})" if finding.approved else ""
    return f"{where}{finding.severity} [{finding.rule}] {finding.labelled_message}{approved}{fix}"


def findings_junit(
    suite: str,
    classname: str,
    findings: Iterable[Finding],
    *,
    checked: Iterable[Place] = (),
    fail_on: str = "error",
) -> str:
    """Findings as JUnit: one test case per place (file / revision) checked or found in, failed when it has a
    finding at ``fail_on`` or worse (the others go to its output). A finding without a place is a case of its
    own; with nothing checked and nothing found, one passing case named ``classname``."""
    places: dict[Place, list[Finding]] = {place: [] for place in checked}
    loose: list[Finding] = []
    for finding in findings:
        if finding.path or finding.revision:
            places.setdefault((finding.path, finding.revision), []).append(finding)
        else:
            loose.append(finding)
    groups = [(_place_name(place), found) for place, found in places.items()]
    groups += [(f"{f.rule}: {f.message}", [f]) for f in loose]
    cases = []
    for name, found in groups:
        case = JUnitCase(name, classname)
        failing = [f for f in found if at_least(f.severity, fail_on)]
        if failing:
            counts = severity_counts(failing)
            case.failure = ", ".join(f"{n} {severity}" for severity, n in counts.items() if n)
            case.details = "\n".join(_finding_line(f) for f in failing)
        others = [f for f in found if not at_least(f.severity, fail_on)]
        if others:
            case.output = "\n".join(_finding_line(f) for f in others)
        cases.append(case)
    if not cases:
        cases.append(JUnitCase(classname, classname))
    return junit_xml(suite, cases)
