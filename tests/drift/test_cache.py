"""The drift cache key's inspector hash covers everything a catalog snapshot's shape depends on. Pure."""

from __future__ import annotations

from importlib import resources

from migtui.drift.cache import inspector_hash


def _copy_catalog_queries(folder):
    folder.mkdir()
    for item in resources.files("migtui.catalog.queries").iterdir():
        if item.name.endswith(".sql"):
            (folder / item.name).write_bytes(item.read_bytes())
    return folder


def test_inspector_hash_covers_every_catalog_query(tmp_path):
    queries = _copy_catalog_queries(tmp_path / "queries")
    installed = inspector_hash()
    assert inspector_hash(queries) == installed
    names = sorted(path.name for path in queries.iterdir())
    assert "relations.sql" in names and "columns_pg13.sql" in names
    for name in names:  # an edit to any one query gives a new key: a cached snapshot is never served stale
        path = queries / name
        original = path.read_bytes()
        path.write_bytes(original.replace(b"SELECT", b"SELECT DISTINCT", 1))
        assert inspector_hash(queries) != installed, name
        path.write_bytes(original)
    assert inspector_hash(queries) == installed


def test_inspector_hash_changes_when_a_query_is_added_or_renamed(tmp_path):
    queries = _copy_catalog_queries(tmp_path / "queries")
    installed = inspector_hash()
    (queries / "rules.sql").rename(queries / "rewrite_rules.sql")
    assert inspector_hash(queries) != installed
    (queries / "rewrite_rules.sql").rename(queries / "rules.sql")
    (queries / "publications.sql").write_text("SELECT pubname FROM pg_publication\n")
    assert inspector_hash(queries) != installed
