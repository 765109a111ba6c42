#!/usr/bin/env bash
# Rollback-test every alembic revision: upgrade, downgrade (the schema must come back exactly), upgrade
# again (the schema must match the first upgrade). For CI and developers.
#
#   scripts/db-rollback-test.sh                                      # a new embedded PostgreSQL
#   scripts/db-rollback-test.sh --scratch-dsn postgresql://ci@localhost/scratch [migtui rollback-test flags...]
#
# Environment:
#   MIGTUI_SCRATCH_DSN              scratch database, when --scratch-dsn is not given (default: embedded server)
#   MIGTUI_MIGRATIONS               alembic project (default db/migrations)
#   MIGTUI_ROLLBACK_TEST_FORMAT     text | json | github | sarif | junit | markdown (default text)
#   MIGTUI_ROLLBACK_TEST_OUTPUT     write the report in that format to this file (only there); under GitHub
#                                   Actions the default is a JUnit file, $RUNNER_TEMP/rollback-test.xml,
#                                   and the log keeps one result line per revision (stderr)
#   MIGTUI                          how to run migtui (default: `migtui` if on PATH, else `python3 -m migtui`)
#
# Exit status is migtui's: 0 every revision passed, 1 a revision failed (named in the report), 2 usage
# (e.g. a database already at a revision without --force), 6 database unreachable. See docs/rollback-test.md.
set -euo pipefail

if [[ -n "${MIGTUI:-}" ]]; then
    read -r -a runner <<<"$MIGTUI"
elif command -v migtui >/dev/null 2>&1; then
    runner=(migtui)
else
    runner=(python3 -m migtui)
fi

args=("$@")
has_format=0
has_output=0
for arg in "${args[@]}"; do
    [[ "$arg" == --format || "$arg" == --format=* ]] && has_format=1
    [[ "$arg" == --output || "$arg" == --output=* ]] && has_output=1
done

output="${MIGTUI_ROLLBACK_TEST_OUTPUT:-}"
format="${MIGTUI_ROLLBACK_TEST_FORMAT:-}"
if [[ -z "$output" && "${GITHUB_ACTIONS:-}" == "true" ]]; then
    output="${RUNNER_TEMP:-.}/rollback-test.xml"
    format="${format:-junit}"
fi
if [[ $has_output -eq 0 && -n "$output" ]]; then
    args=(--output "$output" "${args[@]}")
    if [[ $has_format -eq 0 ]]; then
        case "$output" in
            *.xml) format="${format:-junit}" ;;
            *.json) format="${format:-json}" ;;
        esac
    fi
fi
if [[ $has_format -eq 0 && -n "$format" ]]; then
    args=(--format "$format" "${args[@]}")
fi

exec "${runner[@]}" rollback-test "${args[@]}"
