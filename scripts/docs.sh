#!/usr/bin/env bash
# API documentation of the library targets (DocC, through swift-docc-plugin). Fails on any
# warning: a broken symbol link, an undocumented parameter of a documented function.
# Archives land in .build/plugins/Swift-DocC/outputs/<Target>.doccarchive.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
for target in SRv6Paths LinuxSystem SubflowSteering NetworkLab PathAgent; do
  echo "== API docs: $target" >&2
  swift package generate-documentation --target "$target" --warnings-as-errors >.build/docs-"$target".log 2>&1 || {
    grep -A6 -E "^(error|warning):" .build/docs-"$target".log >&2 || tail -20 .build/docs-"$target".log >&2
    echo "API docs of $target have warnings (full log: .build/docs-$target.log)" >&2
    exit 1
  }
done
echo "API docs: SRv6Paths, LinuxSystem, SubflowSteering, NetworkLab, PathAgent built without warnings" >&2
