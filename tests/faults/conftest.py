"""Fixtures of the fault-injection suite, shared with the suites they come from: the phases suite's ``db`` (a
clone of its base schema) and dry-run's ``slow_env`` (a replica whose row count takes 4 s)."""

from tests.dryrun.test_cancel import slow_env  # noqa: F401 - a fixture, used by name
from tests.phases.test_phases import db  # noqa: F401 - a fixture, used by name
