#!/usr/bin/env bash
# A Python client against the demo: the original design's load test (examples/load_test.py, unchanged but
# for its URI) sends 1000 chat.message with the `websockets` library, then
#   - it exits 0 and prints "Sent 1000 msgs",
#   - /metrics says the chat agent answered all 1000 (demo_chat_messages_total) and refused
#     none (no ws_outbox_rejected_messages_total sample above 0).
#
# Needs node_modules (run after `npm ci`). Installs Debian's python3-websockets when no python3
# can import websockets (CI runs as root); PYTHON picks the interpreter. Port: DEMO_PORT (18081).
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO_PORT="${DEMO_PORT:-18081}"
DEMO="http://127.0.0.1:${DEMO_PORT}"
COUNT=1000

# The python3 first on PATH may be a pyenv or venv build that does not see Debian's packages.
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import websockets' 2>/dev/null; then
  if ! /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-websockets
  fi
  PYTHON=/usr/bin/python3
fi
echo "== $("$PYTHON" --version) with websockets $("$PYTHON" -c 'import websockets; print(websockets.__version__)')"
[ -d node_modules ] || { echo "node_modules missing: run npm ci first" >&2; exit 1; }
if curl -s -o /dev/null "$DEMO/"; then echo "something already listens on $DEMO" >&2; exit 1; fi

# shellcheck source=demo-lib.sh
source .ci/demo-lib.sh

# The value of an unlabelled sample in the demo's /metrics, "none" when absent.
metric() {
  curl -sf "$DEMO/metrics" | awk -v name="$1" '$1 == name { print $2; found = 1 } END { if (!found) print "none" }'
}

start_demo

echo "== examples/load_test.py"
# The original design's thread_id, on the demo's path.
"$PYTHON" examples/load_test.py "ws://127.0.0.1:${DEMO_PORT}/ws?thread_id=test" | tee "$WORK/load.log"
grep -q "^Sent ${COUNT} msgs in " "$WORK/load.log" || fail "the load test did not print 'Sent ${COUNT} msgs'"

# The client returns once its close handshake is done, and the server reads a connection's
# frames in order, so the chat messages were all handled by then; polled all the same, bounded.
handled() { [ "$(metric demo_chat_messages_total)" = "$COUNT" ]; }
wait_for 50 "demo_chat_messages_total to reach $COUNT" handled
echo "  ok    demo_chat_messages_total = $COUNT"
rejected="$(curl -sf "$DEMO/metrics" | awk '$1 ~ /^ws_outbox_rejected_messages_total/ && $2 > 0' )"
[ -z "$rejected" ] || fail "messages were refused: $rejected"
echo "  ok    no message refused (ws_outbox_rejected_messages_total)"
echo "python client check passed"
