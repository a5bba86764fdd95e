#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what srte needs, build it,
# and run it on the bundled default topology (topologies/diamond.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/install-deps.sh
echo "== building srte (release)" >&2
swift build -c release --product srte >&2
srte=.build/release/srte
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "An SRH for the path r1 -> a -> h2 of the diamond (segments in path order)"
$srte srh build --segment fc00:0:a::1 --segment fc00:2::2 --next-header 6 --format text

say "The same header signed as Linux signs it (HMAC key 7, SHA-256, packets from h1 fc00:1::1)"
hex=$($srte srh build --segment fc00:0:a::1 --segment fc00:2::2 --next-header 6 \
        --hmac-key-id 7 --hmac-secret demo-secret --source fc00:1::1)
echo "$hex"
$srte srh decode "$hex"

say "Validated by srte and by the running kernel (setsockopt IPV6_RTHDR)"
$srte srh validate "$hex" --kernel

say "Broken headers: srte names the failing kernel check and its byte offset"
printf '%s\n' \
  "${hex:0:6}02${hex:8}" \
  "${hex:0:4}03${hex:6}" \
  "${hex:0:2}0a${hex:4}" \
  "${hex}00" \
  | $srte srh validate - --kernel || true
