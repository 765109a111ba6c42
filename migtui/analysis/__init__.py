"""Pure SQL analysis (pglast): parsing, the lock model, rewrite/scan prediction, lint rules. No database.

``analyze_sql(sql, pg_version, facts)`` is the public entry point; see docs/lint.md.
"""

from migtui.analysis.analyze import (
    Analyzer,
    RelationLock,
    StatementAnalysis,
    analyze_sql,
)
from migtui.analysis.facts import CatalogFacts, ConstraintFact
from migtui.analysis.lock_model import FORMS, Form
from migtui.analysis.rules import RULES, Rule

__all__ = [
    "FORMS",
    "RULES",
    "Analyzer",
    "CatalogFacts",
    "ConstraintFact",
    "Form",
    "RelationLock",
    "Rule",
    "StatementAnalysis",
    "analyze_sql",
]
