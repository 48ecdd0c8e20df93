#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/deb.sh - `make deb` builds the gatewayd and
# gatewayd-tools packages: their files, modes, conffiles and runtime
# dependencies (dpkg-deb -c/-I), lintian's verdict when it is installed;
# then the packages are unpacked into a scratch root, the maintainer
# scripts' effect is applied there (sysusers.d, tmpfiles.d), and the
# installed gatewayd checks the installed example configuration, seeing
# the installed profiles at /usr/share/gatewayd (a private mount
# namespace, so that nothing of this machine is changed).
#
# The packages are built from the release build in build/release (Debian's
# hardening flags; a sanitizer build's programs would depend on its
# runtime), not from $GW_BUILD: the
# make that runs this test may be `make check SANITIZE=1`, whose variables
# reach a sub-make through MAKEFLAGS, so that make's settings are dropped.
. "$(dirname "$0")/../lib.sh"

build=$GW_TOP/build
if ! out=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	make -s -j2 -C "$GW_TOP" deb BUILD=build SANITIZE= GW_LINTIAN=0 2>&1); then
	not_ok "make deb (${out//$'\n'/ | })"
	finish
fi
ok "make deb"
v=$("$build/release/gatewayd" --version)
v=${v#gatewayd }
dv=$("$GW_TOP/packaging/debversion.sh" "$v")
arch=$(dpkg --print-architecture)
main=$build/deb/gatewayd_${dv}_${arch}.deb
tools=$build/deb/gatewayd-tools_${dv}_${arch}.deb
[ -f "$main" ] && [ -f "$tools" ] && ok "the packages are named by the built version ($dv)" ||
	not_ok "packages gatewayd_${dv}_${arch}.deb, gatewayd-tools_... (found: $(ls "$build/deb"))"

field() { dpkg-deb -f "$1" "$2"; }
check_eq "$(field "$main" Version)/$(field "$tools" Version)" "$dv/$dv" \
	"both packages have the version the programs state"
check_eq "$(field "$main" Architecture)" "$arch" "the architecture is the build's"

# contents: path and mode
dpkg-deb -c "$main" | awk '{ p = $6; sub(/^\.\//, "", p); print $1, $2, p }' >"$GW_TMP/main.ls"
dpkg-deb -c "$tools" | awk '{ p = $6; sub(/^\.\//, "", p); print $1, $2, p }' >"$GW_TMP/tools.ls"
has() { # LISTING MODE PATH
	grep -qxF -- "$2 root/root $3" "$1"
}
missing=
for f in usr/bin/gatewayd usr/bin/gwctl; do
	has "$GW_TMP/main.ls" -rwxr-xr-x "$f" || missing="$missing $f"
done
for f in usr/share/man/man8/gatewayd.8.gz usr/share/man/man8/gwctl.8.gz \
	usr/share/man/man5/gateway.ini.5.gz lib/systemd/system/gatewayd.service \
	lib/systemd/system/gatewayd-maintain.service lib/systemd/system/gatewayd-maintain.timer \
	usr/lib/sysusers.d/gatewayd.conf usr/lib/tmpfiles.d/gatewayd.conf \
	usr/share/doc/gatewayd/examples/gateway.ini usr/share/doc/gatewayd/examples/meters.csv \
	usr/share/doc/gatewayd/copyright usr/share/doc/gatewayd/changelog.gz; do
	has "$GW_TMP/main.ls" -rw-r--r-- "$f" || missing="$missing $f"
done
check_eq "$missing" "" "gatewayd holds the programs, man pages, units, sysusers/tmpfiles entries, examples"
check_eq "$(grep -c ' usr/share/gatewayd/profiles/.*\.prof$' "$GW_TMP/main.ls")" \
	"$(ls "$GW_TOP"/profiles/*.prof | wc -l)" "every meter profile is in the package"
check_eq "$(grep -c ' usr/share/gatewayd/schema/.*\.sql$' "$GW_TMP/main.ls")" \
	"$(ls "$GW_TOP"/schema/*.sql | wc -l)" "every schema migration is in the package"
check_eq "$(grep -E ' etc/gatewayd/?' "$GW_TMP/main.ls" | LC_ALL=C sort | tr '\n' ';')" \
	"-rw-r----- root/root etc/gatewayd/gateway.ini;-rw-r----- root/root etc/gatewayd/meters.csv;drwxr-x--- root/root etc/gatewayd/;drwxr-xr-x root/root etc/gatewayd/profiles/;" \
	"the configuration under /etc/gatewayd is 0640 in a 0750 directory, with an empty profiles/ for a site's own meter profiles"
check_eq "$(grep -cE 'bin/metersim$|man1/metersim' "$GW_TMP/main.ls")" 0 "metersim is not in gatewayd"
has "$GW_TMP/tools.ls" -rwxr-xr-x usr/bin/metersim && has "$GW_TMP/tools.ls" -rw-r--r-- usr/share/man/man1/metersim.1.gz &&
	ok "gatewayd-tools holds metersim and metersim(1)" || not_ok "gatewayd-tools holds metersim and metersim(1)"
dpkg-deb -I "$main" conffiles >"$GW_TMP/conffiles"
check_eq "$(sort "$GW_TMP/conffiles" | tr '\n' ' ')" "/etc/gatewayd/gateway.ini /etc/gatewayd/meters.csv " \
	"gateway.ini and meters.csv are conffiles"
for s in postinst prerm postrm; do
	dpkg-deb -I "$main" "$s" >"$GW_TMP/$s" && sh -n "$GW_TMP/$s" || not_ok "$s is valid sh"
done
ok "postinst, prerm, postrm are in the package and parse"

# runtime dependencies only: the shared libraries' packages
dep=$(field "$main" Depends)
need=
for p in libc6 libmodbus5 libserialport0 libpq5 zlib1g; do
	case ", $dep," in *", $p "* | *", $p,"*) ;; *) need="$need $p" ;; esac
done
check_eq "$need" "" "gatewayd depends on libc6, libmodbus5, libserialport0, libpq5, zlib1g ($dep)"
check_eq "$(printf '%s\n' "$dep" "$(field "$tools" Depends)" |
	grep -oE 'postgresql[-0-9]*( |,|$)|gcc|clang|cmocka|-dev|asan|ubsan|faketime|pymodbus|socat' | sort -u | tr '\n' ' ')" \
	"" "no server, compiler or test tool among the dependencies"
case "$(field "$tools" Depends)" in
*"gatewayd (= $dv)"*) ok "gatewayd-tools depends on the same gatewayd" ;;
*) not_ok "gatewayd-tools depends on the same gatewayd ($(field "$tools" Depends))" ;;
esac

# gatewayd-portal: portald, its unit, its user and its conffile; neither
# gatewayd nor its tools need libmicrohttpd, only this package does.
portal_deb=$build/deb/gatewayd-portal_${dv}_${arch}.deb
if [ -f "$portal_deb" ]; then
	dpkg-deb -c "$portal_deb" | awk '{ p = $6; sub(/^\.\//, "", p); print $1, $2, p }' >"$GW_TMP/portal.ls"
	has "$GW_TMP/portal.ls" -rwxr-xr-x usr/bin/portald &&
		has "$GW_TMP/portal.ls" -rw-r--r-- lib/systemd/system/portald.service &&
		has "$GW_TMP/portal.ls" -rw-r--r-- usr/lib/sysusers.d/portald.conf &&
		has "$GW_TMP/portal.ls" -rw-r----- etc/gatewayd-portal/portal.ini &&
		has "$GW_TMP/portal.ls" -rw-r--r-- usr/share/doc/gatewayd-portal/portal.md &&
		has "$GW_TMP/portal.ls" -rw-r--r-- usr/share/man/man8/portald.8.gz &&
		ok "gatewayd-portal holds portald, portald(8), its unit, sysusers entry, portal.ini (0640) and portal.md" ||
		not_ok "gatewayd-portal holds portald, portald(8), its unit, sysusers entry, portal.ini (0640) and portal.md ($(tr '\n' ' ' <"$GW_TMP/portal.ls"))"
	has "$GW_TMP/portal.ls" -rw-r--r-- lib/systemd/system/gatewayd-notices.service &&
		has "$GW_TMP/portal.ls" -rw-r--r-- lib/systemd/system/gatewayd-notices.timer &&
		has "$GW_TMP/portal.ls" -rw-r--r-- usr/share/doc/gatewayd-portal/notices.md &&
		ok "gatewayd-portal holds the customer notices' gatewayd-notices.service and .timer and notices.md" ||
		not_ok "gatewayd-portal holds the customer notices' gatewayd-notices.service and .timer and notices.md"
	check_eq "$(grep -c 'gatewayd-notices' "$GW_TMP/main.ls")" 0 "the notices' units are not in gatewayd"
	case "$(field "$portal_deb" Depends)" in
	*postgresql-client*) ok "gatewayd-portal depends on postgresql-client (the notices' run is psql)" ;;
	*) not_ok "gatewayd-portal depends on postgresql-client ($(field "$portal_deb" Depends))" ;;
	esac
	if command -v systemd-analyze >/dev/null; then
		proot=$GW_TMP/portal-root
		dpkg-deb -x "$portal_deb" "$proot"
		MANPATH=$proot/usr/share/man systemd-analyze verify "$proot/lib/systemd/system/gatewayd-notices.service" \
			"$proot/lib/systemd/system/gatewayd-notices.timer" >"$GW_TMP/verify-notices.out" 2>&1
		check_eq "$?:$(cat "$GW_TMP/verify-notices.out")" "0:" \
			"systemd-analyze verify finds nothing wrong with the packaged gatewayd-notices units"
		grep -q '^ExecStart=/usr/bin/psql .*gw_notices_run()' "$proot/lib/systemd/system/gatewayd-notices.service" &&
			grep -q '^Documentation=file:/usr/share/doc/gatewayd-portal/notices.md$' "$proot/lib/systemd/system/gatewayd-notices.service" &&
			ok "the packaged notices unit runs gw_notices_run() with psql; its documentation is in the package" ||
			not_ok "the packaged notices unit runs gw_notices_run() with psql; its documentation is in the package"
	fi
	check_eq "$(dpkg-deb -I "$portal_deb" conffiles)" "/etc/gatewayd-portal/portal.ini" "portal.ini is a conffile"
	check_eq "$(grep -c 'portald\|gatewayd-portal' "$GW_TMP/main.ls")" 0 "portald is not in gatewayd"
	case "$(field "$portal_deb" Depends)" in
	*libmicrohttpd*libpq5* | *libpq5*libmicrohttpd*) ok "gatewayd-portal depends on libmicrohttpd and libpq5" ;;
	*) not_ok "gatewayd-portal depends on libmicrohttpd and libpq5 ($(field "$portal_deb" Depends))" ;;
	esac
	case "$dep, $(field "$tools" Depends)" in
	*microhttpd*) not_ok "gatewayd and gatewayd-tools do not depend on libmicrohttpd ($dep)" ;;
	*) ok "gatewayd and gatewayd-tools do not depend on libmicrohttpd" ;;
	esac
else
	not_ok "make deb builds gatewayd-portal (found: $(ls "$build/deb"))"
fi

if command -v lintian >/dev/null; then
	lintian --tag-display-limit 0 "$main" "$tools" >"$GW_TMP/lintian.out" 2>/dev/null
	check_eq "$(grep -cE '^[EW]: ' "$GW_TMP/lintian.out")" 0 \
		"lintian: no errors or warnings (overrides carry their reasons)"
	grep -E '^[EW]: ' "$GW_TMP/lintian.out" | sed 's/^/#   /'
else
	echo "# lintian is not installed: not run (tools/deps.sh installs it)"
fi

# Installed into a scratch root, and the maintainer scripts' effect there.
root=$GW_TMP/root
dpkg-deb -x "$main" "$root" && dpkg-deb -x "$tools" "$root" && ok "both packages unpack" ||
	not_ok "both packages unpack"
# Debian's hardening (make deb builds with dpkg-buildflags, hardening=+all)
check_cmd "the packaged programs have stack protector, fortified calls, relro, bindnow, PIE" \
	"$GW_TOP/packaging/hardening.sh" "$root/usr/bin/gatewayd" "$root/usr/bin/gwctl" "$root/usr/bin/metersim"
if command -v hardening-check >/dev/null; then
	# --nocfprotection: Debian 12's C start files have no IBT/SHSTK note
	check_cmd "hardening-check finds nothing missing" hardening-check --nocfprotection -q \
		"$root/usr/bin/gatewayd" "$root/usr/bin/gwctl" "$root/usr/bin/metersim"
else
	echo "# hardening-check (devscripts) is not installed: not run; packaging/hardening.sh checked the same features"
fi
mkdir -p "$root/etc"
if systemd-sysusers --root="$root" "$root/usr/lib/sysusers.d/gatewayd.conf" >"$GW_TMP/sysusers.out" 2>&1; then
	uid=$(awk -F: '$1 == "gatewayd" { print $3 }' "$root/etc/passwd")
	gid=$(awk -F: '$1 == "gatewayd" { print $3 }' "$root/etc/group")
	check_eq "$(awk -F: '$1 == "gatewayd" { print $6 ":" $7 }' "$root/etc/passwd")" \
		"/var/lib/gatewayd:/usr/sbin/nologin" "sysusers.d makes the gatewayd system user, home /var/lib/gatewayd"
	check_eq "$(awk -F: '$1 == "dialout" { print $4 }' "$root/etc/group" | tr ',' '\n' | grep -cx gatewayd)" 1 \
		"gatewayd is in dialout (serial lines)"
	[ -n "$uid" ] && [ "$uid" -lt 1000 ] && ok "gatewayd is a system user (uid $uid)" ||
		not_ok "gatewayd is a system user (uid '$uid')"
	if systemd-tmpfiles --root="$root" --create "$root/usr/lib/tmpfiles.d/gatewayd.conf" >"$GW_TMP/tmpfiles.out" 2>&1; then
		check_eq "$(stat -c '%a %u %g' "$root/var/lib/gatewayd" "$root/var/lib/gatewayd/spool" | tr '\n' ';')" \
			"750 $uid $gid;750 $uid $gid;" "tmpfiles.d makes /var/lib/gatewayd and its spool, 0750 gatewayd"
	else
		not_ok "systemd-tmpfiles --create ($(cat "$GW_TMP/tmpfiles.out"))"
	fi
else
	not_ok "systemd-sysusers ($(cat "$GW_TMP/sysusers.out"))"
fi
unit=$root/lib/systemd/system/gatewayd.service
check_eq "$(grep -E '^(Type|ExecStart|ExecStartPre|User|SupplementaryGroups|StateDirectory)=' "$unit" | tr '\n' ';')" \
	"Type=notify;ExecStartPre=/usr/bin/gatewayd -c /etc/gatewayd/gateway.ini --check;ExecStart=/usr/bin/gatewayd -c /etc/gatewayd/gateway.ini;User=gatewayd;SupplementaryGroups=dialout;StateDirectory=gatewayd;" \
	"the unit runs the packaged /usr/bin/gatewayd as gatewayd on /etc/gatewayd/gateway.ini"
# systemd-analyze verify on the unit with the scratch root's programs
# (not this machine's): no unknown directive, every command executable,
# the man pages of Documentation= in the package.
if command -v systemd-analyze >/dev/null; then
	sed "s|/usr/bin/gatewayd|$root/usr/bin/gatewayd|g" "$unit" >"$GW_TMP/gatewayd.service"
	MANPATH=$root/usr/share/man systemd-analyze verify "$GW_TMP/gatewayd.service" >"$GW_TMP/verify.out" 2>&1
	check_eq "$?:$(cat "$GW_TMP/verify.out")" "0:" "systemd-analyze verify finds nothing wrong with the unit"
fi

check_eq "$("$root/usr/bin/gatewayd" --version)/$("$root/usr/bin/metersim" --version)" \
	"gatewayd $v/metersim $v" "the installed programs state the package's version"
check_eq "$(grep -E '^(profiles_dir|spool_dir|meters) ' "$root/etc/gatewayd/gateway.ini" | tr '\n' ';')" \
	"spool_dir = /var/lib/gatewayd/spool;profiles_dir = /etc/gatewayd/profiles:/usr/share/gatewayd/profiles;meters = meters.csv;" \
	"the example configuration points at the packaged profiles and the spool"
# The installed gatewayd on the installed configuration, with the package's
# /usr/share/gatewayd where the configuration expects it: a private mount
# namespace puts an empty /usr/share there with only the zone database and
# the package's directory in it.
if unshare -rm true 2>/dev/null; then
	unshare -rm bash -ec '
		root=$1 keep=$2
		mkdir -p "$keep"
		mount --bind /usr/share/zoneinfo "$keep"
		mount -t tmpfs tmpfs /usr/share
		mkdir /usr/share/zoneinfo /usr/share/gatewayd
		mount --bind "$keep" /usr/share/zoneinfo
		mount --bind "$root/usr/share/gatewayd" /usr/share/gatewayd
		exec "$root/usr/bin/gatewayd" -c "$root/etc/gatewayd/gateway.ini" --check
	' sh "$root" "$GW_TMP/zoneinfo" >"$GW_TMP/check.out" 2>&1
	rc=$?
	check_eq "$rc: $(cat "$GW_TMP/check.out")" \
		"0: $root/etc/gatewayd/gateway.ini: ok: gateway sub-001, 2 buses, 3 meters, 3 profiles" \
		"the installed gatewayd --check accepts the installed example configuration"
else
	not_ok "a private mount namespace (unshare -rm) to run the installed gatewayd --check"
fi
# and the man pages are readable
check_eq "$(zcat "$root/usr/share/man/man5/gateway.ini.5.gz" | grep -c '^\.SH')" \
	"$(grep -c '^# ' "$GW_TOP/man/gateway.ini.5.scd")" "gateway.ini(5) has every section of its source"
finish
