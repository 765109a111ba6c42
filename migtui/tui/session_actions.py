"""Cancel the query of / terminate the session selected in a monitor panel (Monitor and Apply views, keys
``C`` / ``K`` as in pg_activity): the session's facts are read again, a confirmation names its pid,
application, state and age (terminate is typed), and the result or the server's refusal is shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from migtui.errors import MigtuiError
from migtui.pg.monitor import one_line

if TYPE_CHECKING:
    from textual.screen import Screen

    from migtui.pg.sessions import SessionFacts
    from migtui.tui.widgets.monitor_panel import MonitorPanel

VERBS = {"cancel": "Cancel query", "terminate": "Terminate"}


def act_on_selected(host: Screen, panel: MonitorPanel, action: str) -> None:
    pid = panel.selected_pid()
    if pid is None:
        host.notify("select a session first (Sessions, Locks or Long tx tab)", severity="warning")
        return
    act_on_pid(host, panel.dsn, pid, action, after=panel.poll)


def act_on_pid(host: Screen, dsn: str, pid: int, action: str, after: Callable[[], None] | None = None) -> None:
    """Read ``pid``'s facts again, confirm (terminate: the pid typed), signal it; ``after`` runs on the UI thread
    once the signal was sent or refused."""
    app = host.app

    def read() -> None:  # worker thread
        from migtui.pg.sessions import session_facts

        try:
            facts = session_facts(dsn, pid)
        except MigtuiError as exc:
            app.call_from_thread(host.notify, exc.message, severity="error")
            return
        app.call_from_thread(_confirm, host, dsn, action, facts, after)

    host.run_worker(read, thread=True, exit_on_error=False, group="session-action")


def _confirm(host: Screen, dsn: str, action: str, facts: SessionFacts, after: Callable[[], None] | None = None) -> None:
    from migtui.tui.screens.apply import ConfirmScreen

    body = facts.describe() + f"\nuser {facts.user or '-'}\nquery: {one_line(facts.query, 200)}"
    if action == "cancel":
        body += "\n\ncancels its running statement; an open transaction becomes aborted"
        reasons: list[str] = []
        typed = None
    else:
        reasons = ["terminate ends the session: its open transaction is rolled back"]
        typed = str(facts.pid)

    def go(yes: bool | None) -> None:
        if not yes:
            return
        app = host.app

        def signal() -> None:  # worker thread
            from migtui.pg.sessions import signal_session

            try:
                result = signal_session(dsn, facts, action)
            except MigtuiError as exc:
                app.call_from_thread(host.notify, f"{VERBS[action]} pid {facts.pid}: {exc.message}", severity="error")
            else:
                app.call_from_thread(host.notify, result)
            if after is not None:
                app.call_from_thread(after)

        host.run_worker(signal, thread=True, exit_on_error=False, group="session-action")

    host.app.push_screen(
        ConfirmScreen(
            f"{VERBS[action]} pid {facts.pid}?", body, typed=typed, verb=VERBS[action].split()[0], reasons=reasons
        ),
        go,
    )
