"""The revision list read from the files' source (the TUI's first screen) against alembic's own load."""

from __future__ import annotations

from pathlib import Path

from migtui.project.load import AlembicProject
from migtui.project.scan import revisions_from_source
from migtui.tui.overview import load_overviews
from tests.alembic_projects import Rev, make_project, project_settings

REVS = [
    Rev("r1", "pass", message="create things\n\nlonger text that is not the description"),
    Rev("r2", "pass", message="second"),
    Rev("r3", "pass", message="third"),
]
ROOT = Path(__file__).resolve().parents[2]


def test_plain_projects_read_as_alembic_loads_them(tmp_path):
    for project in (AlembicProject.load(make_project(tmp_path, REVS)), AlembicProject.load(ROOT / "db/migrations")):
        scanned = revisions_from_source(project)
        assert scanned is not None
        assert scanned == project.revisions()


def test_what_a_plain_reading_cannot_be_sure_of_is_left_to_alembic(tmp_path):
    cases = {
        "merge": [*REVS, Rev("r4", "pass", down=("r2", "r3"))],
        "branch": [*REVS, Rev("r4", "pass", down="r1")],
        "computed id": [*REVS[:2], Rev("r3", "pass", header="revision_suffix = '3'")],
        "branch label": REVS,
        "two bases": [*REVS, Rev("r4", "pass", down=None)],
        "unknown parent": [*REVS, Rev("r4", "pass", down="nope")],
    }
    for name, revs in cases.items():
        project_dir = make_project(tmp_path / name.replace(" ", "_"), revs)
        versions = project_dir / "versions"
        if name == "computed id":
            path = next(versions.glob("*_r3.py"))
            path.write_text(path.read_text().replace("revision = 'r3'", "revision = 'r' + revision_suffix"))
        if name == "branch label":
            path = next(versions.glob("*_r3.py"))
            path.write_text(path.read_text().replace("branch_labels = None", "branch_labels = ('feature',)"))
        assert revisions_from_source(AlembicProject.load(project_dir)) is None, name

    # another version location, set in alembic.ini
    project_dir = make_project(tmp_path / "locations", REVS)
    (project_dir / "alembic.ini").write_text(
        f"[alembic]\nscript_location = {project_dir}\nversion_locations = {project_dir}/versions\n"
    )
    assert revisions_from_source(AlembicProject.load(project_dir / "alembic.ini")) is None
    # a file that does not parse: alembic reports it
    project_dir = make_project(tmp_path / "syntax", REVS)
    next((project_dir / "versions").glob("*_r2.py")).write_text("revision = 'r2'\ndef (:\n")
    assert revisions_from_source(AlembicProject.load(project_dir)) is None


def test_alembic_load_replaces_the_fast_list_where_it_disagrees(tmp_path):
    """A revision module that raises on import reads fine as source: the TUI first shows the list, then
    alembic's error (no database needed: the revisions' state is "unknown")."""
    project_dir = make_project(tmp_path / "broken", [*REVS[:2], Rev("r3", "pass", header="raise RuntimeError('x')")])
    overviews = list(load_overviews(project_settings(project_dir)))
    assert [o.revisions_from for o in overviews] == ["source", "alembic"]
    assert [r.revision for r in overviews[0].revisions] == ["r3", "r2", "r1"]
    assert {r.state for r in overviews[0].revisions} == {"unknown"}
    assert overviews[1].revisions == () and "cannot import" in (overviews[1].project_error or "")

    # the same list from both: alembic's load confirms it and nothing more is shown
    overviews = list(load_overviews(project_settings(make_project(tmp_path / "fine", REVS))))
    assert [o.revisions_from for o in overviews] == ["source"]
    assert [r.description for r in overviews[0].revisions] == ["third", "second", "create things"]
