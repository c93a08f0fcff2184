#!/usr/bin/env bash
# The test command: installs what the tests need, builds and runs every test in release mode
# (the numeric kernels are ~30× slower unoptimised), and fails on any compiler warning in
# Gauge's own sources.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Real data sets for integration tests, when the shared folder is beside the clone.
if [ -z "${GAUGE_DATA:-}" ] && [ -d ../shared/data ]; then
    export GAUGE_DATA="$(cd ../shared/data && pwd)"
fi
log=$(mktemp)
set +e
swift test -c release 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if grep -E "^/.*/(Sources|Tests)/.*warning:" "$log"; then
    echo "test.sh: the build has warnings (above); fix them" >&2
    exit 1
fi
exit "$status"
