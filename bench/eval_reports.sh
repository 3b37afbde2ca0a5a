#!/usr/bin/env bash
# What an eval with outcome reports costs (`capgraph eval --outcomes`: resolve, search, and a
# report on each confident answer, through the real feedback path), this checkout against a
# baseline commit, side by side in one run: both evals start together on the same sampled
# queries (one core each on a 2-core machine), each timed by /usr/bin/time. The baseline
# runs from a git worktree with this checkout's .venv (PYTHONPATH puts its src first).
#
# Usage: bash bench/eval_reports.sh BASELINE_REV
# Environment (defaults): SAMPLE=4000 SEED=0 OUT=bench/out EVAL=../shared/eval/metatool
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE=${1:?usage: bench/eval_reports.sh BASELINE_REV}
SAMPLE=${SAMPLE:-4000}
SEED=${SEED:-0}
OUT=${OUT:-$ROOT/bench/out}
EVAL=${EVAL:-$ROOT/../shared/eval/metatool}
mkdir -p "$OUT"
TREE=$(mktemp -d)
trap 'git -C "$ROOT" worktree remove --force "$TREE" >/dev/null 2>&1 || true' EXIT
git -C "$ROOT" worktree add --detach -q "$TREE" "$BASE"

run() {  # name src
    PYTHONPATH=$2 /usr/bin/time -f "%e s wall, %M KB max RSS" -o "$OUT/eval_reports.$1.time" \
        "$ROOT/.venv/bin/python" -c 'from capgraph.cli.main import main; main()' \
        eval --corpus "$EVAL/corpus.jsonl" \
        --queries "$EVAL/queries.jsonl" --sample "$SAMPLE" --outcomes "$SEED" --json \
        > "$OUT/eval_reports.$1.json" 2>/dev/null
}
run baseline "$TREE/src" &
run current "$ROOT/src" &
wait
for name in baseline current; do
    echo "$name: $(cat "$OUT/eval_reports.$name.time")"
done
"$ROOT/.venv/bin/python" - "$OUT" <<'PY'
import json, re, sys
from pathlib import Path
out = Path(sys.argv[1])
wall = {n: float(re.match(r"([\d.]+) s", (out / f"eval_reports.{n}.time").read_text()).group(1))
        for n in ("baseline", "current")}
print(f"wall time current / baseline: {wall['current'] / wall['baseline']:.2f}")
for n in ("baseline", "current"):
    data = json.loads((out / f"eval_reports.{n}.json").read_text())
    print(n, {k: data[k] for k in ("queries", "recall@1", "recall@5", "ndcg@10", "ece",
                                    "latency_ms")})
PY
