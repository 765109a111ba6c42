"""The operator's TUI: ``migtui`` / ``migtui tui`` (Migrations view home), ``migtui monitor`` (monitor only),
``migtui demo`` (the shell on the demo servers).

Imported only by those commands: engine modules never import this package.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from migtui.tui.screens.help import HelpScreen
from migtui.tui.screens.migrations import MigrationsScreen
from migtui.tui.screens.monitor import MonitorScreen

DARK, LIGHT = "textual-dark", "textual-light"


class MigtuiApp(App):
    """One app for every front-end mode: ``mode`` is "shell" (home = Migrations) or "monitor"."""

    CSS_PATH = "app.tcss"
    TITLE = "migtui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "Help"),
        Binding("t", "toggle_theme", "Theme"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        settings,
        *,
        mode: str = "shell",
        long_transaction: float = 60.0,
        banner: str | None = None,
        lint: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.start_mode = mode
        self.long_transaction = long_transaction
        self.banner = banner
        self.lint_enabled = lint
        self._parsed_css: dict[tuple, tuple[list, dict]] = {}
        self.theme = DARK

    def on_mount(self) -> None:
        self.screen_change_signal.subscribe(self, self._restyle_stale_screens)
        if self.start_mode == "monitor":
            self.push_screen(self._monitor_screen(standalone=True))
        else:
            self.push_screen(MigrationsScreen(self.settings, lint=self.lint_enabled))
        if self.banner:
            self.notify(self.banner, title="migtui", timeout=8)

    # -- theme switch: restyle what is visible now, the rest when it is shown ----------------------------------
    def refresh_css(self, animate: bool = True) -> None:
        """Textual's ``App.refresh_css`` re-parses every stylesheet source and restyles every screen in the
        stack (the hidden ones twice: once under the app, once more in its own loop), so a theme switch with the
        apply view over the Migrations view lags behind the key (docs/tui.md, Measured). Here the parsed rules
        are kept per (theme variables, sources), so switching back and forth parses once per theme, and only
        the app and the visible screens are restyled now; a hidden screen is restyled when it is shown again
        (``_restyle_stale_screens``, on every screen change)."""
        stylesheet = self.stylesheet
        stylesheet.set_variables(self.get_css_variables())
        key = (tuple(sorted(self.theme_variables.items())), tuple(stylesheet.source.items()))
        cached = self._parsed_css.get(key)
        if cached is None:
            stylesheet.reparse()
            self._parsed_css[key] = (stylesheet.rules, dict(stylesheet.source))
        else:
            rules, source = cached
            stylesheet._rules, stylesheet.source = rules, dict(source)
            stylesheet._rules_map = None
            stylesheet._require_parse = False
        stylesheet.update_nodes([self], animate=animate)
        self._restyle_stale_screens(animate=animate)

    def _restyle_stale_screens(self, _screen: Screen | None = None, animate: bool = False) -> None:
        """Restyle, after a CSS refresh, the active screen and the screens seen through it (under a modal)."""
        for screen in reversed(self.screen_stack):
            if screen._css_update_count != self._css_update_count and screen.is_mounted:
                self.stylesheet.update(screen, animate=animate)
                screen._css_update_count = self._css_update_count
                screen._refresh_layout(self.size)
            if screen.styles.background.a >= 1:  # opaque: nothing below it shows
                break

    def _monitor_screen(self, standalone: bool = False) -> MonitorScreen:
        return MonitorScreen(
            self.settings.dsn,
            self.settings.monitor_interval,
            self.long_transaction,
            standalone=standalone,
        )

    # -- actions (each also in the command palette) -----------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def busy_screen(self) -> Screen | None:
        """A screen whose database work must not be cut off by quitting (a running apply or job)."""
        for screen in self.screen_stack:
            if getattr(screen, "blocks_quit", False):
                return screen
        return None

    async def action_quit(self) -> None:
        busy = self.busy_screen()
        if busy is not None:
            hint = "press c to cancel it first" if hasattr(busy, "action_cancel_run") else "wait for it to finish"
            self.notify(f"a run is in progress: {hint}", severity="warning")
            return
        self.exit()

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def action_monitor(self) -> None:
        if not self.settings.dsn:
            self.notify("no target database: start with --dsn URL", severity="error")
            return
        if not isinstance(self.screen, MonitorScreen):
            self.push_screen(self._monitor_screen())

    def action_reload(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, MigrationsScreen):
                screen.action_reload()

    def action_apply(self, target: str = "head") -> None:
        if not self.settings.dsn:
            self.notify("no target database: start with --dsn URL", severity="error")
            return
        from migtui.tui.screens.apply import start_apply

        start_apply(self, target)

    def action_lint(self) -> None:
        from migtui.tui.screens.lint import LintScreen

        self.push_screen(LintScreen(self.settings))

    def action_job(self, name: str) -> None:
        from migtui.tui.screens.job import JOBS, JobScreen

        self.push_screen(JobScreen(self.settings, JOBS[name]))

    def action_phases(self) -> None:
        if not self.settings.dsn:
            self.notify("no target database: start with --dsn URL", severity="error")
            return
        from migtui.tui.screens.phases import PhasesScreen

        self.push_screen(PhasesScreen(self.settings))

    def action_drift(self) -> None:
        if not self.settings.dsn:
            self.notify("no target database: start with --dsn URL", severity="error")
            return
        from migtui.tui.screens.drift import DriftScreen

        if not isinstance(self.screen, DriftScreen):
            self.push_screen(DriftScreen(self.settings))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Keys and what they do", self.action_help)
        yield SystemCommand("Toggle theme", "Switch between dark and light", self.action_toggle_theme)
        yield SystemCommand("Monitor", "Live locks, sessions and lock tree of the target", self.action_monitor)
        if self.start_mode == "shell":
            yield SystemCommand("Reload migrations", "Re-read revisions and database state", self.action_reload)
            yield SystemCommand(
                "Apply (upgrade to head)", "Apply pending revisions with confirmation", self.action_apply
            )
            if isinstance(screen, MigrationsScreen):
                yield SystemCommand(
                    "Apply up to the selected revision",
                    "Upgrade to the revision under the cursor",
                    screen.action_apply_selected,
                )
            yield SystemCommand("Lint", "Lint the pending revisions", self.action_lint)
            yield SystemCommand(
                "Dry-run on the replica", "Row counts, sizes, estimated durations", lambda: self.action_job("dry-run")
            )
            yield SystemCommand("Drift", "Compare the target's schema with the migrations' schema", self.action_drift)
            yield SystemCommand(
                "Phases", "Zero-downtime revisions: phase, backfill, gates; advance / abort", self.action_phases
            )
            yield SystemCommand(
                "Rollback test",
                "upgrade / downgrade / upgrade each revision on a scratch server",
                lambda: self.action_job("rollback-test"),
            )
        if isinstance(screen, MonitorScreen):
            yield SystemCommand("Pause / resume monitor", "Stop or restart polling", screen.action_toggle_pause)


def run_tui_app(settings, banner: str | None = None, lint: bool = True) -> int:
    MigtuiApp(settings, mode="shell", banner=banner, lint=lint).run()
    return 0


def run_monitor_app(settings, long_transaction: float = 60.0) -> int:
    MigtuiApp(settings, mode="monitor", long_transaction=long_transaction).run()
    return 0
