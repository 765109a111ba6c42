"""Instructions the lint analysis executes on lint_speed.py's corpus, counted by callgrind (load-independent).

    python benchmarks/lint_instructions.py                      # the migtui this interpreter imports
    PYTHONPATH=/path/to/site python -P benchmarks/lint_instructions.py   # e.g. an installed wheel

Runs this script under ``valgrind --tool=callgrind`` twice, in fresh processes: once parsing the 2,000 generated
files (30,000 statements) only, once parsing them and then analyzing each as ``migtui lint`` does for a raw file
(``Analyzer`` with ``--pg-version 16`` and no catalog, ``finish``, approvals; the cyclic collector paused). The
difference is the analysis alone: start-up, imports and parsing cancel out. Prints both totals and the
difference; ``--keep DIR`` keeps the callgrind output files for ``callgrind_annotate``.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _work(folder: Path, analyze: bool) -> None:
    from migtui.analysis.analyze import Analyzer
    from migtui.analysis.approvals import parse_approvals
    from migtui.analysis.parse import parse_sql
    from migtui.lint.job import _apply_approvals

    gc.disable()
    files = []
    for path in sorted(folder.iterdir()):
        text = path.read_text()
        files.append((text, parse_sql(text, str(path))))
    if not analyze:
        return
    findings = 0
    for text, statements in files:
        analyzer = Analyzer(16, None)
        results = analyzer.analyze(statements)
        file_findings = analyzer.finish(results)
        approvals, problems = parse_approvals(text)
        file_findings, _ignored = _apply_approvals(results, file_findings, approvals, problems)
        findings += len(file_findings) + sum(len(st.findings) for st in results)
    print(f"{findings} findings", file=sys.stderr)


def _count(folder: Path, analyze: bool, out: Path) -> int:
    cmd = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        *(["-P"] if sys.flags.safe_path else []),
        __file__,
        "--child",
        "analyze" if analyze else "parse",
        str(folder),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # set iteration order (some dict sizes) fixed run to run
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    match = re.search(r"Collected : (\d+)", proc.stderr)
    if not match:
        raise SystemExit(f"no callgrind total in: {proc.stderr[-500:]}")
    findings = re.search(r"(\d+) findings", proc.stderr)
    if findings:
        print(f"  {findings.group(0)}")
    return int(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--keep", type=Path, help="keep the callgrind output files in this folder")
    args = parser.parse_args()
    if args.child:
        _work(Path(args.child[1]), args.child[0] == "analyze")
        return 0
    from lint_speed import generate

    import migtui.analysis.analyze as analyze_module

    core = "compiled (mypyc)" if not analyze_module.__file__.endswith(".py") else "python"
    with tempfile.TemporaryDirectory(prefix="migtui-instr-") as tmp:
        folder = Path(tmp) / "migrations"
        folder.mkdir()
        total = generate(folder, 2000, 15)
        keep = args.keep or Path(tmp)
        keep.mkdir(parents=True, exist_ok=True)
        parse_only = _count(folder, False, keep / "callgrind.parse")
        whole = _count(folder, True, keep / "callgrind.analyze")
    print(f"{core} core ({os.path.dirname(analyze_module.__file__)}), {total} statements")
    print(f"  parse only        {parse_only / 1e9:8.3f} G instructions")
    print(f"  parse + analysis  {whole / 1e9:8.3f} G")
    print(f"  analysis          {(whole - parse_only) / 1e9:8.3f} G")
    if shutil.which("callgrind_annotate") and args.keep:
        print(f"  callgrind files in {args.keep}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
