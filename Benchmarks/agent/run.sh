#!/usr/bin/env bash
# srte agent with an unmodified program, one command (as root):
#   bash Benchmarks/agent/run.sh [TRIALS] [SECONDS]
# (a) `mptcpize run iperf3 -c h2 -t SECONDS` (default 10) on the bundled diamond, with the
#     topology file's delays: plain TCP, MPTCP with no path manager, and MPTCP engineered by
#     `srte agent` (one subflow per planned path), each trial one `srte experiment --traffic
#     iperf3` (same lab, same run). TRIALS (default 3) labs in a row.
# Goals: steady state (after the first second) >= 0.97 of the payload ceiling, and
# engineered >= 2.8x the unsteered run.
# Results: Benchmarks/agent/results/iperf3-N.json (one per trial, not tracked) and summary.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
bash scripts/install-deps.sh
trials=${1:-3}
secs=${2:-10}
out=Benchmarks/agent/results
mkdir -p "$out"
# Release build: the delay bridges forward every frame in userspace.
swift build -c release --product srte >&2
swift build -c release --product srte-delay-bridge >&2
bin="$(swift build -c release --show-bin-path)"
for i in $(seq 1 "$trials"); do
  echo "trial $i of $trials" >&2
  "$bin/srte" experiment topologies/diamond.yaml --traffic iperf3 --seconds "$secs" --lab "agb$$" \
    --format json > "$out/iperf3-$i.json"
done
python3 - "$out" "$trials" "$secs" <<'PY' | tee "$out/summary.md"
import json, statistics, sys
out, trials, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rs = [json.load(open(f"{out}/iperf3-{i}.json")) for i in range(1, trials + 1)]
def med(xs): return statistics.median(xs)
ceiling = rs[0]["payloadCeilingMbps"]
rows = [
    ("single-path TCP (iperf3)", [r["singlePathMbps"] for r in rs]),
    ("mptcpize run iperf3, no path manager", [r["unsteeredMbps"] for r in rs]),
    ("mptcpize run iperf3 + srte agent, whole run", [r["aggregateMbps"] for r in rs]),
    ("mptcpize run iperf3 + srte agent, after 1 s", [r["steadyMbps"] for r in rs]),
]
print(f"diamond, {rs[0]['k']} planned paths of {rs[0]['capacityMbps']} Mbit/s total, payload ceiling {ceiling} Mbit/s, "
      f"{secs} s per run, {trials} trial(s), delay: {rs[0]['delay']}, cc: {rs[0]['congestionControl']}")
print()
print("| run | median Mbit/s | min–max |")
print("|---|---|---|")
for name, xs in rows:
    print(f"| {name} | {med(xs):.1f} | {min(xs):.1f}–{max(xs):.1f} |")
steady = [r["steadyMbps"] / ceiling for r in rs]
ratio = [r["aggregateMbps"] / r["unsteeredMbps"] for r in rs]
print()
print(f"| goal | median | min–max | met |")
print("|---|---|---|---|")
print(f"| steady state >= 0.97 of the payload ceiling | {med(steady):.3f} | {min(steady):.3f}–{max(steady):.3f} | {'yes' if med(steady) >= 0.97 else 'no'} |")
print(f"| engineered >= 2.8x unsteered | {med(ratio):.2f}x | {min(ratio):.2f}–{max(ratio):.2f}x | {'yes' if med(ratio) >= 2.8 else 'no'} |")
print()
for i, r in enumerate(rs, 1):
    links = {(l["a"], l["b"]): l["bytesAToB"] for l in r["links"]}
    mids = " ".join(f"r1→{m} {links.get(('r1', m), 0) / 1e6:.1f} MB" for m in ("a", "b", "c"))
    agent = next((n for n in r["notes"] if n.startswith("srte agent")), "")
    print(f"trial {i}: {mids}; {agent}")
PY
