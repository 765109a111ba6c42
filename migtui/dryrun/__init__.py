"""The parts of the dry-run job (``migtui.dryrun.job``): target checks, read-only session, shadow execution,
per-statement analysis, will-it-fail checks, the static model, the report and its renderers."""
