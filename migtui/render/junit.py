"""JUnit XML: one <testcase> per item, so CI systems (GitHub, GitLab, Jenkins) show results natively.

xml = junit_xml("migtui rollback-test", [JUnitCase("a1b2 add orders", "rollback-test", 0.41)])
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from migtui.redact import redact


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
