#!/usr/bin/env bash
# Compressed segment lists, one command (no root needed for part 1):
#
#   bash Benchmarks/csid/run.sh              # 1. SRH bytes and payload ceilings (planner + codec)
#   EXPERIMENTS=1 bash Benchmarks/csid/run.sh  # 2. also experiment throughput (root: labs)
#
# 1. For abilene, level3 and fattree (topologies/), k = 2, 3, 4 link-disjoint paths between
#    every pair of hosts (else routers; at most PAIRS, default 300, sampled with a fixed seed):
#    SRH bytes per packet with whole SIDs (fewest SIDs), with RFC 9800 NEXT-C-SID containers
#    (F3216, fewest bytes) and as reduced SRHs, and each one's payload ceiling at MTU 1500.
# 2. srte experiment on the diamond (--delay off: the userspace delay bridges make the figures
#    follow the machine's load) and on Level3 (undelayed by default: too many links for
#    bridges) with --compress off / reduced, RUNS each
#    (default 2), interleaved; release build.
# Results: Benchmarks/csid/results/{paths.jsonl,summary.md,experiments.jsonl}.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f scripts/env.sh ] && . scripts/env.sh
out=Benchmarks/csid/results
mkdir -p "$out"
PAIRS=${PAIRS:-300}
swift build -c release --product csid-bench >&2
: > "$out/paths.jsonl"
for t in abilene level3 fattree; do
  SWIFT_DETERMINISTIC_HASHING=1 .build/release/csid-bench "topologies/$t.yaml" "$PAIRS" 1 >> "$out/paths.jsonl"
done
python3 Benchmarks/csid/report.py < "$out/paths.jsonl" | tee "$out/summary.md"

if [ "${EXPERIMENTS:-0}" = 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "experiments create network namespaces: run as root" >&2; exit 1; }
  swift build -c release --product srte >&2
  RUNS=${RUNS:-2}
  : > "$out/experiments.jsonl"
  for run in $(seq "$RUNS"); do
    for mode in off reduced; do
      .build/release/srte experiment topologies/diamond.yaml --delay off --compress "$mode" --format json --lab csid-dia \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print(json.dumps({k: r.get(k) for k in ("topology","compression","srhBytes","aggregateMbps","steadyMbps","payloadCeilingMbps","capacityMbps","verified")}))' \
        >> "$out/experiments.jsonl"
      .build/release/srte experiment topologies/level3.yaml --from Seattle --to Atlanta -k 3 --disjoint node \
        --default-bandwidth 50Mbit --compress "$mode" --format json --lab csid-l3 \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print(json.dumps({k: r.get(k) for k in ("topology","compression","srhBytes","aggregateMbps","steadyMbps","payloadCeilingMbps","capacityMbps","verified")}))' \
        >> "$out/experiments.jsonl"
    done
  done
  python3 - "$out/experiments.jsonl" <<'PY' | tee -a "$out/summary.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print()
print("| topology | lists | SRH bytes per path | engineered Mbit/s | after 1st s | payload ceiling | after 1st s / ceiling | verified |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    ratio = r["steadyMbps"] / r["payloadCeilingMbps"] if r.get("steadyMbps") and r.get("payloadCeilingMbps") else float("nan")
    print(f"| {r['topology']} | {r['compression']} | {', '.join(map(str, r['srhBytes']))} | {r['aggregateMbps']} | {r['steadyMbps']} | {r['payloadCeilingMbps']} | {ratio:.3f} | {r['verified']} |")
PY
fi
