"""Instructions the lint analysis executes on lint_speed.py's corpus, counted by callgrind (load-independent).

    python benchmarks/lint_instructions.py                      # the migtui this interpreter imports
    PYTHONPATH=/path/to/site python -P benchmarks/lint_instructions.py   # e.g. an installed wheel

Runs this script under ``valgrind --tool=callgrind`` twice, in fresh processes: once parsing the 2,000 generated
files (30,000 statements) only, once parsing them and then analyzing each as ``migtui lint`` does for a raw file
(``Analyzer`` with ``--pg-version 16`` and no catalog, ``finish``, approvals; the cyclic collector paused). The
difference is the analysis alone: start-up, imports and parsing cancel out. Prints both totals and the
difference; ``--keep DIR`` keeps the callgrind output files for ``callgrind_annotate``.

    python benchmarks/lint_instructions.py --whole 5b3fa08 HEAD   # whole runs, one commit against another

``--whole REV...`` counts instead a whole ``migtui lint CORPUS --pg-version 16 --format github --jobs 1`` (start-up,
imports, parse, analysis, annotations: what a user waits for) of each commit, twice over: from its wheel
(``pip wheel`` of ``git archive REV``, the lint core compiled by mypyc) and from its Python source (what an editable
install runs). Bytecode is compiled beforehand, as an installed package has it. Each variant runs once under
callgrind in a fresh process, with this interpreter's dependencies. A commit's wheel and source must print the
same annotations (it says so when they do not); the count of annotations is printed per commit.
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


def _count_whole(path: Path, folder: Path, out: Path) -> tuple[int, bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "MIGTUI_PURE_PYTHON")}
    env.update(PYTHONPATH=str(path), PYTHONHASHSEED="0")
    cmd = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-P",
        "-m",
        "migtui",
        "lint",
        str(folder),
        "--pg-version",
        "16",
        "--format",
        "github",
        "--jobs",
        "1",
    ]
    proc = subprocess.run(cmd, capture_output=True, env=env, cwd=folder)
    match = re.search(rb"Collected : (\d+)", proc.stderr)
    if proc.returncode not in (0, 1) or not match:
        raise SystemExit(f"migtui lint failed ({proc.returncode}): {proc.stderr[-500:].decode(errors='replace')}")
    return int(match.group(1)), proc.stdout


def _whole(revs: list[str], keep: Path | None) -> int:
    from lint_speed import build_commit, generate

    with tempfile.TemporaryDirectory(prefix="migtui-instr-") as tmp:
        folder = Path(tmp) / "migrations"
        folder.mkdir()
        total = generate(folder, 2000, 15)
        out_dir = keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        counts: dict[str, tuple[int, int]] = {}
        notes: dict[str, str] = {}
        for n, rev in enumerate(revs):
            site, source = build_commit(rev, Path(tmp) / f"build-{n}")
            wheel, wheel_out = _count_whole(site, folder, out_dir / f"callgrind.{n}.wheel")
            plain, plain_out = _count_whole(source, folder, out_dir / f"callgrind.{n}.source")
            counts[rev] = (wheel, plain)
            lines = sum(1 for line in wheel_out.splitlines() if line.startswith(b"::"))
            notes[rev] = f"{lines:,} annotations" + ("" if wheel_out == plain_out else ", WHEEL AND SOURCE DIFFER")
    print(f"whole 'migtui lint --pg-version 16 --format github --jobs 1' of {total} statements (2,000 files):")
    first = revs[0]
    for rev, (wheel, plain) in counts.items():
        change = ""
        if rev != first:
            base_wheel, base_plain = counts[first]
            change = f" ({wheel / base_wheel - 1:+.1%} / {plain / base_plain - 1:+.1%} against {first})"
        print(f"  {rev:<12} wheel {wheel / 1e9:6.3f} G, source {plain / 1e9:6.3f} G instructions{change}; {notes[rev]}")
    if keep:
        print(f"  callgrind files in {keep}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--keep", type=Path, help="keep the callgrind output files in this folder")
    parser.add_argument("--whole", nargs="+", metavar="REV", help="count whole lint runs of these commits")
    args = parser.parse_args()
    if args.child:
        _work(Path(args.child[1]), args.child[0] == "analyze")
        return 0
    if args.whole:
        return _whole(args.whole, args.keep)
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
