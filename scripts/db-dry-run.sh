#!/usr/bin/env bash
# Dry-run the pending alembic revisions against a read replica (changes nothing). For CI and operators.
#
#   scripts/db-dry-run.sh --replica-dsn postgresql://reader@replica:5432/app [migtui dry-run flags...]
#
# Environment:
#   MIGTUI_REPLICA_DSN     the replica, when --replica-dsn is not given
#   MIGTUI_DSN             the primary (optional): compare its revision and WAL position with the replica's
#   MIGTUI_DRY_RUN_FORMAT  text | json | github (default: github under GitHub Actions, else text)
#   MIGTUI                 how to run migtui (default: `migtui` if on PATH, else `python3 -m migtui`)
#
# Exit status is migtui's: 0 nothing would fail, 1 error findings, 2 usage (e.g. a primary given as the
# replica), 6 replica unreachable, 130 interrupted. See docs/dry-run.md.
set -euo pipefail

if [[ -n "${MIGTUI:-}" ]]; then
    read -r -a runner <<<"$MIGTUI"
elif command -v migtui >/dev/null 2>&1; then
    runner=(migtui)
else
    runner=(python3 -m migtui)
fi

format="${MIGTUI_DRY_RUN_FORMAT:-}"
if [[ -z "$format" ]]; then
    if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then format=github; else format=text; fi
fi

args=("$@")
has_format=0
for arg in "${args[@]}"; do
    [[ "$arg" == --format || "$arg" == --format=* ]] && has_format=1
done
if [[ $has_format -eq 0 ]]; then
    args=(--format "$format" "${args[@]}")
fi

exec "${runner[@]}" dry-run "${args[@]}"
