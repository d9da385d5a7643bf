#!/usr/bin/env bash
# CI checks of the deployment: installs llfreed into a temporary root with systemd/install.sh,
# runs `systemd-analyze verify` on the installed units (with their ExecStart= pointing into that
# root, since verify requires the binary to exist at the path the unit names), and prints the
# `systemd-analyze security` exposure of llfreed.service, failing above 2.0 ("OK").
#
#   systemd/check.sh
#
# LLFREED_BIN_DIR=DIR installs llfreed and llfree-ctl already built in DIR; without it the
# script runs install.sh's release build (--static-swift-stdlib), the documented install path.
# Needs the systemd package (systemd-analyze); run as root on Debian.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v systemd-analyze >/dev/null; then
  echo "check.sh: systemd-analyze not found (apt-get install systemd)" >&2
  exit 69
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
prefix=/usr/local

echo "==> install into $root"
args=(--destdir "$root" --prefix "$prefix")
if [ -n "${LLFREED_BIN_DIR:-}" ]; then args+=(--bin-dir "$LLFREED_BIN_DIR"); fi
"$here/install.sh" "${args[@]}"

for file in "$prefix/bin/llfreed" "$prefix/bin/llfree-ctl" /etc/systemd/system/llfreed.service \
            /etc/systemd/system/llfreed.socket /etc/llfreed/llfreed.yaml "$prefix/share/doc/llfreed/deploy.md" \
            "$prefix/include/llfree/client.h" "$prefix/lib/libllfree-client.a" "$prefix/lib/libllfree-client.so.1" \
            "$prefix/lib/libllfree-client.so" "$prefix/lib/pkgconfig/llfree-client.pc"; do
  if [ ! -e "$root$file" ]; then
    echo "check.sh: the install did not produce $file" >&2
    exit 1
  fi
done
echo "==> the installed pkg-config file names the installed library (soname libllfree-client.so.1)"
PKG_CONFIG_PATH="$root$prefix/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root" pkg-config --libs llfree-client | grep -q -- "-L$root$prefix/lib"
readelf -d "$root$prefix/lib/libllfree-client.so.1" | grep -q 'SONAME.*libllfree-client.so.1'
echo "==> the installed llfreed accepts the installed configuration"
"$root$prefix/bin/llfreed" --config "$root/etc/llfreed/llfreed.yaml" --check-config >/dev/null

# verify and security read the units from a directory of their own; the binary paths are
# rewritten to the staged copies so that verify checks a binary that exists.
units="$work/units"
mkdir -p "$units"
for unit in llfreed.service llfreed.socket; do
  sed -e "s|$prefix/bin/|$root$prefix/bin/|g" "$root/etc/systemd/system/$unit" > "$units/$unit"
done
echo "==> systemd-analyze verify"
systemd-analyze verify "$units/llfreed.service" "$units/llfreed.socket"

echo "==> systemd-analyze security llfreed.service"
report="$(systemd-analyze security --offline=yes "$units/llfreed.service" 2>&1 || true)"
printf '%s\n' "$report" | grep -E '^✗' || true
exposure="$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for llfreed.service: \([0-9.]*\) .*/\1/p')"
if [ -z "$exposure" ]; then
  printf '%s\n' "$report" >&2
  echo "check.sh: systemd-analyze security printed no exposure level" >&2
  exit 1
fi
echo "llfreed.service exposure: $exposure (target: 2.0 or lower)"
if ! awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
  echo "check.sh: exposure $exposure is above 2.0" >&2
  exit 1
fi
