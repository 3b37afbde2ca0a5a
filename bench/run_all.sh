#!/usr/bin/env bash
# Run every foundation benchmark (publish, sign/verify, FTS delete scaling, passport req/s).
# Results go to bench/out/ (gitignored): what was printed (.txt) and the numbers (.json) for
# each benchmark, plus machine.txt.
#
# Usage: bash bench/run_all.sh        (or: make bench)
# Environment: N_PUBLISH=2000 N_SIGN=3000, and passport_rps.sh's THREADS CONNS DURATION
# WARMUP ROUNDS VARIANTS.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=$ROOT/.venv/bin/python
OUT=${OUT:-$ROOT/bench/out}
export OUT
mkdir -p "$OUT"
cd "$ROOT"

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel: $(uname -r)"
    echo "python: $("$PY" -c 'import sys; print(sys.version.split()[0])')"
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"

echo
echo "### bench/publish_throughput.py"
"$PY" bench/publish_throughput.py -n "${N_PUBLISH:-2000}" --json "$OUT/publish_throughput.json" \
    | tee "$OUT/publish_throughput.txt"

echo
echo "### bench/sign_verify.py"
"$PY" bench/sign_verify.py -n "${N_SIGN:-3000}" --json "$OUT/sign_verify.json" \
    | tee "$OUT/sign_verify.txt"

echo
echo "### bench/fts_delete_scaling.py"
"$PY" bench/fts_delete_scaling.py --json "$OUT/fts_delete_scaling.json" \
    | tee "$OUT/fts_delete_scaling.txt"

echo
echo "### bench/passport_rps.sh"
bash bench/passport_rps.sh 2>&1 | tee "$OUT/passport_rps.txt"
