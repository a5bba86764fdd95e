#!/usr/bin/env bash
# Installs what srte needs on Debian (idempotent, quiet when all is there).
set -euo pipefail
need=()
# gcc and iputils-ping: the MPTCP benchmark (its delay bridge, RTT); graphviz: `srte plan --svg`.
# iperf3, mptcpize (runs unmodified programs on MPTCP sockets), mptcpd with its plug-ins (the path
# manager Benchmarks/agent compares against) and tshark: the agent's real-application tests,
# `srte experiment --traffic iperf3` and Benchmarks/agent. golang-go: the C API's cgo example (Docs/CAPI.md).
for p in libmnl-dev libbpf-dev iproute2 pkg-config gcc iputils-ping graphviz iperf3 mptcpize mptcpd mptcpd-plugins tshark golang-go; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "install as root: apt-get install -y ${need[*]}" >&2; exit 1; fi
  echo "installing ${need[*]}" >&2
  apt-get update -qq
  # wireshark-common would ask whether non-root users may capture; answer no, without asking.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
