#!/usr/bin/env bash
# SRH benchmark, one command:  bash Benchmarks/srh/run.sh [ITERATIONS]
# Runs, in the same session, on the same inputs:
#   srte (Swift, release)   Benchmarks/srh/Sources/srh-bench
#   C -O2, the same checks  Benchmarks/srh/srh_kernel_c.c (the near-physical-limit anchor)
#   scapy 2.8.0             IPv6ExtHdrSegmentRouting (PyPI), build + parse
# and prints a table (Benchmarks/srh/results/summary.md) with the ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
iters=${1:-2000000}
out=Benchmarks/srh/results
mkdir -p "$out" Benchmarks/build
swift build -c release --product srh-bench >&2
gcc -O2 -Wall -o Benchmarks/build/srh_kernel_c Benchmarks/srh/srh_kernel_c.c
if [ ! -x Benchmarks/.venv/bin/python ]; then
  python3 -m venv Benchmarks/.venv
  Benchmarks/.venv/bin/pip install -q scapy==2.8.0
fi
{
  .build/release/srh-bench "$iters"
  Benchmarks/build/srh_kernel_c "$iters"
  Benchmarks/.venv/bin/python Benchmarks/srh/srh_scapy.py
} > "$out/srh.jsonl"
Benchmarks/.venv/bin/python Benchmarks/srh/report.py "$out/srh.jsonl" | tee "$out/summary.md"

# `srte srh validate -` throughput: 1,000,000 lines (a mix of valid and invalid SRHs).
swift build -c release --product srte >&2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 - > "$tmp/lines.txt" <<'PY'
import random
random.seed(7)
good = ["3b04040101000000fc000002000000000000000000000002fc000000000a00000000000000000001",
        "3b02040000000000fc000000000000000000000000000001"]
bad = ["3b04040201000000fc000002000000000000000000000002fc000000000a00000000000000000001",
       "3b0404010100"]
for i in range(1_000_000):
    print(random.choice(good if i % 4 else bad))
PY
start=$(date +%s.%N)
.build/release/srte srh validate - --format json < "$tmp/lines.txt" > "$tmp/validate.out" || true
end=$(date +%s.%N)
lines=$(wc -l < "$tmp/validate.out")
python3 -c "s=$end-$start; print(f'srte srh validate -: {$lines:,} lines in {s:.2f} s = {$lines/s:,.0f} lines/s (goal >= 100,000)')" | tee -a "$out/summary.md"
