#!/usr/bin/env bash
# srte agent with unmodified programs, one command (as root):
#   bash Benchmarks/agent/run.sh [TRIALS] [SECONDS]          PART=a, b or c for one part
# (a) `mptcpize run iperf3 -c h2 -t SECONDS` (default 10) on the bundled diamond with the
#     topology file's delays: plain TCP, MPTCP with no path manager, and MPTCP engineered by
#     `srte agent` (one subflow per planned path), each trial one `srte experiment --traffic
#     iperf3` (same lab, same run). TRIALS (default 3) labs in a row.
#     Goals: steady state (after the first second) >= 0.97 of the payload ceiling, and
#     engineered >= 2.8x the unsteered run.
# (b) connect() -> k = 1, 4, 8 subflows ESTABLISHED, as a Python MPTCP client sees it
#     (subflows.py), 10 trials each after one warm-up, on the diamond: srte agent (subflows on
#     engineered paths, cycling a, b, c), the in-kernel path manager with k-1 `subflow`
#     endpoints, and mptcpd 0.12 (addr_adv plug-in: every address of h1's interface becomes a
#     `subflow` endpoint of the in-kernel PM) — the last two on the IGP path.
# Results: Benchmarks/agent/results/ (iperf3-N.json, subflows.jsonl: not tracked; summary.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
bash scripts/install-deps.sh
trials=${1:-3}
secs=${2:-10}
part=${PART:-abc}
out=Benchmarks/agent/results
mkdir -p "$out"
# Release build: the delay bridges forward every frame in userspace.
swift build -c release --product srte >&2
swift build -c release --product srte-delay-bridge >&2
bin="$(swift build -c release --show-bin-path)"
srte="$bin/srte"
: > "$out/summary.md"
# The delay bridges forward every frame in userspace: on a busy machine they, not the links,
# limit the rate. Say how busy it was.
echo "$(date -u +%F) $(uname -r), load average before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/summary.md"

if [[ $part == *a* ]]; then
for i in $(seq 1 "$trials"); do
  echo "(a) trial $i of $trials" >&2
  "$srte" experiment topologies/diamond.yaml --traffic iperf3 --seconds "$secs" --lab "agb$$" \
    --format json > "$out/iperf3-$i.json"
done
python3 - "$out" "$trials" "$secs" <<'PY' | tee -a "$out/summary.md"
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
print(f"(a) diamond, {rs[0]['k']} planned paths of {rs[0]['capacityMbps']} Mbit/s total, payload ceiling {ceiling} Mbit/s, "
      f"{secs} s per run, {trials} trial(s), delay: {rs[0]['delay']}, cc: {rs[0]['congestionControl']}")
print()
print("| run | median Mbit/s | min–max |")
print("|---|---|---|")
for name, xs in rows:
    print(f"| {name} | {med(xs):.1f} | {min(xs):.1f}–{max(xs):.1f} |")
steady = [r["steadyMbps"] / ceiling for r in rs]
ratio = [r["aggregateMbps"] / r["unsteeredMbps"] for r in rs]
print()
print("| goal | median | min–max | met |")
print("|---|---|---|---|")
print(f"| steady state >= 0.97 of the payload ceiling | {med(steady):.3f} | {min(steady):.3f}–{max(steady):.3f} | {'yes' if med(steady) >= 0.97 else 'no'} |")
print(f"| engineered >= 2.8x unsteered | {med(ratio):.2f}x | {min(ratio):.2f}–{max(ratio):.2f}x | {'yes' if med(ratio) >= 2.8 else 'no'} |")
print()
for i, r in enumerate(rs, 1):
    links = {(l["a"], l["b"]): l["bytesAToB"] for l in r["links"]}
    mids = ", ".join(f"r1→{m} {links.get(('r1', m), 0) / 1e6:.1f} MB" for m in ("a", "b", "c"))
    agent = next((n for n in r["notes"] if n.startswith("srte agent")), "")
    print(f"- trial {i}: {mids}; {agent}")
print()
PY
fi

if [[ $part == *b* ]]; then
lab="agk$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$srte" testbed down --lab "$lab" >/dev/null 2>&1 || true
}
trap cleanup EXIT
"$srte" testbed up topologies/diamond.yaml --lab "$lab" --mptcp-pm h2=kernel >/dev/null
ns() { ip netns exec "$lab-$1" "${@:2}"; }
# Extra client addresses for the endpoint-based path managers: fc00:1::2..8 on h1's link
# (mptcpd's addr_adv skips the loopback interface), routed back along h1's own route.
for r in r1 a b c r2; do
  nh=$(ns $r ip -6 route show fc00:1::1 | sed 's/^fc00:1::1 //')
  ns $r ip -6 route replace fc00:1::/64 $nh
  [ $r = r1 ] || ns $r ip -6 route replace fd5e:7b00:5e76:1::/64 $nh   # r1: its own link
done
py=Benchmarks/agent/subflows.py
# Background processes start through `ip netns exec` itself (it execs them), so $! is theirs.
ip netns exec "$lab-h2" python3 $py server 7000 3600 & pids+=($!)
rtt=$(ns h1 ping -c 20 -i 0.05 -q fc00:2::2 | sed -n 's|.*= \([0-9.]*\)/.*|\1|p')
echo "(b) IGP path RTT (ping min) $rtt ms" >&2
: > "$out/subflows.jsonl"
: > "$out/.mptcpd.limits"
paths=(direct fc00:0:b::1 fc00:0:c::1)
addresses() {   # h1 gets fc00:1::2..$1 on its link
  for i in 2 3 4 5 6 7 8; do ns h1 ip -6 addr del fc00:1::$i/128 dev r1 2>/dev/null || true; done
  for i in $(seq 2 "$1"); do ns h1 ip -6 addr add fc00:1::$i/128 dev r1 nodad; done
}
measure() {     # $1 config, $2 k
  ns h1 python3 $py client fc00:2::2 7000 "$2" 11 5 | tail -n +2 | sed "s/^{/{\"config\": \"$1\", /" >> "$out/subflows.jsonl"
}
for k in 1 4 8; do
  echo "(b) k=$k" >&2
  # srte agent: userspace PM in h1, one --path per subflow.
  addresses 1
  ns h1 ip mptcp endpoint flush
  ns h1 sysctl -qw net.mptcp.pm_type=1
  args=()
  for i in $(seq 0 $((k - 1))); do args+=(--path "${paths[$((i % 3))]}"); done
  "$srte" agent --netns "$lab-h1" --to fc00:2::2/128 --port 7000 "${args[@]}" --for 600 2> "$out/.agent.err" & agent=$!
  pids+=($agent)
  for _ in $(seq 100); do grep -qs started "$out/.agent.err" && break; sleep 0.1; done
  measure agent "$k"
  kill "$agent"; wait "$agent" 2>/dev/null || true
  # In-kernel PM: k-1 `subflow` endpoints. The lab's limits again: mptcpd's addr_adv rewrites
  # them (to as many subflows as it added endpoints) and leaves them so when it exits.
  ns h1 sysctl -qw net.mptcp.pm_type=0
  ns h1 ip mptcp limits set subflows 8 add_addr_accepted 8
  addresses "$k"
  for i in $(seq 2 "$k"); do ns h1 ip mptcp endpoint add fc00:1::$i subflow; done
  measure kernel "$k"
  ns h1 ip mptcp endpoint flush
  # mptcpd: addr_adv turns h1's link addresses (its own and fc00:1::2..k) into endpoints.
  ip netns exec "$lab-h1" /usr/libexec/mptcpd --log=stderr --plugin-dir=/usr/lib/x86_64-linux-gnu/mptcpd --path-manager=addr_adv \
    --addr-flags=subflow --notify-flags=existing,skip_link_local 2> "$out/.mptcpd.err" & mptcpd=$!
  pids+=($mptcpd)
  for _ in $(seq 50); do [ -n "$(ns h1 ip mptcp endpoint show)" ] && break; sleep 0.1; done
  sleep 0.5
  echo "k=$k: with mptcpd running, h1's limits are $(ns h1 ip mptcp limits show | tr -s ' ')" >> "$out/.mptcpd.limits"
  measure mptcpd "$k"
  kill "$mptcpd"; wait "$mptcpd" 2>/dev/null || true
  ns h1 ip mptcp endpoint flush
done
python3 - "$out" "$rtt" <<'PY' | tee -a "$out/summary.md"
import json, statistics, sys
out, rtt = sys.argv[1], float(sys.argv[2])
rows = [json.loads(l) for l in open(f"{out}/subflows.jsonl")]
print(f"(b) connect() → k subflows established (client's view), IGP path RTT {rtt:.2f} ms (ping min); paths b and c: 16 and 20 ms")
print()
print("| path manager | k | connect() returns, median | k established, median (p90) | in IGP RTTs | trials up |")
print("|---|---|---|---|---|---|")
names = {"agent": "srte agent (engineered: a, b, c)", "kernel": "in-kernel PM, k−1 endpoints (IGP)", "mptcpd": "mptcpd 0.12 addr_adv (IGP)"}
for k in (1, 4, 8):
    for c in ("agent", "kernel", "mptcpd"):
        rs = [r for r in rows if r["config"] == c and r["k"] == k]
        if not rs: continue
        up = sorted(r["k_up_ms"] for r in rs if r["k_up_ms"] is not None)
        conn = statistics.median(r["connect_ms"] for r in rs)
        if up:
            p90 = up[min(len(up) - 1, int(0.9 * len(up)))]
            m = statistics.median(up)
            print(f"| {names[c]} | {k} | {conn:.1f} ms | {m:.1f} ({p90:.1f}) ms | {m / rtt:.2f} | {len(up)}/{len(rs)} |")
        else:
            print(f"| {names[c]} | {k} | {conn:.1f} ms | never (at most {max(r['subflows'] for r in rs)} up in 5 s) | — | 0/{len(rs)} |")
print()
for l in open(f"{out}/.mptcpd.limits"): print("- " + l.strip())
PY
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/summary.md"
# (c) churn: 200 concurrent connections, then 10,000 short ones in 60 s (churn.sh, loadgen.c).
if [[ $part == *c* ]]; then
  bash Benchmarks/agent/churn.sh "${CHURN_TOTAL:-10000}" "${CHURN_SECONDS:-60}" | tee -a "$out/summary.md"
fi
