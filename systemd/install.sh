#!/usr/bin/env bash
# Installs llfreed: a release build with the Swift runtime linked statically, the binaries into
# PREFIX/bin, the C client library (llfree/client.h, libllfree-client.a and .so.1, llfree-client.pc;
# built with cc by Sources/CLLFreeClient/Makefile) into PREFIX/include and PREFIX/lib, the
# systemd units into /etc/systemd/system (ExecStart pointing at PREFIX), the
# example configuration into /etc/llfreed (an existing one is kept), the deploy guide into
# PREFIX/share/doc/llfreed; then the llfreed user and group. Everything goes under DESTDIR when
# it is set (a staging root, e.g. for a package), and then no user or group is created and
# systemd is not reloaded.
#
#   systemd/install.sh [--prefix DIR] [--destdir DIR] [--bin-dir DIR]
#
#   --prefix DIR   where the binaries go (default /usr/local, or $PREFIX)
#   --destdir DIR  staging root (default none, or $DESTDIR)
#   --bin-dir DIR  install llfreed and llfree-ctl already built in DIR instead of building
#                  (or $LLFREED_BIN_DIR); the tests use it to skip the release build
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
prefix="${PREFIX:-/usr/local}"
destdir="${DESTDIR:-}"
bindir="${LLFREED_BIN_DIR:-}"

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --destdir) destdir="$2"; shift 2 ;;
    --bin-dir) bindir="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help); nothing was installed" >&2; exit 64 ;;
  esac
done
case "$prefix" in
  /*) ;;
  *) echo "install.sh: --prefix must be absolute, not '$prefix'; nothing was installed" >&2; exit 64 ;;
esac
if [ -n "$destdir" ]; then destdir="$(mkdir -p "$destdir" && cd "$destdir" && pwd)"; fi

if [ -z "$bindir" ]; then
  echo "==> release build (static Swift runtime)"
  (cd "$repo" && swift build -c release --static-swift-stdlib --product llfreed \
     && swift build -c release --static-swift-stdlib --product llfree-ctl)
  bindir="$(cd "$repo" && swift build -c release --static-swift-stdlib --show-bin-path)"
fi
for exe in llfreed llfree-ctl; do
  if [ ! -x "$bindir/$exe" ]; then
    echo "install.sh: $bindir/$exe is missing or not executable; nothing was installed" >&2
    exit 66
  fi
done

echo "==> installing into ${destdir:-/} (prefix $prefix)"
install -d "$destdir$prefix/bin" "$destdir/etc/systemd/system" "$destdir/etc/llfreed" "$destdir$prefix/share/doc/llfreed"
install -m 0755 "$bindir/llfreed" "$bindir/llfree-ctl" "$destdir$prefix/bin/"
echo "==> the C client library (libllfree-client)"
make -s -C "$repo/Sources/CLLFreeClient" install PREFIX="$prefix" DESTDIR="$destdir"
# The units name /usr/local; point them at the prefix actually used.
for unit in llfreed.service llfreed.socket; do
  sed -e "s|/usr/local/|$prefix/|g" "$here/$unit" > "$destdir/etc/systemd/system/$unit"
  chmod 0644 "$destdir/etc/systemd/system/$unit"
done
install -m 0644 "$repo/config/llfreed.yaml" "$destdir/etc/llfreed/llfreed.yaml.example"
if [ ! -e "$destdir/etc/llfreed/llfreed.yaml" ]; then
  install -m 0644 "$repo/config/llfreed.yaml" "$destdir/etc/llfreed/llfreed.yaml"
else
  echo "    kept the existing /etc/llfreed/llfreed.yaml (the new example is llfreed.yaml.example)"
fi
install -m 0644 "$repo/docs/deploy.md" "$destdir$prefix/share/doc/llfreed/deploy.md"

if [ -n "$destdir" ]; then
  echo "==> DESTDIR set: not creating the llfreed user and group, not reloading systemd"
else
  if ! getent group llfreed >/dev/null; then
    echo "==> creating group llfreed"
    groupadd --system llfreed
  fi
  if ! getent passwd llfreed >/dev/null; then
    echo "==> creating user llfreed"
    useradd --system --gid llfreed --home-dir /var/lib/llfreed --no-create-home --shell /usr/sbin/nologin \
      --comment "llfreed page-frame allocator" llfreed
  fi
  # The shared library's soname must resolve from PREFIX/lib.
  if command -v ldconfig >/dev/null; then ldconfig; fi
  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
  echo "==> installed. Next: edit /etc/llfreed/llfreed.yaml, then"
  echo "    systemctl enable --now llfreed.socket llfreed.service"
fi
