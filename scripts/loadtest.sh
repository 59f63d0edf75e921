#!/usr/bin/env bash
# Load test of `tailor serve --demo` with the 1,000-offer catalog, audit log on.
#
#   scripts/loadtest.sh                  # 20 s per run, the defaults below
#   DURATION=60s CONNECTIONS=64 scripts/loadtest.sh
#   TAILOR_BACKEND=jit scripts/loadtest.sh
#   TAILOR_AUDIT_DURABILITY=sync scripts/loadtest.sh
#
# Needs wrk (`apt-get install wrk`) and python3. Client and server run on this machine and
# only talk over 127.0.0.1. Prints wrk's report for a hero-only run and a mixed run over the
# six placements, each followed by the server's CPU time per request (user + system, from
# /proc: steadier than requests/s when other work shares the machine); copy the figures into
# docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

cargo build --release --quiet
DATA=$(mktemp -d)
OUT=$(mktemp)
cleanup() { [[ -n "${PID:-}" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$DATA" "$OUT"; }
trap cleanup EXIT

TAILOR_LOG=${TAILOR_LOG:-warn} "${CARGO_TARGET_DIR:-target}/release/tailor" serve --demo --listen 127.0.0.1:0 --data "$DATA" >"$OUT" &
PID=$!
for _ in $(seq 1 600); do grep -q "listening on" "$OUT" && break; sleep 0.1; done
ADDR=$(sed -n 's/^listening on //p' "$OUT")
[[ -n "$ADDR" ]] || { echo "the server did not start" >&2; exit 1; }

# The 1,000-offer catalog, with the demo templates.
python3 - "$ADDR" <<'PY'
import json, sys, urllib.request
offers = json.load(open("examples/catalog-1000.json"))
templates = json.load(open("examples/http/templates.json"))
body = json.dumps({"offers": offers, "templates": templates}).encode()
req = urllib.request.Request(sys.argv[1] + "/admin/catalog/demo", data=body, method="PUT",
                             headers={"Content-Type": "application/json"})
print("catalog:", urllib.request.urlopen(req).read().decode())
PY

echo "== warm-up"
wrk -t"$THREADS" -c"$CONNECTIONS" -d5s -s scripts/decide.lua "$ADDR" >/dev/null
# The server's user and system CPU time so far, in clock ticks.
cpu_ticks() { awk '{print $14, $15}' "/proc/$PID/stat"; }
# Runs wrk (its arguments), prints its report and the server's CPU time per request.
measure() {
    local before after report
    before=$(cpu_ticks)
    report=$(wrk "$@")
    after=$(cpu_ticks)
    echo "$report"
    python3 - "$before" "$after" "$(getconf CLK_TCK)" "$report" <<'PY'
import re, sys
(u0, s0), (u1, s1) = (map(int, a.split()) for a in sys.argv[1:3])
tick, report = int(sys.argv[3]), sys.argv[4]
m = re.search(r"(\d+) requests in", report)
if m and int(m.group(1)) > 0:
    n = int(m.group(1))
    us = lambda t: t / tick / n * 1e6
    print(f"server CPU per request: {us(u1 - u0 + s1 - s0):.0f} us (user {us(u1 - u0):.0f}, system {us(s1 - s0):.0f})")
PY
}
echo "== home.hero only: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
measure -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/decide.lua "$ADDR"
echo "== all six placements"
PLACEMENTS=all measure -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/decide.lua "$ADDR"
echo "== server metrics (audit failures must be 0)"
python3 - "$ADDR" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1] + "/metrics").read().decode()
for line in text.splitlines():
    if line.startswith(("tailor_audit_failures_total", "tailor_http_responses_total", "tailor_errors_total")):
        print(line)
PY
