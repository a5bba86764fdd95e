#!/usr/bin/env bash
# Throughput of an unmodified program under `srte run` while `srte agent` engineers it, one
# command (root):
#   bash Benchmarks/srte-run/run.sh [TRIALS] [SECONDS]        (defaults 3 and 10)
# On the bundled diamond with the topology file's delays (lab sr<pid>, h2 on the in-kernel path
# manager so that it accepts joins): `srte run -- iperf3 -s` in h2, `srte agent` in h1 with one
# subflow per path (direct = via a, via b, via c; the paths `srte experiment` plans for k = 3),
# and `srte run -- iperf3 -c h2 -t SECONDS` in h1: srte's LD_PRELOAD shim makes iperf3's sockets
# MPTCP, the agent opens and steers the joins. Steady state = the server's received rate after
# the first second; payload ceiling = each path's 50 Mbit/s times its payload share (MTU 1500,
# SRH of the paths via b and c, headroom for it on the direct path), as `srte experiment`
# computes it. Goal: steady state >= 0.97 of the ceiling.
# Results: Benchmarks/srte-run/results/ (iperf3-N.json not tracked; summary.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
trials=${1:-3}
secs=${2:-10}
out=Benchmarks/srte-run/results
build=Benchmarks/build/srte-run
mkdir -p "$out" "$build"
# Release build: the delay bridges forward every frame in userspace.
swift build -c release --product srte >&2
swift build -c release --product srte-delay-bridge >&2
srte="$(swift build -c release --show-bin-path)/srte"
make -s -C capi BUILD="$PWD/$build" >&2
shim="$PWD/$build/libsrte-preload.so"
command -v iperf3 >/dev/null || { echo "needs iperf3 (Debian: apt-get install iperf3)" >&2; exit 2; }
lab="sr$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$srte" testbed down --lab "$lab" >/dev/null 2>&1 || true
}
trap cleanup EXIT
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
"$srte" testbed up topologies/diamond.yaml --lab "$lab" --mptcp-pm h2=kernel >/dev/null
ip netns exec "$lab-h2" ip mptcp limits set subflows 8 add_addr_accepted 8
for i in $(seq 1 "$trials"); do
  echo "trial $i of $trials" >&2
  "$srte" agent --netns "$lab-h1" --to fc00:2::2/128 --port 5201 --path direct --path fc00:0:b::1 --path fc00:0:c::1 \
    --for $((secs + 60)) --format json 2> "$out/.agent-$i.log" & agent=$!
  pids+=($agent)
  for _ in $(seq 100); do grep -qs '"started"' "$out/.agent-$i.log" && break; sleep 0.1; done
  ip netns exec "$lab-h2" "$srte" run --preload "$shim" -- iperf3 -s -1 -p 5201 >/dev/null 2>&1 & server=$!
  pids+=($server)
  for _ in $(seq 100); do [[ -n "$(ip netns exec "$lab-h2" ss -H -ltn 'sport = :5201')" ]] && break; sleep 0.05; done
  ip netns exec "$lab-h1" "$srte" run --preload "$shim" -- iperf3 -c fc00:2::2 -p 5201 -t "$secs" --json --get-server-output \
    --connect-timeout 5000 > "$out/iperf3-$i.json"
  wait "$server" 2>/dev/null || true
  kill "$agent" 2>/dev/null || true
  wait "$agent" 2>/dev/null || true
done
python3 - "$out" "$trials" "$secs" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY' | tee "$out/summary.md"
import json, statistics, sys, datetime, platform
out, trials, secs, before, after = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def share(mtu, srh, headroom):   # Experiment.payloadShare: IPv6 + TCP + timestamps + DSS per frame
    route = mtu - headroom
    return (route - 40 - 32 - 24) / (route + srh + 14)
srh = 8 + 16 * 2                 # one waypoint and the destination
ceiling = 50 * share(1500, 0, srh) + 2 * 50 * share(1500, srh, srh)
rows = []
for i in range(1, trials + 1):
    j = json.load(open(f"{out}/iperf3-{i}.json"))
    if "error" in j: sys.exit(f"trial {i}: iperf3: {j['error']}")
    ivs = [x["sum"] for x in (j.get("server_output_json") or j)["intervals"]]
    steady = [x for x in ivs if x["start"] >= 0.999]
    whole = j["end"]["sum_received"]["bits_per_second"] / 1e6
    st = sum(x["bytes"] for x in steady) * 8 / sum(x["end"] - x["start"] for x in steady) / 1e6
    rows.append((whole, st))
agents = []
for i in range(1, trials + 1):
    log = open(f"{out}/.agent-{i}.log").read()
    agents.append((log.count('"event": "matched"'), log.count('"event": "subflow"')))
med = statistics.median
print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, Linux {platform.release()}, load average before {before}, after {after}")
print(f"`bash Benchmarks/srte-run/run.sh {trials} {secs}`: diamond, paths direct (a), b, c of 50 Mbit/s, payload ceiling {ceiling:.1f} Mbit/s")
print()
print("| trial | whole run Mbit/s | after 1 s Mbit/s | of the ceiling | agent: connections engineered, joins |")
print("|---|---|---|---|---|")
for i, ((w, s), (m, o)) in enumerate(zip(rows, agents), 1):
    print(f"| {i} | {w:.1f} | {s:.1f} | {s / ceiling:.3f} | {m}, {o} |")
steady = [s / ceiling for _, s in rows]
print()
print(f"Steady state, median of {trials}: **{med(steady):.3f}** of the ceiling (min {min(steady):.3f}, max {max(steady):.3f}); "
      f"goal >= 0.97: {'met' if med(steady) >= 0.97 else 'not met'}.")
PY
