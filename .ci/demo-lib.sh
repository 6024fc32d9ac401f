# Sourced by the CI checks that run the demo: a scratch folder, cleanup of our own processes
# (by pid, never by name), bounded polling, and starting the demo on $DEMO_PORT.
# Needs DEMO_PORT and DEMO set, and `set -euo pipefail` in the caller.

WORK="$(mktemp -d)"
OWN_PIDS=()
LOGS=()

cleanup() {
  status=$?
  # The demo exits 0 on SIGTERM once its outboxes are flushed.
  for pid in "${OWN_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for log in "${LOGS[@]}"; do
      echo "--- $(basename "$log" .log) log"
      tail -n 20 "$log" 2>/dev/null || true
    done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# wait_for <tries> <what> <command…>: polls the command every 0.2 s until it succeeds.
wait_for() {
  local tries=$1 what=$2
  shift 2
  for _ in $(seq "$tries"); do
    if "$@"; then return 0; fi
    sleep 0.2
  done
  fail "$what (gave up after $((tries / 5)) s)"
}

# Starts the demo in the background and waits until it serves /metrics. Sets DEMO_PID.
start_demo() {
  echo "== demo on $DEMO"
  # node --import tsx rather than npx: one process, so SIGTERM reaches the demo itself.
  PORT="$DEMO_PORT" HOST=127.0.0.1 node --import tsx examples/server.ts >"$WORK/demo.log" 2>&1 &
  DEMO_PID=$!
  OWN_PIDS+=("$DEMO_PID")
  LOGS+=("$WORK/demo.log")
  wait_for 150 "demo /metrics" demo_up
  head -n 1 "$WORK/demo.log"
}

demo_up() {
  kill -0 "$DEMO_PID" 2>/dev/null || fail "the demo exited"
  curl -sf -o /dev/null "$DEMO/metrics"
}
