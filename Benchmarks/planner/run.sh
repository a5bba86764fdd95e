#!/usr/bin/env bash
# The planner benchmark, one command (from the package root or anywhere):
#
#   bash Benchmarks/planner/run.sh
#
# Environment: ANCHORS (required: the directory of reference implementations — anchor_nx.py,
# bgl_anchor.cpp, gen_topologies.py; see README.md),
# TOPOLOGIES (comma list, default below), BUDGET (seconds per process and topology, default 40),
# NX_MCF_100K=0 to skip the slow networkx min-cost-flow run on isp-100k.
# Needs python3 (venv), g++ and libboost-graph-dev, swift. Writes Benchmarks/planner/results/
# (paths.jsonl, summary.md; not tracked); each process's stderr goes to Benchmarks/build/logs/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ANCHORS=${ANCHORS:-}
if [ -z "$ANCHORS" ] || [ ! -f "$ANCHORS/anchor_nx.py" ]; then
  echo "set ANCHORS to the directory of reference implementations (anchor_nx.py, bgl_anchor.cpp, gen_topologies.py); see Benchmarks/planner/README.md" >&2
  exit 2
fi
WORK=$ROOT/Benchmarks/build
VENV=$ROOT/Benchmarks/.venv
RESULTS=$HERE/results
LOGS=$WORK/logs
TOPOS=${TOPOLOGIES:-isp-1k,isp-10k,isp-100k,zoo-abilene,zoo-geant2012,caida-level3-as3356,fattree-16}
BUDGET=${BUDGET:-40}
mkdir -p "$WORK" "$RESULTS" "$LOGS"

# 1. Python anchors' environment (networkx; igraph and topohub for the topology generator).
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q networkx==3.6.1 igraph==1.0.0 topohub==1.5.1 numpy==2.4.6

# 2. The C++ Boost Graph Library anchor.
if [ ! -f /usr/include/boost/graph/successive_shortest_path_nonnegative_weights.hpp ]; then
  echo "needs libboost-graph-dev: apt-get install -y --no-install-recommends libboost-graph-dev" >&2; exit 1
fi
[ "$WORK/bgl_anchor" -nt "$ANCHORS/bgl_anchor.cpp" ] || g++ -O2 -std=c++17 -o "$WORK/bgl_anchor" "$ANCHORS/bgl_anchor.cpp"

# 3. Seeded topologies (byte-for-byte reproducible), only those missing.
missing=""
for t in ${TOPOS//,/ }; do [ -f "$WORK/data/$t.json" ] || missing="$missing,$t"; done
[ -z "$missing" ] || "$VENV/bin/python" "$ANCHORS/gen_topologies.py" --out "$WORK/data" --only "${missing#,}"

# 4. The Swift benchmark, release build.
(cd "$ROOT" && swift build -c release --product srte-bench 2>&1 | tail -1)
BENCH=$ROOT/.build/release/srte-bench

# 5. Everything on every topology, one fresh process each, in the same run.
OUT=$RESULTS/paths.jsonl
: > "$OUT"
cd "$WORK"
for t in ${TOPOS//,/ }; do
  for anchor in srte bgl nx.ssp nx.mcf; do
    start=$(date +%s.%N)
    case $anchor in
      srte)   cmd=("$BENCH" "data/$t.json" --budget "$BUDGET") ;;
      bgl)    cmd=("$WORK/bgl_anchor" "data/$t.edges" --budget "$BUDGET") ;;
      nx.ssp) cmd=("$VENV/bin/python" "$ANCHORS/anchor_nx.py" bench "data/$t.json" --algo ssp --budget "$BUDGET") ;;
      nx.mcf)
        if [ "$t" = isp-100k ]; then
          [ "${NX_MCF_100K:-1}" = 1 ] || continue
          # One run per pair for k = 4 node-disjoint only: a single call takes minutes.
          cmd=("$VENV/bin/python" "$ANCHORS/anchor_nx.py" bench "data/$t.json" --algo mcf --ops disjoint
               --k 4 --disjoint node --reps 1 --op-cap 600 --budget 900)
        else
          cmd=("$VENV/bin/python" "$ANCHORS/anchor_nx.py" bench "data/$t.json" --algo mcf --budget "$BUDGET")
        fi ;;
    esac
    "${cmd[@]}" >> "$OUT" 2> "$LOGS/$t.$anchor.err" || echo "$t $anchor: exit $?" >&2
    printf '%-22s %-7s %6.1fs\n' "$t" "$anchor" "$(echo "$(date +%s.%N) - $start" | bc)"
  done
done

# 6. Tables, speed-ups and the cost cross-check.
"$VENV/bin/python" "$HERE/report.py" "$OUT" | tee "$RESULTS/summary.md"
