"""Check that a change to the analysis leaves lint's output byte-identical: dump it before, compare after.

    python benchmarks/lint_identical.py --out /tmp/before     # on the commit before the change
    python benchmarks/lint_identical.py --out /tmp/after      # on the change
    diff -r /tmp/before /tmp/after                            # no output: nothing changed

What it dumps (each to its own file under --out):
  corpus-pgNN.json   ``migtui lint --format json`` of lint_speed.py's 2,000 generated files (30,000 statements),
                     for PostgreSQL 13, 16 and 18
  lockcorpus.txt     every statement of the lock-probe corpus (tests/analysis/lock_corpus.py, ~600 statements)
                     analyzed alone, without and with the probe schema's catalog facts, then all of them as one
                     file (so held locks, created tables and timeouts carry from statement to statement),
                     inside and outside a transaction, on PostgreSQL 13 to 18: forms, locks, rewrites, scans,
                     findings
  examples.txt       every rule page's example (migtui/analysis/rule_docs.py), flagged and safe form
  project.json       ``migtui lint --format json`` of the sample alembic project (db/migrations)

Runs with PYTHONHASHSEED=0 (it re-executes itself so): the order of a few lists follows set iteration. No
database is needed; the lock corpus's catalog facts are written out by hand below from its schema.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from lint_speed import generate  # noqa: E402

from migtui.analysis.analyze import Analyzer, StatementAnalysis  # noqa: E402
from migtui.analysis.facts import CatalogFacts, ConstraintFact  # noqa: E402
from migtui.analysis.parse import parse_sql  # noqa: E402
from migtui.analysis.rule_docs import EXAMPLES, analyze_example  # noqa: E402
from migtui.errors import MigtuiError  # noqa: E402


def _describe(results: list[StatementAnalysis]) -> str:
    lines = []
    for st in results:
        lines.append(
            f"  [{st.index}] line {st.line} tx={st.transactional} forms={st.forms} assumptions={st.assumptions}"
        )
        lines.append(f"    locks={[(lk.relation, lk.mode, lk.blocks) for lk in st.locks]}")
        lines.append(f"    rewrites={st.rewrites} scans={st.scans}")
        for f in st.findings:
            lines.append(f"    {f.rule} {f.severity} line {f.line}: {f.message} | {f.hint}")
    return "\n".join(lines)


def _probe_facts() -> CatalogFacts:
    """Catalog facts shaped like the lock corpus's schema (partitions with a default one, an inheritance child,
    foreign keys, views, sequences, a domain's table), every table large enough to count as slow."""
    p = "public."
    tables = ["t_ref", "t_fk", "t_fk_casc", "t_plain", "t_part", "t_part_1", "t_part_2", "t_part_2a"]
    tables += ["t_part_def", "t_part_new", "t_inh", "t_inh_c", "t_lone", "t_dom"]
    views = {"v_plain": ["t_plain"], "v_join": ["t_plain", "t_ref"], "mv_plain": ["t_plain"]}
    facts = CatalogFacts(pg_version=16)
    for name in tables:
        facts.tables.add(p + name)
        facts.relkinds[p + name] = "p" if name in ("t_part", "t_part_2") else "r"
        facts.estimated_rows[p + name] = 1_000_000
        facts.column_types[p + name] = {c: "integer" for c in ("id", "k", "a", "c", "n")} | {"b": "text"}
    for name, sources in views.items():
        facts.tables.add(p + name)
        facts.relkinds[p + name] = "m" if name.startswith("mv") else "v"
        facts.view_sources[p + name] = [p + s for s in sources]
        for source in sources:
            facts.dependent_views.setdefault(p + source, []).append(p + name)
    for seq in ("seq_free", "seq_owned", "t_plain_id_seq"):
        facts.tables.add(p + seq)
        facts.relkinds[p + seq] = "S"
    facts.sequences[p + "t_plain"] = [
        ("id", p + "t_plain_id_seq", "i"),
        ("n", p + "seq_owned", "a"),
        ("e", p + "seq_free", "d"),
    ]
    facts.partitions = {
        p + "t_part": [p + "t_part_1", p + "t_part_2", p + "t_part_def"],
        p + "t_part_2": [p + "t_part_2a"],
    }
    facts.default_partition = {p + "t_part": p + "t_part_def"}
    facts.children = {p + "t_inh": [p + "t_inh_c"]}
    facts.domain_tables = {p + "dom_pos": [p + "t_dom"]}
    facts.not_null = {p + "t_plain": {"id", "c"}, p + "t_ref": {"id", "c"}}
    facts.constraints = {
        p + "t_fk": [
            ConstraintFact("t_fk_ref_fk", p + "t_fk", "f", True, p + "t_ref"),
            ConstraintFact("t_fk_a_fk", p + "t_fk", "f", False, p + "t_ref"),
        ],
        p + "t_fk_casc": [ConstraintFact("t_fk_casc_ref_id_fkey", p + "t_fk_casc", "f", True, p + "t_ref")],
        p + "t_plain": [ConstraintFact("t_plain_pkey", p + "t_plain", "p")],
        p + "t_ref": [ConstraintFact("t_ref_pkey", p + "t_ref", "p")],
    }
    facts.indexes = {p + "t_plain_pkey": p + "t_plain", p + "t_ref_pkey": p + "t_ref"}
    return facts


def lock_corpus(out: Path) -> None:
    from tests.analysis.lock_corpus import corpus

    cases = corpus()
    facts = _probe_facts()
    chunks = []
    for version in range(13, 19):
        for with_facts in (False, True):
            for case in cases:
                analyzer = Analyzer(version, facts if with_facts else None, in_transaction=True)
                try:
                    results = analyzer.analyze(parse_sql(case.sql))
                except MigtuiError as exc:
                    chunks.append(f"{case.id} pg{version}: {exc}")
                    continue
                chunks.append(f"{case.id} pg{version} facts={with_facts}\n{_describe(results)}")
        for in_tx, with_facts in ((False, False), (True, False), (True, True)):
            analyzer = Analyzer(version, facts if with_facts else None, in_transaction=in_tx)
            text = ";\n".join(case.sql for case in cases if "CONCURRENTLY" not in case.sql or not in_tx) + ";"
            results = analyzer.analyze(parse_sql(text))
            results[-1].findings.extend(analyzer.finish(results))
            chunks.append(f"whole corpus pg{version} in_transaction={in_tx} facts={with_facts}\n{_describe(results)}")
    (out / "lockcorpus.txt").write_text("\n".join(chunks) + "\n")


def examples(out: Path) -> None:
    chunks = []
    for rule_id, example in sorted(EXAMPLES.items()):
        for safe in (False, True):
            chunks.append(f"{rule_id} safe={safe}\n{_describe(analyze_example(example, safe=safe))}")
    (out / "examples.txt").write_text("\n".join(chunks) + "\n")


def cli_json(args: list[str], target: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "migtui", "lint", *args, "--format", "json"], capture_output=True, cwd=ROOT
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(f"lint {args} failed ({proc.returncode}): {proc.stderr.decode()[:500]}")
    target.write_bytes(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if os.environ.get("PYTHONHASHSEED") != "0":
        # set iteration order (and so the order of some lists in the output) follows the hash seed
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    # one fixed folder: the file paths are part of the output
    folder = Path(tempfile.gettempdir()) / "migtui-identical-corpus"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    generate(folder, 2000, 15)
    for version in (13, 16, 18):
        cli_json([str(folder), "--pg-version", str(version)], args.out / f"corpus-pg{version}.json")
    shutil.rmtree(folder)
    cli_json(["--migrations", "db/migrations", "--pg-version", "16"], args.out / "project.json")
    lock_corpus(args.out)
    examples(args.out)
    for path in sorted(args.out.iterdir()):
        print(f"{path.stat().st_size:>10} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
