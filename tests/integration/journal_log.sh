#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/journal_log.sh - gatewayd's log lines when stderr is
# the systemd journal ($JOURNAL_STREAM names the device and inode of its
# stderr): each line begins with its syslog priority (<3> error, <4> warn,
# <6> info, <7> debug) for journald, and carries no time (journald stamps
# it); otherwise (the variable unset, or naming another file: a shell's
# redirection inherits the variable but not the stream) lines begin with
# the UTC time and no priority.
. "$(dirname "$0")/../lib.sh"

# One meter on a port where nothing listens: warnings; log_level debug.
upload_only_ini sub-j "$GW_TMP/spool" "" >"$GW_TMP/gw.ini"
sed -i 's/^\[gateway\]$/[gateway]\nlog_level = debug/; /^conninfo = $/d' "$GW_TMP/gw.ini"

# run LOG ENV...: gatewayd for 16 simulated minutes at 240x (a second failed
# connect, a debug line), stderr
# appended to LOG (which exists before, for its inode), a NOTIFY_SOCKET
# that is no address (an error line).
run() {
	local log=$1
	shift
	: >>"$log"
	env "$@" NOTIFY_SOCKET=relative/path "$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" \
		--clock-start 2026-03-01T05:00:00Z --clock-speed 240 \
		--stop-at 2026-03-01T05:16:00Z 2>>"$log" &
	local gw=$!
	track_pid $gw
	wait_pid_exit 90 $gw || not_ok "gatewayd did not stop"
	wait $gw
}

j=$GW_TMP/journal.log
: >"$j"
run "$j" JOURNAL_STREAM="$(stat -c '%d:%i' "$j")"
check_eq "$?" 0 "gatewayd ran with its stderr as the journal"
# every line: a priority, the level's name that goes with it, no time
bad=$(grep -cvE '^(<3>error|<4>warn|<6>info|<7>debug): ' "$j")
check_eq "$bad" 0 "every line begins with the priority of its level ($(wc -l <"$j") lines)"
for p in '<3>error: systemd: NOTIFY_SOCKET' '<4>warn: ' '<6>info: gatewayd ' '<7>debug: '; do
	grep -qF -- "$p" "$j" && ok "a line '$p...'" || not_ok "no line '$p...': $(head -3 "$j")"
done
check_eq "$(grep -cE '^<[0-9]>[a-z]*: 20[0-9][0-9]-|^20[0-9][0-9]-' "$j")" 0 "no time on the lines (journald stamps them)"

# JOURNAL_STREAM inherited, but stderr redirected to another file
o=$GW_TMP/other.log
: >"$o"
run "$o" JOURNAL_STREAM="$(stat -c '%d:%i' "$j")"
check_eq "$(grep -c '^<' "$o")/$(grep -cvE '^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9:.]*Z (error|warn|info|debug): ' "$o")" \
	"0/0" "JOURNAL_STREAM of another file: time-stamped lines, no priority"
# not set at all
n=$GW_TMP/plain.log
run "$n" -u JOURNAL_STREAM
check_eq "$(grep -c '^<' "$n")/$(grep -cvE '^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9:.]*Z (error|warn|info|debug): ' "$n")" \
	"0/0" "no JOURNAL_STREAM: time-stamped lines, no priority"
grep -q ' error: systemd: NOTIFY_SOCKET' "$n" && grep -q ' warn: ' "$n" ||
	not_ok "the plain log has the same lines: $(head -3 "$n")"
finish
