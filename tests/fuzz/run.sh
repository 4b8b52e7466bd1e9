#!/usr/bin/env bash
# Long fuzz runs: every target for FUZZ_SECONDS (default 600) each, two at a
# time (one per core), in release mode. Prints each target's summary line
# (inputs tried, peak RSS) and fails if any target fails.
#
#   bash tests/fuzz/run.sh                 # all targets, 10 minutes each
#   FUZZ_SECONDS=60 bash tests/fuzz/run.sh xml_bodies json_bodies
set -euo pipefail
cd "$(dirname "$0")/../.."
export FUZZ_SECONDS=${FUZZ_SECONDS:-600}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(xml_bodies json_bodies form_bodies multipart_bodies member_set_bodies
           change_set_bodies query_strings path_ids credential_and_content_type_headers
           idempotency_key_headers scim_filters scim_patch_paths)
fi
cargo build --release --tests --quiet
mkdir -p target/fuzz
run() {
  local t=$1
  if cargo test --release --quiet --test fuzz -- --exact "$t" --nocapture \
       > "target/fuzz/$t.log" 2>&1; then
    echo "PASS $t: $(grep '^fuzz ' "target/fuzz/$t.log" | tail -1)"
  else
    echo "FAIL $t (target/fuzz/$t.log):"; tail -20 "target/fuzz/$t.log"; return 1
  fi
}
status=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run "${targets[i]}" & a=$!
  b=
  if [ $((i + 1)) -lt ${#targets[@]} ]; then run "${targets[i + 1]}" & b=$!; fi
  wait $a || status=1
  if [ -n "$b" ]; then wait $b || status=1; fi
done
exit $status
