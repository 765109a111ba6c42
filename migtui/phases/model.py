"""What a phased change is made of: steps per phase, the dual-write sync, the backfill and the checks.

A pattern helper (``migtui.phases.rename_column(...)`` etc.) returns a ``PhasedChange``. Its
``plan(context)`` turns it into a ``Plan``: plain SQL strings for each phase (identifiers quoted with
``psycopg.sql``), built for one revision id and one PostgreSQL major. Everything else (the state table,
the backfill loop, the gates, the CLI) works on the ``Plan``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

PHASES = ("expand", "migrate", "contract")


@dataclass(frozen=True)
class Step:
    """One SQL statement of a phase.

    ``transactional=False`` for statements PostgreSQL refuses inside a transaction block
    (``CREATE INDEX CONCURRENTLY``, ``DROP INDEX CONCURRENTLY``). Every step must be safe to run again
    after a crash (``IF EXISTS`` / ``IF NOT EXISTS``, or a ``cleanup`` statement run first).
    """

    sql: str
    description: str = ""
    transactional: bool = True
    skip_if: str | None = None  # a query returning one boolean: true = already done, skip the step
    cleanup: str | None = None  # run before the step when not skipped (e.g. drop an INVALID leftover index)


@dataclass(frozen=True)
class Check:
    """A verification query: ``sql`` returns one integer, the number of offending rows (0 = pass)."""

    name: str
    sql: str
    description: str  # what an offending row (or object) is, after its count: "3 rows where ..."
    ok: str = ""  # the evidence when the check passes; empty: "0 <description>"


@dataclass(frozen=True)
class Backfill:
    """A batched keyset backfill: touch rows of ``table`` where ``needs_update`` holds.

    The dual-write trigger (write path ``backfill``) derives the new shape for every touched row, so the
    backfill and the application's old-path writes share one derivation.
    """

    schema: str
    table: str
    touch_column: str  # "UPDATE t SET c = c" fires the sync trigger
    needs_update: str  # SQL predicate over the table's columns (bare names)


@dataclass(frozen=True)
class SyncSpec:
    """Dual-write trigger settings: which columns are old, which are new, and how each is derived."""

    schema: str
    table: str
    old_columns: tuple[str, ...]
    new_columns: tuple[str, ...]
    forward: dict[str, str]  # new column -> SQL expression over the row's columns (old path derivation)
    backward: dict[str, str]  # old column -> SQL expression over the row's columns (new path derivation)
    # version schema -> write path ("old" / "new"): a session whose search_path reaches that schema first
    # writes on that path (versioned schemas), so the application needs no migtui.write_path setting
    version_paths: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Version:
    """A published application version: a schema of views showing one shape of the changed table."""

    role: str  # "old" (the shape before the revision) or "new" (after)
    schema: str
    table_schema: str  # the schema of the table, next in the version's search_path
    views: tuple[str, ...] = ()

    @property
    def search_path(self) -> str:
        return f"{self.schema}, {self.table_schema}"

    @property
    def connection_option(self) -> str:
        """The libpq ``options`` value (keyword form: ``options='-csearch_path=a,b'``, or ``PGOPTIONS``)."""
        return f"-csearch_path={self.schema},{self.table_schema}"

    @property
    def url_option(self) -> str:
        """The same in a connection URL's query string (``=`` and ``,`` percent-encoded, as libpq wants)."""
        return f"options=-csearch_path%3D{self.schema}%2C{self.table_schema}"


@dataclass(frozen=True)
class PlanContext:
    revision: str
    pg_version: int = 16
    # (schema, table, column) -> (SQL type, NOT NULL) from the catalog; None when rendering offline
    column_info: Callable[[str, str, str], tuple[str, bool] | None] | None = None
    # a catalog query on the target, (query, params) -> rows; None offline (nothing is carried then)
    query: Callable[[str, Sequence[Any]], list[tuple]] | None = None
    # runs a statement and undoes it: None when it works, else the server's one-line error
    probe: Callable[[str], str | None] | None = None


@dataclass
class Plan:
    """A phased change made concrete for one revision and one server version."""

    revision: str
    pattern: str
    target: str  # "schema.table" for display
    description: str
    expand: list[Step] = field(default_factory=list)
    backfill: Backfill | None = None
    migrate: list[Step] = field(
        default_factory=list
    )  # after the backfill: carried indexes built, constraints validated
    checks: list[Check] = field(default_factory=list)
    sync: SyncSpec | None = None
    contract: list[Step] = field(default_factory=list)
    abort: list[Step] = field(default_factory=list)  # undoes expand; the original shape, no data lost
    reverse_contract: list[Step] | None = None  # downgrade after contract; None = not reversible
    irreversible_reason: str = ""
    old_application: tuple[str, ...] = ()  # application_name LIKE patterns of the old application version
    # built with the target's catalog (online): what hangs on replaced columns is in the plan (carry-over);
    # False for a plan rendered offline (--sql), which migrate completes before anything else
    catalog_read: bool = False
    versions: list[Version] = field(default_factory=list)  # versioned schemas (empty: not published)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """The plan as stored in ``migtui.phase_state.plan`` at expand (stable for the revision's lifetime)."""

        def steps(items: list[dict[str, Any]] | None) -> list[Step] | None:
            return None if items is None else [Step(**item) for item in items]

        sync = data.get("sync")
        backfill = data.get("backfill")
        return cls(
            revision=data["revision"],
            pattern=data["pattern"],
            target=data["target"],
            description=data.get("description", ""),
            expand=steps(data.get("expand")) or [],
            backfill=Backfill(**backfill) if backfill else None,
            migrate=steps(data.get("migrate")) or [],
            checks=[Check(**c) for c in data.get("checks", [])],
            sync=SyncSpec(
                sync["schema"],
                sync["table"],
                tuple(sync["old_columns"]),
                tuple(sync["new_columns"]),
                dict(sync["forward"]),
                dict(sync["backward"]),
                dict(sync.get("version_paths") or {}),
            )
            if sync
            else None,
            contract=steps(data.get("contract")) or [],
            abort=steps(data.get("abort")) or [],
            reverse_contract=steps(data.get("reverse_contract")),
            irreversible_reason=data.get("irreversible_reason", ""),
            old_application=tuple(data.get("old_application", ())),
            catalog_read=bool(data.get("catalog_read", False)),
            versions=[
                Version(v["role"], v["schema"], v["table_schema"], tuple(v.get("views", ())))
                for v in data.get("versions") or []
            ],
        )


class PhasedChange:
    """Base class of the pattern helpers. Subclasses implement ``plan``."""

    pattern: str = "custom"

    def plan(self, context: PlanContext) -> Plan:  # pragma: no cover - abstract
        raise NotImplementedError
