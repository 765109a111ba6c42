#!/usr/bin/env bash
# Validate database migrations as CI runs it: lint every revision (and, when a database is configured,
# read its catalog and lint only pending revisions), then, when a database is configured, check it for
# schema drift against the schema its recorded migrations produce.
#
#   scripts/db-validate.sh                 # text output
#   FORMAT=github scripts/db-validate.sh   # GitHub workflow annotations (default when GITHUB_ACTIONS=true)
#   SARIF=migtui.sarif scripts/db-validate.sh   # also write SARIF for code scanning
#
# Environment: MIGTUI_DSN (optional, catalog facts + pending revisions), MIGTUI_MIGRATIONS,
# MIGTUI_PG_VERSION, FAIL_ON (error|warning|info, default error), MIGTUI (the migtui command),
# DRIFT_ALERT_WEBHOOK (optional: POST the drift report there when drift is found).
# Exit status: 0 clean, 1 findings, 2 usage/input error, 6 database unreachable.
set -euo pipefail

MIGTUI=${MIGTUI:-migtui}
if [[ -z "${FORMAT:-}" ]]; then
    if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then FORMAT=github; else FORMAT=text; fi
fi
FAIL_ON=${FAIL_ON:-error}

status=0
if [[ -n "${SARIF:-}" ]]; then
    $MIGTUI lint --format sarif --fail-on "$FAIL_ON" "$@" >"$SARIF" || status=$?
    if [[ $status -ge 2 ]]; then exit "$status"; fi
fi
lint_status=0
$MIGTUI lint --format "$FORMAT" --fail-on "$FAIL_ON" "$@" || lint_status=$?
if [[ $lint_status -ne 0 ]]; then status=$lint_status; fi

# drift: when a database is configured
if [[ -n "${MIGTUI_DSN:-${MIGTUI_DATABASE_URL:-}}" ]]; then  # the old name is read for one release too
    drift_status=0
    $MIGTUI drift --format "$FORMAT" ${DRIFT_ALERT_WEBHOOK:+--alert-webhook "$DRIFT_ALERT_WEBHOOK"} || drift_status=$?
    if [[ $drift_status -ne 0 && ( $status -eq 0 || $drift_status -ge 2 ) ]]; then status=$drift_status; fi
fi
exit "$status"
