#!/usr/bin/env bash
# srte agent under connection churn, one command (as root):
#   bash Benchmarks/agent/churn.sh [TOTAL] [SECONDS]
# On the bundled diamond with the topology file's delays, an unmodified C program (loadgen.c,
# socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP), sends first) opens
#   1. 200 concurrent connections, each held 3 s, 4 subflows wanted (b, c, direct, a);
#   2. TOTAL (default 10000) short connections paced over SECONDS (default 60), each living a
#      uniform 0..300 ms;
# first with `srte agent` in h1, then with mptcpd 0.12 in h1 under the same load (its sspi plug-in
# on the userspace path manager: it handles the same events; with one interface it opens no
# further subflow, so only its CPU and memory compare).
# h1 reuses TIME_WAIT 4-tuples for outgoing connections and uses ports 1024-65535 (see below).
# Reported: the fraction of connections living >= 3 RTT (RTT of the slowest path, via c: 20 ms,
# so >= 60 ms) that had all 4 subflows established before closing (goal 100%), CPU time per
# connection and peak RSS of the path manager (/proc), the agent's steering entries left after
# the connections are gone (goal 0) and its resyncs.
# Results: Benchmarks/agent/results/churn-*.json (not tracked) and churn.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
bash scripts/install-deps.sh
total=${1:-10000}
secs=${2:-60}
out=Benchmarks/agent/results
mkdir -p "$out"
swift build -c release --product srte >&2
swift build -c release --product srte-delay-bridge >&2
srte="$(swift build -c release --show-bin-path)/srte"
gcc -O2 -Wall -o "$out/loadgen" Benchmarks/agent/loadgen.c -lpthread
lab="chn$$"
pm=""
server=""
cleanup() {
  [ -n "$pm" ] && kill "$pm" 2>/dev/null && wait "$pm" 2>/dev/null || true
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  "$srte" testbed down --lab "$lab" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM
"$srte" testbed up topologies/diamond.yaml --lab "$lab" >&2
# 10,000 connections x 4 subflows to one server address and port in 60 s leave ~40,000 client
# sockets in TIME_WAIT (60 s), more than the default ephemeral range (32768-60999) holds: without
# this, every connect() and SUBFLOW_CREATE scans an exhausted range (CPU in the caller, then
# EADDRNOTAVAIL). As any load generator does: reuse TIME_WAIT 4-tuples for outgoing connections
# (TCP timestamps make it safe) and the whole unprivileged range. Lab namespace only.
ip netns exec "$lab-h1" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"
ip netns exec "$lab-h2" "$out/loadgen" serve 5201 &
server=$!
sleep 0.5

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
# A TcpExt counter of h1 (/proc/net/netstat: a line of names, then a line of values).
tcpext() { ip netns exec "$lab-h1" awk -v k="$1" '$1 == "TcpExt:" { if (!n) { for (i = 2; i <= NF; i++) if ($i == k) c = i; n = 1 } else print $c }' /proc/net/netstat; }
# Segments retransmitted by h1 and h2 together (Tcp: RetransSegs in /proc/net/snmp): the lab's losses.
retrans() { local t=0 h; for h in h1 h2; do t=$((t + $(ip netns exec "$lab-$h" awk '$1 == "Tcp:" { if (!n) { for (i = 2; i <= NF; i++) if ($i == "RetransSegs") c = i; n = 1 } else print $c }' /proc/net/snmp))); done; echo "$t"; }

run_load() { # NAME
  local name=$1 t0 t1 c1 c2
  t0=$(ticks "$pm")
  ip netns exec "$lab-h1" "$out/loadgen" concurrent fc00:2::2 5201 200 3000 4 > "$out/churn-$name-concurrent.json" 2> "$out/churn-$name-short-concurrent.log"
  local syn0 re0; syn0=$(tcpext TCPSynRetrans); re0=$(retrans)
  ip netns exec "$lab-h1" "$out/loadgen" churn fc00:2::2 5201 "$total" "$secs" 300 4 60 > "$out/churn-$name-churn.json" 2> "$out/churn-$name-short.log"
  echo "$(( $(tcpext TCPSynRetrans) - syn0 )) $(( $(retrans) - re0 ))" > "$out/churn-$name-synretrans"
  t1=$(ticks "$pm")
  echo "$((t1 - t0)) $(hwm "$pm")"
}

echo "agent: 200 concurrent, then $total in ${secs}s" >&2
"$srte" agent --netns "$lab-h1" --to fc00:2::/64 --port 5201 \
  --path fc00:0:b::1 --path fc00:0:c::1 --path direct --path fc00:0:a::1 --format json 2> "$out/churn-agent.log" &
pm=$!
for _ in $(seq 50); do "$srte" agent status --netns "$lab-h1" >/dev/null 2>&1 && break; sleep 0.2; done
"$srte" testbed stats --lab "$lab" --format json > "$out/churn-links-before.json"
read -r agent_ticks agent_hwm < <(run_load agent)
sleep 1.2     # the delay bridges write their counters at most once a second
"$srte" testbed stats --lab "$lab" --format json > "$out/churn-links-after.json"
sleep 2
"$srte" agent status --netns "$lab-h1" --format json > "$out/churn-agent-status.json"
kill "$pm"; wait "$pm" 2>/dev/null || true; pm=""

echo "mptcpd: the same load" >&2
ip netns exec "$lab-h1" /usr/libexec/mptcpd --log=stderr --plugin-dir=/usr/lib/x86_64-linux-gnu/mptcpd \
  --path-manager=sspi 2> "$out/churn-mptcpd.log" &
pm=$!
sleep 1
read -r mptcpd_ticks mptcpd_hwm < <(run_load mptcpd)
kill "$pm"; wait "$pm" 2>/dev/null || true; pm=""

python3 - "$out" "$agent_ticks" "$agent_hwm" "$mptcpd_ticks" "$mptcpd_hwm" "$(getconf CLK_TCK)" <<'PY' | tee "$out/churn.md"
import json, sys, datetime
out, at, ah, mt, mh, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
def load(n): return json.load(open(f"{out}/churn-{n}.json"))
st = json.load(open(f"{out}/churn-agent-status.json"))
print(f"churn on the diamond ({datetime.date.today()}), 4 subflows wanted per connection")
print("| path manager | phase | connections | failed | lived >= 3 RTT | of those with 4 subflows | CPU per connection | peak RSS |")
print("|---|---|---|---|---|---|---|---|")
for name, ticks, rss in (("agent", at, ah), ("mptcpd", mt, mh)):
    c, ch = load(f"{name}-concurrent"), load(f"{name}-churn")
    n = c["connections"] + ch["connections"]
    cpu = ticks / hz / max(n, 1) * 1e6
    for phase, r in (("200 concurrent, 3 s", c), ("churn", ch)):
        frac = r["longLivedWithK"] / r["longLived"] if r["longLived"] else 0
        print(f"| {name} | {phase} | {r['connections']} | {r['failed']} | {r['longLived']} | {r['longLivedWithK']} ({frac:.1%}) | {cpu:.0f} µs | {rss / 1024:.1f} MiB |")
s = st.get("steering") or {}
print(f"agent afterwards: steering entries {s.get('flows')} flows, {s.get('matches')} match records; "
      f"resyncs {st['counters']['resyncs']}; connections seen {st['counters']['connectionsSeen']}, "
      f"engineered {st['counters']['connectionsEngineered']}, closed before the agent read their event {st['counters'].get('connectionsClosedEarly', 0)}, unmatched {st['counters']['connectionsUnmatched']}, subflows opened {st['counters']['subflowsOpened']}, failed {st['counters']['subflowsFailed']}")
# What the lab's delay bridges lost or sent late while the agent's load ran (no interface counts it).
def bridges(f):
    return {l["index"]: l.get("bridge") for l in json.load(open(f"{out}/churn-links-{f}.json"))["links"]}
b0, b1 = bridges("before"), bridges("after")
lost = sum(sum(b1[i]["dropped"]) + sum(b1[i]["kernelDropped"]) - sum(b0[i]["dropped"]) - sum(b0[i]["kernelDropped"]) for i in b1 if b1[i] and b0.get(i))
late = sum(b1[i]["lateOver1ms"] - b0[i]["lateOver1ms"] for i in b1 if b1[i] and b0.get(i))
worst = max([b1[i]["maxLateMicroseconds"] for i in b1 if b1[i]] or [0])
if any(b1.values()):
    print(f"delay bridges during the agent's load: {lost} frame(s) lost, {late} sent more than 1 ms late (the worst {worst / 1000:.1f} ms late since the lab came up)")
for name in ("agent", "mptcpd"):
    ch = load(f"{name}-churn")
    buckets = ", ".join(f"{b['from']} ms+: {b['withK']}/{b['connections']}" for b in ch.get("byLifetimeMs", []))
    syn, segs = open(f"{out}/churn-{name}-synretrans").read().split()
    print(f"{name} churn by lifetime (with 4 subflows / connections): {buckets}; SYN retransmissions in h1: {syn}, segments retransmitted by h1 and h2: {segs}")
# The agent's connections short of 4 subflows at close: did they have all 4 (joins still in their
# handshake), how many joins did the agent log for them, and had the server acknowledged any of
# the initial subflow's data? (The kernel refuses joins until the connection is fully
# established, which needs that acknowledgement: a lost first segment delays it by an RTO.)
import re
short = [dict(kv.split("=") for kv in l.split()[1:]) for l in open(f"{out}/churn-agent-short.log") if l.startswith("short ")]
joins = {}
for l in open(f"{out}/churn-agent.log"):
    m = re.search(r'"event": "subflow", "token": "([0-9a-f]+)"', l)
    if m: joins[m.group(1)] = joins.get(m.group(1), 0) + 1
# A connection whose initial subflow never had its data acknowledged, or retransmitted it, lost
# a segment in the lab: it became fully established late or never, and until then the kernel
# refuses every join (SUBFLOW_CREATE: ENOTCONN), whoever the path manager is.
ch = load("agent-churn")
lost = [s for s in short if int(s.get("initial_acked", "2")) <= 1 or int(s.get("initial_retrans", "0")) > 0]
if short:
    print(f"agent: {len(short)} connection(s) living >= 3 RTT short of 4 subflows, {len(lost)} of them not fully established in time (initial subflow's data unacknowledged or retransmitted); "
          f"the others: {ch['longLivedWithK']} of {ch['longLived'] - len(lost)} with 4 subflows")
for s in short:
    lost = f"; initial subflow: {s.get('initial_acked', '?')} of {s.get('initial_sent', '?')} bytes acknowledged, {s.get('initial_retrans', '?')} retransmission(s), fallback {s.get('fallback', '?')}"
    print(f"agent: token {s['token']} lived {s['lived_ms']} ms: {s['established']} subflows established, {s['subflows']} in all; the agent opened {joins.get(s['token'], 0)} join(s){lost}")
PY
