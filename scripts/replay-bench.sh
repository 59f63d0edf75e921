#!/usr/bin/env bash
# The replay benchmark (docs/benchmarks.md, "Replay of the audit log"): writes an audit log with
# the demo server under load, then times `tailor replay` over it with the JIT, and times reading
# and parsing the log alone (a filter no record passes), which bounds what any replay of that log
# can reach.
#
#   scripts/replay-bench.sh            # an 8 s load: about 50,000-90,000 records
#   SECONDS_OF_LOAD=50 scripts/replay-bench.sh
#   LOG=/tmp/replay-data scripts/replay-bench.sh   # reuse a stopped server's data directory
#
# Needs wrk (`apt-get install wrk`). Every run replays a fresh copy of the log (sled writes to
# the directory it opens), and the reports of all runs must be byte-identical. Set TAILOR to
# use another binary, JOBS to the worker threads (default: one per core), RUNS to the number of
# timed replays (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
TAILOR="${TAILOR:-${CARGO_TARGET_DIR:-target}/release/tailor}"
[[ -n "${TAILOR_SKIP_BUILD:-}" ]] || cargo build --release --quiet
JOBS="${JOBS:-$(nproc)}"
RUNS="${RUNS:-3}"
WORK=$(mktemp -d)
cleanup() { [[ -n "${PID:-}" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

if [[ -z "${LOG:-}" ]]; then
    LOG="$WORK/log"
    TAILOR_LOG=warn TAILOR_BACKEND=jit "$TAILOR" serve --demo --listen 127.0.0.1:0 --data "$LOG" >"$WORK/serve.out" &
    PID=$!
    for _ in $(seq 1 600); do grep -q "listening on" "$WORK/serve.out" && break; sleep 0.1; done
    ADDR=$(sed -n 's/^listening on //p' "$WORK/serve.out")
    [[ -n "$ADDR" ]] || { echo "the server did not start" >&2; exit 1; }
    echo "== writing the log: wrk -c16 -d${SECONDS_OF_LOAD:-8}s, all six placements"
    PLACEMENTS=all wrk -t1 -c16 -d"${SECONDS_OF_LOAD:-8}s" -s scripts/decide.lua "$ADDR" | grep -E "requests in|p99"
    kill -TERM "$PID"
    wait "$PID" 2>/dev/null || true
    PID=
fi
echo "== log: $(du -sh "$LOG" | cut -f1) in $LOG"

# One timed replay of a fresh copy of the log; extra arguments go to `tailor replay`.
replay() {
    rm -rf "$WORK/copy" && cp -r "$LOG" "$WORK/copy" && sync
    RUST_LOG=tailor=debug,tailor_runtime=debug /usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KB peak" \
        "$TAILOR" replay --data "$WORK/copy" --subjects examples/profiles.jsonl --format json \
        --backend jit --jobs "$JOBS" "$@" >"$WORK/report.json" 2>"$WORK/replay.err" || true
    grep -v '^\s*$' "$WORK/replay.err" | sed 's/^.*DEBUG //' | tr '\n' ' '
    echo
}
for run in $(seq 1 "$RUNS"); do
    echo "== replay $run (--jobs $JOBS)"
    replay
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print({k: v for k, v in d.items() if k != "records"})' "$WORK/report.json"
    if [[ -f "$WORK/first.json" ]]; then
        cmp -s "$WORK/report.json" "$WORK/first.json" || { echo "the reports differ between runs" >&2; exit 1; }
    else
        cp "$WORK/report.json" "$WORK/first.json"
    fi
done
echo "== reading and parsing alone (--tenant nobody: no record passes the filter)"
replay --tenant nobody
