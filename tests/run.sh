#!/usr/bin/env bash
# Runs every test of ftplens: formatting and lints, the Rust tests (unit, C ABI, corpus replays,
# CLI), then the pytest suites that drive the real tshark with the C plugin and the Lua fallback,
# real FTP servers and clients, the Python package and the installed C library.
# Prints "N passed, N failed" for the stages at the end and exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
stage() {
    local name=$1
    shift
    echo "=== $name: $*"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

stage fmt cargo fmt --all -- --check
stage clippy cargo clippy --workspace --all-targets -- -D warnings
stage cargo-test cargo test --workspace
stage pytest python3 -m pytest -q -rs -p no:cacheprovider tests

echo
[ ${#failures[@]} -eq 0 ] || echo "failed stages: ${failures[*]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
