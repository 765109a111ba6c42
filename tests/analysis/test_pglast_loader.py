"""pglast's enum and AST modules run only when something reads them, and then behave as if imported as usual.

Each case runs in a fresh interpreter: the test process has long imported pglast itself."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_lint_parse_leaves_pglast_enums_and_ast_unexecuted() -> None:
    out = _run(
        """
        import sys
        from migtui.analysis.analyze import analyze_sql
        from migtui.redact import redact_sql
        analysis = analyze_sql("ALTER TABLE orders ADD COLUMN note text; UPDATE orders SET note = 'n/a';", 16)
        assert analysis and analysis[0].locks, analysis
        assert "'***'" in redact_sql("ALTER ROLE app PASSWORD 'hunter2'")  # pglast's scanner, through the loader
        print("pglast.enums.parsenodes" in sys.modules, "SelectStmt" in vars(sys.modules["pglast.ast"]))
        """
    )
    assert out.split() == ["False", "False"]


def test_every_way_to_reach_the_deferred_modules_sees_one_module() -> None:
    out = _run(
        """
        import sys
        from migtui.analysis.parse import parse_sql
        parse_sql("SELECT 1")
        import pglast
        from pglast import ast, enums
        from pglast.enums import AlterTableType
        from pglast.enums.parsenodes import AlterTableType as direct
        from pglast.stream import RawStream
        stmt = pglast.parse_sql("ALTER TABLE t ADD COLUMN c int")[0].stmt
        print(isinstance(stmt, ast.AlterTableStmt), stmt.cmds[0].subtype is AlterTableType.AT_AddColumn,
              direct is AlterTableType is enums.AlterTableType, sys.modules["pglast.ast"] is ast,
              sys.modules["pglast.enums"] is enums, type(enums) is type(sys), hasattr(ast, "NoSuchNode"))
        print(RawStream()(pglast.parse_sql("select a from b where c = 1")))
        """
    )
    first, second = out.splitlines()
    assert first.split() == ["True", "True", "True", "True", "True", "True", "False"]
    assert second == "SELECT a FROM b WHERE c = 1"


def test_threads_reading_a_deferred_module_at_once_get_the_same_classes() -> None:
    out = _run(
        """
        import threading
        from migtui.analysis.parse import parse_sql
        parse_sql("SELECT 1")
        import pglast.ast, pglast.enums
        barrier = threading.Barrier(8)
        seen, errors = [], []
        def read(k):
            barrier.wait()
            try:
                if k % 2:
                    from pglast.enums import AlterTableType
                    seen.append(("enum", id(AlterTableType)))
                else:
                    seen.append(("ast", id(pglast.ast.SelectStmt)))
            except Exception as exc:
                errors.append(repr(exc))
        threads = [threading.Thread(target=read, args=(k,)) for k in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(len(seen), len(set(seen)), errors)
        """
    )
    assert out.strip() == "8 2 []"
