#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine (and the API docs, which must build
# without warnings). As root it also runs the
# privileged tests (network namespaces, kernel oracles); as another user they
# are skipped with a printed reason.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/install-deps.sh
swift build --build-tests
mkdir -p .build
bash scripts/docs.sh
# Serially: several tests measure throughput through shaped links and userspace delay bridges,
# and a parallel neighbour's CPU load on a 2-core machine distorts what they measure.
swift test --skip-build --no-parallel 2>&1 | tee .build/test.log
