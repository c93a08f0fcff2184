#!/usr/bin/env bash
# Builds and runs the README's "Using Gauge from your own package" example verbatim: its two
# code blocks become Package.swift and Sources/my-model/main.swift of a throw-away package
# beside a link named Gauge to this working tree. Then `my-model tools summary classifier` and
# a one-epoch fit must work.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ln -s "$root" "$work/Gauge"
mkdir -p "$work/MyModels/Sources/my-model"
python3 - "$root/README.md" "$work/MyModels" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
section = text.split("## Using Gauge from your own package\n", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```swift\n(.*?)```", section, re.S)
assert len(blocks) >= 2, "the README section lost its two code blocks"
open(sys.argv[2] + "/Package.swift", "w").write(blocks[0])
open(sys.argv[2] + "/Sources/my-model/main.swift", "w").write(blocks[1])
PY
cd "$work/MyModels"
echo "check-package: building the README's package in $work/MyModels (debug)"
swift build 2>&1 | tail -3
# To a file first: `| head` would close the pipe while the summary still writes (SIGPIPE, 141).
./.build/debug/my-model tools summary classifier --batch 32 > summary.log
head -3 summary.log
./.build/debug/my-model > run.log
tail -2 run.log
test -f runs/classifier/checkpoint.safetensors
test -f runs/classifier/metrics.jsonl
echo "check-package: the README's package builds, its tools run and it trains"
