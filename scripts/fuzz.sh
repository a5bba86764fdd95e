#!/usr/bin/env bash
# Fuzzes the SRH decoder/validator with libFuzzer (+ AddressSanitizer).
#   bash scripts/fuzz.sh [RUNS]        default 10,000,000 inputs
# Seeds: SRHs built by srte itself; corpus kept in .build-fuzz/corpus.
# The fuzz target (Fuzz/srh-fuzz) checks: decode succeeds exactly when validate
# does, decoded headers re-encode to the same bytes, warnings never crash.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10000000}
swift build -c release --scratch-path .build-fuzz --product srh-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DSRTE_FUZZING
corpus=.build-fuzz/corpus
mkdir -p "$corpus"
swift build --product srte >/dev/null
for s in "--segment fc00::1" \
         "--segment fc00::1 --segment fc00::2 --segment fc00::3" \
         "--segment fc00::1 --segment fc00::2 --hmac-key-id 5 --hmac-secret x --source fc00::9"; do
  # shellcheck disable=SC2086
  .build/debug/srte srh build $s | xxd -r -p > "$corpus/seed-$(echo "$s" | cksum | cut -d' ' -f1).bin"
done
exec .build-fuzz/release/srh-fuzz -runs="$runs" -max_len=2100 -timeout=5 -print_final_stats=1 "$corpus"
