#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/sysroot.sh ARCH - a sysroot for cross-building the gateway for a
# Debian 12 ARM concentrator (ARCH: arm64 or armhf), in build/sysroot-ARCH:
# the -dev packages the gateway builds against (libmodbus, libserialport,
# libpq, zlib, cmocka; libc) and the libraries they depend on, downloaded
# for ARCH with apt-get download and unpacked with dpkg -x. The host's own
# -dev packages are not touched; nothing is installed for ARCH.
#
# It needs, as root (or through sudo), once: `dpkg --add-architecture ARCH`
# and `apt-get update` (so that apt knows ARCH's packages), and the cross
# compiler, crossbuild-essential-ARCH. Then:
#   make CROSS=ARCH            # build/ARCH/gatewayd, gwctl, metersim
# docs/cross-build.md.
set -euo pipefail

arch=${1:?usage: tools/sysroot.sh arm64|armhf}
case "$arch" in
arm64) triplet=aarch64-linux-gnu ;;
armhf) triplet=arm-linux-gnueabihf ;;
*) echo "sysroot: $arch: arm64 or armhf" >&2; exit 2 ;;
esac
top=$(cd "$(dirname "$0")/.." && pwd)
root=${SYSROOT:-$top/build/sysroot-$arch}
debs=$top/build/sysroot-$arch.debs

if [ "$(id -u)" -eq 0 ]; then
	sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
	sudo=(sudo -n)
else
	sudo=(false)
fi
export DEBIAN_FRONTEND=noninteractive
# On a shared build machine another apt-get may hold dpkg's lock: wait for
# it (up to 10 minutes) rather than fail.
apt=(apt-get -o DPkg::Lock::Timeout=600)
if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
	echo "sysroot: dpkg --add-architecture $arch; apt-get update" >&2
	"${sudo[@]}" dpkg --add-architecture "$arch"
	"${sudo[@]}" "${apt[@]}" update -q >&2 || true
elif ! apt-cache show "libc6:$arch" >/dev/null 2>&1; then
	"${sudo[@]}" "${apt[@]}" update -q >&2 || true
fi
# An index that failed to download (a mirror in sync) is only fatal when
# apt knows nothing of ARCH: the suite's own index is enough for a sysroot.
if ! apt-cache show "libc6:$arch" >/dev/null 2>&1; then
	echo "sysroot: apt-get update did not bring $arch's package lists" >&2
	exit 1
fi
# the cross compiler, and qemu-user for make check-cross
case "$arch" in arm64) qemu=qemu-aarch64 ;; armhf) qemu=qemu-arm ;; esac
want=()
command -v "$triplet-gcc" >/dev/null || want+=("crossbuild-essential-$arch")
command -v "$qemu" >/dev/null || want+=(qemu-user)
if [ ${#want[@]} -gt 0 ]; then
	echo "sysroot: installing ${want[*]}" >&2
	"${sudo[@]}" "${apt[@]}" install -y -q --no-install-recommends "${want[@]}" >&2
fi

# The -dev packages and every library package they need (by Depends,
# recursively; packages of the build host itself, such as perl or
# debconf, are not libraries and are left out).
dev=(libc6-dev linux-libc-dev libmodbus-dev libserialport-dev libpq-dev zlib1g-dev libcmocka-dev)
mapfile -t pkgs < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
	--no-breaks --no-replaces --no-enhances "${dev[@]/%/:$arch}" |
	sed -n 's/^\([a-z0-9][a-z0-9.+-]*\):'"$arch"'$/\1/p' |
	grep -E '^(lib|linux-libc-dev$|zlib1g)' | sort -u)
echo "sysroot: ${#pkgs[@]} packages for $arch" >&2

mkdir -p "$debs"
(cd "$debs" && apt-get download -q "${pkgs[@]/%/:$arch}" >&2)
rm -rf "$root"
mkdir -p "$root"
for d in "$debs"/*_"$arch".deb "$debs"/*_all.deb; do
	[ -e "$d" ] && dpkg -x "$d" "$root"
done
# Absolute symbolic links (libfoo.so -> /lib/...) point into the sysroot.
find "$root" -type l -lname '/*' | while read -r l; do
	t=$(readlink "$l")
	ln -sfn "$root$t" "$l"
done
echo "sysroot: $root ($(du -sh "$root" | cut -f1))" >&2
