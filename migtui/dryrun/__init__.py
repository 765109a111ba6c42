"""The parts of the dry-run job (``migtui.dry_run``): target checks, read-only session, shadow execution,
per-statement analysis, will-it-fail checks, the static model, the report and its renderers."""
