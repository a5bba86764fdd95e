#!/usr/bin/env bash
# One command: builds the delay bridge and the benchmark (release), runs it as root.
#   sudo bash Benchmarks/mptcp/run.sh [--trials N] [--k 1,4,8] [--delay-us 0,5000]
# Samples: Benchmarks/mptcp/results/mptcp-DATE.csv (not tracked).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p Benchmarks/build Benchmarks/mptcp/results
cc -O2 -Wall -pthread -o Benchmarks/build/delaybridge Benchmarks/mptcp/delaybridge.c
swift build -c release --product mptcp-bench >&2
exec "$(swift build -c release --show-bin-path)/mptcp-bench" --bridge Benchmarks/build/delaybridge \
  --csv "Benchmarks/mptcp/results/mptcp-$(date +%Y%m%d-%H%M%S).csv" "$@"
