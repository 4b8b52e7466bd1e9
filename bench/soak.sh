#!/usr/bin/env bash
# Soak test: a bounded mixed load at the machine's capacity for SOAK_SECONDS
# (default 600), on a fresh SQLite database, then checks that
#   - no answer was a 5xx and wrk saw no socket error (connect, read, write,
#     timeout), and
#   - memory stayed flat: syncd's RSS at the end is within 10% of its RSS
#     after the first minute.
# The load (bench/wrk/soak.lua, wrk with 2 threads and 32 connections) mixes
# lists with includes, single reads, creates, deletes and bad requests.
#
#   bash bench/soak.sh                     # 10 minutes
#   SOAK_SECONDS=120 bash bench/soak.sh    # a shorter look
#   SYNCD_BIN=target/release/syncd bash bench/soak.sh
#
# It installs wrk and curl from Debian when missing, builds syncd in release
# mode unless SYNCD_BIN is set, prints a table and writes it to
# bench/results/soak.md. Exit status 1 if a check fails.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export BENCH_WRK_DIR=$ROOT/bench/wrk
DURATION=${SOAK_SECONDS:-600}
say() { echo "soak: $*" >&2; }
die() { echo "soak: error: $*" >&2; exit 1; }
[[ "$DURATION" =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 70 ] && [ "$DURATION" -le 3600 ] ||
  die "SOAK_SECONDS must be a whole number from 70 to 3600"

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ -z "${SYNCD_BIN:-}" ]; then
  [ -e /usr/include/postgresql/libpq-fe.h ] || missing+=(libpq-dev)
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ -n "${SYNCD_BIN:-}" ]; then
  SYNCD=$SYNCD_BIN
else
  (cd "$ROOT" && cargo build --release --quiet)
  SYNCD=${CARGO_TARGET_DIR:-$ROOT/target}/release/syncd
fi
[ -x "$SYNCD" ] || die "no syncd binary at $SYNCD"

WORK=$(mktemp -d)
SYNCD_PID=""
SAMPLER_PID=""
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  [ -n "$SYNCD_PID" ] && kill "$SYNCD_PID" 2>/dev/null && wait "$SYNCD_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

export DATABASE_URL="sqlite://$WORK/soak.sqlite3"
export RUST_LOG=warn
TOKEN=$("$SYNCD" users create soak --manager | awk '{ print $2 }')
python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
with open(f"{w}/users.csv", "w") as f:
    f.write("login,name,email,user_group_manager\n")
    for i in range(1, 1001):
        f.write(f"user{i:04d},User {i},user{i}@example.com,false\n")
with open(f"{w}/groups.csv", "w") as f:
    f.write("name,description\n")
    for i in range(1, 101):
        f.write(f"group{i:03d},Group {i}\n")
with open(f"{w}/memberships.csv", "w") as f:
    f.write("login,group_name\n")
    for k in range(10000):
        f.write(f"user{k % 1000 + 1:04d},group{k // 1000 + 1:03d}\n")
PY
for kind in users groups memberships; do
  "$SYNCD" import "$kind" "$WORK/$kind.csv" >/dev/null
done

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Every request comes from 127.0.0.1, and a quarter of the bad ones carry a
# wrong token on purpose: without a higher limit, the sign-in throttle would
# (rightly) answer the whole load 429 after the tenth.
SYNCD_AUTH_FAILURE_LIMIT=1000000/1s "$SYNCD" serve --bind "127.0.0.1:$PORT" 2>"$WORK/syncd.log" &
SYNCD_PID=$!
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/me.xml" && break
  sleep 0.1
done

# RSS (current, not the high-water mark) every 5 seconds: "seconds KiB".
(
  start=$EPOCHSECONDS
  while kill -0 "$SYNCD_PID" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SYNCD_PID/status" 2>/dev/null || echo 0)
    echo "$((EPOCHSECONDS - start)) $rss"
    sleep 5
  done
) >"$WORK/rss.tsv" &
SAMPLER_PID=$!

say "${DURATION}s of mixed load on 127.0.0.1:$PORT (wrk -t2 -c32)"
out=$(wrk -t2 -c32 -d"${DURATION}s" --timeout 10s -s "$BENCH_WRK_DIR/soak.lua" \
  "http://127.0.0.1:$PORT" -- "$TOKEN" 2)
kill "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
line=$(grep '^BENCH_RESULT ' <<<"$out") || { echo "$out" >&2; die "no result from wrk"; }
declare -A R
for kv in ${line#BENCH_RESULT }; do R[${kv%%=*}]=${kv#*=}; done

alive=yes
kill -0 "$SYNCD_PID" 2>/dev/null || alive=no
server_errors=0
for pair in ${R[statuses]//,/ }; do
  code=${pair%%:*}
  [ "$code" -ge 500 ] && server_errors=$((server_errors + ${pair#*:}))
done
socket_errors=$((R[connect] + R[read] + R[write] + R[timeout]))
rss_minute=$(awk '$1 >= 60 { print $2; exit }' "$WORK/rss.tsv")
rss_end=$(tail -n 1 "$WORK/rss.tsv" | awk '{ print $2 }')
rss_max=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$WORK/rss.tsv")
growth=$(awk -v a="$rss_minute" -v b="$rss_end" 'BEGIN { printf "%+.1f", (b - a) * 100 / a }')
flat=$(awk -v a="$rss_minute" -v b="$rss_end" 'BEGIN { print (b <= a * 1.10) ? "yes" : "no" }')
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
verdict() { [ "$1" = yes ] && echo "ok" || echo "FAILED"; }

report=$(cat <<EOF
# syncd soak test ($(date -u '+%Y-%m-%d %H:%M') UTC)

- syncd: $SYNCD, SQLite (fresh file; 1,000 users, 100 groups, 10,000 memberships to start), RUST_LOG=warn
- load: wrk -t2 -c32 for ${DURATION} s, bench/wrk/soak.lua (lists with includes 40%, single reads 20%, creates 20%, deletes 10%, bad requests 10%)
- machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)

| measure | value | |
| --- | ---: | --- |
| requests answered | ${R[requests]} ($(awk -v n="${R[requests]}" -v d="$DURATION" 'BEGIN { printf "%.0f", n / d }')/s) | |
| answers by status | ${R[statuses]//,/, } | |
| 5xx answers | $server_errors | $(verdict $([ "$server_errors" = 0 ] && echo yes || echo no)) |
| socket errors (connect, read, write, timeout) | $socket_errors (${R[connect]}, ${R[read]}, ${R[write]}, ${R[timeout]}) | $(verdict $([ "$socket_errors" = 0 ] && echo yes || echo no)) |
| latency p50 / p99 | $(awk -v a="${R[p50_us]}" -v b="${R[p99_us]}" 'BEGIN { printf "%.1f ms / %.1f ms", a / 1000, b / 1000 }') | |
| syncd RSS after the first minute | $(mib "$rss_minute") MiB | |
| syncd RSS at the end | $(mib "$rss_end") MiB ($growth%) | $(verdict "$flat") |
| syncd RSS, highest sample | $(mib "$rss_max") MiB | |
| syncd still running at the end | $alive | $(verdict $alive) |
EOF
)
echo "$report"
mkdir -p "$ROOT/bench/results"
echo "$report" >"$ROOT/bench/results/soak.md"
cp "$WORK/rss.tsv" "$ROOT/bench/results/soak-rss.tsv"
if [ "$server_errors" != 0 ] || [ "$socket_errors" != 0 ] || [ "$flat" != yes ] || [ "$alive" != yes ]; then
  say "FAILED (syncd's log: $(tail -n 5 "$WORK/syncd.log" | tr '\n' ' '))"
  exit 1
fi
say "passed"
