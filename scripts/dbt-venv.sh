#!/usr/bin/env bash
# The dbt + MetricFlow environment tests/test_import_dbt.py compares against (.venv-dbt, its own:
# dbt's pins clash with ours). Pinned in tests/dbt_olist/requirements.txt, which says why.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv-dbt/bin/python ]; then
  "$PYTHON" -m venv .venv-dbt
fi
.venv-dbt/bin/python -m pip install --quiet --disable-pip-version-check -r tests/dbt_olist/requirements.txt
