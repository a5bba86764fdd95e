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
swift test --skip-build 2>&1 | tee .build/test.log
