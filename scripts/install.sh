#!/usr/bin/env bash
# Builds and installs srte's C API: libsrte-mptcp.so.0 (capi/), its header srte/mptcp_socket.h,
# srte.pc (so `pkg-config --cflags --libs srte` works), the man page srte_mptcp_socket(3) and
# the LD_PRELOAD shim of `srte run` (lib/srte/libsrte-preload.so).
#
#   scripts/install.sh PREFIX        e.g. scripts/install.sh /usr/local
#
# Needs gcc and make only: the library is plain C and loads no Swift runtime. The agent it
# talks to is `srte agent` (root), built with the Swift package as usual.
set -euo pipefail
if [[ $# -ne 1 || "$1" == -* ]]; then
    echo "usage: $0 PREFIX   (installs lib/, include/srte/, lib/pkgconfig/srte.pc, share/man/man3/ under PREFIX)" >&2
    exit 2
fi
prefix=$(realpath -m "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
make -s -C "$root/capi" BUILD="$build" PREFIX="$prefix" install
if [[ $(id -u) -eq 0 && "$prefix" == /usr* ]]; then ldconfig || true; fi
echo "installed libsrte-mptcp.so.0, srte/mptcp_socket.h, srte/compat/linux/tcp.h, srte.pc, srte_mptcp_socket(3) and lib/srte/libsrte-preload.so under $prefix"
if [[ ":${PKG_CONFIG_PATH:-}:" != *":$prefix/lib/pkgconfig:"* && "$prefix" != /usr && "$prefix" != /usr/local ]]; then
    echo "pkg-config: export PKG_CONFIG_PATH=$prefix/lib/pkgconfig"
fi
