#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/unit_security.sh - the hardening of gatewayd's systemd
# unit (tools/gatewayd.service, the file `make install` and `make deb`
# install): `systemd-analyze security` rates its exposure 2.5 or better,
# while the unit still lets the gateway do its work: notify and the
# watchdog, the spool writable, the serial ports open to it (dialout and
# the device ACL), TCP/IP and Unix sockets. See docs/deployment.md.
. "$(dirname "$0")/../lib.sh"

if ! command -v systemd-analyze >/dev/null; then
	not_ok "systemd-analyze is installed (apt-get install systemd)"
	finish
fi
unit=$GW_TMP/gatewayd.service
sed 's|@PREFIX@|/usr|g' "$GW_TOP/tools/gatewayd.service" >"$unit"

# score UNIT: the overall exposure systemd-analyze gives a unit file that
# is not installed (Debian 12's systemd 252: --offline=yes).
score() {
	systemd-analyze security --offline=yes "$1" 2>"$GW_TMP/analyze.err" |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
s=$(score "$unit")
if [ -n "$s" ] && awk -v s="$s" 'BEGIN { exit !(s <= 2.5) }'; then
	ok "systemd-analyze security rates the unit $s (at most 2.5)"
else
	not_ok "systemd-analyze security rates the unit '$s' (at most 2.5): $(head -3 "$GW_TMP/analyze.err")"
	systemd-analyze security --offline=yes "$unit" 2>&1 | grep '✗' | sed 's/^/#   /'
fi
check_cmd "systemd-analyze security --threshold=25 accepts it" \
	systemd-analyze security --offline=yes --threshold=25 "$unit"
# The measure tells: the same unit without its hardening lines is rated
# far worse, and --threshold=25 refuses it.
awk '/^# Hardening:/ { skip = 1 } /^\[Install\]/ { skip = 0 } !skip' "$unit" >"$GW_TMP/bare.service"
b=$(score "$GW_TMP/bare.service")
if [ -n "$b" ] && awk -v s="$b" 'BEGIN { exit !(s > 5) }' &&
   ! systemd-analyze security --offline=yes --threshold=25 "$GW_TMP/bare.service" >/dev/null 2>&1; then
	ok "without its hardening the unit is rated $b and refused"
else
	not_ok "without its hardening the unit is rated '$b' and refused"
fi

# What the gateway needs is still allowed.
need() { # DESCRIPTION LINE...: every LINE is in the unit, as written
	local desc=$1 l miss=""
	shift
	for l in "$@"; do
		grep -qxF -- "$l" "$unit" || miss="$miss [$l]"
	done
	if [ -z "$miss" ]; then ok "$desc"; else not_ok "$desc: missing$miss"; fi
}
need "Type=notify with a watchdog" "Type=notify" "NotifyAccess=main" "WatchdogSec=60s"
need "the spool is writable" "StateDirectory=gatewayd" "ReadWritePaths=/var/lib/gatewayd" "ProtectSystem=strict"
need "the serial ports: the dialout group and a device ACL" "SupplementaryGroups=dialout" \
	"DevicePolicy=closed" "DeviceAllow=char-ttyS rw" "DeviceAllow=char-ttyUSB rw" "DeviceAllow=char-ttyACM rw"
need "TCP/IP and Unix sockets" "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"
# Nothing takes away what the gateway does: no PrivateDevices (it would
# hide the serial ports), no PrivateNetwork, no PrivateUsers (it maps
# the dialout group away), no DynamicUser (the spool has an owner).
check_eq "$(grep -cE '^(PrivateDevices|PrivateNetwork|PrivateUsers|DynamicUser)=yes' "$unit")" 0 \
	"no directive that would cut the gateway off its ports, network or spool"
# The kernel's device numbers of the serial drivers the ACL names.
for d in ttyS; do
	grep -qw "$d" /proc/devices && ok "the kernel knows char-$d" ||
		not_ok "the kernel knows char-$d (/proc/devices)"
done
# Every directive known to this systemd (deb.sh verifies the packaged
# unit with its man pages; here the pages are not installed).
mkdir -p "$GW_TMP/v"
sed "s|/usr/bin/gatewayd|$(cd "$GW_BUILD" && pwd)/gatewayd|g" "$unit" >"$GW_TMP/v/gatewayd.service"
systemd-analyze verify "$GW_TMP/v/gatewayd.service" 2>&1 | grep -v "Command 'man " >"$GW_TMP/verify.out"
check_eq "$(cat "$GW_TMP/verify.out")" "" "systemd-analyze verify knows every directive"
finish
