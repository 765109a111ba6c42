"""migtui: a PostgreSQL migration operator's tool (engine, headless CLI and Textual TUI)."""

from migtui import lint_core

__version__ = "0.1.0"

lint_core.install()  # before any compiled module is imported: the compiled lint core or its Python source
