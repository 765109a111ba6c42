"""SARIF 2.1.0 (GitHub code scanning) from findings and the rule registry: every job whose output is findings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from migtui.analysis.rule_docs import DOCS_DIR, help_uri, page_name
from migtui.analysis.rules import RULES, Rule
from migtui.events import Finding

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def _descriptor(r: Rule) -> dict[str, Any]:
    """A rule's reportingDescriptor. Its page (docs/rules/<id>.md) is named in the help text, and linked as
    ``helpUri`` when the package names its repository: SARIF wants an absolute URI there."""
    page = f"{DOCS_DIR}/{page_name(r.id)}"
    descriptor: dict[str, Any] = {
        "id": r.id,
        "name": "".join(part.capitalize() for part in r.id.split("-")),
        "shortDescription": {"text": r.why},
        "fullDescription": {"text": r.why},
        "help": {
            "text": f"{r.alembic or r.hint or r.why} (rule page: {page})",
            "markdown": f"{r.alembic or r.hint or r.why}\n\nRule page: [{page}]({help_uri(r.id) or page})",
        },
        "defaultConfiguration": {"level": LEVELS.get(r.severity, "note")},
        "properties": {"docs": page},
    }
    uri = help_uri(r.id)
    if uri:
        descriptor["helpUri"] = uri
    return descriptor


def sarif_log(
    findings: Iterable[Finding],
    rules: Iterable[Rule] | None = None,
    *,
    tool_name: str = "migtui",
    tool_version: str = "0",
    information_uri: str | None = None,
) -> dict[str, Any]:
    """A SARIF log with one run: the rules used (from ``rules``, default the registry) as ``tool.driver.rules``
    and one result per finding. A path is given as is: relative to the repository root is what code scanning
    wants (``migtui.render.findings.relative_path``)."""
    records = list(findings)
    rule_list = list(RULES.values() if rules is None else rules)
    used = {r.rule for r in records}
    rule_list = [r for r in rule_list if r.id in used]
    index = {r.id: i for i, r in enumerate(rule_list)}
    driver: dict[str, Any] = {
        "name": tool_name,
        "version": tool_version,
        "rules": [_descriptor(r) for r in rule_list],
    }
    if information_uri:
        driver["informationUri"] = information_uri
    results = []
    for rec in records:
        result: dict[str, Any] = {
            "ruleId": rec.rule,
            "level": LEVELS.get(rec.severity, "note"),
            "message": {"text": rec.labelled_message + (f" Fix: {rec.hint}" if rec.hint else "")},
        }
        if rec.rule in index:
            result["ruleIndex"] = index[rec.rule]
        if rec.path:
            location: dict[str, Any] = {"artifactLocation": {"uri": rec.path.replace("\\", "/")}}
            if rec.line:
                location["region"] = {"startLine": max(int(rec.line), 1)}
            result["locations"] = [{"physicalLocation": location}]
        properties = {"revision": rec.revision} if rec.revision else {}
        if rec.phase:
            properties["phase"] = rec.phase  # the phase of a phased revision the statement runs in
        if properties:
            result["properties"] = properties
        results.append(result)
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }
