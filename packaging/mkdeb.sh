#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# packaging/mkdeb.sh - builds the Debian packages from `make install`
# (run by `make deb`; BUILD, DEB_OUT, GW_VERSION, MAKE and CROSS come from
# it; BUILD is the release build, made with RELEASE=1):
#
#   gatewayd        gatewayd, gwctl, their man pages and gateway.ini(5), the
#                   meter profiles, the schema, the systemd units, sysusers.d
#                   and tmpfiles.d entries, the example configuration (also
#                   as the conffiles /etc/gatewayd/gateway.ini, meters.csv)
#   gatewayd-tools  metersim(1): simulated meters to check a concentrator's
#                   lines and database path before the real meters are on
#   gatewayd-portal portald, the customer portal's HTTP service, its unit,
#                   its user and an example /etc/gatewayd-portal/portal.ini
#                   (a package of its own: it runs on the utility's servers,
#                   not on concentrators, and only it needs libmicrohttpd;
#                   not made for CROSS builds)
#
# with dpkg-deb (no debhelper: the package has no source package of its
# own, and this is the whole of what it does). Runtime dependencies come
# from dpkg-shlibdeps (native builds) or from the programs' NEEDED entries
# (cross builds, whose sysroot has no dpkg database). The programs must
# have Debian's hardening (packaging/hardening.sh), else nothing is
# written. Writes $DEB_OUT/*.deb (default $BUILD/deb) and runs lintian on
# them when it is installed (GW_LINTIAN=0: not).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
GW_VERSION=${GW_VERSION:-0.0.0-unknown}
CROSS=${CROSS:-}
maint=${DEB_MAINTAINER:-Meter gateway maintainers <gatewayd-maintainers@example.org>}
ver=$(packaging/debversion.sh "$GW_VERSION")
case "$CROSS" in
"") arch=$(dpkg --print-architecture); strip=strip ;;
arm64) arch=arm64; triplet=aarch64-linux-gnu; strip=$triplet-strip ;;
armhf) arch=armhf; triplet=arm-linux-gnueabihf; strip=$triplet-strip ;;
*) echo "mkdeb: CROSS=$CROSS: arm64 or armhf" >&2; exit 2 ;;
esac
out=${DEB_OUT:-$BUILD/deb}
stage=$out/stage
rm -rf "$stage"
mkdir -p "$stage"

"$MAKE" --no-print-directory -s install BUILD="$BUILD" CROSS="$CROSS" RELEASE=1 \
	DESTDIR="$(cd "$stage" && pwd)/all" PREFIX=/usr >/dev/null

main=$stage/gatewayd
tools=$stage/gatewayd-tools
mv "$stage/all" "$main"
mkdir -p "$tools/usr/bin" "$tools/usr/share/man/man1"
mv "$main/usr/bin/metersim" "$tools/usr/bin/"
mv "$main/usr/share/man/man1/metersim.1" "$tools/usr/share/man/man1/"
rmdir "$main/usr/share/man/man1"
portal=$stage/gatewayd-portal
packages=(gatewayd gatewayd-tools)
if [ -e "$main/usr/bin/portald" ]; then
	packages+=(gatewayd-portal)
	mkdir -p "$portal/usr/bin" "$portal/lib/systemd/system" "$portal/usr/lib/sysusers.d" \
		"$portal/usr/share/doc"
	mv "$main/usr/bin/portald" "$portal/usr/bin/"
	mv "$main/lib/systemd/system/portald.service" "$portal/lib/systemd/system/"
	mv "$main/lib/systemd/system/gatewayd-notices.service" \
		"$main/lib/systemd/system/gatewayd-notices.timer" "$portal/lib/systemd/system/"
	mv "$main/usr/lib/sysusers.d/portald.conf" "$portal/usr/lib/sysusers.d/"
	mv "$main/usr/share/doc/gatewayd-portal" "$portal/usr/share/doc/"
	mkdir -p "$portal/usr/share/man/man8"
	mv "$main/usr/share/man/man8/portald.8" "$portal/usr/share/man/man8/"
	install -d -m 0750 "$portal/etc/gatewayd-portal"
	install -m 0640 "$portal/usr/share/doc/gatewayd-portal/examples/portal.ini" "$portal/etc/gatewayd-portal/"
fi

# binaries stripped (Debian policy 10.1), man pages compressed
for b in "$main"/usr/bin/* "$tools"/usr/bin/* $([ -d "$portal" ] && echo "$portal"/usr/bin/*); do
	"$strip" --strip-unneeded --remove-section=.comment --remove-section=.note "$b"
done
find "$main" "$tools" $([ -d "$portal" ] && echo "$portal") -path '*/share/man/*' -type f -exec gzip -9n {} +
# stack protector, fortified libc calls, full RELRO, PIE: or no package
if ! packaging/hardening.sh "$main"/usr/bin/* "$tools"/usr/bin/* $([ -d "$portal" ] && echo "$portal"/usr/bin/*) >"$stage/hardening" 2>&1; then
	sed 's/^/mkdeb: /' "$stage/hardening" >&2
	echo "mkdeb: the programs lack hardening (build them with RELEASE=1, as make deb does)" >&2
	exit 1
fi

# The example configuration, also as the conffiles under /etc/gatewayd:
# root:gatewayd 0640 (the group is set by the postinst, once it exists).
install -d -m 0750 "$main/etc/gatewayd"
# A site's own meter profiles: first in the example's profiles_dir.
install -d -m 0755 "$main/etc/gatewayd/profiles"
install -m 0640 "$main/usr/share/doc/gatewayd/examples/gateway.ini" \
	"$main/usr/share/doc/gatewayd/examples/meters.csv" "$main/etc/gatewayd/"

changelog() { # PACKAGE: a one-entry changelog of this build
	printf '%s (%s) unstable; urgency=medium\n\n  * Built from %s.\n\n -- %s  %s\n' \
		"$1" "$ver" "$GW_VERSION" "$maint" "$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")"
}
for p in "${packages[@]}"; do
	d=$stage/$p/usr/share/doc/$p
	install -d "$d"
	install -m 644 packaging/copyright "$d/copyright"
	changelog "$p" | gzip -9n >"$d/changelog.gz"
done
install -m 644 README.md "$main/usr/share/doc/gatewayd/"
install -m 644 docs/*.md "$main/usr/share/doc/gatewayd/"
install -d "$main/usr/share/lintian/overrides"
install -m 644 packaging/deb/gatewayd.lintian-overrides "$main/usr/share/lintian/overrides/gatewayd"

# Runtime dependencies of the programs' shared libraries.
depends() { # FILE...: the Depends line
	if [ -z "$CROSS" ]; then
		local t
		t=$(mktemp -d)
		mkdir "$t/debian"
		printf 'Source: gatewayd\n\nPackage: gatewayd\nArchitecture: any\n' >"$t/debian/control"
		local abs=()
		for f in "$@"; do abs+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"); done
		(cd "$t" && dpkg-shlibdeps -O "${abs[@]}" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
		rm -rf "$t"
	else
		# NEEDED sonames to the Debian 12 packages that hold them; a
		# soname not in this list stops the build (armhf programs
		# built with the stack protector need the dynamic loader
		# itself, for __stack_chk_guard: libc6 too)
		local d
		d=$("$triplet-objdump" -p "$@" | awk '/NEEDED/ { print $2 }' | sort -u |
			sed -e 's/^libmodbus\.so\.5$/libmodbus5 (>= 3.1.6)/' \
				-e 's/^libserialport\.so\.0$/libserialport0 (>= 0.1.1)/' \
				-e 's/^libpq\.so\.5$/libpq5/' -e 's/^libz\.so\.1$/zlib1g (>= 1:1.2.0)/' \
				-e 's/^lib[cm]\.so\.6$/libc6 (>= 2.36)/' \
				-e 's/^ld-linux-[a-z0-9-]*\.so\.[0-9]$/libc6 (>= 2.36)/' | sort -u)
		if printf '%s\n' "$d" | grep -q '\.so'; then
			echo "mkdeb: no package known for $(printf '%s\n' "$d" | grep '\.so' | tr '\n' ' ')" >&2
			return 1
		fi
		printf '%s\n' "$d" | paste -sd, | sed 's/,/, /g'
	fi
}

control() { # PACKAGE DEPENDS SECTION SUMMARY DESCRIPTION
	local dir=$stage/$1
	mkdir -p "$dir/DEBIAN"
	{
		echo "Package: $1"
		echo "Version: $ver"
		echo "Architecture: $arch"
		echo "Maintainer: $maint"
		echo "Installed-Size: $(du -sk --exclude=DEBIAN "$dir" | cut -f1)"
		echo "Depends: $2"
		echo "Section: $3"
		echo "Priority: optional"
		echo "Description: $4"
		printf '%s\n' "$5"
	} >"$dir/DEBIAN/control"
	(cd "$dir" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print0 |
		sort -z | xargs -0 md5sum | sed 's| \./| |') >"$dir/DEBIAN/md5sums"
}

main_deps=$(depends "$main/usr/bin/gatewayd" "$main/usr/bin/gwctl")
tools_deps=$(depends "$tools/usr/bin/metersim")
control gatewayd "$main_deps, systemd | adduser" net \
	"smart-meter data collection gateway" \
" Polls Modbus RTU, Modbus TCP and IEC 62056-21 meters on a data
 concentrator, keeps their readings in a crash-safe journal, seals each
 meter's day at the local midnight into a compressed spool and loads it
 into PostgreSQL exactly once. Includes gwctl, the operator's tool (meter
 reads and bus scans on site, status, spool repair, schema migrations),
 the meter profiles, the database schema and a systemd unit."
control gatewayd-tools "$tools_deps, gatewayd (= $ver)" net \
	"smart-meter gateway: simulated meters" \
" metersim answers as Modbus TCP, Modbus RTU or IEC 62056-21 meters with
 realistic energy counters, to check a gateway, its serial lines and its
 database path before the real meters are connected."
install -m 755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$main/DEBIAN/"
printf '/etc/gatewayd/gateway.ini\n/etc/gatewayd/meters.csv\n' >"$main/DEBIAN/conffiles"

if [ -d "$portal" ]; then
	control gatewayd-portal "$(depends "$portal/usr/bin/portald"), systemd | adduser, postgresql-client" web \
		"smart-meter gateway: customer portal service" \
" portald answers the utility's app backend with a customer's daily and
 monthly energy use from the gateway database, read-only, as JSON or CSV.
 Requests carry HS256 or ES256 bearer tokens naming the customer account;
 the database's row-level security decides what each request can see.
 The package also has the customer notices' hourly timer (psql)."
	install -m 755 packaging/deb/portal.postinst "$portal/DEBIAN/postinst"
	install -m 755 packaging/deb/portal.postrm "$portal/DEBIAN/postrm"
	printf '/etc/gatewayd-portal/portal.ini\n' >"$portal/DEBIAN/conffiles"
fi

rm -f "$out"/*.deb
for p in "${packages[@]}"; do
	dpkg-deb --root-owner-group -Zxz --build "$stage/$p" "$out/${p}_${ver}_${arch}.deb" >/dev/null
	echo "$out/${p}_${ver}_${arch}.deb"
done
if [ "${GW_LINTIAN:-1}" != 0 ] && command -v lintian >/dev/null; then
	lintian --tag-display-limit 0 "$out"/*.deb || true
fi
