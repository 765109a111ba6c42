"""Fixtures of the fault-injection suite: the phases suite's ``db`` (a clone of its base schema)."""

from tests.phases.test_phases import db  # noqa: F401 - a fixture, used by name
