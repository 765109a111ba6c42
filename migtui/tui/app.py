"""The operator's TUI: ``migtui`` / ``migtui tui`` (Migrations view home), ``migtui monitor`` (monitor only),
``migtui demo`` (the shell on the demo servers).

Imported only by those commands: engine modules never import this package.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, Screen

# screens are imported where they are opened: each mode's first screen imports only its own (docs/tui.md,
# "Start-up"); isinstance checks go through _is_screen, which imports nothing
if TYPE_CHECKING:
    from migtui.tui.screens.monitor import MonitorScreen

DARK, LIGHT = "textual-dark", "textual-light"

# the first screen is up by then (docs/tui.md, Start-up): the cyclic collector, paused for the start-up, resumes
START_UP_SECONDS = 1.0
# how long, after a crash, the app waits for a cancelled migration to roll back before it exits anyway
CRASH_ROLLBACK_WAIT_SECONDS = 60.0
# how long the atexit clean-up may take when a stalled run ends the process
CLEANUP_SECONDS = 5.0


class MigtuiApp(App):
    """One app for every front-end mode: ``mode`` is "shell" (home = Migrations) or "monitor"."""

    CSS_PATH = "app.tcss"
    TITLE = "migtui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "Help"),
        Binding("t", "toggle_theme", "Theme"),
        Binding("q", "quit", "Quit"),
        # as the help says: Ctrl+C quits (refused, with the reason, while a run is active)
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
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
        self._screens_opened = 0
        self.quit_when_run_ends = False  # q / Ctrl+C confirmed during a run: quit when it has ended
        # the last dry-run's lock holds (migtui.tui.apply_holds.DryRunHolds): the apply confirmation's estimates
        self.dry_run_holds = None
        self.crash_line: str | None = None  # set by an unexpected exception: the one line printed at exit
        # runs stopped by a crash, waited for before exit: (ended, what happened, what to say if it never ends)
        self.crash_runs: list[tuple[threading.Event, str, str]] = []
        self.crash_report: str | None = None  # crash_line and what became of crash_runs (run_async)
        # a run whose server stopped answering (the apply view's STALLED): (exit code, one line); quitting ends
        # the process with it, without waiting for the run's blocked thread
        self.stall: tuple[int, str] | None = None
        self.process_exit: Callable[[int], object] = os._exit

    def on_mount(self) -> None:
        self.screen_change_signal.subscribe(self, self._restyle_stale_screens)
        if not gc.isenabled():  # paused for the start-up by the command line (migtui.cli.main)
            self.set_timer(START_UP_SECONDS, self._collect_from_now_on)
        if self.start_mode == "monitor":
            first: Screen = self._monitor_screen(standalone=True)
        else:
            from migtui.tui.screens.migrations import MigrationsScreen

            first = MigrationsScreen(self.settings, lint=self.lint_enabled)
        # styled as it mounts, with the stylesheet as it is now: not stale (_restyle_stale_screens would style
        # it a second time, a tenth of the start-up's CPU)
        first._css_update_count = self._css_update_count
        self.push_screen(first)
        if self.banner:
            self.notify(self.banner, title="migtui", timeout=8)

    def _collect_from_now_on(self) -> None:
        # what start-up built stays out of every collection (the permanent generation), the rest is collected
        gc.freeze()
        gc.enable()

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
        from migtui.tui.screens.monitor import MonitorScreen

        return MonitorScreen(
            self.settings.dsn,
            self.settings.monitor_interval,
            self.long_transaction,
            standalone=standalone,
        )

    # -- screens are singletons: opening one that is open shows it -----------------------------------------
    def open_screen(self, screen_id: str, make: Callable[[], Screen], *, replace_idle: bool = False) -> bool:
        """Show the screen with ``screen_id``, creating it with ``make()`` when none is open.

        A screen already in the stack is brought back by closing the screens above it, unless one of those is
        running (an apply, any job: its escape refuses too; the operator is told and nothing changes). With
        ``replace_idle`` an open one that is not running (a finished apply) is closed and a fresh one started.
        While a dialog is open nothing else opens: its answer would be lost. Returns whether ``make()`` was
        pushed."""
        if isinstance(self.screen, ModalScreen):
            self.notify("answer the open dialog first (esc closes it)", severity="warning")
            return False
        stack = self.screen_stack
        existing = next((sc for sc in stack if screen_key(sc) == screen_id), None)
        if existing is not None:
            above = stack[stack.index(existing) + 1 :]
            busy = next((sc for sc in above if _running(sc)), None)
            if busy is not None:
                self.notify(f"{screen_title(busy)} is running over it: wait or cancel it first", severity="warning")
                return False
            for _ in above:
                self.pop_screen()
            if not replace_idle or _running(existing):
                if not above:
                    self.notify(f"{screen_title(existing)} is already open")
                return False
            self.pop_screen()
        screen = make()
        # a screen just closed is removed from the DOM a moment later: a fresh one must not reuse its id
        self._screens_opened += 1
        screen.id = f"{screen_id}-{self._screens_opened}"
        self.push_screen(screen)
        return True

    def busy_screen(self) -> Screen | None:
        """A screen whose database work must not be cut off by quitting (a running apply or job)."""
        for screen in self.screen_stack:
            if getattr(screen, "blocks_quit", False):
                return screen
        return None

    def refuse_if_busy(self, what: str) -> bool:
        """True (and the operator told why) when a run that writes is active: one write at a time."""
        busy = self.busy_screen()
        if busy is None:
            return False
        hint = "press c there to cancel it" if hasattr(busy, "action_cancel_run") else "wait for it to finish"
        if self.stall is not None:
            hint = f"its server stopped answering: q quits with exit {self.stall[0]}"
        self.notify(f"cannot {what}: {screen_title(busy)} is running ({hint})", severity="warning")
        return True

    # -- actions (each also in the command palette) -----------------------------------------------------
    def action_help(self) -> None:
        if not _is_screen(self.screen, "help", "HelpScreen"):
            from migtui.tui.screens.help import HelpScreen

            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """``q`` / Ctrl+C. While an apply runs: a confirmation, then the run is cancelled (its revision rolls
        back) and the app quits once it has ended. A running phase step cannot be cut: the operator waits."""
        if self.stall is not None:  # nothing to cancel: the server does not answer
            self.exit(return_code=self.stall[0])
            return
        busy = self.busy_screen()
        if busy is None:
            self.exit()
            return
        if not hasattr(busy, "action_cancel_run"):
            self.notify("a run is in progress: wait for it to finish", severity="warning")
            return
        if self.quit_when_run_ends:
            self.notify("cancelling the run: migtui quits when its revision has rolled back", severity="warning")
            return
        if isinstance(self.screen, ModalScreen) and getattr(self.screen, "quit_confirmation", False):
            return  # already asking

        def answered(yes: bool | None) -> None:
            if not yes or self.busy_screen() is not busy:
                return
            self.quit_when_run_ends = True
            if getattr(busy, "state", "") == "running":
                busy.action_cancel_run()

        from migtui.tui.screens.apply import ConfirmScreen

        dialog = ConfirmScreen(
            "Quit while a migration runs?",
            "Quitting cancels the run first: the running revision's transaction rolls back, the version table "
            "stays at the last committed revision and the deploy lock is released. migtui quits once that is done.",
            verb="Cancel run and quit",
        )
        dialog.quit_confirmation = True
        self.push_screen(dialog, answered)

    def run_stalled(self, exit_code: int, line: str) -> None:
        """An apply's server stopped answering: ``q`` now quits at once with ``exit_code``; if the operator had
        asked to quit while it ran, quit now (the cancel can never be answered)."""
        self.stall = (exit_code, line)
        if self.quit_when_run_ends:
            self.exit(return_code=exit_code)

    def run_ended(self) -> None:
        """An apply has ended (done, failed, cancelled): quit if the operator asked to while it ran."""
        self.stall = None  # the server came back and the run ended: its outcome is on screen
        if self.quit_when_run_ends and self.busy_screen() is None:
            self.exit()

    def action_cancel_run(self) -> None:
        busy = self.busy_screen()
        if busy is None or not hasattr(busy, "action_cancel_run"):
            self.notify("nothing is running that can be cancelled", severity="warning")
            return
        busy.action_cancel_run()

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def action_monitor(self) -> None:
        if not self.settings.dsn:
            self.notify("no target database: start with --dsn URL", severity="error")
            return
        self.open_screen("monitor-screen", self._monitor_screen)

    def action_reload(self) -> None:
        for screen in self.screen_stack:
            if _is_screen(screen, "migrations", "MigrationsScreen"):
                screen.action_reload()

    def action_apply(self, target: str = "head") -> None:
        if not self.settings.dsn:
            self.notify("no target database: start with --dsn URL", severity="error")
            return
        from migtui.tui.screens.apply import ApplyScreen

        running = self.busy_screen()
        if isinstance(running, ApplyScreen):
            self.open_screen(screen_key(running), lambda: running)  # show the run in progress
            return
        if self.refuse_if_busy("apply"):
            return
        self.open_screen("apply-screen", lambda: ApplyScreen(self.settings, target), replace_idle=True)

    def action_lint(self) -> None:
        from migtui.tui.screens.lint import LintScreen

        self.open_screen("lint-screen", lambda: LintScreen(self.settings))

    def action_job(self, name: str) -> None:
        from migtui.tui.screens.job import JOBS, JobScreen

        spec = JOBS[name]
        self.open_screen(JobScreen.screen_id(spec), lambda: JobScreen(self.settings, spec))

    def action_phases(self) -> None:
        if not self.settings.dsn:
            self.notify("no target database: start with --dsn URL", severity="error")
            return
        from migtui.tui.screens.phases import PhasesScreen

        self.open_screen("phases-screen", lambda: PhasesScreen(self.settings))

    def action_drift(self) -> None:
        if not self.settings.dsn:
            self.notify("no target database: start with --dsn URL", severity="error")
            return
        from migtui.tui.screens.drift import DriftScreen

        self.open_screen("drift-screen", lambda: DriftScreen(self.settings))

    async def run_async(self, **kwargs) -> object:
        """Textual's, then the end of a run that cannot end by itself. The terminal is restored by now. After a
        crash, the cancelled runs get up to CRASH_ROLLBACK_WAIT_SECONDS to roll back (``crash_report``: the line
        ``run_app`` prints). A run whose server stopped answering (a stall, or a cancel never answered) keeps its
        thread blocked, and returning would not end the process: ``asyncio.run`` (and the interpreter's exit)
        join the worker threads. Then the one line is printed here and the process ends with its code."""
        result = await super().run_async(**kwargs)
        line: str | None = None
        code = int(self.return_code or 0)
        if self.crash_line is not None:
            tail, stuck = "", False
            for ended, outcome, still_running in self.crash_runs:
                finished = ended.wait(CRASH_ROLLBACK_WAIT_SECONDS)
                stuck = stuck or not finished
                tail += f"; {outcome}" if finished else f"; {still_running} after {CRASH_ROLLBACK_WAIT_SECONDS:g}s"
            self.crash_report = f"{self.crash_line}{tail}"
            if self.stall is not None:
                self.crash_report += f"; {self.stall[1]}"
            if stuck or self.stall is not None:
                line, code = self.crash_report, code or 70
        elif self.stall is not None:
            code, line = self.stall[0], f"error: {self.stall[1]}"
        if line is not None:
            print(f"migtui: {line}", file=sys.stderr, flush=True)
            sys.stdout.flush()
            # the clean-up an ordinary exit runs (throwaway servers of the TUI's jobs), bounded as liveness's
            cleanup = threading.Thread(target=atexit._run_exitfuncs, name="migtui-cleanup", daemon=True)
            cleanup.start()
            cleanup.join(CLEANUP_SECONDS)
            self.process_exit(code)
        return result

    # -- an unexpected exception: roll back what runs, restore the terminal, one line, exit 70 -------------
    def _handle_exception(self, error: Exception) -> None:
        """Textual's default prints a traceback and exits 1 while a migration thread may still run on,
        unwatched. Here every running apply is cancelled (its revision rolls back; ``run_app`` waits for that
        after the terminal is restored), and the app exits with ``ExitCode.INTERNAL`` and one line."""
        from migtui.errors import ExitCode
        from migtui.redact import error_line

        if self.crash_line is None:
            name, detail = error.__class__.__name__, error_line(error)
            self.crash_line = f"internal error in the TUI: {name}" + (f": {detail}" if detail != name else "")
            for screen in self.screen_stack:
                cancel = getattr(screen, "cancel_for_crash", None)
                stopping = cancel() if cancel is not None else None
                if stopping is not None:
                    self.crash_runs.append(stopping)
        if self._exception is None:  # Pilot re-raises it in tests
            self._exception = error
            self._exception_event.set()
        self.exit(return_code=int(ExitCode.INTERNAL))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Keys and what they do", self.action_help)
        yield SystemCommand("Toggle theme", "Switch between dark and light", self.action_toggle_theme)
        yield SystemCommand("Monitor", "Live locks, sessions and lock tree of the target", self.action_monitor)
        if self.start_mode == "shell":
            yield SystemCommand("Reload migrations", "Re-read revisions and database state", self.action_reload)
            busy = self.busy_screen()
            if busy is not None and hasattr(busy, "action_cancel_run"):
                yield SystemCommand(
                    "Cancel the run", "Cancel the running statement; the revision rolls back", self.action_cancel_run
                )
            yield SystemCommand(
                "Apply (upgrade to head)", "Apply pending revisions with confirmation", self.action_apply
            )
            if _is_screen(screen, "migrations", "MigrationsScreen"):
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
        if _is_screen(screen, "monitor", "MonitorScreen"):
            yield SystemCommand("Pause / resume monitor", "Stop or restart polling", screen.action_toggle_pause)


def _is_screen(screen: Screen, module: str, name: str) -> bool:
    """``isinstance(screen, migtui.tui.screens.<module>.<name>)`` without importing that module: no screen
    is one of its class before it is imported."""
    loaded = sys.modules.get(f"migtui.tui.screens.{module}")
    return loaded is not None and isinstance(screen, getattr(loaded, name))


def screen_key(screen: Screen) -> str:
    """What makes a screen a singleton: the key ``open_screen`` gave it, else its id."""
    return getattr(screen, "screen_key", None) or screen.id or ""


def _running(screen: Screen) -> bool:
    return bool(getattr(screen, "blocks_quit", False) or getattr(screen, "running", False))


def screen_title(screen: Screen) -> str:
    """How the operator names a screen in a message ("Apply", "Phase advance 0018_x", ...)."""
    title = getattr(screen, "display_title", None)
    if title:
        return str(title)
    return (screen_key(screen) or screen.__class__.__name__).removesuffix("-screen").replace("-", " ").capitalize()


def run_app(app: MigtuiApp) -> int:
    """Run ``app``; after a crash (cancelled runs waited for in ``MigtuiApp.run_async``), one line: exit 70."""
    from migtui.project import report_on_stdout

    report_on_stdout(False)  # the app owns the terminal (``migtui demo`` too): nothing to keep stdout for
    app.run()
    if app.crash_line is None:
        return app.return_code or 0
    print(f"migtui: {app.crash_report or app.crash_line}", file=sys.stderr)
    return app.return_code or 70


def run_tui_app(settings, banner: str | None = None, lint: bool = True) -> int:
    return run_app(MigtuiApp(settings, mode="shell", banner=banner, lint=lint))


def run_monitor_app(settings, long_transaction: float = 60.0) -> int:
    return run_app(MigtuiApp(settings, mode="monitor", long_transaction=long_transaction))
