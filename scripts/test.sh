#!/usr/bin/env bash
# The test command: installs what the tests need, builds with warnings checked, runs all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Real data sets for integration tests, when the shared folder is beside the clone.
if [ -z "${GAUGE_DATA:-}" ] && [ -d ../shared/data ]; then
    export GAUGE_DATA="$(cd ../shared/data && pwd)"
fi
log=$(mktemp)
swift build --build-tests 2>&1 | tee "$log"
if grep -E "^/.*/(Sources|Tests)/.*warning:" "$log"; then
    echo "test.sh: the build has warnings (above); fix them" >&2
    exit 1
fi
swift test
