#!/usr/bin/env bash
# The whole test suite, from a fresh clone, on both backends:
#   1. every test on SQLite (plus the PostgreSQL-outage test, which starts a
#      private cluster of its own);
#   2. the integration suite again on PostgreSQL: the server at
#      SYNCD_TEST_POSTGRES_URL if one answers there, else a throwaway cluster
#      this script starts from the installed PostgreSQL binaries (as the
#      `postgres` OS user when run as root, 127.0.0.1 only, a private port)
#      and removes afterwards.
#   3. the managers' page in Debian's headless Chromium, driven by
#      playwright-core from npm (tests/browser), against the real binary.
# It installs what the tests need first (curl; libpq-dev and pkg-config to
# build; python3-venv for the ActiveResource client test, which puts
# pyactiveresource from PyPI in target/pyenv, and for the SCIM conformance
# test, which puts the pinned scim2-cli, scim2-tester and scim2-server in
# target/scim2env (made under util-linux's flock); haproxy for the replica
# tests of pass 2, which start their own haproxy process on 127.0.0.1,
# never the system service; chromium; playwright-core with `npm ci`). Without PostgreSQL
# binaries it says what it skipped, and why. SYNCD_SKIP_BROWSER=1 skips pass 3
# (and says so).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "tests/run.sh: $*" >&2; }

need_packages=()
command -v curl >/dev/null 2>&1 || need_packages+=(curl)
[ -e /usr/include/postgresql/libpq-fe.h ] || need_packages+=(libpq-dev)
command -v pkg-config >/dev/null 2>&1 || need_packages+=(pkg-config)
# tests/api/clients.rs and tests/api/scim_conformance.rs make virtual environments.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_packages+=(python3-venv)
command -v flock >/dev/null 2>&1 || need_packages+=(util-linux)
# tests/api/replicas.rs puts three syncd behind HAProxy (tests/api/balancer.rs).
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need_packages+=(haproxy)
if [ "${SYNCD_SKIP_BROWSER:-}" != 1 ]; then
  [ -x /usr/bin/chromium ] || need_packages+=(chromium)
  command -v npm >/dev/null 2>&1 || need_packages+=(nodejs npm)
fi
if [ ${#need_packages[@]} -gt 0 ]; then
  say "installing ${need_packages[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_packages[@]}" >/dev/null
fi

PG_BIN="${SYNCD_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
have_pg_binaries=false
[ -n "$PG_BIN" ] && [ -x "$PG_BIN/pg_ctl" ] && [ -x "$PG_BIN/initdb" ] && have_pg_binaries=true
export SYNCD_PG_BIN="$PG_BIN"

if cargo nextest --version >/dev/null 2>&1; then
  nextest=true
else
  nextest=false
fi

# run_tests PASS_NAME FILTER_KIND [cargo args...]
run_suite() {
  local skip="$1"; shift
  if $nextest; then
    if [ -n "$skip" ]; then
      cargo nextest run --no-fail-fast "$@" -E "not test(/$skip/)"
    else
      cargo nextest run --no-fail-fast "$@"
    fi
  else
    if [ -n "$skip" ]; then
      cargo test --no-fail-fast "$@" -- --skip "$skip"
    else
      cargo test --no-fail-fast "$@"
    fi
  fi
}

skipped=()

say "pass 1: every test on SQLite"
if $have_pg_binaries; then
  run_suite "" --workspace --all-targets
else
  skipped+=("the PostgreSQL-outage test (no PostgreSQL binaries in /usr/lib/postgresql/*/bin; set SYNCD_PG_BIN)")
  run_suite "postgres_" --workspace --all-targets
fi

pg_dir=""
stop_cluster() {
  if [ -n "$pg_dir" ] && [ -d "$pg_dir" ]; then
    if [ "$(id -u)" = 0 ]; then
      runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    else
      "$PG_BIN/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$pg_dir"
  fi
}
trap stop_cluster EXIT

pg_answers() {
  $have_pg_binaries && "$PG_BIN/pg_isready" -q -d "$1" -t 3 >/dev/null 2>&1
}

pg_url="${SYNCD_TEST_POSTGRES_URL:-}"
if [ -n "$pg_url" ] && pg_answers "$pg_url"; then
  say "pass 2: PostgreSQL at SYNCD_TEST_POSTGRES_URL"
elif $have_pg_binaries; then
  [ -n "$pg_url" ] && say "no PostgreSQL answers at SYNCD_TEST_POSTGRES_URL; starting a throwaway cluster"
  pg_dir="$(mktemp -d /tmp/syncd-test-pg.XXXXXX)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 54329)"
  as_pg=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$pg_dir"
    as_pg=(runuser -u postgres --)
  fi
  chmod 700 "$pg_dir"
  "${as_pg[@]}" "$PG_BIN/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $pg_dir -c max_connections=300 -c fsync=off" -w start >/dev/null
  pg_url="postgres://postgres@127.0.0.1:$port/postgres"
  say "pass 2: a throwaway PostgreSQL cluster on 127.0.0.1:$port"
else
  pg_url=""
  skipped+=("pass 2, the whole suite on PostgreSQL (no server at SYNCD_TEST_POSTGRES_URL and no PostgreSQL binaries to start one)")
fi

if [ -n "$pg_url" ]; then
  SYNCD_TEST_DATABASE=postgres SYNCD_TEST_POSTGRES_URL="$pg_url" \
    run_suite "postgres_outage" --test api
fi

if [ "${SYNCD_SKIP_BROWSER:-}" = 1 ]; then
  skipped+=("pass 3, the browser tests (SYNCD_SKIP_BROWSER=1)")
else
  say "pass 3: the managers' page in headless Chromium"
  cargo build --bin syncd
  (
    cd tests/browser
    if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund --loglevel=error
    fi
    SYNCD_BIN="$PWD/../../target/debug/syncd" SYNCD_BROWSER_OUT="$PWD/../../target/browser" \
      node --test --test-reporter=spec memberships.test.mjs
  )
  say "screenshots of the page: target/browser/*.png"
fi

if [ ${#skipped[@]} -gt 0 ]; then
  for s in "${skipped[@]}"; do say "SKIPPED: $s"; done
fi
say "done"
