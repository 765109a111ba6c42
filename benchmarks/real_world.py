"""migtui on real open-source alembic histories, as they ship in their PyPI wheels (docs/real-world.md).

    python benchmarks/real_world.py [--only NAME[,NAME]] [--jobs lint,up,rollback,drift] [--cache DIR] [--json FILE]

Per project: ``pip download --no-deps`` of a pinned wheel (cached under ``~/.cache/migtui-real``), its migration
directory extracted; a venv of its own (``<cache>/venv-NAME``, the application's package and its dependencies:
env.py and many revisions import the application) that migtui's own environment never sees; migtui runs in this
interpreter with that venv's site-packages appended *after* its own (so migtui's SQLAlchemy, alembic and psycopg
are the ones used). Then: lint over every revision, ``up`` to head on an empty database (after the project's
baseline, when it has one), rollback-test over the history, drift at head; a table of revisions, analysed %,
findings by rule, outcomes and timings. When the registry is unreachable, a project is skipped with the reason.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOBS = ("lint", "up", "rollback", "drift")
# own_interpreter projects: "child" (migtui's python setting: env.py and the revisions in the venv's interpreter,
# migtui in its own) or "site" (all of migtui in the venv's interpreter, migtui's packages appended); --own-mode
INTERPRETER_MODE = "child"


@dataclass(frozen=True)
class Project:
    name: str
    requirement: str  # pinned: what pip downloads and installs
    migrations: str  # inside the wheel: the alembic script directory, or the alembic.ini beside it
    baseline: str = ""  # what exists before the first revision (settings.baseline), "" for none
    env: dict[str, str] = field(default_factory=dict)  # what the application needs in its environment
    extra: tuple[str, ...] = ()  # packages env.py imports beyond the requirement's own dependencies
    venv: str = ""  # the venv's name when projects share one (same release train); default: name's first word
    # run migtui in the venv's own interpreter, migtui's site-packages appended after the venv's (the project
    # needs another SQLAlchemy major than migtui's venv has: Airflow 2 needs < 2)
    own_interpreter: bool = False
    dsn_env: str = ""  # a variable the application reads its database URL from (set to the target's, psycopg2)


OPENSTACK_PINS = ("oslo.utils==7.3.0",)  # 2024.2 upper-constraints

PROJECTS = [
    Project(
        "mlflow",
        "mlflow-skinny==2.17.2",
        "mlflow/store/db_migrations",
        # mlflow creates its first tables with create_all, then runs the history (mlflow.store.db.utils)
        baseline="mlflow.store.tracking.dbmodels.initial_models:Base.metadata.create_all",
    ),
    # mlflow.server imports flask (mlflow's full package depends on it; mlflow-skinny does not)
    Project("mlflow-auth", "mlflow-skinny==2.17.2", "mlflow/server/auth/db/migrations", extra=("flask==3.1.0",)),
    # old revisions import six, which dagster 1.9 no longer depends on
    Project("dagster", "dagster==1.9.3", "dagster/_core/storage/alembic", extra=("six==1.16.0",)),
    Project("ironic", "ironic==26.1.0", "ironic/db/sqlalchemy/alembic"),
    # OpenStack 2024.2: env.py uses the connection the caller passes in config.attributes, else sqlalchemy.url,
    # and calls fileConfig(config.config_file_name), so the project is loaded from its alembic.ini. OpenStack pins
    # its dependencies in upper-constraints, not in the wheels: nova's revisions import oslo.utils' md5, which
    # oslo.utils 8 removed
    Project("nova-main", "nova==30.0.0", "nova/db/main/alembic.ini", extra=OPENSTACK_PINS, venv="openstack"),
    Project("nova-api", "nova==30.0.0", "nova/db/api/alembic.ini", extra=OPENSTACK_PINS, venv="openstack"),
    Project("cinder", "cinder==25.0.0", "cinder/db/alembic.ini", extra=OPENSTACK_PINS, venv="openstack"),
    Project("heat", "openstack-heat==23.0.0", "heat/db/alembic.ini", extra=OPENSTACK_PINS, venv="openstack"),
    # masakari's env.py names its own version table in both modes (taskflow's tables share the database)
    Project(
        "masakari",
        "masakari==18.0.0",
        "masakari/db/sqlalchemy/alembic.ini",
        env={"MIGTUI_VERSION_TABLE": "masakari_alembic_version"},
        extra=OPENSTACK_PINS,
        venv="openstack",
    ),
    # aodh: script_location in package form (aodh.storage.sqlalchemy:alembic); online the connection the caller
    # passes, offline oslo.config's [database] connection (unset)
    Project(
        "aodh", "aodh==19.0.0", "aodh/storage/sqlalchemy/alembic/alembic.ini", extra=OPENSTACK_PINS, venv="openstack"
    ),
    # optuna's RDB storage (not OpenStack): a stock env.py that reads sqlalchemy.url in both modes
    Project("optuna", "optuna==4.1.0", "optuna/storages/_rdb/alembic.ini"),
    # CKAN 2.11 (not OpenStack, PostgreSQL only): a stock env.py on sqlalchemy.url; SQLAlchemy 1.4 and psycopg2,
    # so migtui runs in the project's interpreter. The wheel's dependencies are in its "requirements" extra
    Project(
        "ckan",
        "ckan[requirements]==2.11.1",
        "ckan/migration/alembic.ini",
        env={"MIGTUI_DRIVER": "psycopg2"},
        own_interpreter=True,
    ),
    # env.py renders offline for Airflow's own sql_alchemy_conn, some revisions use Airflow's engine, on
    # SQLAlchemy 1.4 (no psycopg 3 dialect): psycopg2, and the target's URL in Airflow's setting
    Project(
        "airflow",
        "apache-airflow==2.10.3",
        "airflow/migrations",
        env={"AIRFLOW__CORE__UNIT_TEST_MODE": "True", "MIGTUI_DRIVER": "psycopg2"},
        extra=("psycopg2-binary==2.9.10",),
        own_interpreter=True,
        dsn_env="AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    ),
]

# runs one migtui command (or the baseline) with the application's site-packages after migtui's own
LAUNCHER = """
import os, site, sys
for _path in filter(None, sys.argv[1].split(os.pathsep)):
    site.addsitedir(_path)
if sys.argv[2] == "--baseline":
    from migtui.config import Settings
    from migtui.errors import MigtuiError
    from migtui.project.baseline import apply_baseline
    try:
        apply_baseline(Settings(baseline=sys.argv[3]), sys.argv[4])
    except MigtuiError as exc:
        sys.exit(f"migtui: error: {exc.message}")
    sys.exit(0)
from migtui.cli.main import entry
sys.argv = ["migtui", *sys.argv[2:]]
entry()
"""


def _run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 1800) -> tuple[int, str, str, float]:
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout:g}s", time.monotonic() - started
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip() and " INFO " not in line]
    return lines[-1][:300] if lines else ""


def prepare(project: Project, cache: Path) -> tuple[Path, Path]:
    """(migration directory, the venv's site-packages); raises RuntimeError with the reason to skip."""
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    dist, version = project.requirement.split("==")
    dist = dist.split("[")[0]  # the wheel's name, without the extras installed with it
    stem = f"{dist.replace('-', '_')}-{version}-"
    found = [p for p in wheels.glob("*.whl") if p.name.lower().startswith(stem.lower())]
    if not found:
        code, _out, err, _ = _run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(wheels),
             project.requirement],
            timeout=600,
        )  # fmt: skip
        found = [p for p in wheels.glob("*.whl") if p.name.lower().startswith(stem.lower())]
        if code or not found:
            raise RuntimeError(f"cannot download {project.requirement}: {_last_line(err) or 'registry unreachable'}")
    src = cache / "src" / f"{dist}=={version}"
    ini = project.migrations.endswith(".ini")
    top = project.migrations.rsplit("/", 1)[0] if ini else project.migrations
    if not (src / project.migrations).exists() or (not ini and not (src / top / "env.py").is_file()):
        with zipfile.ZipFile(found[0]) as wheel:
            members = [m for m in wheel.namelist() if m.startswith(top + "/")]
            if not members:
                raise RuntimeError(f"{found[0].name} has no {project.migrations}")
            wheel.extractall(src, members)
    venv = cache / f"venv-{project.venv or project.name.split('-')[0]}"  # mlflow and mlflow-auth share one
    marker = venv / ".migtui-ready"  # the requirements installed so far, one a line
    if not (venv / "bin" / "pip").exists():
        code, _out, err, _ = _run([sys.executable, "-m", "venv", str(venv)])
        if code:
            raise RuntimeError(f"cannot create {venv}: {_last_line(err)}")
    installed = set(marker.read_text().split()) if marker.exists() else set()
    missing = [r for r in (project.requirement, *project.extra) if r not in installed]
    if missing:
        # the pins (extra) go with every install: a later project's requirement must not upgrade past them
        pinned = [*missing, *(r for r in project.extra if r not in missing)]
        code, _out, err, _ = _run([str(venv / "bin" / "pip"), "install", "-q", *pinned], timeout=1800)
        if code:
            raise RuntimeError(f"cannot install {' '.join(missing)} in {venv}: {_last_line(err)}")
        marker.write_text("\n".join(sorted(installed | set(missing))) + "\n")
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    return src / project.migrations, site_packages


def _migtui(site: Path, args: list[str], env: dict[str, str]) -> tuple[int, str, str, float]:
    if env.get("MIGTUI_PYTHON") and args[0] != "--baseline":
        # the python setting: migtui in its own environment, the project's alembic work in the venv's interpreter
        return _run([sys.executable, "-c", LAUNCHER, "", *args], env=env)
    if env.get("MIGTUI_REAL_OWN") == "1":  # the venv's python; its site-packages first, then ROOT and migtui's
        own = [str(ROOT), *(p for p in sys.path if p.endswith("site-packages"))]
        python = site.parents[2] / "bin" / "python"
        return _run([str(python), "-c", LAUNCHER, os.pathsep.join(own), *args], env=env)
    return _run([sys.executable, "-c", LAUNCHER, str(site), *args], env=env)


def _json(out: str):
    """The report on stdout, after whatever the application logged there first."""
    start = next((i for i, line in enumerate(out.splitlines(keepends=True)) if line.startswith("{")), None)
    if start is None:
        raise ValueError("no JSON report on stdout")
    return json.loads("".join(out.splitlines(keepends=True)[start:]))


def _drift(site: Path, env: dict[str, str], mig: list[str], dsn: str, server) -> dict:
    code, out, err, seconds = _migtui(
        site, ["drift", "--dsn", dsn, *mig, "--no-cache", "--scratch-dsn", server.dsn(), "--format", "json"], env
    )
    row: dict = {"exit": code, "seconds": round(seconds, 1)}
    try:
        report = _json(out)
        row["differences"] = [
            " ".join(str(d.get(k) or "") for k in ("kind", "object", "change", "attribute")).strip()
            for d in report.get("differences") or []
        ]
    except ValueError:
        row["error"] = _last_line(err)
    return row


def _copy_and_hand_change(site: Path, env: dict[str, str], mig: list[str], server, tag: str, known: list[str]) -> dict:
    """The database at head copied with ``pg_dump | psql``: drift must find on the copy what it found on the
    database itself (``known``: nothing, or true differences such as aodh's default frozen at migration time);
    then one column added by hand to the copy's first table must be the one difference drift adds."""
    copy = tag + "_copy"
    copy_dsn = server.create_database(copy)
    dump = subprocess.run(
        [server.binaries.tool("pg_dump"), "--no-owner", "--no-privileges", server.dsn(tag)],
        capture_output=True, check=False,
    )  # fmt: skip
    load = subprocess.run(
        [server.binaries.tool("psql"), "-q", "-v", "ON_ERROR_STOP=1", "-d", copy_dsn],
        input=dump.stdout, capture_output=True, check=False,
    )  # fmt: skip
    if dump.returncode or load.returncode:
        return {"error": _last_line((dump.stderr or load.stderr).decode(errors="replace"))}
    row = {"clean": _drift(site, env, mig, copy_dsn, server)}
    tables = server.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' AND c.relname <> %s"
        " ORDER BY c.relname LIMIT 1",
        dbname=copy,
        params=(env.get("MIGTUI_VERSION_TABLE") or "alembic_version",),
    )
    if not tables:
        row["hand_change"] = "no table to change"
        return row
    table = tables[0][0]
    server.execute(f'ALTER TABLE public."{table}" ADD COLUMN migtui_hand_change integer', dbname=copy)
    changed = _drift(site, env, mig, copy_dsn, server)
    changed["made"] = f"ALTER TABLE {table} ADD COLUMN migtui_hand_change integer"
    found = [d for d in changed.get("differences") or [] if d not in known]
    changed["exact"] = len(found) == 1 and table in found[0] and "migtui_hand_change" in found[0]
    row["hand_change"] = changed
    return row


def run_project(project: Project, cache: Path, jobs: tuple[str, ...], server) -> dict:
    row: dict = {"project": project.name, "requirement": project.requirement, "baseline": project.baseline or None}
    try:
        migrations, site = prepare(project, cache)
    except RuntimeError as exc:
        row["skipped"] = str(exc)
        return row
    env = {**os.environ, **project.env, "MIGTUI_LOG_LEVEL": "warning"}
    if project.own_interpreter and INTERPRETER_MODE == "child":
        env["MIGTUI_PYTHON"] = str(site.parents[2] / "bin" / "python")
        if project.dsn_env:  # each step's database (scratch, expected schema) in the application's own setting
            env["MIGTUI_DSN_ENV"] = project.dsn_env
    elif project.own_interpreter:
        env["MIGTUI_REAL_OWN"] = "1"
    if project.dsn_env:  # lint's scratch database is migtui's own: revisions that use it cannot connect
        env[project.dsn_env] = "postgresql+psycopg2://migtui@127.0.0.1:1/unused"
    if project.baseline:
        env["MIGTUI_BASELINE"] = project.baseline
    mig = ["--migrations", str(migrations)]
    if "lint" in jobs:
        code, out, err, seconds = _migtui(site, ["lint", *mig, "--format", "json"], env)
        row["lint"] = {"exit": code, "seconds": round(seconds, 1)}
        if code in (0, 1):
            report = _json(out)
            files = report["files"]
            rules = collections.Counter(
                f["rule"] for file in files for st in file["statements"] for f in st["findings"]
            )
            rules.update(f["rule"] for file in files for f in file["findings"])
            unanalysed = {
                file["revision"]: f["message"]
                for file in files
                for f in file["findings"]
                if f["rule"] == "unanalyzable-revision"
            }
            row["lint"].update(
                revisions=len(files),
                analysed=len(files) - len(unanalysed),
                statements=report["summary"]["statements"],
                rules=dict(rules.most_common()),
                unanalysed=unanalysed,
            )
        else:
            row["lint"]["error"] = _last_line(err)
    if not ({"up", "rollback", "drift"} & set(jobs)):
        return row
    tag = f"real_{project.name.replace('-', '_')}_{int(time.time())}"
    dsn = server.create_database(tag)
    if project.dsn_env:
        env[project.dsn_env] = dsn.replace("postgresql://", "postgresql+psycopg2://", 1)
    try:
        if project.baseline:
            code, _out, err, seconds = _migtui(site, ["--baseline", project.baseline, dsn], env)
            row["baseline_seconds"] = round(seconds, 1)
            if code:
                row["baseline_error"] = _last_line(err)
        if "up" in jobs or "drift" in jobs:
            code, _out, err, seconds = _migtui(site, ["up", "--dsn", dsn, *mig, "--timeout", "600"], env)
            row["up"] = {"exit": code, "seconds": round(seconds, 1), "error": _last_line(err) if code else None}
        if "drift" in jobs:
            row["drift"] = _drift(site, env, mig, dsn, server)
            known = row["drift"].get("differences")
            if row["up"]["exit"] == 0 and known is not None:
                row["copy"] = _copy_and_hand_change(site, env, mig, server, tag, known)
        if "rollback" in jobs:
            scratch = server.create_database(tag + "_rb")
            if project.dsn_env:
                env = {**env, project.dsn_env: scratch.replace("postgresql://", "postgresql+psycopg2://", 1)}
            if project.baseline:
                _migtui(site, ["--baseline", project.baseline, scratch], env)
            code, out, err, seconds = _migtui(
                site, ["rollback-test", *mig, "--scratch-dsn", scratch, "--force", "--format", "json"], env
            )
            row["rollback"] = {"exit": code, "seconds": round(seconds, 1)}
            try:
                report = _json(out)
                results = report.get("revisions") or []
                statuses = collections.Counter(str(r.get("status")) for r in results)
                row["rollback"].update(tested=len(results), statuses=dict(statuses))
                failed = [r for r in results if r.get("status") == "failed"]
                reasons = {}
                for item in failed:
                    why = item.get("error") or "; ".join(map(str, item.get("failures") or [])) or "schema differs"
                    differences = (item.get("downgrade_differences") or []) + (item.get("reupgrade_differences") or [])
                    if differences and not item.get("error"):
                        why += ": " + ", ".join(
                            " ".join(str(d.get(k) or "") for k in ("kind", "object", "change", "attribute")).strip()
                            for d in differences[:4]
                        )
                    reasons[str(item.get("revision"))] = str(why)[:400]
                if failed:
                    first = str(failed[0].get("revision"))
                    row["rollback"]["first_failure"] = f"{first}: {reasons[first]}"
                    row["rollback"]["failures"] = reasons
            except ValueError:
                row["rollback"]["error"] = _last_line(err)
    finally:
        for name in (tag + "_rb", tag + "_copy", tag):
            try:
                server.drop_database(name)
            except Exception:
                pass
    return row


def _cell(row: dict, job: str) -> str:
    data = row.get(job)
    if not data:
        return "-"
    if job == "lint":
        if "revisions" not in data:
            return f"exit {data['exit']}: {data.get('error', '')[:60]}"
        pct = 100 * data["analysed"] / data["revisions"] if data["revisions"] else 100
        return f"{data['analysed']}/{data['revisions']} ({pct:.0f}%) {data['seconds']}s"
    text = f"exit {data['exit']} {data['seconds']}s"
    if job == "rollback" and "tested" in data:
        text += f" {data['tested']} tested {data['statuses']}"
    if job == "drift" and "differences" in data:
        text += f" {len(data['differences'])} differences"
        copy = row.get("copy") or {}
        if "clean" in copy:
            same = copy["clean"].get("differences") == data["differences"]
            text += f"; pg_dump copy: {len(copy['clean'].get('differences') or [])} differences"
            text += "" if same else f" NOT the same as the database's: {copy['clean'].get('differences')}"
        hand = copy.get("hand_change")
        if isinstance(hand, dict):
            text += f"; hand change found {'exactly' if hand['exact'] else 'NOT exactly: ' + str(hand['differences'])}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated project names: " + ", ".join(p.name for p in PROJECTS))
    parser.add_argument("--jobs", default=",".join(JOBS), help="comma-separated: " + ", ".join(JOBS))
    parser.add_argument("--cache", default=os.path.expanduser("~/.cache/migtui-real"))
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument(
        "--own-mode", choices=("child", "site"), default="child", help="how own_interpreter projects run"
    )
    args = parser.parse_args(argv)
    global INTERPRETER_MODE
    INTERPRETER_MODE = args.own_mode
    jobs = tuple(j for j in args.jobs.split(",") if j)
    if unknown := set(jobs) - set(JOBS):
        parser.error(f"unknown job {', '.join(sorted(unknown))}")
    wanted = set(args.only.split(",")) if args.only else {p.name for p in PROJECTS}
    projects = [p for p in PROJECTS if p.name in wanted]
    if len(projects) != len(wanted):
        parser.error(f"unknown project in --only (known: {', '.join(p.name for p in PROJECTS)})")
    sys.path.insert(0, str(ROOT))
    from migtui.pg import harness

    server = harness.start_cluster(16) if {"up", "rollback", "drift"} & set(jobs) else None
    rows = []
    try:
        for project in projects:
            row = run_project(project, Path(args.cache), jobs, server)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        if server is not None:
            server.cleanup()
    load = os.getloadavg()
    print(f"\nmachine: {os.cpu_count()} CPUs, load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"| project | {' | '.join(jobs)} |")
    print("|---" * (len(jobs) + 1) + "|")
    for row in rows:
        if "skipped" in row:
            print(f"| {row['project']} | skipped: {row['skipped']} |")
            continue
        print(f"| {row['project']} ({row['requirement']}) | " + " | ".join(_cell(row, j) for j in jobs) + " |")
    for row in rows:
        if row.get("lint", {}).get("rules"):
            print(f"{row['project']} lint findings: {row['lint']['rules']}")
        for rev, why in row.get("lint", {}).get("unanalysed", {}).items():
            print(f"{row['project']} {rev} not analysed: {why}")
        for job in ("up", "drift", "rollback"):
            if row.get(job, {}).get("error"):
                print(f"{row['project']} {job}: {row[job]['error']}")
        if row.get("rollback", {}).get("first_failure"):
            print(f"{row['project']} rollback-test first failure: {row['rollback']['first_failure']}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    tempfile.tempdir = None
    sys.exit(main())
