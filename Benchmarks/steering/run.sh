#!/usr/bin/env bash
# Steering benchmarks, one command (as root):  bash Benchmarks/steering/run.sh [RUNS]
#  (a) throughput of one MPTCP connection over an unconstrained veth path
#      h1 - r - h2, r an SRv6 router (End SID fc00:0:1::1): no steering vs
#      policy routing vs tc-BPF inserting [fc00:0:1::1, h2]; median of RUNS (default 5)
#  (b) installing and removing steering for 1, 100 and 1000 subflows (steer-bench)
# Results: Benchmarks/steering/results/{throughput,install}.jsonl and summary.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
runs=${1:-5}
bytes=${BYTES:-3000000000}
out=Benchmarks/steering/results
mkdir -p "$out"
swift build -c release --product srte >&2
swift build -c release --product steer-bench >&2
srte=$PWD/.build/release/srte
lab="sbench$$"
cleanup() { for n in h1 r h2; do ip netns del "$lab-$n" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
for n in h1 r h2; do ip netns add "$lab-$n"; ip -n "$lab-$n" link set lo up; done
ip link add h1-r netns "$lab-h1" type veth peer name r-h1 netns "$lab-r"
ip link add r-h2 netns "$lab-r" type veth peer name h2-r netns "$lab-h2"
for l in "h1 h1-r" "r r-h1" "r r-h2" "h2 h2-r"; do set -- $l; ip -n "$lab-$1" link set "$2" up; done
ip -n "$lab-h1" -6 addr add fc00:10::1/64 dev h1-r nodad
ip -n "$lab-r" -6 addr add fc00:10::2/64 dev r-h1 nodad
ip -n "$lab-r" -6 addr add fc00:20::1/64 dev r-h2 nodad
ip -n "$lab-h2" -6 addr add fc00:20::2/64 dev h2-r nodad
ip -n "$lab-h1" -6 route add default via fc00:10::2
ip -n "$lab-h2" -6 route add default via fc00:20::1
ip netns exec "$lab-r" sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.conf.all.seg6_enabled=1 net.ipv6.conf.r-h1.seg6_enabled=1
ip -n "$lab-r" -6 route add fc00:0:1::1/128 encap seg6local action End dev r-h1
for n in h1 h2; do ip netns exec "$lab-$n" sysctl -qw net.mptcp.pm_type=1 net.ipv6.conf.all.seg6_enabled=1; done
ip netns exec "$lab-h2" sysctl -qw net.ipv6.conf.h2-r.seg6_enabled=1
ip netns exec "$lab-h1" ping -6 -c1 -w5 fc00:20::2 >/dev/null

: > "$out/throughput.jsonl"
for mode in none route bpf; do
  for i in $(seq "$runs"); do
    ip netns exec "$lab-h2" "$srte" serve --listen :5201 --count 1 --format json --timeout 60 > "$out/.serve.json" 2>/dev/null &
    sp=$!
    sleep 0.3
    case $mode in
      none) args=(--path direct) ;;
      route) args=(--path fc00:0:1::1 --steer route) ;;
      bpf) args=(--path fc00:0:1::1 --steer bpf) ;;
    esac
    ip netns exec "$lab-h1" "$srte" open --to "[fc00:20::2]:5201" "${args[@]}" --bytes "$bytes" --format json 2>>"$out/.open.err" \
      | python3 -c "import json,sys; d=json.load(sys.stdin); print(json.dumps({'mode': '$mode', 'run': $i, 'mbps': d['mbps'], 'bytes': d['bytes'], 'seconds': d['seconds']}))" \
      >> "$out/throughput.jsonl"
    wait "$sp" || true
  done
done
rm -f "$out/.serve.json"
.build/release/steer-bench 1 100 1000 > "$out/install.jsonl"
python3 - "$out" <<'PY' | tee "$out/summary.md"
import json, statistics, sys
out = sys.argv[1]
t = [json.loads(l) for l in open(f"{out}/throughput.jsonl")]
med = {m: statistics.median([r["mbps"] for r in t if r["mode"] == m]) for m in ("none", "route", "bpf")}
print("(a) one MPTCP subflow over veth h1 - r - h2, median Mbit/s of", len(t) // 3, "runs")
print()
print("| steering | Mbit/s | vs none |")
print("|---|---|---|")
for m in ("none", "route", "bpf"):
    print(f"| {m} | {med[m]:,.0f} | {(med[m] / med['none'] - 1) * 100:+.1f}% |")
print()
print("(b) installing and removing steering (steer-bench)")
print()
print("| mechanism | subflows | setup ms | install ms | remove ms | install µs/subflow |")
print("|---|---|---|---|---|---|")
for l in open(f"{out}/install.jsonl"):
    r = json.loads(l)
    print(f"| {r['mechanism']} | {r['flows']} | {r['setup_ms']} | {r['install_ms']} | {r['remove_ms']} | {r['install_per_flow_us']} |")
PY
