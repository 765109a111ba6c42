"""The apply confirmation when sessions are in the plan's way (holding or waiting for a lock on a table the plan
locks, or in a long transaction): the DDL would queue behind them, and every reader and writer of the table
behind the DDL. The operator chooses:

- **wait** (``w``): the sessions are read again every ``recheck_seconds`` with a visible countdown, until none
  is left; then the dialog says so and asks as it would have without them (``y``, or the typed name when lint
  found errors). Nothing is applied unasked;
- **terminate** (``k`` on the selected session): its facts read again and the pid typed (as in the Monitor);
  the list is read again right after;
- **proceed**: type the database's name.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from migtui.errors import MigtuiError
from migtui.pg.monitor import age_words, one_line
from migtui.pg.sessions import SessionFacts
from migtui.tui.screens.apply import ConfirmScreen


class PreflightScreen(ConfirmScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        *ConfirmScreen.BINDINGS,
        Binding("w", "wait", "Wait until clear"),
        Binding("k", "terminate", "Terminate selected"),
    ]

    class Checked(Message):
        def __init__(self, sessions: list[SessionFacts] | None, error: str | None) -> None:
            super().__init__()
            self.sessions = sessions
            self.error = error

    compact = True  # plan, lint reasons, sessions, input and buttons in 24 rows

    def __init__(
        self,
        title: str,
        body: str,
        typed: str,
        *,
        reasons: list[str],
        holds: list[tuple[str, bool]] | None = None,
        risky: bool,
        sessions: list[SessionFacts],
        dsn: str,
        relations: set[str],
        long_seconds: float,
        recheck_seconds: float,
    ) -> None:
        super().__init__(title, body, typed, reasons=reasons, holds=holds)
        self.risky = risky  # lint asked for the typed name too: it stays when the sessions are gone
        self.sessions = sessions
        self.dsn = dsn
        self.relations = relations
        self.long_seconds = long_seconds
        self.recheck_seconds = recheck_seconds
        self.waiting_since: float | None = None
        self.next_check: float | None = None
        self.checks = 0
        self.check_error: str | None = None
        self._checking = False

    def compose_extra(self) -> ComposeResult:
        yield Static("", id="preflight-status")
        yield OptionList(id="preflight-sessions")

    def compose_buttons(self) -> ComposeResult:
        yield Button("Wait (w)", id="preflight-wait", compact=True)
        yield Button("Terminate (k)", variant="error", id="preflight-terminate", compact=True)

    def on_mount(self) -> None:
        # (ConfirmScreen.on_mount runs too: Textual calls the handler of every class in the MRO)
        if not self._alive():  # closed before it mounted (a palette command, escape): nothing to show
            return
        self._show()
        self.set_interval(0.25, self._tick)

    def _alive(self) -> bool:
        """Mounted and not being taken down (a dialog closed right after it opened loses its widgets one by
        one: every one this screen updates must still be there)."""
        return self.is_attached and all(
            self.query(selector)
            for selector in ("#preflight-sessions", "#preflight-status", "#preflight-terminate", "#preflight-wait")
        )

    # -- what is on screen -------------------------------------------------------------------------------
    def _show(self) -> None:
        if not self._alive():
            return
        listing = self.query_one("#preflight-sessions", OptionList)
        selected = self.selected_pid()
        listing.clear_options()
        for s in self.sessions:
            # the pre-flight's sentence, wrapped: pid, application, state and its age, the transaction's age, and
            # the locks on the plan's tables (none: only its transaction is long)
            what = "; ".join(s.locks) if s.locks else "long transaction"
            listing.add_option(Option(Text(f"{s.describe()}: {what}"), id=str(s.pid)))
        pids = [str(s.pid) for s in self.sessions]
        if pids:
            listing.highlighted = pids.index(str(selected)) if str(selected) in pids else 0
        listing.display = bool(self.sessions)
        self.query_one("#preflight-terminate", Button).display = bool(self.sessions)
        self.query_one("#preflight-wait", Button).display = bool(self.sessions)
        self._render_status()

    def _render_status(self) -> None:
        if not self._alive():
            return
        status = Text()
        if self.sessions:
            status.append(f"{len(self.sessions)} session(s) in the way", style="bold red")
            status.append(": the DDL would queue behind them (and their tables' queries behind it)\n")
            if self.waiting_since is not None and self.next_check is not None:
                left = max(0.0, self.next_check - time.monotonic())
                status.append(
                    f"waiting: checked {self.checks} time(s) over {age_words(time.monotonic() - self.waiting_since)}"
                    f", next check in {left:.0f} s",
                    style="bold yellow",
                )
            else:
                status.append("w wait until gone · k terminate selected (tab: list) · or type the name")
        else:
            status.append("✓ nobody in the way now", style="bold green")
            if self.checks:
                status.append(f" (checked {self.checks} time(s))")
        if self.check_error:
            status.append(f"\ncheck failed: {self.check_error}", style="bold red")
        self.query_one("#preflight-status", Static).update(status)

    def selected_pid(self) -> int | None:
        found = self.query("#preflight-sessions")
        if not found:
            return None
        listing = found.first(OptionList)
        if listing.highlighted is None or not listing.option_count:
            return None
        option_id = listing.get_option_at_index(listing.highlighted).id
        return int(option_id) if option_id else None

    # -- wait: re-check until clear ------------------------------------------------------------------------
    def action_wait(self) -> None:
        if not self.sessions or self.waiting_since is not None:
            return
        self.waiting_since = time.monotonic()
        self.next_check = self.waiting_since + self.recheck_seconds
        self._render_status()

    def _tick(self) -> None:
        if not self._alive():
            return
        if self.waiting_since is not None and self.next_check is not None and time.monotonic() >= self.next_check:
            self.recheck()
        elif self.waiting_since is not None:
            self._render_status()

    def recheck(self) -> None:
        if self._checking:
            return
        self._checking = True
        self._check()

    @work(thread=True, exclusive=True, group="preflight", exit_on_error=False)
    def _check(self) -> None:
        from migtui.pg.sessions import preflight

        try:
            self.post_message(self.Checked(preflight(self.dsn, self.relations, self.long_seconds), None))
        except MigtuiError as exc:
            self.post_message(self.Checked(None, exc.message))
        except Exception as exc:  # a check must not take the dialog down
            self.post_message(self.Checked(None, f"{exc.__class__.__name__}: {one_line(str(exc), 100)}"))
        finally:
            self._checking = False

    def on_preflight_screen_checked(self, message: Checked) -> None:
        if not self._alive():  # answered (or closed) while the check ran
            return
        self.checks += 1
        self.check_error = message.error
        if message.sessions is not None:
            self.sessions = message.sessions
        if self.waiting_since is not None:
            self.next_check = time.monotonic() + self.recheck_seconds
        if not self.sessions:
            self.waiting_since = self.next_check = None
            if not self.risky and self.typed:
                self.drop_typed()
            self.app.bell()
        self._show()
        if not self.sessions:
            # the list is gone: typing goes to the name again (a key meant for the input must not reach the
            # app's bindings), else the confirm button takes y / enter
            target = "#confirm-input" if self.typed else "#confirm-yes"
            for widget in self.query(target):
                widget.focus()

    # -- terminate the selected session -------------------------------------------------------------------
    def action_terminate(self) -> None:
        pid = self.selected_pid()
        if pid is None:
            self.notify("select a session in the list first (tab moves there)", severity="warning")
            return
        from migtui.tui.session_actions import act_on_pid

        act_on_pid(self, self.dsn, pid, "terminate", after=self.recheck)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        # confirm / cancel: ConfirmScreen.on_button_pressed (Textual calls every class's handler in the MRO)
        if event.button.id == "preflight-wait":
            self.action_wait()
        elif event.button.id == "preflight-terminate":
            self.action_terminate()
