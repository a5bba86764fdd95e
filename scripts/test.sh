#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine (as root for the privileged
# tests: network namespaces, the kernel SRH oracle, MPTCP).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build --build-tests
swift test --skip-build 2>&1 | tee .build/test.log
