#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/cross/deb.sh ARCH - `make deb CROSS=ARCH` (arm64, armhf): the
# packages are for ARCH (Architecture, the programs' ELF machine, ABI and
# dynamic loader), depend on the Debian 12 packages of the libraries the
# programs link, carry Debian's hardening (packaging/hardening.sh) and
# pass lintian when it is installed; unpacked into a scratch root, the
# packaged programs run under qemu-user with the sysroot's libraries and
# the packaged gatewayd --check accepts the packaged example configuration.
#
# Run by `make check-cross CROSS=ARCH` after the unit tests, not by make
# check: it builds the release programs for ARCH (a few minutes). It needs
# the sysroot (tools/sysroot.sh ARCH), the cross compiler and qemu-user;
# without them it says which is missing and fails, it does not pass.
arch=${1:?usage: tests/cross/deb.sh arm64|armhf}
GW_BUILD=build/$arch
. "$(dirname "$0")/../lib.sh"

case "$arch" in
arm64) triplet=aarch64-linux-gnu machine=AArch64 qemu=qemu-aarch64 ld=/lib/ld-linux-aarch64.so.1 ;;
armhf) triplet=arm-linux-gnueabihf machine=ARM qemu=qemu-arm ld=/lib/ld-linux-armhf.so.3 ;;
*) echo "tests/cross/deb.sh: $arch: arm64 or armhf" >&2; exit 2 ;;
esac
sysroot=$GW_TOP/build/sysroot-$arch
missing=
[ -d "$sysroot/usr/include" ] || missing="$missing the sysroot $sysroot (tools/sysroot.sh $arch)"
command -v "$triplet-gcc" >/dev/null || missing="$missing $triplet-gcc (crossbuild-essential-$arch)"
command -v "$qemu" >/dev/null || missing="$missing $qemu (qemu-user)"
if [ -n "$missing" ]; then
	not_ok "the $arch packages cannot be checked here: missing$missing"
	finish
fi

build=$GW_TOP/build/$arch
if ! out=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	make -s -j2 -C "$GW_TOP" deb CROSS="$arch" SANITIZE= GW_LINTIAN=0 2>&1); then
	not_ok "make deb CROSS=$arch (${out//$'\n'/ | })"
	finish
fi
ok "make deb CROSS=$arch"
v=$(make -s -C "$GW_TOP" print-version)
dv=$("$GW_TOP/packaging/debversion.sh" "$v")
main=$build/deb/gatewayd_${dv}_${arch}.deb
tools=$build/deb/gatewayd-tools_${dv}_${arch}.deb
[ -f "$main" ] && [ -f "$tools" ] && ok "the packages are named gatewayd{,-tools}_${dv}_${arch}.deb" ||
	not_ok "packages gatewayd_${dv}_${arch}.deb, gatewayd-tools_... (found: $(ls "$build/deb"))"

field() { dpkg-deb -f "$1" "$2"; }
check_eq "$(field "$main" Architecture)/$(field "$tools" Architecture)" "$arch/$arch" \
	"both packages are Architecture: $arch"
check_eq "$(field "$main" Version)/$(field "$tools" Version)" "$dv/$dv" "both have the built version"
dep=$(field "$main" Depends)
need=
for p in libc6 libmodbus5 libserialport0 libpq5 zlib1g; do
	case ", $dep," in *", $p "* | *", $p,"*) ;; *) need="$need $p" ;; esac
done
check_eq "$need" "" "gatewayd depends on libc6, libmodbus5, libserialport0, libpq5, zlib1g ($dep)"
check_eq "$(printf '%s\n' "$dep" "$(field "$tools" Depends)" |
	grep -oE 'postgresql[-0-9]*( |,|$)|gcc|cmocka|-dev|:amd64|asan|ubsan' | sort -u | tr '\n' ' ')" \
	"" "no server, compiler, test library or host package among the dependencies"
case "$(field "$tools" Depends)" in
*"gatewayd (= $dv)"*) ok "gatewayd-tools depends on the same gatewayd" ;;
*) not_ok "gatewayd-tools depends on the same gatewayd ($(field "$tools" Depends))" ;;
esac

root=$GW_TMP/root
dpkg-deb -x "$main" "$root" && dpkg-deb -x "$tools" "$root" && ok "both packages unpack" ||
	not_ok "both packages unpack"
progs=("$root/usr/bin/gatewayd" "$root/usr/bin/gwctl" "$root/usr/bin/metersim")
wrong=
for f in "${progs[@]}"; do
	h=$(LC_ALL=C readelf -hlW "$f" 2>&1)
	grep -qE "Machine: +$machine\$" <<<"$h" || wrong="$wrong $(basename "$f"):machine"
	grep -qF "[Requesting program interpreter: $ld]" <<<"$h" || wrong="$wrong $(basename "$f"):interpreter"
	if [ "$arch" = armhf ]; then
		grep -qE 'Flags:.*hard-float ABI' <<<"$h" || wrong="$wrong $(basename "$f"):not-hard-float"
	fi
done
check_eq "$wrong" "" "gatewayd, gwctl, metersim are $machine programs for $ld"
check_cmd "the packaged programs have stack protector, fortified calls, relro, bindnow, PIE" \
	"$GW_TOP/packaging/hardening.sh" "${progs[@]}"
if command -v hardening-check >/dev/null; then
	# --nocfprotection: it looks for x86's IBT/SHSTK note only
	check_cmd "hardening-check finds nothing missing" hardening-check --nocfprotection -q "${progs[@]}"
else
	echo "# hardening-check (devscripts) is not installed: not run; packaging/hardening.sh checked the same features"
fi
if command -v lintian >/dev/null; then
	lintian --tag-display-limit 0 "$main" "$tools" >"$GW_TMP/lintian.out" 2>/dev/null
	check_eq "$(grep -cE '^[EW]: ' "$GW_TMP/lintian.out")" 0 \
		"lintian: no errors or warnings (overrides carry their reasons)"
	grep -E '^[EW]: ' "$GW_TMP/lintian.out" | sed 's/^/#   /'
else
	echo "# lintian is not installed: not run (tools/deps.sh installs it)"
fi

# The packaged programs under qemu-user, with the sysroot's libraries.
export QEMU_LD_PREFIX=$sysroot
check_eq "$("$qemu" "$root/usr/bin/gatewayd" --version 2>&1)/$("$qemu" "$root/usr/bin/metersim" --version 2>&1)" \
	"gatewayd $v/metersim $v" "the packaged programs run under $qemu and state the package's version"
# gatewayd --check on the packaged configuration, the package's
# /usr/share/gatewayd where the configuration expects it (a private mount
# namespace, as tests/integration/deb.sh does).
if unshare -rm true 2>/dev/null; then
	unshare -rm bash -ec '
		root=$1 keep=$2 qemu=$3
		mkdir -p "$keep"
		mount --bind /usr/share/zoneinfo "$keep"
		mount -t tmpfs tmpfs /usr/share
		mkdir /usr/share/zoneinfo /usr/share/gatewayd
		mount --bind "$keep" /usr/share/zoneinfo
		mount --bind "$root/usr/share/gatewayd" /usr/share/gatewayd
		exec "$qemu" "$root/usr/bin/gatewayd" -c "$root/etc/gatewayd/gateway.ini" --check
	' sh "$root" "$GW_TMP/zoneinfo" "$(command -v "$qemu")" >"$GW_TMP/check.out" 2>&1
	rc=$?
	check_eq "$rc: $(cat "$GW_TMP/check.out")" \
		"0: $root/etc/gatewayd/gateway.ini: ok: gateway sub-001, 2 buses, 3 meters, 3 profiles" \
		"the packaged $arch gatewayd --check accepts the packaged example configuration"
else
	not_ok "a private mount namespace (unshare -rm) to run the packaged gatewayd --check"
fi
finish
