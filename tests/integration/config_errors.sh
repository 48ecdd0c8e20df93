#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gatewayd refuses a bad configuration at start-up: non-zero exit and one
# line naming file and line; --check accepts a good one.
. "$(dirname "$0")/../lib.sh"

cfg="$GW_TMP/gw.ini"
base="[gateway]
id = sub-042
timezone = Asia/Ho_Chi_Minh
spool_dir = $GW_TMP/spool
profiles_dir = $GW_TOP/profiles"

run_bad() { # DESCRIPTION TEXT EXPECTED-MESSAGE
	printf '%s\n' "$2" >"$cfg"
	"$GW_BUILD/gatewayd" -c "$cfg" >"$GW_TMP/out" 2>"$GW_TMP/err"
	local rc=$?
	if [ $rc -ne 0 ] && [ "$(wc -l <"$GW_TMP/err")" -eq 1 ] && grep -qF "$3" "$GW_TMP/err"; then
		ok "$1"
	else
		not_ok "$1 (exit $rc, stderr: $(cat "$GW_TMP/err"))"
	fi
}

run_bad "unknown key" "$base
sample_rate = 5" "$cfg:6: unknown key 'sample_rate' in [gateway]"
run_bad "value out of range" "$base
poll_interval = 0" "$cfg:6: poll_interval: '0' is not a duration in 1s..1d"
run_bad "missing required key" "[gateway]
id = x
timezone = UTC" "$cfg:1: [gateway]: missing required key 'spool_dir'"
run_bad "section twice" "$base
[gateway]" "$cfg:6: [gateway] appears twice"
run_bad "unknown time zone" "[gateway]
id = x
timezone = Mars/Olympus_Mons
spool_dir = s" "$cfg:3: timezone: 'Mars/Olympus_Mons' is not an installed IANA time zone"
run_bad "meter on an unknown bus" "$base
[meter PE1]
bus = nowhere
unit = 1
profile = abb_b23" "$cfg:7: meter PE1: no bus named 'nowhere'"
rm -f "$cfg"
"$GW_BUILD/gatewayd" -c "$cfg" 2>"$GW_TMP/err"
rc=$?
if [ $rc -ne 0 ] && grep -qF "$cfg: cannot open" "$GW_TMP/err"; then
	ok "a missing config file is named"
else
	not_ok "missing config file (exit $rc)"
fi
"$GW_BUILD/gatewayd" >/dev/null 2>&1
check_eq "$?" 2 "no -c is a usage error"

printf '%s\n[bus a]\ntype = modbus-tcp\nhost = 127.0.0.1\n[meter PE1]\nbus = a\nunit = 1\nprofile = abb_b23\n' "$base" >"$cfg"
out=$("$GW_BUILD/gatewayd" -c "$cfg" --check 2>&1)
check_eq "$?" 0 "--check accepts a good file"
check_eq "$out" "$cfg: ok: gateway sub-042, 1 buses, 1 meters, 1 profiles" "--check summarises the file"
"$GW_BUILD/gatewayd" -c "$cfg" --check --clock-speed 0 >/dev/null 2>&1
check_eq "$?" 2 "a bad --clock-speed is refused"
finish
