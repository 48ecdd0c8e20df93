#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/metrics.sh - gatewayd's metrics for Prometheus
# ([metrics] textfile, gwctl metrics; docs/metrics.md). One Modbus TCP bus
# (metersim on loopback) with three meters, the third of which never
# answers; a 5 s poll interval on a clock 10 times real time (a cycle every
# half second). Checked:
#   - the textfile appears, mode 0644, and is replaced after poll cycles;
#   - read in a loop while gatewayd runs, every copy is whole: it ends
#     with a newline, every line is a comment or a sample, every family
#     and every meter is in it, and promtool accepts it (when installed);
#     the copies were of several versions of the file (several inodes);
#   - after a stop, the per-meter counts agree with the bus's cycles: a
#     meter that answers was read once a cycle and never failed; the one
#     that does not answer was read or skipped each cycle, every read
#     failed with a timeout, and it is down;
#   - gwctl metrics prints the same text as the file;
#   - a meter id with a quote (written by hand into a spool) comes out
#     escaped, and promtool accepts it;
#   - a textfile in a directory that is not there is logged once, and the
#     gateway runs on.
. "$(dirname "$0")/../lib.sh"

PROF=$GW_TOP/profiles
speed=10
anchor=$(date +%s.%N)
clock=(--clock-anchor "$anchor" --clock-start 2026-03-02T01:00:00Z --clock-speed "$speed")
spool=$GW_TMP/spool
tdir=$GW_TMP/textfile
prom=$tdir/gatewayd.prom
log=$GW_TMP/gatewayd.log
port=$(free_port)
mkdir -p "$tdir"
promtool=$(command -v promtool)
[ -n "$promtool" ] ||
	echo "# promtool is not installed (apt-get install prometheus): the copies are checked by this script's parser only"

start_metersim ms --tcp "127.0.0.1:$port" --meters 3 --profile eastron_sdm120 \
	--profiles-dir "$PROF" --fault 3:noanswer "${clock[@]}" ||
	{ not_ok "metersim starts"; finish; }

# write_config TEXTFILE
write_config() {
	cat >"$GW_TMP/gw.ini" <<EOF
[gateway]
id = it-metrics
timezone = UTC
spool_dir = $spool
profiles_dir = $PROF
poll_interval = 5s

[metrics]
textfile = $1

[bus b1]
type = modbus-tcp
host = 127.0.0.1
port = $port
timeout_ms = 300

[meter m1]
bus = b1
unit = 1
profile = eastron_sdm120
[meter m2]
bus = b1
unit = 2
profile = eastron_sdm120
[meter m3]
bus = b1
unit = 3
profile = eastron_sdm120
EOF
}
write_config "$prom"
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" 2>"$log" &
gw=$!
track_pid $gw

# v FILE SERIES: the value of the sample SERIES (name{labels}) in FILE.
v() { awk -v s="$2" 'index($0, s " ") == 1 { print $NF }' "$1"; }
both_read() {
	[ -n "$(v "$prom" 'gatewayd_meter_last_success_timestamp_seconds{meter="m1",bus="b1"}')" ] &&
		[ -n "$(v "$prom" 'gatewayd_meter_last_success_timestamp_seconds{meter="m2",bus="b1"}')" ]
}
if wait_for 60 test -s "$prom" && wait_for 60 both_read; then
	ok "the textfile appears, with the meters read"
else
	not_ok "textfile $prom: $(ls -l "$tdir" 2>&1)"
	tail -5 "$log" | sed 's/^/#   /'
	finish
fi
check_eq "$(stat -c %a "$prom")" 644 "the textfile is mode 0644"
families=$(grep -c '^# TYPE ' "$prom")

# whole FILE: prints nothing if the copy is a whole metrics text, else why.
whole() {
	[ "$(tail -c1 "$1" | od -An -c | tr -d ' ')" = '\n' ] || { echo "no newline at the end"; return; }
	awk -v fams="$families" '
		/^# (HELP|TYPE) gatewayd_[a-z_]+ / { if ($2 == "TYPE") t++; next }
		/^gatewayd_[a-z_]+(\{[^}]*\})? [0-9][0-9.]*$/ {
			if ($0 ~ /^gatewayd_meter_up\{/) up++
			if ($0 ~ /^gatewayd_meter_last_success_timestamp_seconds\{/) last++
			next
		}
		{ print "line " NR ": " $0; bad = 1; exit }
		END {
			if (bad) exit
			if (t != fams) print t " families, not " fams
			else if (up != 3) print up " meters up/down, not 3"
			else if (last != 2) print last " last successes, not 2"
		}' "$1"
}

# Read it over and over while gatewayd replaces it (about once a second),
# until 30 copies of at least 5 versions were read and 4 new inodes seen
# (a rename between a copy's stat and its read is seen at the next copy),
# or a minute passed.
copies=0 bad=0 renames=0 last_inode="" sums=()
end=$((SECONDS + 60))
while [ $SECONDS -lt $end ] && { [ $copies -lt 30 ] || [ ${#sums[@]} -lt 5 ] || [ $renames -lt 4 ]; }; do
	inode=$(stat -c %i "$prom")
	cp "$prom" "$GW_TMP/copy" || { bad=$((bad + 1)); continue; }
	copies=$((copies + 1))
	why=$(whole "$GW_TMP/copy")
	if [ -n "$why" ]; then
		[ $bad -eq 0 ] && { echo "# a copy that is not whole: $why"; cp "$GW_TMP/copy" "$GW_TMP/bad.prom"; }
		bad=$((bad + 1))
		continue
	fi
	sum=$(md5sum <"$GW_TMP/copy")
	case " ${sums[*]} " in *" ${sum%% *} "*) ;; *)
		sums+=("${sum%% *}")
		if [ -n "$promtool" ] && ! "$promtool" check metrics <"$GW_TMP/copy" >"$GW_TMP/promtool.out" 2>&1; then
			[ $bad -eq 0 ] && { echo "# promtool:"; sed 's/^/#   /' "$GW_TMP/promtool.out"; }
			bad=$((bad + 1))
		fi ;;
	esac
	# a new inode: renamed over, not rewritten in place
	[ -n "$last_inode" ] && [ "$inode" != "$last_inode" ] && renames=$((renames + 1))
	last_inode=$inode
done
if [ $copies -ge 30 ] && [ $bad -eq 0 ]; then
	ok "$copies copies read while gatewayd ran, every one whole${promtool:+ and accepted by promtool}"
else
	not_ok "$bad of $copies copies were not whole"
fi
if [ ${#sums[@]} -ge 5 ] && [ $renames -ge 4 ]; then
	ok "the file was replaced (renamed over) while it was read: ${#sums[@]} versions, $renames new inodes"
else
	not_ok "versions of the file seen: ${#sums[@]}, new inodes $renames"
fi
check_eq "$(find "$tdir" -name '*.tmp' | wc -l)" 0 "no tmp file is left beside it"

# The counts below are judged over at least 10 cycles: on a fast machine
# the copies above are read in fewer.
ten_cycles() { [ "$(v "$prom" 'gatewayd_bus_cycles_total{bus="b1"}')" -ge 10 ] 2>/dev/null; }
wait_for 60 ten_cycles || echo "# fewer than 10 cycles after a minute"
kill -TERM $gw
if wait_pid_exit 30 $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd stops on SIGTERM"
else
	not_ok "gatewayd stops on SIGTERM"
fi

# ---- the counts, against the bus's cycles --------------------------------
f=$prom
cycles=$(v "$f" 'gatewayd_bus_cycles_total{bus="b1"}')
m() { v "$f" "gatewayd_meter_$1{meter=\"$2\",bus=\"b1\"}"; }
# within CYCLES CYCLES+1: a cycle cut short by the stop reads meters but
# is not counted as a whole cycle
within() { [ -n "$1" ] && [ "$1" -ge "$cycles" ] && [ "$1" -le $((cycles + 1)) ]; }
if [ "${cycles:-0}" -ge 10 ] && within "$(m reads_total m1)" && within "$(m reads_total m2)"; then
	ok "each answering meter was read once per cycle ($(m reads_total m1) reads, $cycles cycles)"
else
	not_ok "reads of m1, m2: $(m reads_total m1), $(m reads_total m2); cycles $cycles"
fi
check_eq "$(m read_failures_total m1)/$(m read_failures_total m2)/$(m up m1)/$(m up m2)" "0/0/1/1" \
	"the answering meters never failed and are up"
r3=$(m reads_total m3)
s3=$(m skipped_total m3)
if within "$((r3 + s3))" && [ "$r3" -ge 3 ] && [ "$s3" -ge 1 ]; then
	ok "the silent meter was read ($r3) or skipped in backoff ($s3) in each of $cycles cycles"
else
	not_ok "m3: $r3 reads, $s3 skipped, $cycles cycles"
fi
check_eq "$(m read_failures_total m3)" "$r3" "every read of the silent meter failed"
t3=$(v "$f" 'gatewayd_meter_faults_total{meter="m3",bus="b1",kind="timeout"}')
if [ -n "$t3" ] && [ "$t3" -ge "$r3" ] &&
   [ "$(v "$f" 'gatewayd_meter_faults_total{meter="m3",bus="b1",kind="crc_error"}')" = 0 ]; then
	ok "its failures are timeouts ($t3), no other kind"
else
	not_ok "faults of m3: timeout '$t3' for $r3 failed reads"
fi
check_eq "$(m up m3)/$(m consecutive_failures m3)" "0/$r3" "the silent meter is down, failing since the start"
check_eq "$(grep -c 'gatewayd_meter_last_success_timestamp_seconds{meter="m3"' "$f")" 0 \
	"the silent meter has no last good read"
h_ok=$(awk -F'\t' '$1 == "m1" { print $6 + $7 }' "$spool/health")
check_eq "$(m reads_total m1)" "$h_ok" "the reads of m1 are its health file's good and failed reads"
fs=$(v "$f" 'gatewayd_journal_fsync_seconds_count')
if [ "${fs:-0}" -ge "$cycles" ] && [ "$(v "$f" 'gatewayd_journal_fsync_seconds_bucket{le="+Inf"}')" = "$fs" ]; then
	ok "the journal's fsyncs are counted ($fs for $cycles cycles) in a histogram"
else
	not_ok "journal fsyncs: count '$fs', cycles $cycles"
fi

"$GW_BUILD/gwctl" metrics "$spool" >"$GW_TMP/gwctl.prom"
check_eq "$?" 0 "gwctl metrics exits 0"
if cmp -s "$GW_TMP/gwctl.prom" "$prom"; then
	ok "gwctl metrics prints the same text as the textfile"
else
	not_ok "gwctl metrics differs from the textfile:"
	diff "$prom" "$GW_TMP/gwctl.prom" | head -10 | sed 's/^/#   /'
fi
if [ -n "$promtool" ]; then
	check_cmd "promtool check metrics accepts the final textfile" \
		sh -c "'$promtool' check metrics <'$prom'"
fi

# Every family is in docs/metrics.md, with its type.
undoc=$(grep '^# TYPE ' "$prom" | while read -r _ _ name type; do
	grep -Eq "^\| \`$name(\{[a-z_]+\})?\` \| $type \|" "$GW_TOP/docs/metrics.md" || echo "$name ($type)"
done)
check_eq "$undoc" "" "docs/metrics.md lists every family of the file with its type"
if [ -n "$promtool" ]; then
	awk '/^```yaml/ { f = 1; next } /^```/ { f = 0 } f' "$GW_TOP/docs/metrics.md" >"$GW_TMP/rules.yml"
	check_cmd "promtool accepts the alerting rules of docs/metrics.md" \
		"$promtool" check rules "$GW_TMP/rules.yml"
fi

# ---- a meter id with a quote and a backslash ---------------------------
q=$GW_TMP/qspool
mkdir -p "$q"
printf 'gateway=g"1\nupdated=2026-03-02T00:00:00.000Z\nalarm=none\npoll_buses=-\n' >"$q/status"
{
	printf '# updated 2026-03-02T00:00:00.000Z\n'
	head -2 "$spool/health" | tail -1
	printf 'we"ird\\id\tb1\tonline\t0\t4\t4\t0\t0\t0\t0\t0\t0\t-\t0\t0\t2026-03-02T00:00:00.000Z\n'
} >"$q/health"
"$GW_BUILD/gwctl" metrics "$q" >"$GW_TMP/q.prom"
if grep -qx 'gatewayd_meter_reads_total{meter="we\\"ird\\\\id",bus="b1"} 4' "$GW_TMP/q.prom" &&
   grep -qx 'gatewayd_info{gateway="g\\"1"} 1' "$GW_TMP/q.prom"; then
	ok "a quote and a backslash in a label value are escaped"
else
	not_ok "escaped labels:"
	grep 'we\|gateway=' "$GW_TMP/q.prom" | sed 's/^/#   /'
fi
if [ -n "$promtool" ]; then
	check_cmd "promtool accepts the escaped labels" sh -c "'$promtool' check metrics <'$GW_TMP/q.prom'"
fi
"$GW_BUILD/gwctl" metrics "$GW_TMP/nospool" >/dev/null 2>"$GW_TMP/err"
check_eq "$?/$(grep -c 'no status yet' "$GW_TMP/err")" "1/1" "gwctl metrics without a status says so and exits 1"

# ---- a textfile that cannot be written --------------------------------
write_config "$GW_TMP/none/gatewayd.prom"
rm -f "$spool/status" # this run's cycles are counted afresh
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" 2>"$log.2" &
gw=$!
track_pid $gw
up_again() { [ "$(sed -n 's/^poll_cycles.b1=//p' "$spool/status")" -ge 6 ] 2>/dev/null; }
if wait_for 60 up_again; then
	ok "the gateway polls on with a textfile it cannot write"
else
	not_ok "poll cycles with an unwritable textfile: $(grep poll_cycles "$spool/status")"
fi
kill -TERM $gw
wait_pid_exit 30 $gw && wait $gw
check_eq "$(grep -c "metrics: cannot write $GW_TMP/none/gatewayd.prom (No such file or directory); it is out of date" "$log.2")" 1 \
	"the failed write is logged once"
check_eq "$(cat "$log" "$log.2" | grep -cE 'AddressSanitizer|LeakSanitizer|runtime error')" 0 "no sanitizer report in the logs"
finish
