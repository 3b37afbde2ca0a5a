#!/usr/bin/env bash
# schemathesis with every check over the whole OpenAPI document, against a real `capgraph
# serve` on 127.0.0.1 with the demo data and an API key (rate limits raised: one client).
# Usage: bench/fuzz_api.sh [examples per operation, default 300]. Numbers: BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES="${1:-300}"
DATA="$(mktemp -d)"
PORT="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export CAPGRAPH_DATA_DIR="$DATA" CAPGRAPH_EMBEDDER=none CAPGRAPH_RATE_LIMIT_ANONYMOUS=100000000 \
  CAPGRAPH_RATE_LIMIT_KEY=100000000
.venv/bin/capgraph demo >/dev/null
KEY="$(.venv/bin/capgraph keys create --name fuzz)"  # so the write operations are reached too
.venv/bin/capgraph serve --port "$PORT" 2>"$DATA/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 300); do
  curl -fs "http://127.0.0.1:$PORT/api/v1/health" >/dev/null && break
  sleep 0.1
done
status=0
.venv/bin/schemathesis run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --checks all --max-examples "$EXAMPLES" --workers 1 --seed 14 -H "X-API-Key: $KEY" || status=$?
exit $status
