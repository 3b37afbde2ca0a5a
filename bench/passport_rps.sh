#!/usr/bin/env bash
# GET /api/v1/passport/qwen-qwen3-coder: capgraph (1 and 2 worker processes) against nginx
# serving the same bytes as a static file (1 and 2 worker processes), all on 127.0.0.1, driven
# by wrk on the same machine, in one run. Rounds are interleaved (nginx-1, capgraph-1, nginx-2,
# capgraph-2, then again) and the table reports the median of the rounds.
#
# Usage: bash bench/passport_rps.sh
# Environment (defaults): THREADS=2 CONNS=32 DURATION=10s WARMUP=2s ROUNDS=2 OUT=bench/out
#   SEEDS=../shared/seeds   VARIANTS="" (space-separated extra capgraph configurations, run
#   with uvicorn directly, 2 workers each: httptools-uvloop (= what serve picks), h11, asyncio,
#   and the what-if patches of bench/server_variants.py: coalesce, gencache, both)
#   QUIET=0.25 QUIET_WAIT=60: before each round, wait up to QUIET_WAIT s until the whole
#   machine is at most QUIET busy (other processes), then measure anyway.
# Needs nginx and wrk: installed from Debian (apt-get) when missing.
#
# wrk runs on the same 2 cores as the server: every number here is "server + load generator
# sharing the CPU". The per-run CPU seconds of server and wrk are recorded to show the split.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=$ROOT/.venv/bin/python
CAPGRAPH=$ROOT/.venv/bin/capgraph
UVICORN=$ROOT/.venv/bin/uvicorn
HELPER=("$PY" "$ROOT/bench/rps_helper.py")
OUT=${OUT:-$ROOT/bench/out}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-2}
SEEDS=${SEEDS:-$ROOT/../shared/seeds}
VARIANTS=${VARIANTS:-}
QUIET=${QUIET:-0.25}
QUIET_WAIT=${QUIET_WAIT:-60}
SLUG=qwen-qwen3-coder
# The per-client rate limit (60 requests a minute by default) would answer wrk with 429s: lift
# it for every server this script starts. Everything else is the default configuration.
export CAPGRAPH_RATE_LIMIT_ANONYMOUS=${CAPGRAPH_RATE_LIMIT_ANONYMOUS:-1000000000}
PASSPORT_PATH=/api/v1/passport/$SLUG

# shellcheck source=bench/rps_lib.sh
source "$ROOT/bench/rps_lib.sh"

install_tools
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/capgraph-rps.XXXXXX)
chmod 755 "$WORK"  # nginx workers run as nobody and must read the static file
RESULTS=$OUT/passport_rps.jsonl
: >"$RESULTS"

trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== machine"
echo "nproc: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$("$NGINX" -v 2>&1); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
"$PY" -c 'import sys, uvicorn, httptools, uvloop; print("python", sys.version.split()[0],
"uvicorn", uvicorn.__version__, "httptools", httptools.__version__, "uvloop", uvloop.__version__)'
echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency (after a $WARMUP warm-up), $ROUNDS rounds"

echo "== data: demo manifests + seeds"
DATA=$WORK/data
"$CAPGRAPH" --data-dir "$DATA" demo
"$CAPGRAPH" --data-dir "$DATA" import "$SEEDS"/*.passport.json

# Every server gets a port from the kernel's ephemeral range (always 5 digits), so the _links
# in each capgraph answer, which carry the Host, have the same length as the static file.
declare -A URL KIND PROCS PGID
ORDER=()

echo "== servers"
P=$("${HELPER[@]}" free-port)
start capgraph-1 "$CAPGRAPH" --data-dir "$DATA" serve --port "$P" --workers 1
URL[capgraph-1]=http://127.0.0.1:$P$PASSPORT_PATH; KIND[capgraph-1]=capgraph; PROCS[capgraph-1]=1
PGID[capgraph-1]=$LAST_PGID
P=$("${HELPER[@]}" free-port)
start capgraph-2 "$CAPGRAPH" --data-dir "$DATA" serve --port "$P" --workers 2
URL[capgraph-2]=http://127.0.0.1:$P$PASSPORT_PATH; KIND[capgraph-2]=capgraph; PROCS[capgraph-2]=2
PGID[capgraph-2]=$LAST_PGID

for v in $VARIANTS; do
    app=capgraph.http.server:make_app
    flags=(--http httptools --loop uvloop)
    case $v in
        httptools-uvloop) ;;  # what `capgraph serve` picks itself (uvicorn's "auto")
        h11) flags=(--http h11 --loop uvloop) ;;
        asyncio) flags=(--http httptools --loop asyncio) ;;
        coalesce | gencache | both) app=server_variants:$v ;;  # bench/server_variants.py
        *) echo "unknown variant $v" >&2; exit 2 ;;
    esac
    P=$("${HELPER[@]}" free-port)
    # What `capgraph serve` does, but with uvicorn's own flags: workers read CAPGRAPH_* only.
    start "uvicorn-$v" env CAPGRAPH_DATA_DIR="$DATA" CAPGRAPH_HOST=127.0.0.1 CAPGRAPH_PORT="$P" \
        "$UVICORN" "$app" --factory --app-dir "$ROOT/bench" --host 127.0.0.1 --port "$P" \
        --workers 2 --no-access-log --no-server-header --log-level warning "${flags[@]}"
    URL[uvicorn-$v]=http://127.0.0.1:$P$PASSPORT_PATH; KIND[uvicorn-$v]=capgraph
    PROCS[uvicorn-$v]=2; PGID[uvicorn-$v]=$LAST_PGID
done

for label in capgraph-2 capgraph-1; do "${HELPER[@]}" wait "${URL[$label]}" --timeout 300; done
for v in $VARIANTS; do "${HELPER[@]}" wait "${URL[uvicorn-$v]}" --timeout 300; done
mkdir -p "$WORK/www${PASSPORT_PATH%/*}"
"${HELPER[@]}" fetch "${URL[capgraph-2]}" "$WORK/www$PASSPORT_PATH"
chmod -R a+rX "$WORK/www"

for n in 1 2; do
    P=$("${HELPER[@]}" free-port)
    mkdir -p "$WORK/nginx-$n"
    {
        nginx_conf "$WORK/nginx-$n" "$n"
        cat <<EOF
    types { }
    default_type application/json;
    server {
        listen 127.0.0.1:$P;
        root $WORK/www;
    }
}
EOF
    } >"$WORK/nginx-$n/nginx.conf"
    start "nginx-$n" "$NGINX" -e "$WORK/nginx-$n/error.log" -p "$WORK/nginx-$n" \
        -c "$WORK/nginx-$n/nginx.conf"
    URL[nginx-$n]=http://127.0.0.1:$P$PASSPORT_PATH; KIND[nginx-$n]=nginx; PROCS[nginx-$n]=$n
    PGID[nginx-$n]=$LAST_PGID
    "${HELPER[@]}" wait "${URL[nginx-$n]}"
done

ORDER=(nginx-1 capgraph-1 nginx-2 capgraph-2)
for v in $VARIANTS; do ORDER+=("uvicorn-$v"); done
urls=()
for label in "${ORDER[@]}"; do urls+=("${URL[$label]}"); done
"${HELPER[@]}" same-size "${urls[@]}" --file "$WORK/www$PASSPORT_PATH"

echo "== wrk"
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round"
    "${HELPER[@]}" quiet --max-busy "$QUIET" --timeout "$QUIET_WAIT"
    for label in "${ORDER[@]}"; do
        "${HELPER[@]}" run --label "$label" --kind "${KIND[$label]}" --processes \
            "${PROCS[$label]}" --round "$round" --url "${URL[$label]}" --pgid "${PGID[$label]}" \
            --results "$RESULTS" --threads "$THREADS" --conns "$CONNS" --duration "$DURATION" \
            --warmup "$WARMUP"
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"${HELPER[@]}" report "$RESULTS" --json "$OUT/passport_rps.json"
