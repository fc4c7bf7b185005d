#!/usr/bin/env bash
# Install everything the tests need (Python packages in .venv; system packages through apt
# where missing) and run the whole test suite. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
# dbt and MetricFlow (tests/test_import_dbt.py) in their own environment, .venv-dbt.
PYTHON="$PYTHON" scripts/dbt-venv.sh

# System packages the tests use, installed only where missing (root on these machines).
need_apt=()
# The dashboard's browser tests drive Debian's Chromium (Playwright cannot download its own here).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# The engine tests start Debian's PostgreSQL server (initdb, pg_ctl from /usr/lib/postgresql/*/bin)
# on 127.0.0.1, and Spark (local mode and a standalone master with two workers) needs a Java runtime.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need_apt+=(postgresql)
command -v java >/dev/null || need_apt+=(default-jre-headless)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
fi

# Two workers, one test file to a worker (each file's module fixtures built once): 47 min instead of 66 on
# these 2-core machines. Every server a test starts (PostgreSQL, Spark, SMTP, HTTP peers) takes a free port.
exec .venv/bin/python -m pytest -q --durations=30 -n 2 --dist loadfile "$@"
