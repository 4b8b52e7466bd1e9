#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need
# (curl, for the pasted-curl-line test; libpq for building), then runs every
# unit and integration test with cargo-nextest if present, else cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

need_packages=()
command -v curl >/dev/null 2>&1 || need_packages+=(curl)
[ -e /usr/include/postgresql/libpq-fe.h ] || need_packages+=(libpq-dev)
command -v pkg-config >/dev/null 2>&1 || need_packages+=(pkg-config)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "tests/run.sh: installing ${need_packages[*]}" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_packages[@]}" >/dev/null
fi

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-targets --no-fail-fast
  # nextest does not run doctests.
  cargo test --workspace --doc --quiet
else
  cargo test --workspace --no-fail-fast
fi
