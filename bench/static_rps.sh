#!/usr/bin/env bash
# GET /api/v1/passport/qwen-qwen3-coder, the latest envelope, three ways in one run, on
# 127.0.0.1, driven by wrk on the same machine, one server process each:
#   capgraph       `capgraph serve --workers 1` (the Python server, fast path)
#   nginx-static   nginx (1 worker) with the configuration of docs/STATIC.md over the
#                  CAPGRAPH_STATIC_DIR capgraph wrote (try_files, types, Cache-Control, ETag)
#   nginx-plain    nginx (1 worker) serving a plain file of the same bytes, minimal config
# Rounds are interleaved (nginx-plain, nginx-static, capgraph, then again); the table reports
# the median of the rounds and the ratios.
#
# Usage: bash bench/static_rps.sh
# Environment (defaults): THREADS=2 CONNS=32 DURATION=10s WARMUP=2s ROUNDS=3 OUT=bench/out
#   SEEDS=../shared/seeds QUIET=0.25 QUIET_WAIT=30
# Needs nginx and wrk: installed from Debian (apt-get) when missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=$ROOT/.venv/bin/python
CAPGRAPH=$ROOT/.venv/bin/capgraph
HELPER=("$PY" "$ROOT/bench/rps_helper.py")
OUT=${OUT:-$ROOT/bench/out}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-3}
SEEDS=${SEEDS:-$ROOT/../shared/seeds}
QUIET=${QUIET:-0.25}
QUIET_WAIT=${QUIET_WAIT:-30}
SLUG=qwen-qwen3-coder
PASSPORT_PATH=/api/v1/passport/$SLUG
export CAPGRAPH_RATE_LIMIT_ANONYMOUS=${CAPGRAPH_RATE_LIMIT_ANONYMOUS:-1000000000}
export CAPGRAPH_EMBEDDER=none  # reads only: no model needed

# shellcheck source=bench/rps_lib.sh
source "$ROOT/bench/rps_lib.sh"
install_tools
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/capgraph-static-rps.XXXXXX)
chmod 755 "$WORK"  # nginx workers run as nobody and must read the files
RESULTS=$OUT/static_rps.jsonl
: >"$RESULTS"

trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== machine"
echo "nproc: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$("$NGINX" -v 2>&1); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency (after a $WARMUP warm-up), $ROUNDS rounds"

declare -A URL KIND PGID
P_APP=$("${HELPER[@]}" free-port)
P_STATIC=$("${HELPER[@]}" free-port)
P_PLAIN=$("${HELPER[@]}" free-port)
export CAPGRAPH_PUBLIC_URL=http://127.0.0.1:$P_APP
export CAPGRAPH_STATIC_DIR=$WORK/static

echo "== data: demo manifests + seeds, written to the static directory as they are stored"
DATA=$WORK/data
"$CAPGRAPH" --data-dir "$DATA" demo
"$CAPGRAPH" --data-dir "$DATA" import "$SEEDS"/*.passport.json
chmod -R a+rX "$WORK/static"

echo "== servers"
start capgraph "$CAPGRAPH" --data-dir "$DATA" serve --port "$P_APP" --workers 1
URL[capgraph]=http://127.0.0.1:$P_APP$PASSPORT_PATH; KIND[capgraph]=capgraph
PGID[capgraph]=$LAST_PGID
"${HELPER[@]}" wait "${URL[capgraph]}" --timeout 300

# nginx-static: the server block of docs/STATIC.md, with this run's root and ports.
mkdir -p "$WORK/nginx-static"
"$PY" - "$ROOT/docs/STATIC.md" "$WORK/static" "$P_STATIC" "$P_APP" >"$WORK/server-block" <<'EOF'
import sys
doc, root, listen, upstream = sys.argv[1:]
block = open(doc).read().split("<!-- nginx-config -->", 1)[1].split("```nginx\n", 1)[1]
block = block.split("```", 1)[0]
block = block.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
block = block.replace("listen 80;", f"listen 127.0.0.1:{listen};")
print(block.replace("root /srv/capgraph/static;", f"root {root};"))
EOF
{
    nginx_conf "$WORK/nginx-static" 1
    cat "$WORK/server-block"
    echo "}"
} >"$WORK/nginx-static/nginx.conf"
start nginx-static "$NGINX" -e "$WORK/nginx-static/error.log" -p "$WORK/nginx-static" \
    -c "$WORK/nginx-static/nginx.conf"
URL[nginx-static]=http://127.0.0.1:$P_STATIC$PASSPORT_PATH; KIND[nginx-static]=static
PGID[nginx-static]=$LAST_PGID

# nginx-plain: one file, the bytes capgraph serves, and nothing else configured.
mkdir -p "$WORK/www${PASSPORT_PATH%/*}" "$WORK/nginx-plain"
"${HELPER[@]}" fetch "${URL[capgraph]}" "$WORK/www$PASSPORT_PATH"
chmod -R a+rX "$WORK/www"
{
    nginx_conf "$WORK/nginx-plain" 1
    cat <<EOF
    types { }
    default_type application/json;
    server {
        listen 127.0.0.1:$P_PLAIN;
        root $WORK/www;
    }
}
EOF
} >"$WORK/nginx-plain/nginx.conf"
start nginx-plain "$NGINX" -e "$WORK/nginx-plain/error.log" -p "$WORK/nginx-plain" \
    -c "$WORK/nginx-plain/nginx.conf"
URL[nginx-plain]=http://127.0.0.1:$P_PLAIN$PASSPORT_PATH; KIND[nginx-plain]=nginx
PGID[nginx-plain]=$LAST_PGID
"${HELPER[@]}" wait "${URL[nginx-static]}"
"${HELPER[@]}" wait "${URL[nginx-plain]}"

# The same bytes from all three (and nginx-static from its file, not handed on to capgraph).
for label in capgraph nginx-static nginx-plain; do
    curl -sf "${URL[$label]}" >"$WORK/body-$label"
    cmp "$WORK/body-$label" "$WORK/www$PASSPORT_PATH"
done
cmp "$WORK/static$PASSPORT_PATH" "$WORK/www$PASSPORT_PATH"
echo "same $(wc -c <"$WORK/www$PASSPORT_PATH") bytes from each"
curl -sI "${URL[nginx-static]}" | grep -iE '^(etag|cache-control|content-type):' | tr -d '\r'

ORDER=(nginx-plain nginx-static capgraph)
echo "== wrk"
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round"
    "${HELPER[@]}" quiet --max-busy "$QUIET" --timeout "$QUIET_WAIT"
    for label in "${ORDER[@]}"; do
        "${HELPER[@]}" run --label "$label" --kind "${KIND[$label]}" --processes 1 \
            --round "$round" --url "${URL[$label]}" --pgid "${PGID[$label]}" \
            --results "$RESULTS" --threads "$THREADS" --conns "$CONNS" --duration "$DURATION" \
            --warmup "$WARMUP"
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"${HELPER[@]}" report "$RESULTS" --json "$OUT/static_rps.json"
"$PY" - "$OUT/static_rps.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(f"ratio capgraph / nginx-static: {s['capgraph']['rps'] / s['nginx-static']['rps']:.3f}")
print("ratio capgraph / nginx-static, server CPU per request: "
      f"{s['capgraph']['server_cpu_us_per_request'] / s['nginx-static']['server_cpu_us_per_request']:.2f}")
EOF
