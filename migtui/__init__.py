"""migtui: a PostgreSQL migration operator's tool (engine, headless CLI and Textual TUI)."""

__version__ = "0.1.0"
