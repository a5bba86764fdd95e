#!/usr/bin/env bash
# One command (root): the latency of C API calls through `srte agent` in a diamond lab.
#   sudo bash Benchmarks/agent-protocol/run.sh [N]          (CONFIG=release for a release srte)
# Builds srte (debug, as the tests do, unless CONFIG=release) and capi/, creates the lab bp<pid>
# (link delays off unless DELAY=auto: a subflow's handshake then takes microseconds, not the
# path's round trip, so open -> established compares the two ways without the delay bridges'
# jitter), starts the agent in h1 and `srte serve` in h2, times N hello and N get-subflow-ids
# calls, then (root) N/10 opens through the agent against as many SUBFLOW_CREATE over netlink,
# each until the subflow is established; removes everything.
# PIN=CPU runs the agent and the caller on that one CPU (taskset): what the broker costs without
# the wake-ups between two CPUs, which on a VM cost tens of microseconds each way (analysis; the
# figures of record leave the placement to the scheduler).
# AGENT_ARGS adds options to `srte agent` (e.g. "--cpu-latency 0": idle CPUs poll while it runs).
# SRTE_MPTCP_SPIN_US=0 makes the library sleep for each answer at once instead of polling for it
# first (default 300 us; see Docs/CAPI.md, "Thread safety and processes").
# Result line: Benchmarks/agent-protocol/results/calls-DATE.txt (not tracked).
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-200}
lab="bp$$"
build=Benchmarks/build/agent-protocol
mkdir -p "$build" Benchmarks/agent-protocol/results
config=${CONFIG:-debug}
swift build -c "$config" --product srte >&2
swift build -c "$config" --product srte-delay-bridge >&2   # testbed up needs it beside srte
srte="$(swift build -c "$config" --show-bin-path)/srte"
make -s -C capi BUILD="$PWD/$build" >&2
cc -O2 -Wall -Icapi/include -o "$build/calls" Benchmarks/agent-protocol/calls.c -L"$build" -lsrte-mptcp -Wl,-rpath,"$PWD/$build"
policy="$build/policy.yaml"
printf 'rules:\n  - match: { to: "fc00:2::/64", port: 5999 }\n    paths: [direct]\n' > "$policy"
"$srte" testbed up topologies/diamond.yaml --lab "$lab" --delay "${DELAY:-off}" >&2
agent=""; serve=""
cleanup() {
    [[ -n "$serve" ]] && kill "$serve" 2>/dev/null || true
    [[ -n "$agent" ]] && kill "$agent" 2>/dev/null || true
    wait 2>/dev/null || true
    "$srte" testbed down --lab "$lab" >&2 || true
}
trap cleanup EXIT
pin=()
[[ -n "${PIN:-}" ]] && pin=(taskset -c "$PIN")
read -r -a agent_args <<< "${AGENT_ARGS:-}"
"${pin[@]}" "$srte" agent --netns "$lab-h1" --policy "$policy" --for 600 "${agent_args[@]}" 2>/dev/null & agent=$!
ip netns exec "$lab-h2" "$srte" serve --listen :5201 --count 1 --timeout 600 >/dev/null 2>&1 & serve=$!
until "$srte" agent status --netns "$lab-h1" >/dev/null 2>&1; do sleep 0.2; done
sleep 0.3
out="Benchmarks/agent-protocol/results/calls-$(date +%Y%m%d-%H%M%S).txt"
"${pin[@]}" ip netns exec "$lab-h1" "$build/calls" "$n" fc00:2::2 5201 | tee "$out"
