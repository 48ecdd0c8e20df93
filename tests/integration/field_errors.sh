#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/field_errors.sh - errors that say what to do, as a
# field engineer sees them from `gwctl read` (the same words gatewayd logs):
# a Modbus TCP endpoint that refuses (host:port and the system's reason), a
# serial port that is missing (the ports that do exist), a directory given
# as a port, a port the user may not open (the group to join), a port held
# by another process (which one), and a profile name with a typo (the near
# names).
#
# Permission and "busy" need an unprivileged user: root opens any device
# and ignores another process's exclusive lock (TIOCEXCL). As root (CI),
# gwctl runs as `nobody` through setpriv, the permission case on a device
# node made with mknod (root:dialout, 0660); without root, on a pty made
# unreadable with chmod. Without setpriv (root) those two are reported as
# not ok, never skipped as passed.
. "$(dirname "$0")/../lib.sh"

PROF=$GW_TOP/profiles
chmod 755 "$GW_TMP"
port=$(free_port)

if ! command -v socat >/dev/null; then
	not_ok "socat is installed (apt-get install socat)"
	finish
fi
socat pty,raw,echo=0,link="$GW_TMP/ptyA" pty,raw,echo=0,link="$GW_TMP/ptyB" \
	2>"$GW_TMP/socat.log" &
track_pid $!
wait_for 10 test -e "$GW_TMP/ptyB" || { not_ok "socat made a pty pair"; finish; }
pts=$(readlink -f "$GW_TMP/ptyB")

cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = errors-1
timezone = UTC
spool_dir = spool
profiles_dir = $PROF

[bus refused]
type = modbus-tcp
host = 127.0.0.1
port = $port
timeout_ms = 300

[bus missing]
type = modbus-rtu
device = /dev/ttyUSB_gone_42

[bus missing_iec]
type = iec62056-21
device = /dev/ttyUSB_gone_42

[bus dir]
type = modbus-rtu
device = $GW_TMP

[bus denied]
type = modbus-rtu
device = $GW_TMP/ttyDENIED

[bus busy]
type = modbus-rtu
device = $pts

[bus busy_iec]
type = iec62056-21
device = $pts

[meter T1]
bus = refused
unit = 1
profile = abb_b23

[meter R1]
bus = missing
unit = 1
profile = abb_b23

[meter I1]
bus = missing_iec
address = 123

[meter D1]
bus = dir
unit = 1
profile = abb_b23

[meter P1]
bus = denied
unit = 1
profile = abb_b23

[meter B1]
bus = busy
unit = 1
profile = abb_b23

[meter BI1]
bus = busy_iec
address = 123
INI
chmod 644 "$GW_TMP/gw.ini"

# read_err METER [RUNNER...]: gwctl read's stderr (it must fail).
read_err() {
	local m=$1
	shift
	if "$@" "$GW_BUILD/gwctl" read -c "$GW_TMP/gw.ini" "$m" >"$GW_TMP/out" 2>&1; then
		echo "(gwctl read succeeded)"
	fi
	cat "$GW_TMP/out"
}
# expect WHAT TEXT PATTERN: PATTERN (grep -E) is in TEXT.
expect() {
	if grep -qE -- "$3" <<<"$2"; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   expected /$3/ in:"
		sed 's/^/#   /' <<<"$2"
	fi
}

out=$(read_err T1)
expect "TCP: a refused connection names host:port and the reason" "$out" \
	"bus refused: cannot connect to 127\.0\.0\.1:$port: Connection refused"

for m in R1 I1; do
	out=$(read_err $m)
	expect "serial ($m): a missing port lists the ports that exist" "$out" \
		"cannot open /dev/ttyUSB_gone_42: no such device(; serial ports present: |, and no serial port is present)"
	listed=$(sed -n 's/.*serial ports present: //p' <<<"$out" | head -1 | tr -d ',')
	missing=""
	for p in $listed; do [ -e "$p" ] || missing+=" $p"; done
	check_eq "$missing" "" "serial ($m): every port listed exists ($listed)"
done

out=$(read_err D1)
expect "serial: a directory given as the port is named as such" "$out" \
	"cannot open $GW_TMP: a directory, not a serial port"

# The user the permission and busy cases run as.
runner=()
if [ "$(id -u)" -eq 0 ]; then
	if command -v setpriv >/dev/null; then
		runner=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
		user=nobody
	fi
else
	user=$(id -un)
fi

if [ "$(id -u)" -eq 0 ] && [ ${#runner[@]} -eq 0 ]; then
	not_ok "serial: permission and busy need setpriv (util-linux) when run as root"
else
	if [ "$(id -u)" -eq 0 ]; then
		mknod "$GW_TMP/ttyDENIED" c 4 64 && chgrp dialout "$GW_TMP/ttyDENIED" &&
			chmod 660 "$GW_TMP/ttyDENIED"
		group=dialout
	else
		ln -s "$pts" "$GW_TMP/ttyDENIED"
		chmod 000 "$pts"
		group=$(stat -c %G "$pts")
	fi
	out=$(read_err P1 "${runner[@]}")
	expect "serial: permission denied says which group to join" "$out" \
		"cannot open $GW_TMP/ttyDENIED: permission denied; the device belongs to the group $group: add the user $user to it \(usermod -aG $group $user\)"
	chmod 666 "$pts"

	# A process of the same user holds the port with TIOCEXCL.
	: >"$GW_TMP/held" && chmod 666 "$GW_TMP/held"
	"${runner[@]}" /usr/bin/python3 -c '
import fcntl, os, sys, termios, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
fcntl.ioctl(fd, termios.TIOCEXCL)
open(sys.argv[2], "w").write("held\n")
time.sleep(120)
' "$pts" "$GW_TMP/held" &
	holder=$!
	track_pid $holder
	wait_for 10 test -s "$GW_TMP/held" || not_ok "the holding process started"
	hpid=$(pgrep -P $holder python3 || echo $holder)
	for m in B1 BI1; do
		out=$(read_err $m "${runner[@]}")
		expect "serial ($m): a busy port names the process that holds it" "$out" \
			"cannot open $pts: in use by process $hpid \(python3\)"
	done
	kill $holder 2>/dev/null
fi

# A profile name with a typo: the near names; a name near none: the list.
sed 's/^profile = abb_b23$/profile = abb_b32/' "$GW_TMP/gw.ini" >"$GW_TMP/typo.ini"
line=$(grep -n "abb_b32" "$GW_TMP/typo.ini" | head -1 | cut -d: -f1)
out=$("$GW_BUILD/gwctl" read -c "$GW_TMP/typo.ini" T1 2>&1)
expect "profile: a typo gets the near names, with file:line" "$out" \
	"typo\.ini:$line: meter T1: cannot load profile 'abb_b32' from .*: no file abb_b32\.prof there; did you mean 'abb_b23'"
sed 's/^profile = abb_b23$/profile = zz9/' "$GW_TMP/gw.ini" >"$GW_TMP/far.ini"
out=$("$GW_BUILD/gwctl" read -c "$GW_TMP/far.ini" T1 2>&1)
expect "profile: a name near none lists the profiles there" "$out" \
	"cannot load profile 'zz9' from .*; profiles there: .*abb_b23"
finish
