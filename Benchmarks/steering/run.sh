#!/usr/bin/env bash
# Steering benchmarks, one command (as root):  bash Benchmarks/steering/run.sh [RUNS] [SECONDS]
#  (a) throughput of one TCP flow over an unconstrained veth path h1 - r - h2 (r an SRv6
#      router, End SID fc00:0:1::1): no steering vs policy routing vs tc-BPF inserting
#      [fc00:0:1::1, h2]; modes interleaved, RUNS rounds (default 5) of SECONDS (default 5)
#  (b) installing and removing steering for 1, 100 and 1000 subflows
# Both run in namespaces steer-bench creates and deletes.
# Results: Benchmarks/steering/results/{throughput,install}.jsonl and summary.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
runs=${1:-5}
secs=${2:-5}
out=Benchmarks/steering/results
mkdir -p "$out"
swift build -c release --product steer-bench >&2
.build/release/steer-bench throughput "$runs" "$secs" | grep '^{' > "$out/throughput.jsonl"
.build/release/steer-bench install 1 100 1000 | grep '^{' > "$out/install.jsonl"
python3 - "$out" <<'PY' | tee "$out/summary.md"
import json, statistics, sys
out = sys.argv[1]
t = [json.loads(l) for l in open(f"{out}/throughput.jsonl")]
modes = [m for m in ("none", "route", "bpf") if any(r["mode"] == m for r in t)]   # route: only with seg6 routes
med = {m: statistics.median([r["mbps"] for r in t if r["mode"] == m]) for m in modes}
rng = {m: (min(r["mbps"] for r in t if r["mode"] == m), max(r["mbps"] for r in t if r["mode"] == m)) for m in modes}
print(f"(a) one TCP flow over veth h1 - r - h2, {len(t) // len(modes)} interleaved rounds")
print()
print("| steering | median Mbit/s | min–max | vs none |")
print("|---|---|---|---|")
for m in modes:
    print(f"| {m} | {med[m]:,.0f} | {rng[m][0]:,.0f}–{rng[m][1]:,.0f} | {(med[m] / med['none'] - 1) * 100:+.1f}% |")
print()
print("(b) installing and removing steering")
print()
print("| mechanism | subflows | setup ms | install ms | remove ms | install µs/subflow |")
print("|---|---|---|---|---|---|")
for l in open(f"{out}/install.jsonl"):
    r = json.loads(l)
    print(f"| {r['mechanism']} | {r['flows']} | {r['setup_ms']} | {r['install_ms']} | {r['remove_ms']} | {r['install_per_flow_us']} |")
PY
