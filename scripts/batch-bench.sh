#!/usr/bin/env bash
# The batch-plan benchmark (docs/benchmarks.md, "Batch plans"): N synthetic profiles (default
# 1,000,000, generated into /tmp, never committed) against examples/catalog-1000.json with the
# JIT, timed with /usr/bin/time -v (wall time and peak RSS).
#
#   scripts/batch-bench.sh [N] [extra tailor batch flags…]
#
# Needs a release build (`cargo build --release`); set TAILOR to use another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
shift || true
TAILOR="${TAILOR:-${CARGO_TARGET_DIR:-target}/release/tailor}"
PROFILES="/tmp/tailor-batch-profiles-$N.jsonl"
OUT="/tmp/tailor-batch-plan-$N.jsonl"
if [ ! -s "$PROFILES" ]; then
  python3 examples/generate.py --profiles "$N" "$PROFILES"
fi
/usr/bin/time -v "$TAILOR" batch policies --catalog examples/catalog-1000.json --profiles "$PROFILES" \
  --placement home.hero --channel Web --backend jit --now 2026-11-24T10:00:00Z --plan-id pbench \
  --out "$OUT" "$@"
