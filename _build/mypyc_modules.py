"""The modules a wheel build compiles with mypyc: the lint hot path, files -> parse -> classify -> locks and rules
-> findings -> rendered output.

The one list: setup.py compiles it, tests/lint/test_compiled.py checks that a wheel holds a C extension for each.
Plain data (setup.py and the tests read it while the package is not importable). The modules are compiled as one
group: they call each other as C, and calls to modules not on the list go through Python.
"""

COMPILED = [
    "migtui/lint/job.py",
    "migtui/render/findings.py",
    "migtui/render/github.py",
    "migtui/render/text_lint.py",
    "migtui/analysis/parse.py",
    "migtui/analysis/classify.py",
    "migtui/analysis/implicit.py",
    "migtui/analysis/holds.py",
    "migtui/analysis/analyze.py",
    "migtui/analysis/lock_modes.py",
    "migtui/analysis/lock_model.py",
    "migtui/analysis/rules.py",
    "migtui/analysis/approvals.py",
    "migtui/analysis/types.py",
    "migtui/analysis/facts.py",
]
