"""The form-indexed rule dispatch: a rule check runs only for the forms it is registered for
(``analyze.RULE_CHECKS``), and ``Analyzer._learn`` only for ``analyze._LEARN_FORMS``. A form a check compares
against but is not registered for would silently lose its findings: these tests read the checks' source and
fail on such a form."""

from __future__ import annotations

import ast
from pathlib import Path

from migtui.analysis import analyze
from migtui.analysis.lock_model import FORMS

SOURCE = Path(analyze.__file__).with_name("analyze.py")


def _methods() -> dict[str, ast.FunctionDef]:
    tree = ast.parse(SOURCE.read_text())
    (cls,) = (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Analyzer")
    return {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}


def _forms_tested(func: ast.FunctionDef) -> set[str]:
    """Every form ``func`` compares ``form`` with (==, in a literal or a module constant, startswith)."""
    out: set[str] = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == "form":
            for comparator in node.comparators:
                if isinstance(comparator, ast.Name):
                    out.update(getattr(analyze, comparator.id))
                    continue
                out.update(
                    c.value for c in ast.walk(comparator) if isinstance(c, ast.Constant) and isinstance(c.value, str)
                )
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "startswith"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "form"
        ):
            prefix = node.args[0]
            assert isinstance(prefix, ast.Constant)
            out.update(form for form in FORMS if form.startswith(prefix.value))
    return out


def test_every_check_is_registered_for_every_form_it_tests():
    methods = _methods()
    registered = {check.__name__: set(forms) for check, forms in analyze.RULE_CHECKS}
    assert len(registered) == len(analyze.RULE_CHECKS)
    for name, forms in registered.items():
        tested = _forms_tested(methods[name])
        assert tested <= set(FORMS), f"{name} compares with unknown forms {sorted(tested - set(FORMS))}"
        assert tested <= forms, f"{name} reports on {sorted(tested - forms)} but is not registered for them"


def test_learn_runs_for_every_form_it_records():
    tested = _forms_tested(_methods()["_learn"])
    assert tested <= set(FORMS)
    assert tested <= analyze._LEARN_FORMS, sorted(tested - analyze._LEARN_FORMS)


def test_the_checks_run_in_registration_order_and_only_for_their_forms():
    for form in FORMS:
        expected = tuple(check for check, forms in analyze.RULE_CHECKS if form in forms)
        assert analyze._FORM_CHECKS.get(form, ()) == expected, form
