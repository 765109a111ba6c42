"""Catalog facts: what the analysis can know about the existing schema (from ``--dsn``, read-only).

Pure data. ``migtui.pg.catalog_facts.load_catalog_facts(dsn)`` fills it from a live database; without one the
analysis assumes the worst case and says which facts it assumed.
Relation names are schema-qualified (``public.orders``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConstraintFact:
    name: str
    table: str
    type: str  # "c" check, "f" foreign key, "p" primary key, "u" unique, "x" exclusion, "n" not null (18)
    validated: bool = True
    referenced_table: str | None = None  # for foreign keys
    definition: str = ""  # pg_get_constraintdef


@dataclass
class CatalogFacts:
    pg_version: int | None = None  # PostgreSQL major of the database the facts came from
    tables: set[str] = field(default_factory=set)  # tables, partitioned tables, views, matviews, sequences
    relkinds: dict[str, str] = field(default_factory=dict)  # relation -> pg_class.relkind
    column_types: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> format_type
    not_null: dict[str, set[str]] = field(default_factory=dict)  # table -> NOT NULL columns
    constraints: dict[str, list[ConstraintFact]] = field(default_factory=dict)  # table -> constraints
    indexes: dict[str, str] = field(default_factory=dict)  # index -> its table
    partitions: dict[str, list[str]] = field(default_factory=dict)  # partitioned table -> partitions
    default_partition: dict[str, str] = field(default_factory=dict)  # partitioned table -> default partition
    dependent_views: dict[str, list[str]] = field(default_factory=dict)  # table -> views/matviews using it
    view_sources: dict[str, list[str]] = field(default_factory=dict)  # view/matview -> relations it reads
    estimated_rows: dict[str, int] = field(default_factory=dict)  # table -> pg_class.reltuples
    children: dict[str, list[str]] = field(default_factory=dict)  # table -> inheritance children (not partitions)
    # table -> (column, sequence, how): "a" OWNED BY, "i" identity, "d" used by the column's DEFAULT
    sequences: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    domain_tables: dict[str, list[str]] = field(default_factory=dict)  # domain -> tables with a column of it
    view_columns: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # table -> column -> views
    tablespace: dict[str, str] = field(default_factory=dict)  # relation -> tablespace ("" the default)
    access_method: dict[str, str] = field(default_factory=dict)  # table -> table access method

    def has(self, relation: str) -> bool:
        return relation in self.tables or relation in self.indexes

    def constraint(self, table: str, name: str | None) -> ConstraintFact | None:
        for con in self.constraints.get(table, ()):
            if con.name == name:
                return con
        return None

    def descendants(self, table: str) -> list[str]:
        """Every partition (at any depth) and inheritance child of ``table``."""
        out: list[str] = []
        stack = [table]
        while stack:
            current = stack.pop()
            for child in self.partitions.get(current, []) + self.children.get(current, []):
                if child not in out and child != table:
                    out.append(child)
                    stack.append(child)
        return out

    def partition_parent(self, table: str) -> str | None:
        for parent, parts in self.partitions.items():
            if table in parts:
                return parent
        return None

    def has_storage(self, relation: str) -> bool:
        """Partitioned tables, views and sequences-less relations have no heap to rewrite or scan."""
        return self.relkinds.get(relation, "r") in ("r", "m", "t", "S")

    def table_sequences(self, table: str, how: str, column: str | None = None) -> list[str]:
        return [s for col, s, h in self.sequences.get(table, ()) if h in how and (column is None or col == column)]

    def referenced_tables(self, table: str) -> list[str]:
        """Tables that ``table``'s foreign keys point to."""
        return sorted(
            {
                c.referenced_table
                for c in self.constraints.get(table, ())
                if c.type == "f" and c.referenced_table and c.referenced_table != table
            }
        )

    def referencing_tables(self, table: str) -> list[str]:
        """Tables whose foreign keys point to ``table``."""
        out = set()
        for other, cons in self.constraints.items():
            for c in cons:
                if c.type == "f" and c.referenced_table == table and other != table:
                    out.add(other)
        return sorted(out)


@dataclass
class MigrationKnowledge:
    """What earlier statements of this lint run established (in order): carried across the statements of a
    file and across the revisions of an alembic project, so the NOT VALID -> VALIDATE -> SET NOT NULL pattern
    spread over revisions is recognized without a database."""

    not_null_checks: dict[tuple[str, str], tuple[str, bool]] = field(default_factory=dict)
    # (table, constraint) -> (column, validated) for CHECK (column IS NOT NULL)
    column_types: dict[str, dict[str, str]] = field(default_factory=dict)
    not_null_columns: set[tuple[str, str]] = field(default_factory=set)
    nullable_columns: set[tuple[str, str]] = field(default_factory=set)  # DROP NOT NULL (overrides the catalog)
    index_tables: dict[str, str] = field(default_factory=dict)  # index -> its table (CREATE INDEX in this run)
    foreign_keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, constraint) -> referenced
    constraints: set[tuple[str, str]] = field(default_factory=set)  # (table, constraint) added in this run

    def has_validated_not_null_check(self, table: str, column: str) -> bool:
        return any(t == table and col == column and ok for (t, _n), (col, ok) in self.not_null_checks.items())
