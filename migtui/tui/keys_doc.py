"""The keys table of docs/tui.md, generated from the app's and the screens' ``BINDINGS``.

``scripts/gen-tui-docs.py`` writes it between ``<!-- keys -->`` and ``<!-- /keys -->``; a test fails when the
page and the bindings disagree.
"""

from __future__ import annotations

from textual.binding import Binding

# (view as the docs name it, "module:class" under migtui.tui), in the order the page lists them
VIEWS: tuple[tuple[str, str], ...] = (
    ("everywhere", "app:MigtuiApp"),
    ("Migrations", "screens.migrations:MigrationsScreen"),
    ("Lint", "screens.lint:LintScreen"),
    ("Dry-run / Rollback test", "screens.job:JobScreen"),
    ("Apply", "screens.apply:ApplyScreen"),
    ("confirmation dialog", "screens.apply:ConfirmScreen"),
    ("pre-flight dialog", "screens.preflight:PreflightScreen"),
    ("detail (a finding or statement whole)", "screens.detail:DetailScreen"),
    ("Monitor", "screens.monitor:MonitorScreen"),
    ("Phases", "screens.phases:PhasesScreen"),
    ("Drift", "screens.drift:DriftScreen"),
    ("Help", "screens.help:HelpScreen"),
)

KEY_NAMES = {
    "question_mark": "?",
    "escape": "esc",
    "ctrl+c": "ctrl+c",
    "ctrl+p": "ctrl+p",
    "enter": "enter",
}


def key_label(key: str) -> str:
    return " ".join(f"`{KEY_NAMES.get(k.strip(), k.strip())}`" for k in key.split(","))


def keys_markdown() -> str:
    """One row per binding: the view, its keys and what the footer (or the help) calls it."""
    import importlib

    lines = ["| view | key | action |", "|---|---|---|"]
    for view, where in VIEWS:
        module, name = where.split(":")
        cls = getattr(importlib.import_module(f"migtui.tui.{module}"), name)
        for binding in cls.BINDINGS:
            if not isinstance(binding, Binding):
                binding = Binding(*binding)
            shown = "" if binding.show else " (not in the footer)"
            lines.append(f"| {view} | {key_label(binding.key)} | {binding.description or binding.action}{shown} |")
    lines.append("| everywhere | `ctrl+p` | command palette: every action by name |")
    return "\n".join(lines) + "\n"
