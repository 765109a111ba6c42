"""The job view (dry-run, rollback-test) and the Lint view follow the terminal's size: the findings table's
form and the lock-holds table's widths are laid out again on resize (the selected row kept), and every
lock-holds column stays on screen at 80x24. A job of the test's own stands in for the engine (what is tested is
the view, not the dry-run); no database."""

from __future__ import annotations

from types import SimpleNamespace

from textual.widgets import DataTable

from migtui.events import Finding, RunFinished, RunStarted
from migtui.tui.app import MigtuiApp
from migtui.tui.screens.detail import DetailScreen
from migtui.tui.screens.job import JobScreen, JobSpec, fit_widths
from migtui.tui.screens.lint import LintScreen
from tests.tui_helpers import sample_project, screen_text, settings_for, wait_for_text, wait_until_settled

FINDINGS = [
    ("0014_orders_archived_at", "holds AccessExclusiveLock on public.orders from line 23 until COMMIT, ONE"),
    ("0015_orders_total_cents_bigint", "holds AccessExclusiveLock on public.orders from line 36 until COMMIT, TWO"),
    ("0016_orders_status_index", "holds ShareLock on public.orders from line 21 until COMMIT, THREE"),
]


def _hold(relation: str, mode: str, blocks: list[str], line: int | None, statement: str, seconds: float) -> dict:
    """One hold in migtui.dryrun.holds.lock_holds' shape."""
    return {
        "relation": relation,
        "mode": mode,
        "blocks": blocks,
        "taken_by": {"index": 3, "line": line, "statement": statement, "sql": f"{statement} {relation} ..."},
        "estimated_seconds": seconds,
        "estimate_complete": True,
        "released_by": {"statement": "COMMIT", "why": "end of the revision's transaction", "line": None},
        "through": 2,
    }


ALL = ["reads", "writes", "ddl"]
# the demo's longest ids and relation names
HOLDS = [
    ("0014_orders_archived_at", _hold("public.orders", "AccessExclusiveLock", ALL, 23, "ALTER TABLE", 2.84)),
    (
        "0015_orders_total_cents_bigint",
        _hold("public.account_order_totals", "AccessExclusiveLock", ALL, 35, "DROP VIEW", 1.79),
    ),
    ("0016_orders_status_index", _hold("public.orders", "ShareLock", ["writes", "ddl"], 21, "CREATE INDEX", 0.41)),
    ("0018_accounts_owner_name_unique", _hold("public.accounts", "ShareUpdateExclusiveLock", ["ddl"], None, "", 0.0)),
]


def _fake_dry_run(settings, sink) -> SimpleNamespace:
    sink(RunStarted(job="dry-run", target="somewhere"))
    for revision, message in FINDINGS:
        sink(Finding("lock-risk", "warning", message, revision=revision, line=23))
    sink(RunFinished(job="dry-run", ok=True, exit_code=0, summary="4 revision(s)"))
    revisions: dict[str, list] = {}
    for revision, hold in HOLDS:
        revisions.setdefault(revision, []).append(hold)
    return SimpleNamespace(
        job="dry-run",
        target="somewhere",
        summary="4 revision(s)",
        exit_code=0,
        revisions=[{"revision": rev, "lock_holds": holds, "path": None} for rev, holds in revisions.items()],
    )


SPEC = JobSpec("dry-run", "Dry-run on the replica", _fake_dry_run)


def _app(tmp_path) -> MigtuiApp:
    return MigtuiApp(settings_for(None, sample_project(tmp_path / "proj")), lint=False)


async def _open(pilot) -> JobScreen:
    app = pilot.app
    await wait_for_text(pilot, "4 revisions")
    app.open_screen(JobScreen.screen_id(SPEC), lambda: JobScreen(app.settings, SPEC))
    await wait_for_text(pilot, "DONE")
    screen = app.screen
    assert isinstance(screen, JobScreen)
    return screen


def _rows(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


async def test_the_findings_table_takes_the_form_of_the_size_it_is_resized_to_and_keeps_the_selected_row(tmp_path):
    async with _app(tmp_path).run_test(size=(200, 50)) as pilot:
        screen = await _open(pilot)
        table = screen.query_one("#job-findings", DataTable)
        table.focus()
        await pilot.press("down")
        assert table.cursor_row == 1
        text = await wait_until_settled(pilot)
        assert _rows(text, "severity  rule") and _rows(text, "warning   lock-risk  0015_orders_total_cents_bigint")
        await pilot.resize_terminal(80, 24)
        # compact: a glyph, the id cut in the middle, the message from the 30th column on
        text = await wait_for_text(pilot, "│ !  0015_orders…nts_bigint  holds AccessExclusiveLock on public.orders")
        assert not _rows(text, "│ warning   lock-risk") and table.cursor_row == 1
        await pilot.resize_terminal(200, 50)
        text = await wait_for_text(pilot, "warning   lock-risk  0015_orders_total_cents_bigint  holds")
        assert "…" not in "".join(_rows(text, "lock-risk")) and table.cursor_row == 1
        await pilot.press("enter")  # the row kept is the row Enter shows
        text = await wait_for_text(pilot, "COMMIT, TWO")
        assert isinstance(pilot.app.screen, DetailScreen)


async def _holds_on_screen(pilot, expected: list[tuple[str, str, str, str]]) -> str:
    """Every hold's row on screen with its revision, mode, relation and estimate (as cut at this size), and no
    horizontal scrollbar under the holds table."""
    text = await wait_until_settled(pilot)
    screen = pilot.app.screen
    table = screen.query_one("#job-holds", DataTable)
    assert not table.show_horizontal_scrollbar, table.virtual_size
    assert table.virtual_size.width <= table.scrollable_content_region.width, (
        table.virtual_size,
        table.scrollable_content_region,
    )
    for revision, mode, relation, estimate in expected:
        rows = [line for line in _rows(text, f"│ {revision} ") if mode in line and relation in line]
        assert len(rows) == 1 and f" {estimate} " in rows[0], (revision, mode, relation, estimate, text)
    return text


async def test_every_lock_holds_column_is_on_screen_at_80x24_and_200x50_and_enter_shows_a_hold_whole(tmp_path):
    async with _app(tmp_path).run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot)
        at_80 = [
            ("0014…d_at", "AccessExclusive ", " orders ", "~2.8s"),
            ("0015…gint", "AccessExclusive ", " accou…otals ", "~1.8s"),
            ("0016…ndex", "Share ", " orders ", "~0.4s"),
            ("0018…ique", "ShareUpdateExc… ", " accounts ", "brief"),
        ]
        # the table's height (30% of the screen) shows three rows at a time: the fourth after scrolling to it
        await _holds_on_screen(pilot, at_80[:3])
        table = screen.query_one("#job-holds", DataTable)
        table.focus()
        await pilot.press("down", "down", "down")
        assert table.cursor_row == 3
        await _holds_on_screen(pilot, at_80[3:])
        await pilot.press("up", "up")
        # what the row cuts is in the hold's detail
        await pilot.press("enter")
        text = await wait_for_text(pilot, "AccessExclusiveLock on public.account_order_totals")
        assert isinstance(pilot.app.screen, DetailScreen) and "0015_orders_total_cents_bigint" in text
        assert "DROP VIEW at line 35, held until COMMIT" in text and "~1.8s" in text
        await pilot.press("escape")
        await pilot.resize_terminal(200, 50)
        text = await _holds_on_screen(
            pilot,
            [
                ("0014_orders_archived_at", "AccessExclusiveLock ", " public.orders ", "~2.8s"),
                ("0015_orders_total_cents_bigint", "AccessExclusiveLock ", " public.account_order_totals ", "~1.8s"),
                ("0016_orders_status_index", "ShareLock ", " public.orders ", "~0.4s"),
                ("0018_accounts_owner_name_unique", "ShareUpdateExclusiveLock ", " public.accounts ", "brief"),
            ],
        )
        row = _rows(text, "│ 0015_orders_total_cents_bigint ")[0]
        assert "  reads, writes, ddl  line 35 DROP VIEW  " in row and " COMMIT " in row and table.cursor_row == 1
        assert "…" not in "".join(_rows(text, "│ 00"))
        await pilot.resize_terminal(80, 24)
        await _holds_on_screen(pilot, at_80[1:2])
        assert table.cursor_row == 1
        assert screen_text(pilot.app).count("╭─ Lock holds") == 1


def test_fit_widths_cuts_the_widest_columns_first_never_below_their_minimums():
    assert fit_widths([10, 10, 3], [4, 4, 3], 40, (0, 1, 2)) == [10, 10, 3]
    assert fit_widths([20, 10, 3], [4, 4, 3], 25, (0, 1, 2)) == [12, 10, 3]
    assert fit_widths([20, 10, 3], [4, 4, 3], 18, (1, 0, 2)) == [7, 8, 3]  # 7 + 7 + 3, the spare cell to 1
    assert fit_widths([20, 10, 3], [4, 4, 3], 5, (0, 1, 2)) == [4, 4, 3]


async def test_the_lint_view_keeps_the_selected_finding_across_a_resize(tmp_path):
    """The Lint view re-lays its findings when the screen crosses 120 columns: the selected one, and the detail
    pane showing it, stay."""
    app = MigtuiApp(settings_for(None, sample_project(tmp_path / "proj", risky=True)), lint=False)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for_text(pilot, "5 revisions")
        await pilot.press("l")
        await wait_for_text(pilot, "create-index-non-concurrently", timeout=20)
        screen = app.screen
        assert isinstance(screen, LintScreen) and len(screen.findings) >= 2
        table = screen.query_one("#findings", DataTable)
        table.focus()
        last = len(screen.findings) - 1
        await pilot.press(*["down"] * last)
        assert table.cursor_row == last
        rev, finding = screen.findings[last]
        shown = f"{finding['severity']} [{finding['rule']}] {rev} line"
        await wait_for_text(pilot, shown)
        await pilot.resize_terminal(80, 24)
        await wait_until_settled(pilot)
        assert table.cursor_row == last and "revision" in [str(c.label) for c in table.columns.values()]
        await wait_for_text(pilot, shown)
