#!/usr/bin/env bash
# The main job on a fresh Debian machine (as root): install what srte needs, build
# it, and run the experiment on the bundled default topology:
#   srte experiment topologies/diamond.yaml
# which emulates h1 - r1 - {a, b, c} - r2 - h2 (50 Mbit/s middle links) in network
# namespaces, measures single-path TCP, MPTCP left to the IGP, and MPTCP with one
# subflow engineered onto each disjoint path, and tears the lab down.
# Extra arguments go to `srte experiment` (e.g. --seconds 5 --format json --plot out.svg).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
if [ "$(id -u)" != 0 ]; then echo "run as root: the experiment creates network namespaces" >&2; exit 1; fi
bash scripts/install-deps.sh
echo "== building srte (release; a few minutes the first time)" >&2
swift build -c release --product srte >&2
swift build -c release --product srte-delay-bridge >&2   # link delays where the kernel has no netem
echo "== srte experiment topologies/diamond.yaml $*" >&2
exec .build/release/srte experiment topologies/diamond.yaml "$@"
