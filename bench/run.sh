#!/usr/bin/env bash
# syncd benchmark: how many requests a second syncd answers on this machine,
# and how that compares with nginx serving the very same bytes as static files.
#
#   bash bench/run.sh                        # SQLite (the default)
#   bash bench/run.sh --backend postgres     # a throwaway PostgreSQL cluster
#   bash bench/run.sh --backend both         # one after the other
#   bash bench/run.sh --stream               # the 1,000,000-membership streaming check
#   BENCH_SECONDS=5 bash bench/run.sh        # shorter runs while trying things out
#
# It installs wrk, nginx and what the build needs with apt-get when they are
# missing (sudo when not root), builds syncd with `cargo build --release`,
# loads 10,000 users, 1,000 user groups and 100,000 memberships with
# `syncd import`, starts `syncd serve` and its own nginx on free ports on
# 127.0.0.1, and measures with wrk (2 threads, 32 connections, a warm-up of
# BENCH_WARMUP seconds, then BENCH_SECONDS seconds):
#   S        GET /user-group-memberships/50000.xml (always the same id)
#   L        GET /user-group-memberships.xml?include=users,user_groups,timestamps&start=1001&end=1100
#   C        POST /user-group-memberships.xml, a new (user, group) pair each time
#   nginx-S  nginx serving S's response body as a static file (the ceiling)
#   nginx-L  likewise for L
#   S, RUST_LOG=info  S again with syncd's default access log on (BENCH_INFO=0 skips it)
# It prints a Markdown table and writes it to bench/results/latest-BACKEND.md
# (wrk's own output goes to bench/results/latest-BACKEND.log).
#
# --stream instead loads 1,000 users x 1,000 groups = 1,000,000 memberships
# into a fresh database (SQLite unless --backend says otherwise), times the
# import, fetches the whole list with include=users,user_groups with curl
# (time to first byte, total time, records/s, syncd's peak RSS), and compares
# start=900001&end=900100 with start=1&end=100 (and start=1&end=1). Results
# go to bench/results/latest-stream-BACKEND.md.
#
# --history measures membership history (issue 14) on 1,000 users x 1,000
# groups: the import of 1,000,000 memberships with their events; 100
# memberships of group 500 then removed through the API; the median of 20
# requests for group 500's list (1,000 members) with and without as_of; the
# whole event feed (1,000,000 events) streamed, with syncd's peak RSS next to
# that of the 1,000,000-membership list (a fresh syncd for each); and, when
# SYNCD_BEFORE_BIN names a binary from before the history migration, the
# new binary's `syncd migrate` timed on a database of 1,000,000 memberships
# that binary imported. Results go to bench/results/latest-history-BACKEND.md.
#
# --sync measures member sets and change sets (issue 16, API.md 8.4 and
# 8.5) on 101,000 users: a group of 100,000 members, PUT with a set that
# differs from the current one by 1,000 users (500 out, 500 in; the runs
# alternate between two sets so that each one really changes 1,000) in JSON
# by id, CSV by login and XML by login, median of BENCH_SYNC_RUNS (5) after
# one not counted, each encoding from a fresh syncd with its peak RSS; the
# same as dry runs; a change set of 10,000 changes (5,000 removes and 5,000
# adds over 10 groups, alternating likewise) in JSON by id and XML by login
# and group name; and bodies that must be refused: 16 MiB of random bytes,
# one byte over SYNCD_MAX_SYNC_BODY (both also chunked, without a
# Content-Length), 1,000,000 XML elements, 1,000,000 JSON array elements,
# 1,000,000 CSV lines, change sets of 1,000,000 changes, each sent to a
# fresh syncd (time to the refusal, peak RSS growth). Results go to
# bench/results/latest-sync-BACKEND.md.
#
# Environment: BENCH_SECONDS (15), BENCH_WARMUP (3), BENCH_INFO (1),
# SYNCD_PG_BIN (the newest /usr/lib/postgresql/*/bin), SYNCD_BIN (use this
# syncd binary instead of building one), SYNCD_BEFORE_BIN (--history: a
# binary from before the history migration), BENCH_SYNC_RUNS (--sync: 5),
# CARGO_TARGET_DIR (as cargo reads it).
# Every server, cluster and temporary file is removed on exit, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH_DIR=$ROOT/bench
RESULTS_DIR=$BENCH_DIR/results
export BENCH_WRK_DIR=$BENCH_DIR/wrk   # bench/wrk/create.lua loads report.lua from there

SECONDS_EACH=${BENCH_SECONDS:-15}
SYNC_RUNS=${BENCH_SYNC_RUNS:-5}
WARMUP=${BENCH_WARMUP:-3}
RUN_INFO=${BENCH_INFO:-1}
THREADS=2
CONNECTIONS=32
WRK_TIMEOUT=5s            # wrk's default of 2 s would turn slow answers into "errors"
SHOW_ID=50000             # S asks for this one membership every time
LIST_QUERY='include=users,user_groups,timestamps&start=1001&end=1100'
# Scenario C's pair numbers (see bench/wrk/create.lua): the warm-up uses
# [0, 1,000,000), the measured run [1,000,000, 9,900,000).
CREATE_WARMUP_FIRST=0
CREATE_FIRST=1000000
CREATE_LAST=9900000

say() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }

usage() {
  # The header comment above is the help text.
  sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "$0"
}

# ---------------------------------------------------------------- arguments

BACKEND=sqlite
MODE=wrk
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) [ $# -ge 2 ] || die "--backend needs sqlite, postgres or both"; BACKEND=$2; shift 2 ;;
    --backend=*) BACKEND=${1#*=}; shift ;;
    --stream) MODE=stream; shift ;;
    --history) MODE=history; shift ;;
    --sync) MODE=sync; shift ;;
    --scim) MODE=scim; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
case "$BACKEND" in
  sqlite|postgres) BACKENDS=("$BACKEND") ;;
  both) BACKENDS=(sqlite postgres) ;;
  *) die "--backend must be sqlite, postgres or both, not '$BACKEND'" ;;
esac
for v in SECONDS_EACH WARMUP; do
  [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -le 600 ] || die "$v must be a whole number of seconds up to 600"
done
[ "$SECONDS_EACH" -ge 1 ] || die "BENCH_SECONDS must be at least 1"
[[ $SYNC_RUNS =~ ^[0-9]+$ ]] && [ "$SYNC_RUNS" -ge 1 ] && [ "$SYNC_RUNS" -le 100 ] ||
  die "BENCH_SYNC_RUNS must be a whole number from 1 to 100"
needs_postgres=false
[[ " ${BACKENDS[*]} " == *" postgres "* ]] && needs_postgres=true

# ---------------------------------------------------------------- tools

install_tools() {
  local missing=()
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  [ -x /usr/bin/time ] || missing+=(time)
  if [ -z "${SYNCD_BIN:-}" ]; then
    # What the build links against (as tests/run.sh installs them).
    [ -e /usr/include/postgresql/libpq-fe.h ] || missing+=(libpq-dev)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  if $needs_postgres; then
    PG_BIN=${SYNCD_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
    [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] ||
      die "no PostgreSQL binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql, or set SYNCD_PG_BIN)"
  fi
}

build_syncd() {
  if [ -n "${SYNCD_BIN:-}" ]; then
    SYNCD=$SYNCD_BIN
    say "using SYNCD_BIN=$SYNCD as it is (not building)"
  else
    say "cargo build --release (a clean build takes a few minutes)"
    cargo build --release
    SYNCD=${CARGO_TARGET_DIR:-$ROOT/target}/release/syncd
  fi
  [ -x "$SYNCD" ] || die "no syncd binary at $SYNCD"
  "$SYNCD" import --help >/dev/null 2>&1 ||
    die "$SYNCD has no 'import' command, which the benchmark loads its data with"
}

# A free TCP port on 127.0.0.1 (the kernel picks it; a race is possible but
# harmless here: the server that loses it fails to start and we say so).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Peak resident set size ("high water mark") of a process, in KiB.
vmhwm_kib() {
  awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# ---------------------------------------------------------------- cleanup

WORK=""
CHILD_PID=""
SYNCD_PID=""
NGINX_PID=""
PG_DIR=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$CHILD_PID" ] && stop_pid "$CHILD_PID" 5
  stop_syncd
  stop_nginx
  stop_pg_cluster
  [ -n "$WORK" ] && rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
# Ctrl-C and kill: exit, which runs cleanup. It stops every server and job
# this script started, whether or not the SIGINT reached them too.
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# stop_pid PID SECONDS: SIGTERM, wait at most SECONDS, then SIGKILL.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# in_background OUTPUT CMD...: run CMD as a background job, its stdout and
# stderr to the file OUTPUT, and wait for it. Bash runs the Ctrl-C trap at
# once while it is in `wait`, but not while a foreground child that handles
# SIGINT itself (wrk does) is still running. Callers wrap CMD in `timeout`
# (its own process group), so that cleanup's SIGTERM to CHILD_PID reaches
# everything CMD started.
in_background() {
  local output=$1
  shift
  # The redirection is here, not on the caller's line: a trap that runs
  # during `wait` would inherit a redirection of the whole function.
  "$@" >"$output" 2>&1 &
  CHILD_PID=$!
  local rc=0
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=""
  return "$rc"
}

# ---------------------------------------------------------------- PostgreSQL

as_postgres() {
  # initdb and postgres refuse to run as root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

PG_PORT=""
start_pg_cluster() {
  PG_DIR=$(mktemp -d /tmp/syncd-bench-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
  chmod 700 "$PG_DIR"
  as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  PG_PORT=$(free_port)
  # Defaults otherwise: fsync and synchronous_commit stay on, since writes are
  # part of what is measured.
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_DIR" start >/dev/null
  say "PostgreSQL cluster on 127.0.0.1:$PG_PORT ($("$PG_BIN/postgres" --version))"
}

stop_pg_cluster() {
  [ -n "$PG_DIR" ] && [ -d "$PG_DIR" ] || return 0
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=""
}

pg_settings() {
  "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atc \
    "select string_agg(name || '=' || current_setting(name), ', ' order by name) from pg_settings
     where name in ('fsync', 'synchronous_commit', 'shared_buffers', 'wal_level', 'full_page_writes', 'max_connections')"
}

# fresh_database BACKEND NAME: prints a database URL of a new, empty database.
fresh_database() {
  case "$1" in
    sqlite)
      mkdir -p "$WORK/$2"
      echo "$WORK/$2/$2.sqlite3" ;;
    postgres)
      "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$2"
      echo "postgres://postgres@127.0.0.1:$PG_PORT/$2" ;;
  esac
}

# ---------------------------------------------------------------- data

# gen_csvs DIR USERS GROUPS MEMBERSHIPS: the import files. Membership k
# (k = 0 .. MEMBERSHIPS-1) is user (k mod USERS) + 1 in group (k div USERS) + 1,
# so with 10,000 users the first groups are full and the rest empty.
gen_csvs() {
  local dir=$1 users=$2 groups=$3 memberships=$4
  mkdir -p "$dir"
  awk -v n="$users" 'BEGIN {
    print "login,name,email,user_group_manager"
    for (i = 1; i <= n; i++) printf "user%05d,User %05d,user%05d@example.com,false\n", i, i, i
  }' >"$dir/users.csv"
  awk -v n="$groups" 'BEGIN {
    print "name,description"
    for (i = 1; i <= n; i++) printf "group%04d,Benchmark group %d\n", i, i
  }' >"$dir/groups.csv"
  awk -v n="$memberships" -v u="$users" 'BEGIN {
    print "login,group_name"
    for (k = 0; k < n; k++) printf "user%05d,group%04d\n", k % u + 1, int(k / u) + 1
  }' >"$dir/memberships.csv"
}

# run_import URL KIND FILE: `syncd import`, timed. Sets IMPORT_SECONDS and
# IMPORT_RSS_MIB (the importer's own peak RSS).
run_import() {
  local url=$1 kind=$2 file=$3 t0 t1 log=$WORK/import-$2.log
  t0=$(now)
  if ! in_background "$log" timeout 3600 /usr/bin/time -f '%M' -o "$WORK/import-$kind.time" \
      "$SYNCD" --database-url "$url" import "$kind" "$file"; then
    tail -n 20 "$log" >&2
    die "syncd import $kind failed (above)"
  fi
  t1=$(now)
  IMPORT_SECONDS=$(elapsed "$t0" "$t1")
  IMPORT_RSS_MIB=$(kib_to_mib "$(tail -n 1 "$WORK/import-$kind.time")")
  say "imported $(($(wc -l <"$file") - 1)) $kind in ${IMPORT_SECONDS}s (importer peak RSS ${IMPORT_RSS_MIB} MiB): $(grep -v '^Command exited' "$log" | tail -n 1)"
}

# load_data URL USERS GROUPS MEMBERSHIPS: the benchmark manager first (id 1,
# so imported users get ids 2..USERS+1), then the three imports. Sets TOKEN
# and appends one line per import to LOAD_NOTES.
load_data() {
  local url=$1 id="" out
  out=$("$SYNCD" --database-url "$url" users create bench --manager 2>"$WORK/users-create.log") ||
    { cat "$WORK/users-create.log" >&2; die "syncd users create bench failed (above)"; }
  read -r id TOKEN <<<"$out" || true
  [ "$id" = 1 ] && [ -n "$TOKEN" ] || die "users create bench printed '$out', not '1 TOKEN'"
  gen_csvs "$WORK/csv" "$2" "$3" "$4"
  LOAD_NOTES=()
  local kind
  for kind in users groups memberships; do
    run_import "$url" "$kind" "$WORK/csv/$kind.csv"
    LOAD_NOTES+=("import $kind ($(($(wc -l <"$WORK/csv/$kind.csv") - 1)) rows): ${IMPORT_SECONDS} s, importer peak RSS ${IMPORT_RSS_MIB} MiB")
  done
}

# ---------------------------------------------------------------- syncd

SYNCD_PORT=""
# start_syncd URL RUST_LOG LOGFILE
start_syncd() {
  SYNCD_PORT=$(free_port)
  RUST_LOG=$2 "$SYNCD" --database-url "$1" serve --bind "127.0.0.1:$SYNCD_PORT" >>"$3" 2>&1 &
  SYNCD_PID=$!
  local i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$SYNCD_PID" 2>/dev/null || { tail -n 20 "$3" >&2; die "syncd serve exited (above)"; }
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H "X-API-KEY: $TOKEN" \
      "http://127.0.0.1:$SYNCD_PORT/me.xml" || true)" = 200 ] && return 0
    sleep 0.1
  done
  die "syncd did not answer on 127.0.0.1:$SYNCD_PORT within 30 s"
}

stop_syncd() {
  # SIGTERM lets syncd finish what is in flight (it waits at most 30 s).
  [ -n "$SYNCD_PID" ] && stop_pid "$SYNCD_PID" 35
  SYNCD_PID=""
}

syncd_rss_kib() { vmhwm_kib "$SYNCD_PID"; }

# The number of memberships, from X-Total-Count.
count_memberships() {
  curl -sS --max-time 30 -o /dev/null -w '%header{x-total-count}' -H "X-API-KEY: $TOKEN" \
    "http://127.0.0.1:$SYNCD_PORT/user-group-memberships.xml?start=1&end=1"
}

# ---------------------------------------------------------------- nginx

NGINX_PORT=""
# start_nginx DOCROOT: nginx of our own (not the system's service), tuned as
# one would for static files, so that it is a fair ceiling.
start_nginx() {
  local prefix=$WORK/nginx
  mkdir -p "$prefix/logs" "$prefix/tmp"
  NGINX_PORT=$(free_port)
  cat >"$prefix/nginx.conf" <<EOF
worker_processes auto;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65s;
  keepalive_requests 1000000;   # like syncd: never close a busy keep-alive connection
  open_file_cache max=64 inactive=60s;
  open_file_cache_valid 60s;
  types { }
  default_type "application/xml; charset=utf-8";
  client_body_temp_path $prefix/tmp/body;
  proxy_temp_path $prefix/tmp/proxy;
  fastcgi_temp_path $prefix/tmp/fastcgi;
  uwsgi_temp_path $prefix/tmp/uwsgi;
  scgi_temp_path $prefix/tmp/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $1;
  }
}
EOF
  # -e: nginx opens its error log before it reads the config; keep it ours.
  "$NGINX" -e "$prefix/logs/error.log" -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off;' &
  NGINX_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$prefix/logs/error.log" >&2; die "nginx exited (above)"; }
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$NGINX_PORT/" && return 0
    sleep 0.1
  done
  die "nginx did not answer on 127.0.0.1:$NGINX_PORT within 10 s"
}

stop_nginx() {
  [ -n "$NGINX_PID" ] && stop_pid "$NGINX_PID" 10
  NGINX_PID=""
}

# nginx's peak RSS: the sum of its workers' VmHWM (the master only reads the
# config and serves nothing).
nginx_rss_kib() {
  local pid sum=0
  for pid in $(cat "/proc/$NGINX_PID/task/$NGINX_PID/children" 2>/dev/null || pgrep -P "$NGINX_PID"); do
    sum=$((sum + $(vmhwm_kib "$pid")))
  done
  echo "$sum"
}

# fetch_static URL PATH: syncd's answer to URL, saved where nginx serves PATH.
fetch_static() {
  local file=$WORK/www$2 code
  mkdir -p "$(dirname "$file")"
  code=$(curl -sS --max-time 30 -o "$file" -w '%{http_code}' -H "X-API-KEY: $TOKEN" "$1")
  [ "$code" = 200 ] || die "GET $1 answered $code, not 200"
  chmod 644 "$file"
}

# same_bytes PATH: nginx serves exactly the bytes syncd gave, with syncd's type.
check_static() {
  local got=$WORK/check.xml type
  type=$(curl -sS --max-time 10 -o "$got" -w '%{content_type}' "http://127.0.0.1:$NGINX_PORT$1")
  cmp -s "$got" "$WORK/www$1" || die "nginx does not serve the bytes syncd gave for $1"
  [ "$type" = "application/xml; charset=utf-8" ] || die "nginx serves $1 as '$type'"
}

# ---------------------------------------------------------------- wrk

# run_wrk LABEL SECONDS WRK-ARGS...: one wrk run; its text goes to RAW_LOG and
# its BENCH_RESULT line (bench/wrk/report.lua) into the array R.
declare -A R
run_wrk() {
  local label=$1 secs=$2 out line kv
  shift 2
  if ! in_background "$WORK/wrk.out" timeout $((secs + 60)) \
      wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout "$WRK_TIMEOUT" "$@"; then
    cat "$WORK/wrk.out" >&2
    die "wrk failed for $label"
  fi
  out=$(<"$WORK/wrk.out")
  printf '### %s (%s s)\n%s\n\n' "$label" "$secs" "$out" >>"$RAW_LOG"
  line=$(grep '^BENCH_RESULT ' <<<"$out") || { echo "$out" >&2; die "no BENCH_RESULT from wrk for $label"; }
  R=()
  for kv in ${line#BENCH_RESULT }; do R[${kv%%=*}]=${kv#*=}; done
}

socket_errors() { echo $((R[connect] + R[read] + R[write] + R[timeout])); }

# record BACKEND SCENARIO ERRORS RSS_KIB: one row of the table, from R.
record() {
  local rps p50 p99
  rps=$(awk -v n="${R[requests]}" -v us="${R[duration_us]}" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
  p50=$(awk -v us="${R[p50_us]}" 'BEGIN { printf "%.2f", us / 1000 }')
  p99=$(awk -v us="${R[p99_us]}" 'BEGIN { printf "%.2f", us / 1000 }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$rps" "$p50" "$p99" "$3" "$(kib_to_mib "$4")" >>"$ROWS"
  say "$(printf '%-9s %-18s %8s req/s  p50 %7s ms  p99 %7s ms  errors %s  peak RSS %s MiB' \
    "$1" "$2" "$rps" "$p50" "$p99" "$3" "$(kib_to_mib "$4")")"
}

# scenario_get BACKEND NAME URL RSS-FUNCTION: a GET scenario, warm-up then
# the measured run. Errors: wrk's socket errors plus answers of 400 or more.
scenario_get() {
  local backend=$1 name=$2 url=$3 rss_fn=$4
  local args=(-H "X-API-KEY: $TOKEN" -s "$BENCH_DIR/wrk/report.lua" "$url")
  [ "$WARMUP" -gt 0 ] && run_wrk "$name warm-up" "$WARMUP" "${args[@]}"
  run_wrk "$name" "$SECONDS_EACH" "${args[@]}"
  record "$backend" "$name" $(($(socket_errors) + R[status])) "$($rss_fn)"
}

# scenario_create BACKEND: C. Errors: socket errors plus every answer that is
# not 201; then the table must have grown by the number of 201s.
scenario_create() {
  local backend=$1 url="http://127.0.0.1:$SYNCD_PORT/user-group-memberships.xml"
  local args=(-H "X-API-KEY: $TOKEN" -s "$BENCH_DIR/wrk/create.lua" "$url" --)
  if [ "$WARMUP" -gt 0 ]; then
    run_wrk "C warm-up" "$WARMUP" "${args[@]}" "$CREATE_WARMUP_FIRST" "$THREADS"
    [ "${R[requests]}" -lt $((CREATE_FIRST - CREATE_WARMUP_FIRST - CONNECTIONS)) ] ||
      die "C's warm-up used up its band of pairs; shorten BENCH_WARMUP"
    # Requests still in flight when wrk stops may yet commit: let them.
    sleep 2
  fi
  local before after created others
  before=$(count_memberships)
  run_wrk "C" "$SECONDS_EACH" "${args[@]}" "$CREATE_FIRST" "$THREADS"
  [ "${R[requests]}" -lt $((CREATE_LAST - CREATE_FIRST - CONNECTIONS)) ] ||
    die "C used up its band of pairs; shorten BENCH_SECONDS"
  sleep 2
  after=$(count_memberships)
  created=$(tr ',' '\n' <<<"${R[statuses]}" | awk -F: '$1 == 201 { print $2 }')
  created=${created:-0}
  others=$((R[requests] - created))
  record "$backend" "C" $(($(socket_errors) + others)) "$(syncd_rss_kib)"
  # wrk does not count the answers still in flight when it stops (at most
  # one per connection), but syncd still commits those memberships.
  local grew=$((after - before)) verdict="as expected"
  [ "$grew" -ge "$created" ] && [ "$grew" -le $((created + CONNECTIONS)) ] ||
    verdict="NOT as expected: it should be between the 201s and the 201s + $CONNECTIONS"
  NOTES+=("C on $backend: ${R[requests]} answers (by status: ${R[statuses]:-none}); memberships $before -> $after, grew by $grew for $created 201s, $verdict (requests cut off when wrk stops, at most one per connection, are committed but not counted)")
}

# ---------------------------------------------------------------- reports

machine_line() {
  local cpu mem
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  mem=$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
  echo "$(nproc) cores ($cpu), $mem RAM, Linux $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
}

commit_line() {
  if [ -n "${SYNCD_BIN:-}" ]; then
    echo "unknown (SYNCD_BIN=$SYNCD_BIN, not built by this run)"
    return
  fi
  local rev dirty=""
  rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  # --no-optional-locks: only read the repository, never refresh its index.
  [ -n "$(git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null)" ] &&
    dirty=" with uncommitted changes"
  echo "$rev$dirty"
}

# print_table BACKEND-or-empty: the Markdown table of ROWS; the ratio is
# req/s over the req/s of the nginx row for the same response (S or L).
print_table() {
  awk -F'\t' -v only="$1" '
    { row[NR] = $0; rps[$1 "|" $2] = $3 }
    END {
      print "| backend | scenario | req/s | p50 ms | p99 ms | errors | peak RSS MiB | ratio to nginx |"
      print "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
      for (i = 1; i <= NR; i++) {
        split(row[i], f, "\t")
        if (only != "" && f[1] != only) continue
        ratio = "-"
        if (f[2] !~ /^nginx/ && (f[2] ~ /^S/ || f[2] ~ /^L/)) {
          ref = rps[f[1] "|nginx-" substr(f[2], 1, 1)]
          if (ref > 0) ratio = sprintf("%.3f", f[3] / ref)
        }
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], f[4], f[5], f[6], f[7], ratio
      }
    }' "$ROWS"
}

# write_report BACKEND: the table with what it was measured on.
write_report() {
  local backend=$1 file=$RESULTS_DIR/latest-$1.md note
  {
    echo "# syncd benchmark, $backend ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "- syncd: commit $(commit_line); release build; defaults (workers = cores, pool 8), RUST_LOG=warn"
    echo "- machine: $(machine_line)"
    echo "- database: ${DB_LINE[$backend]}"
    echo "- data: 10,000 users, 1,000 user groups, 100,000 memberships (plus the manager 'bench')"
    echo "- wrk: $THREADS threads, $CONNECTIONS connections, ${WARMUP} s warm-up then ${SECONDS_EACH} s, timeout $WRK_TIMEOUT, loopback; X-API-KEY on every request"
    echo "- S: GET /user-group-memberships/$SHOW_ID.xml (always the same id); L: GET /user-group-memberships.xml?$LIST_QUERY;"
    echo "  C: POST /user-group-memberships.xml, a new pair each time; nginx-S, nginx-L: nginx serving S's and L's"
    echo "  response bodies (${BODY_BYTES[$backend]}) as static files"
    echo "- errors: wrk's socket errors (connect, read, write, timeout) plus answers of 400 or more (C: every answer but 201)"
    echo "- peak RSS: syncd's VmHWM read after the scenario (the kernel's high-water mark since syncd"
    echo "  started, so later rows include earlier peaks; the kernel updates it lazily, so it can miss"
    echo "  part of a short peak); nginx: the sum of its workers' VmHWM"
    echo
    print_table "$backend"
    echo
    for note in "${LOAD_LINES[@]}" "${NOTES[@]}"; do
      [[ "$note" == *" on $backend"* || "$note" == "$backend: "* ]] && echo "- ${note#"$backend: "}"
    done
  } >"$file"
  say "wrote ${file#"$ROOT/"}"
}

# ---------------------------------------------------------------- the wrk run

declare -A DB_LINE BODY_BYTES
LOAD_LINES=()
NOTES=()

bench_backend() {
  local backend=$1 url log=$WORK/syncd-$1.log
  say "== $backend =="
  url=$(fresh_database "$backend" syncd_bench)
  case "$backend" in
    sqlite) DB_LINE[$backend]="a fresh SQLite file in /tmp (syncd sets journal_mode=WAL, synchronous=NORMAL)" ;;
    postgres) DB_LINE[$backend]="$("$PG_BIN/postgres" --version | sed 's/^postgres (PostgreSQL) /PostgreSQL /') on 127.0.0.1, throwaway cluster: $(pg_settings)" ;;
  esac
  load_data "$url" 10000 1000 100000
  local l
  for l in "${LOAD_NOTES[@]}"; do LOAD_LINES+=("$backend: $l"); done

  start_syncd "$url" warn "$log"
  local base="http://127.0.0.1:$SYNCD_PORT" total
  total=$(count_memberships)
  [ "$total" = 100000 ] || die "expected 100000 memberships after the import, syncd counts '$total'"

  # The static copies nginx serves, at the same paths as syncd's.
  fetch_static "$base/user-group-memberships/$SHOW_ID.xml" "/user-group-memberships/$SHOW_ID.xml"
  fetch_static "$base/user-group-memberships.xml?$LIST_QUERY" "/user-group-memberships.xml"
  # Membership 50000 is line 50000 of memberships.csv: user10000 (id 10001) in group0005.
  grep -q '<user-id type="integer">10001</user-id>' "$WORK/www/user-group-memberships/$SHOW_ID.xml" ||
    die "membership $SHOW_ID is not the one memberships.csv put there (did the import keep file order?)"
  BODY_BYTES[$backend]="S $(wc -c <"$WORK/www/user-group-memberships/$SHOW_ID.xml") bytes, L $(wc -c <"$WORK/www/user-group-memberships.xml") bytes"
  chmod -R a+rX "$WORK/www"
  start_nginx "$WORK/www"
  check_static "/user-group-memberships/$SHOW_ID.xml"
  check_static "/user-group-memberships.xml"
  local nginx_base="http://127.0.0.1:$NGINX_PORT"

  # Each syncd scenario next to its nginx ceiling, so that both see the same
  # background load on this shared machine.
  scenario_get "$backend" S "$base/user-group-memberships/$SHOW_ID.xml" syncd_rss_kib
  scenario_get "$backend" nginx-S "$nginx_base/user-group-memberships/$SHOW_ID.xml" nginx_rss_kib
  scenario_get "$backend" L "$base/user-group-memberships.xml?$LIST_QUERY" syncd_rss_kib
  scenario_get "$backend" nginx-L "$nginx_base/user-group-memberships.xml?$LIST_QUERY" nginx_rss_kib
  scenario_create "$backend"
  NOTES+=("syncd's peak RSS (VmHWM) at the end of the run on $backend: $(kib_to_mib "$(syncd_rss_kib)") MiB")
  stop_syncd

  if [ "$RUN_INFO" = 1 ]; then
    # Once more with the default log level: one access-log line per request,
    # written to a file as a service manager would.
    start_syncd "$url" info "$WORK/syncd-info-$backend.log"
    scenario_get "$backend" "S, RUST_LOG=info" "http://127.0.0.1:$SYNCD_PORT/user-group-memberships/$SHOW_ID.xml" syncd_rss_kib
    stop_syncd
  fi
  stop_nginx
}

run_wrk_mode() {
  local backend
  for backend in "${BACKENDS[@]}"; do
    RAW_LOG=$RESULTS_DIR/latest-$backend.log
    : >"$RAW_LOG"
    bench_backend "$backend"
    write_report "$backend"
  done
  echo
  print_table ""
  echo
  local line
  for line in "${LOAD_LINES[@]}" "${NOTES[@]}"; do echo "- $line"; done
}

# ---------------------------------------------------------------- --stream

# median_ms URL N: the median of N sequential curl total times, in ms.
median_ms() {
  local i
  curl -sS --max-time 60 -o /dev/null -H "X-API-KEY: $TOKEN" "$1" # warm-up
  for ((i = 0; i < $2; i++)); do
    curl -sS --max-time 60 -o /dev/null -w '%{time_total}\n' -H "X-API-KEY: $TOKEN" "$1"
  done | sort -n | awk '{ t[NR] = $1 } END { m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2; printf "%.2f", m * 1000 }'
}

stream_backend() {
  local backend=$1 url log=$WORK/syncd-stream-$1.log file=$RESULTS_DIR/latest-stream-$1.md
  say "== stream check, $backend =="
  url=$(fresh_database "$backend" syncd_stream)
  load_data "$url" 1000 1000 1000000
  start_syncd "$url" warn "$log"
  local base="http://127.0.0.1:$SYNCD_PORT" rss_before metrics=$WORK/stream.metrics count
  [ "$(count_memberships)" = 1000000 ] || die "expected 1000000 memberships after the import"
  rss_before=$(syncd_rss_kib)

  say "GET the whole list (1,000,000 memberships with users and groups)"
  # Count records as they arrive rather than storing the body; curl's
  # numbers go to stderr (%{stderr}) so that they do not mix with it.
  count=$(curl -sS --max-time 900 -H "X-API-KEY: $TOKEN" -o - \
    -w '%{stderr}%{http_code} %{time_starttransfer} %{time_total} %{size_download}\n' \
    "$base/user-group-memberships.xml?include=users,user_groups" 2>"$metrics" |
    grep -c '<user-group-membership>' || true)
  local code ttfb total bytes
  read -r code ttfb total bytes < <(tail -n 1 "$metrics")
  [ "$code" = 200 ] || { cat "$metrics" >&2; die "the whole list answered $code"; }
  local rss_after
  rss_after=$(syncd_rss_kib)

  say "start=1&end=100 versus start=900001&end=900100, 20 requests each"
  local one_ms first_ms far_ms
  # A one-item page: what every page costs anyway (sign-in, X-Total-Count).
  one_ms=$(median_ms "$base/user-group-memberships.xml?start=1&end=1" 20)
  first_ms=$(median_ms "$base/user-group-memberships.xml?start=1&end=100" 20)
  far_ms=$(median_ms "$base/user-group-memberships.xml?start=900001&end=900100" 20)
  stop_syncd

  {
    echo "# syncd streaming check, $backend ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "- syncd: commit $(commit_line); release build; defaults (workers = cores, pool 8), RUST_LOG=warn"
    echo "- machine: $(machine_line)"
    echo "- data: 1,000 users x 1,000 user groups = 1,000,000 memberships, loaded with \`syncd import\`"
    echo
    echo "| measure | value |"
    echo "| --- | ---: |"
    local l
    for l in "${LOAD_NOTES[@]}"; do
      echo "| ${l%%:*} | ${l#*: } |"
    done
    awk -v n=1000000 -v s="${IMPORT_SECONDS}" 'BEGIN { printf "| memberships imported per second | %.0f |\n", n / s }'
    echo "| whole list with include=users,user_groups: status | $code |"
    echo "| records received (\`<user-group-membership>\` elements) | $count |"
    awk -v b="$bytes" 'BEGIN { printf "| bytes received | %d (%.1f MiB, %.0f bytes a record) |\n", b, b / 1048576, b / 1000000 }'
    awk -v t="$ttfb" 'BEGIN { printf "| time to first byte | %.3f s |\n", t }'
    awk -v t="$total" 'BEGIN { printf "| total time | %.2f s |\n", t }'
    awk -v t="$total" -v c="$count" -v b="$bytes" 'BEGIN { printf "| records/s | %.0f (%.1f MiB/s) |\n", c / t, b / 1048576 / t }'
    echo "| syncd peak RSS (VmHWM) before the request | $(kib_to_mib "$rss_before") MiB |"
    echo "| syncd peak RSS (VmHWM) after it | $(kib_to_mib "$rss_after") MiB |"
    echo "| start=1&end=1, median of 20 (what any page costs) | $one_ms ms |"
    echo "| start=1&end=100, median of 20 | $first_ms ms |"
    echo "| start=900001&end=900100, median of 20 | $far_ms ms |"
    awk -v a="$first_ms" -v b="$far_ms" 'BEGIN { printf "| ratio far / first | %.1f |\n", b / a }'
  } >"$file"
  say "wrote ${file#"$ROOT/"}"
  echo
  cat "$file"
  [ "$count" = 1000000 ] || die "expected 1000000 records in the whole list, got $count"
}

# ---------------------------------------------------------------- --history

# drop_database BACKEND NAME: frees the disk of a database made by fresh_database.
drop_database() {
  case "$1" in
    sqlite) rm -rf "${WORK:?}/$2" ;;
    postgres) "$PG_BIN/dropdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$2" ;;
  esac
}

# x_total URL: the X-Total-Count of URL's answer.
x_total() {
  curl -sS --max-time 60 -o /dev/null -w '%header{x-total-count}' -H "X-API-KEY: $TOKEN" "$1"
}

# stream_rss LABEL URL ELEMENT: a fresh syncd streams URL whole; sets
# S_LINE to a table row: records (ELEMENT elements counted as they arrive),
# bytes, time, records/s, and syncd's VmHWM before and after.
stream_rss() {
  local label=$1 url=$2 element=$3 metrics=$WORK/history.metrics count before after
  start_syncd "$H_URL" warn "$WORK/syncd-history.log"
  before=$(syncd_rss_kib)
  count=$(curl -sS --max-time 900 -H "X-API-KEY: $TOKEN" -o - \
    -w '%{stderr}%{http_code} %{time_starttransfer} %{time_total} %{size_download}\n' \
    "http://127.0.0.1:$SYNCD_PORT$url" 2>"$metrics" | grep -c "<$element>" || true)
  after=$(syncd_rss_kib)
  stop_syncd
  local code ttfb total bytes
  read -r code ttfb total bytes < <(tail -n 1 "$metrics")
  [ "$code" = 200 ] || { cat "$metrics" >&2; die "$url answered $code"; }
  S_LINE=$(awk -v l="$label" -v c="$count" -v b="$bytes" -v f="$ttfb" -v t="$total" \
    -v r0="$(kib_to_mib "$before")" -v r1="$(kib_to_mib "$after")" 'BEGIN {
      printf "| %s | %d | %.1f | %.3f | %.2f | %.0f | %s | %s | %.1f |", l, c, b / 1048576, f, t, c / t, r0, r1, r1 - r0 }')
  say "$S_LINE"
}

history_backend() {
  local backend=$1 file=$RESULTS_DIR/latest-history-$1.md
  say "== history, $backend =="
  local notes=() l

  # 1. The import of 1,000,000 memberships, each with its `added` event.
  H_URL=$(fresh_database "$backend" syncd_history)
  load_data "$H_URL" 1000 1000 1000000
  local import_s=$IMPORT_SECONDS import_rss=$IMPORT_RSS_MIB
  for l in "${LOAD_NOTES[@]}"; do notes+=("$l"); done
  local before_removal
  before_removal=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  sleep 1.1

  # 2. as_of on group 500 (1,000 members; 100 of them then removed).
  start_syncd "$H_URL" warn "$WORK/syncd-history.log"
  local base="http://127.0.0.1:$SYNCD_PORT" id code removed=0
  [ "$(x_total "$base/membership-events.xml?start=1&end=1")" = 1000000 ] ||
    die "expected 1000000 events after the import"
  # Group 500 holds memberships 499001..500000 (memberships.csv's order).
  for ((id = 499001; id <= 499100; id++)); do
    code=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -X DELETE -H "X-API-KEY: $TOKEN" \
      "$base/user-group-memberships/$id.xml")
    case "$code" in 2??) removed=$((removed + 1)) ;; *) die "DELETE membership $id answered $code" ;; esac
  done
  local group="$base/user-groups/500/user-group-memberships.xml" events
  events=$(x_total "$base/membership-events.xml?start=1&end=1")
  local q label n ms rows=() filtered=()
  for q in "" "as_of=$before_removal" "as_of=2100-01-01T00:00:00Z" \
      "include=users,user_groups" "include=users,user_groups&as_of=$before_removal"; do
    n=$(x_total "$group${q:+?$q}")
    ms=$(median_ms "$group${q:+?$q}" 20)
    label=${q:-"(none)"}
    rows+=("| \`${label/$before_removal/BEFORE_REMOVAL}\` | $n | $ms |")
    say "group 500 ${label}: $n memberships, median $ms ms"
  done
  # Filtered lists (issue 15): 100 user ids (every tenth user) over the
  # whole table, narrowed to one group, and a first page of all of theirs.
  local hundred
  hundred=$(seq -s, 10 10 1000)
  local all="$base/user-group-memberships.xml"
  for q in "start=1&end=100" "user_id=$hundred&user_group_id=500" "user_id=$hundred&start=1&end=100"; do
    n=$(x_total "$all?$q")
    ms=$(median_ms "$all?$q" 20)
    label=${q/$hundred/HUNDRED}
    filtered+=("| \`${label}\` | $n | $ms |")
    say "filtered ${label}: $n memberships, median $ms ms"
  done
  stop_syncd

  # 3. Streaming: the list, then the feed, each from a fresh syncd.
  local streams=()
  stream_rss "list, \`include=users,user_groups\`" "/user-group-memberships.xml?include=users,user_groups" user-group-membership
  streams+=("$S_LINE")
  stream_rss "feed" "/membership-events.xml" membership-event
  streams+=("$S_LINE")
  stream_rss "feed, \`include=users,user_groups\`" "/membership-events.xml?include=users,user_groups" membership-event
  streams+=("$S_LINE")
  drop_database "$backend" syncd_history

  # 4. The backfill: a database of 1,000,000 memberships at the schema
  # before history, imported by SYNCD_BEFORE_BIN, then `syncd migrate`.
  local mig_line="not measured (set SYNCD_BEFORE_BIN)" pre_import="-"
  if [ -n "${SYNCD_BEFORE_BIN:-}" ]; then
    local new=$SYNCD url t0 t1
    SYNCD=$SYNCD_BEFORE_BIN
    url=$(fresh_database "$backend" syncd_premigrate)
    load_data "$url" 1000 1000 1000000
    pre_import="$IMPORT_SECONDS s"
    SYNCD=$new
    say "syncd migrate on 1,000,000 memberships"
    t0=$(now)
    in_background "$WORK/migrate.log" timeout 3600 /usr/bin/time -f '%M' -o "$WORK/migrate.time" \
      "$SYNCD" --database-url "$url" migrate || { cat "$WORK/migrate.log" >&2; die "syncd migrate failed"; }
    t1=$(now)
    mig_line="$(elapsed "$t0" "$t1") s (peak RSS $(kib_to_mib "$(tail -n 1 "$WORK/migrate.time")") MiB)"
    H_URL=$url
    start_syncd "$url" warn "$WORK/syncd-history.log"
    n=$(x_total "http://127.0.0.1:$SYNCD_PORT/membership-events.xml?start=1&end=1")
    stop_syncd
    [ "$n" = 1000000 ] || die "the migration backfilled $n events, not 1000000"
    mig_line+="; $n events backfilled"
    drop_database "$backend" syncd_premigrate
  fi

  {
    echo "# syncd history check, $backend ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "- syncd: commit $(commit_line); release build; defaults (workers = cores, pool 8), RUST_LOG=warn"
    echo "- machine: $(machine_line)"
    echo "- data: 1,000 users x 1,000 user groups = 1,000,000 memberships, loaded with \`syncd import\`"
    echo
    echo "| measure | value |"
    echo "| --- | ---: |"
    echo "| \`syncd import memberships\`, 1,000,000 rows and their events | $import_s s (importer peak RSS $import_rss MiB) |"
    echo "| the same import by SYNCD_BEFORE_BIN (no events) | $pre_import |"
    echo "| \`syncd migrate\` on 1,000,000 memberships (backfill and indexes) | $mig_line |"
    echo "| events after removing $removed memberships of group 500 | $events |"
    echo
    echo "Group 500's memberships (\`GET /user-groups/500/user-group-memberships.xml?...\`), median of 20"
    echo "sequential requests; BEFORE_REMOVAL = $before_removal, after the import and before the removals:"
    echo
    echo "| query | X-Total-Count | median ms |"
    echo "| --- | ---: | ---: |"
    printf '%s\n' "${rows[@]}"
    echo
    echo "The whole list filtered by 100 user ids (HUNDRED = 10,20,...,1000) (\`GET /user-group-memberships.xml?...\`), median of 20:"
    echo
    echo "| query | X-Total-Count | median ms |"
    echo "| --- | ---: | ---: |"
    printf '%s\n' "${filtered[@]}"
    echo
    echo "Streamed whole, each by a fresh syncd (peak RSS = VmHWM):"
    echo
    echo "| request | records | MiB | first byte s | total s | records/s | RSS before MiB | RSS after MiB | growth MiB |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf '%s\n' "${streams[@]}"
    echo
    for l in "${notes[@]}"; do echo "- $l"; done
  } >"$file"
  say "wrote ${file#"$ROOT/"}"
  echo
  cat "$file"
}

# ---------------------------------------------------------------- --sync

# sync_request METHOD URL CONTENT-TYPE FILE: one request with FILE as its
# body (no `Expect: 100-continue`: curl would wait for it on a large body);
# the answer's body goes to $WORK/answer. Sets Q_CODE (000: no answer),
# Q_TIME (seconds, curl's time_total: sending the body included) and Q_EXIT.
# SYNC_CHUNKED=1 sends it chunked, without a Content-Length.
SYNC_CHUNKED=0
sync_request() {
  local out chunked=()
  [ "$SYNC_CHUNKED" = 1 ] && chunked=(-H 'Transfer-Encoding: chunked')
  Q_EXIT=0
  out=$(curl -sS --max-time 300 -o "$WORK/answer" -w '%{http_code} %{time_total}' -X "$1" \
    -H "X-API-KEY: $TOKEN" -H "Content-Type: $3" -H 'Expect:' "${chunked[@]}" --data-binary "@$4" "$2" \
    2>"$WORK/curl.err") || Q_EXIT=$?
  read -r Q_CODE Q_TIME <<<"$out"
}

# sync_check LABEL KIND ARGS...: the answer is a 200 whose JSON says what
# bench/sync_data.py's `check KIND ARGS` expects.
sync_check() {
  local label=$1
  shift
  [ "$Q_CODE" = 200 ] || { head -c 600 "$WORK/answer" >&2; cat "$WORK/curl.err" >&2; die "$label answered $Q_CODE"; }
  python3 "$BENCH_DIR/sync_data.py" check "$1" "$WORK/answer" "${@:2}" || die "$label: the answer is not as expected (above)"
}

# seconds_stats TIMES...: "median min max" in seconds, three decimals.
seconds_stats() {
  printf '%s\n' "$@" | sort -n | awk '{ t[NR] = $1 } END {
    m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
    printf "%.3f %.3f %.3f\n", m, t[1], t[NR] }'
}

# The set the big group holds: 0 or 1 (bench/sync_data.py); every PUT
# sends the other one, so each changes 1,000 members.
PUT_STATE=0
# Likewise for the change-set groups: change set 0 applies to state 0.
CS_STATE=0
declare -A SYNC_SUM

# sync_put BACKEND LABEL EXT CONTENT-TYPE: a fresh syncd; one PUT not
# counted, then SYNC_RUNS PUTs and SYNC_RUNS dry runs, each 1,000 from the
# current set. Appends a row to SYNC_PUT_ROWS.
sync_put() {
  local backend=$1 label=$2 ext=$3 ctype=$4 url before after_put after_dry first="" i next
  local times=() dries=()
  start_syncd "$SYNC_URL" warn "$WORK/syncd-sync-$backend.log"
  url="http://127.0.0.1:$SYNCD_PORT/user_groups/1/members.json"
  before=$(syncd_rss_kib)
  for ((i = 0; i <= SYNC_RUNS; i++)); do
    next=$((1 - PUT_STATE))
    sync_request PUT "$url" "$ctype" "$SYNC_DIR/put-$ext-$next"
    sync_check "PUT $label" put 500 500 false
    PUT_STATE=$next
    if [ "$i" = 0 ]; then first=$Q_TIME; else times+=("$Q_TIME"); fi
  done
  after_put=$(syncd_rss_kib)
  for ((i = 0; i < SYNC_RUNS; i++)); do
    sync_request PUT "$url?dry_run=true" "$ctype" "$SYNC_DIR/put-$ext-$((1 - PUT_STATE))"
    sync_check "PUT $label, dry run" put 500 500 true
    dries+=("$Q_TIME")
  done
  after_dry=$(syncd_rss_kib)
  stop_syncd
  local m lo hi dm dlo dhi
  read -r m lo hi < <(seconds_stats "${times[@]}")
  read -r dm dlo dhi < <(seconds_stats "${dries[@]}")
  SYNC_PUT_ROWS+=("| PUT, $label | $(wc -c <"$SYNC_DIR/put-$ext-0") | $m | $lo–$hi | $(awk -v t="$first" 'BEGIN { printf "%.3f", t }') | $(kib_to_mib "$before") | $(kib_to_mib "$after_put") |")
  SYNC_PUT_ROWS+=("| the same, \`dry_run=true\` | | $dm | $dlo–$dhi | | | $(kib_to_mib "$after_dry") |")
  say "PUT $label: median ${m}s ($lo–$hi, first $first), dry run median ${dm}s; VmHWM $(kib_to_mib "$before") -> $(kib_to_mib "$after_put") -> $(kib_to_mib "$after_dry") MiB"
  SYNC_SUM[$backend|put]+="$label $m s; "
  SYNC_SUM[$backend|dry]+="$label $dm s; "
  SYNC_SUM[$backend|rss]+="$label $(kib_to_mib "$after_put") ($(kib_to_mib "$after_dry") after the dry runs); "
  awk -v a="$m" -v b="${SYNC_SUM[$backend|put_max]:-0}" 'BEGIN { exit !(a > b) }' && SYNC_SUM[$backend|put_max]=$m
  # VmHWM only grows: after the dry runs is the peak of the whole server.
  awk -v a="$after_dry" -v b="${SYNC_SUM[$backend|rss_max]:-0}" 'BEGIN { exit !(a > b) }' && SYNC_SUM[$backend|rss_max]=$after_dry
  return 0
}

# sync_changes BACKEND LABEL EXT CONTENT-TYPE: a fresh syncd; one change
# set not counted, then SYNC_RUNS, each 5,000 removes and 5,000 adds.
sync_changes() {
  local backend=$1 label=$2 ext=$3 ctype=$4 url before after first="" i
  local times=()
  start_syncd "$SYNC_URL" warn "$WORK/syncd-sync-$backend.log"
  url="http://127.0.0.1:$SYNCD_PORT/membership-changes.json"
  before=$(syncd_rss_kib)
  for ((i = 0; i <= SYNC_RUNS; i++)); do
    sync_request POST "$url" "$ctype" "$SYNC_DIR/cs-$ext-$CS_STATE"
    sync_check "change set $label" changes 5000 5000
    CS_STATE=$((1 - CS_STATE))
    if [ "$i" = 0 ]; then first=$Q_TIME; else times+=("$Q_TIME"); fi
  done
  after=$(syncd_rss_kib)
  stop_syncd
  local m lo hi
  read -r m lo hi < <(seconds_stats "${times[@]}")
  SYNC_PUT_ROWS+=("| change set of 10,000, $label | $(wc -c <"$SYNC_DIR/cs-$ext-0") | $m | $lo–$hi | $(awk -v t="$first" 'BEGIN { printf "%.3f", t }') | $(kib_to_mib "$before") | $(kib_to_mib "$after") |")
  say "change set $label: median ${m}s ($lo–$hi, first $first); VmHWM $(kib_to_mib "$before") -> $(kib_to_mib "$after") MiB"
  SYNC_SUM[$backend|cs]+="$label $m s; "
  awk -v a="$m" -v b="${SYNC_SUM[$backend|cs_max]:-0}" 'BEGIN { exit !(a > b) }' && SYNC_SUM[$backend|cs_max]=$m
  return 0
}

# sync_refusal BACKEND LABEL METHOD PATH CONTENT-TYPE FILE EXPECTED: a
# fresh syncd, one request that must be refused with EXPECTED; its time
# and syncd's VmHWM before and after.
sync_refusal() {
  local backend=$1 label=$2 method=$3 path=$4 ctype=$5 file=$6 expected=$7 before after verdict
  start_syncd "$SYNC_URL" warn "$WORK/syncd-sync-$backend.log"
  before=$(syncd_rss_kib)
  sync_request "$method" "http://127.0.0.1:$SYNCD_PORT$path" "$ctype" "$file"
  sleep 0.2
  after=$(syncd_rss_kib)
  kill -0 "$SYNCD_PID" 2>/dev/null || die "syncd died on the body '$label'"
  stop_syncd
  verdict=$Q_CODE
  [ "$Q_CODE" = "$expected" ] || verdict="$Q_CODE (NOT the expected $expected; curl exit $Q_EXIT)"
  local growth
  growth=$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.1f", (b - a) / 1024 }')
  SYNC_REFUSAL_ROWS+=("| $label | $(wc -c <"$file") | $verdict | $(awk -v t="$Q_TIME" 'BEGIN { printf "%.3f", t }') | $(kib_to_mib "$before") | $(kib_to_mib "$after") | $growth |")
  say "$label: $verdict in ${Q_TIME}s, VmHWM $(kib_to_mib "$before") -> $(kib_to_mib "$after") MiB"
  awk -v a="$Q_TIME" -v b="${SYNC_SUM[$backend|refusal_time]:-0}" 'BEGIN { exit !(a > b) }' &&
    SYNC_SUM[$backend|refusal_time]=$Q_TIME
  awk -v a="$growth" -v b="${SYNC_SUM[$backend|refusal_growth]:--1}" 'BEGIN { exit !(a > b) }' &&
    SYNC_SUM[$backend|refusal_growth]=$growth
  [ "$Q_CODE" = "$expected" ] || SYNC_SUM[$backend|refusal_bad]+="$label: $Q_CODE; "
  return 0
}

sync_backend() {
  local backend=$1 file=$RESULTS_DIR/latest-sync-$1.md
  say "== sync, $backend =="
  SYNC_PUT_ROWS=()
  SYNC_REFUSAL_ROWS=()
  PUT_STATE=0
  CS_STATE=0
  SYNC_URL=$(fresh_database "$backend" syncd_sync)
  local out id=""
  out=$("$SYNCD" --database-url "$SYNC_URL" users create bench --manager 2>"$WORK/users-create.log") ||
    { cat "$WORK/users-create.log" >&2; die "syncd users create bench failed (above)"; }
  read -r id TOKEN <<<"$out" || true
  [ "$id" = 1 ] && [ -n "$TOKEN" ] || die "users create bench printed '$out', not '1 TOKEN'"
  local notes=() kind
  for kind in users groups memberships; do
    run_import "$SYNC_URL" "$kind" "$SYNC_DIR/$kind.csv"
    notes+=("\`syncd import $kind\` ($(($(wc -l <"$SYNC_DIR/$kind.csv") - 1)) rows): ${IMPORT_SECONDS} s, importer peak RSS ${IMPORT_RSS_MIB} MiB")
  done

  sync_put "$backend" "JSON user ids" json application/json
  sync_put "$backend" "CSV logins" csv text/csv
  sync_put "$backend" "XML logins" xml application/xml
  sync_changes "$backend" "JSON ids" json application/json
  sync_changes "$backend" "XML logins and group names" xml application/xml

  local members=/user_groups/1/members.json
  sync_refusal "$backend" "16 MiB of random bytes as JSON" PUT "$members" application/json "$SYNC_DIR/garbage" 400
  sync_refusal "$backend" "16 MiB of random bytes as XML" PUT "$members" application/xml "$SYNC_DIR/garbage" 400
  sync_refusal "$backend" "16 MiB of random bytes as CSV" PUT "$members" text/csv "$SYNC_DIR/garbage" 400
  sync_refusal "$backend" "16 MiB + 1 byte (declared Content-Length)" PUT "$members" application/json "$SYNC_DIR/over-limit" 413
  SYNC_CHUNKED=1
  sync_refusal "$backend" "16 MiB of random bytes as XML, chunked (no Content-Length)" PUT "$members" application/xml "$SYNC_DIR/garbage" 400
  sync_refusal "$backend" "16 MiB + 1 byte, chunked (no Content-Length)" PUT "$members" application/json "$SYNC_DIR/over-limit" 413
  SYNC_CHUNKED=0
  sync_refusal "$backend" "1,000,000 XML elements \`<a/>\`" PUT "$members" application/xml "$SYNC_DIR/xml-million" 422
  sync_refusal "$backend" "1,000,000 JSON array elements" PUT "$members" application/json "$SYNC_DIR/json-million" 422
  sync_refusal "$backend" "1,000,000 CSV lines" PUT "$members" text/csv "$SYNC_DIR/csv-million" 422
  sync_refusal "$backend" "change set of 1,000,000 JSON elements" POST /membership-changes.json application/json "$SYNC_DIR/cs-json-million" 422
  sync_refusal "$backend" "change set of 1,000,000 XML elements \`<a/>\`" POST /membership-changes.json application/xml "$SYNC_DIR/cs-xml-million" 422
  sync_refusal "$backend" "16 MiB of random bytes as a JSON change set" POST /membership-changes.json application/json "$SYNC_DIR/garbage" 400

  # Nothing refused changed anything: the group holds one of its two sets.
  start_syncd "$SYNC_URL" warn "$WORK/syncd-sync-$backend.log"
  curl -sS --max-time 60 -o "$WORK/answer" -H "X-API-KEY: $TOKEN" "http://127.0.0.1:$SYNCD_PORT$members"
  python3 "$BENCH_DIR/sync_data.py" check members "$WORK/answer" 100000 ||
    die "the big group does not hold 100,000 members at the end"
  stop_syncd
  drop_database "$backend" syncd_sync

  {
    echo "# syncd member sets and change sets, $backend ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "- syncd: commit $(commit_line); release build; defaults (workers = cores, pool 8), RUST_LOG=warn"
    echo "- machine: $(machine_line); load average before this backend: $SYNC_LOAD"
    echo "- data: 101,000 users, group 1 with 100,000 members, 10 groups of 1,000 (\`syncd import\`)"
    echo "- each row from a freshly started syncd; times are curl's \`time_total\` (sending the body included);"
    echo "  the first request is not counted in the median; VmHWM is syncd's peak RSS since it started"
    echo "- PUT: a set of 100,000 differing from the group's by 1,000 (500 removed, 500 added; the"
    echo "  runs alternate between two sets); change set: 5,000 removes and 5,000 adds over 10 groups"
    echo
    echo "| request | body bytes | median s | min–max s | first s | VmHWM before MiB | VmHWM after MiB |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf '%s\n' "${SYNC_PUT_ROWS[@]}"
    echo
    echo "Bodies that must be refused, each sent to a fresh syncd:"
    echo
    echo "| body | bytes | status | time s | VmHWM before MiB | after MiB | growth MiB |"
    echo "| --- | ---: | --- | ---: | ---: | ---: | ---: |"
    printf '%s\n' "${SYNC_REFUSAL_ROWS[@]}"
    echo
    local l
    for l in "${notes[@]}"; do echo "- $l"; done
  } >"$file"
  say "wrote ${file#"$ROOT/"}"
  echo
  cat "$file"
}

# target_cell BACKEND KEY LIMIT UNIT: the figure and whether it is under LIMIT.
target_cell() {
  local v=${SYNC_SUM[$1|$2]:-}
  [ -n "$v" ] || { echo "-"; return; }
  awk -v v="$v" -v l="$3" -v u="$4" 'BEGIN { printf "%.3g %s (%s)", v, u, (v < l) ? "met" : "NOT met" }'
}

run_sync_mode() {
  SYNC_DIR=$WORK/sync
  say "generating the data and bodies (bench/sync_data.py)"
  python3 "$BENCH_DIR/sync_data.py" gen "$SYNC_DIR"
  local backend
  for backend in "${BACKENDS[@]}"; do
    SYNC_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
    sync_backend "$backend"
    SYNC_SUM[$backend|rss_max]=$(kib_to_mib "${SYNC_SUM[$backend|rss_max]:-0}")
    SYNC_SUM[$backend|load]=$SYNC_LOAD
  done
  echo
  echo "| target | sqlite | postgres |"
  echo "| --- | --- | --- |"
  local b cells
  row() {
    cells=""
    for b in sqlite postgres; do cells+=" $(eval "$2") |"; done
    echo "| $1 |$cells"
  }
  row "PUT of 100,000 differing by 1,000, slowest encoding's median (SQLite < 2 s, PostgreSQL < 4 s)" \
    'if [ "$b" = sqlite ]; then target_cell $b put_max 2 s; else target_cell $b put_max 4 s; fi'
  row "syncd's peak RSS while doing it, PUTs and dry runs (< 150 MiB)" 'target_cell $b rss_max 150 MiB'
  row "change set of 10,000, slowest encoding's median (< 2 s)" 'target_cell $b cs_max 2 s'
  row "refusals: slowest" 'v=${SYNC_SUM[$b|refusal_time]:-}; [ -n "$v" ] && printf "%.3f s" "$v" || echo -'
  row "refusals: largest VmHWM growth (a body may be up to 16 MiB)" 'v=${SYNC_SUM[$b|refusal_growth]:-}; [ -n "$v" ] && echo "$v MiB" || echo -'
  row "refusals with another status than expected" 'v=${SYNC_SUM[$b|refusal_bad]:-}; [ -n "${SYNC_SUM[$b|load]:-}" ] && echo "${v:-none}" || echo -'
  row "PUT medians" 'echo "${SYNC_SUM[$b|put]:--}"'
  row "dry-run medians" 'echo "${SYNC_SUM[$b|dry]:--}"'
  row "syncd's VmHWM after the PUTs, MiB" 'echo "${SYNC_SUM[$b|rss]:--}"'
  row "change-set medians" 'echo "${SYNC_SUM[$b|cs]:--}"'
  row "load average (1, 5, 15 min) before" 'echo "${SYNC_SUM[$b|load]:--}"'
}

# ---------------------------------------------------------------- SCIM (issue 18)

# scim_time METHOD PATH [BODY]: curl's time_total of one SCIM request with the
# manager's bearer token; dies on an unexpected status.
scim_time() {
  local method=$1 path=$2 body=${3:-} out code
  local args=(-sS --max-time 120 -o "$WORK/scim-answer" -w '%{http_code} %{time_total}'
    -X "$method" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/scim+json')
  [ -n "$body" ] && args+=(--data-binary "$body")
  out=$(curl "${args[@]}" "http://127.0.0.1:$SYNCD_PORT/scim/v2$path")
  code=${out%% *}
  case "$code" in 200 | 204) ;; *) die "SCIM $method $path answered $code: $(head -c 300 "$WORK/scim-answer")" ;; esac
  echo "${out#* }"
}

# scim_median RUNS COMMAND...: the median (and min, max) of RUNS timings.
scim_median() {
  local runs=$1 i times=()
  shift
  for ((i = 0; i < runs; i++)); do times+=("$("$@")"); done
  printf '%s\n' "${times[@]}" | sort -g | awk '{ a[NR] = $1 } END { printf "%.4f %.4f %.4f", a[int((NR + 1) / 2)], a[1], a[NR] }'
}

scim_backend() {
  local backend=$1 file=$RESULTS_DIR/latest-scim-$1.md
  say "== SCIM, $backend =="
  local url out id=""
  url=$(fresh_database "$backend" syncd_scim)
  out=$("$SYNCD" --database-url "$url" users create bench --manager 2>"$WORK/users-create.log") ||
    { cat "$WORK/users-create.log" >&2; die "syncd users create bench failed (above)"; }
  read -r id TOKEN <<<"$out" || true
  local kind
  for kind in users groups memberships; do run_import "$url" "$kind" "$SYNC_DIR/$kind.csv"; done
  start_syncd "$url" warn "$WORK/syncd-scim-$backend.log"
  # A member of group 1 (100,000 members): removed and added back in turns.
  curl -sS --max-time 60 -o "$WORK/members" -H "X-API-KEY: $TOKEN" \
    "http://127.0.0.1:$SYNCD_PORT/user_groups/1/members.json"
  local member
  member=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["user_ids"][500])' "$WORK/members")
  local remove add
  remove="{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{\"op\":\"remove\",\"path\":\"members[value eq \\\"$member\\\"]\"}]}"
  add="{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"$member\"}]}]}"
  local rss_before
  rss_before=$(kib_to_mib "$(syncd_rss_kib)")
  scim_time PATCH /Groups/1 "$remove" >/dev/null
  scim_time PATCH /Groups/1 "$add" >/dev/null
  local patch_remove patch_add lean full
  patch_remove=$(scim_median "$SCIM_RUNS" scim_patch_pair remove)
  patch_add=$(scim_median "$SCIM_RUNS" scim_patch_pair add)
  lean=$(scim_median "$SCIM_RUNS" scim_time GET '/Groups/1?excludedAttributes=members')
  full=$(scim_median 5 scim_time GET /Groups/1)
  local rss_after
  rss_after=$(kib_to_mib "$(syncd_rss_kib)")
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["members"]) == 100000, len(d["members"])' "$WORK/scim-answer" ||
    die "group 1 does not hold its 100,000 members at the end"
  stop_syncd
  drop_database "$backend" syncd_scim
  {
    echo "# syncd SCIM on a group of 100,000 members, $backend ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "- syncd: commit $(commit_line); release build; defaults; RUST_LOG=warn"
    echo "- machine: $(machine_line)"
    echo "- data: as --sync (101,000 users, group 1 with 100,000 members); times are curl's time_total;"
    echo "  median, min and max of $SCIM_RUNS requests (5 for the whole group), after one of each not counted"
    echo
    echo "| request | median s | min s | max s |"
    echo "| --- | ---: | ---: | ---: |"
    echo "| PATCH remove one member (\`members[value eq \"ID\"]\`), 204 | ${patch_remove// / | } |"
    echo "| PATCH add one member (\`members\` with a value list), 204 | ${patch_add// / | } |"
    echo "| GET the group with \`excludedAttributes=members\` | ${lean// / | } |"
    echo "| GET the group with its 100,000 members | ${full// / | } |"
    echo
    echo "- syncd's VmHWM: $rss_before MiB before the PATCHes, $rss_after MiB after everything"
  } >"$file"
  say "wrote ${file#"$ROOT/"}"
  echo
  cat "$file"
}

# One PATCH of the pair (the member is in the group before a remove and out
# of it before an add: each remove is followed by its add).
scim_patch_pair() {
  if [ "$1" = remove ]; then
    local t
    t=$(scim_time PATCH /Groups/1 "$remove")
    scim_time PATCH /Groups/1 "$add" >/dev/null
    echo "$t"
  else
    scim_time PATCH /Groups/1 "$remove" >/dev/null
    scim_time PATCH /Groups/1 "$add"
  fi
}

run_scim_mode() {
  SYNC_DIR=$WORK/sync
  SCIM_RUNS=${BENCH_SCIM_RUNS:-20}
  say "generating the data (bench/sync_data.py)"
  python3 "$BENCH_DIR/sync_data.py" gen "$SYNC_DIR"
  local backend
  for backend in "${BACKENDS[@]}"; do scim_backend "$backend"; done
}

# ---------------------------------------------------------------- main

install_tools
build_syncd
WORK=$(mktemp -d /tmp/syncd-bench.XXXXXX)
chmod 755 "$WORK"   # nginx's workers run as nobody when started by root
ROWS=$WORK/rows.tsv
: >"$ROWS"
mkdir -p "$RESULTS_DIR"
$needs_postgres && start_pg_cluster

case "$MODE" in
  wrk) run_wrk_mode ;;
  stream) for b in "${BACKENDS[@]}"; do stream_backend "$b"; done ;;
  history) for b in "${BACKENDS[@]}"; do history_backend "$b"; done ;;
  sync) run_sync_mode ;;
  scim) run_scim_mode ;;
esac
