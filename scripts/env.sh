# Sourced by the scripts: make sure swift is on PATH (Debian images with the
# toolchain in /opt/swift put it there only for login shells).
if ! command -v swift >/dev/null 2>&1; then
  for d in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
    [ -x "$d/swift" ] && export PATH="$PATH:$d" && break
  done
fi
command -v swift >/dev/null 2>&1 || { echo "srte needs Swift 6.1 or later (swift not found)" >&2; exit 1; }
