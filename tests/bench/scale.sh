#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/scale.sh - gatewayd at scale: the real daemon polling metersim
# meters over Modbus TCP on loopback every 15 minutes of a simulated clock,
# for GW_BENCH_SCALE_DAYS local days (default 7), at 1,000, 5,000 and 10,000
# meters, once with 3 registers a meter (1.8.0, 2.8.0, 32.7.0 of the ABB
# B23 map) and once with the full profiles/abb_b23.prof (23 registers;
# metersim --all-registers gives each a value). Meters sit 200 to a bus
# (one metersim endpoint each; a bus has at most 247 unit ids).
#
# Every local day (UTC) is a repetition: the script samples /proc and the
# log while gatewayd runs and, at each day's seal, records
#   - peak RSS (VmHWM of /proc/PID/status): day 1 against the last day.
#     Targets: <= 24 MB at 3 registers, <= 48 MB with B23 (at any size),
#     and flat: the last day's peak at most 1.05 x day 1's;
#   - CPU (utime + stime of /proc/PID/stat) per 1,000 meter reads, per day;
#     baseline: the metersim processes' CPU per 1,000 reads answered, in
#     the same run (the server side of the same requests). No target;
#   - the seal's duration (gatewayd's log line "spool: seal of N batch
#     took X ms": batching core, encoding, durable write, state, journal
#     pruning); baseline: zlib (level 6, as the batch writer) of that
#     day's own batch payload, inflated from the sealed file and
#     compressed right after the seal (best of 3, spool_bench zlib), so
#     that both see the same load of the machine. Target: < 1 s;
#   - journal bytes per reading: bytes written into <spool>/journal (the
#     largest size each segment file reached, summed) between the first
#     and the last seal, over the readings of the days sealed in between;
#     baseline: the sealed batch files' bytes per reading. Target: <= 4 B.
# min / median / max are over the days (day 1 is left out of the CPU
# figures: it includes start-up).
#
#   GW_BENCH_SCALE   sizes, comma-separated (default 1k,5k,10k); "1k" is
#                    the quick form (a few minutes)
#   GW_BENCH_REGS    3reg,abb_b23 (default both; also sdm630: profiles/eastron_sdm630.prof, 26 registers)
#   GW_BENCH_SCALE_DAYS    simulated days, at least 3 (default 7)
#   GW_BENCH_SPEED   clock speed; default: 15 minutes in about
#                    max(1, meters x requests / 4000) real seconds
#   GW_BENCH_SEAL_DELAY    gatewayd's seal_delay (default its own, 30m:
#                    the seal then starts with the poll cycle of 00:30)
#
# Real time: about days x 96 x (real seconds per cycle), e.g. 10k x B23 x 7
# days at speed 60 (15 s a cycle) is 2.8 h. docs/benchmarks.md has the
# figures of a full run.
set -u
. "$(dirname "$0")/../../tools/runlib.sh"
. "$(dirname "$0")/common.bash"

sizes=${GW_BENCH_SCALE:-1k,5k,10k}
regsets=${GW_BENCH_REGS:-3reg,abb_b23}
days=${GW_BENCH_SCALE_DAYS:-7}
per_bus=200
[ "$days" -ge 3 ] || days=3
bench_bin=$GW_BUILD/bench/spool_bench
for x in gatewayd metersim gwctl bench/spool_bench; do
	[ -x "$GW_BUILD/$x" ] || { echo "bench: scale: $GW_BUILD/$x not built (make bench)"; exit 1; }
done

mkdir -p "$GW_TMP/profiles"
cp "$GW_TOP/profiles/abb_b23.prof" "$GW_TOP/profiles/eastron_sdm630.prof" "$GW_TMP/profiles/"
# 3 registers: the B23's import and export totals and L1 voltage
awk '/^\[register /{ keep = ($2 == "1.8.0]" || $2 == "2.8.0]" || $2 == "32.7.0]") }
	/^\[profile\]/{ keep = 1 } /^\[register /{} keep || /^#/ { print }' \
	"$GW_TOP/profiles/abb_b23.prof" | sed 's/^name = abb_b23/name = bench3/' >"$GW_TMP/profiles/bench3.prof"

ticks=$(getconf CLK_TCK)
cpu_ticks() { local t=0 p; for p in "$@"; do
	t=$((t + $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done; echo "$t"; }

# run_scale N REGSET
run_scale() {
	local n=$1 set=$2 prof nregs reqs buses dir b k first cnt anchor speed gw
	local -a sims=()
	case $set in
	3reg) prof=bench3 reqs=2 ;;
	sdm630) prof=eastron_sdm630 reqs=2 ;; # 26 registers, two requests a cycle
	*) prof=abb_b23 reqs=3 ;;
	esac
	nregs=$(grep -c '^\[register ' "$GW_TMP/profiles/$prof.prof")
	dir=$GW_TMP/$n-$set
	mkdir -p "$dir/spool"
	buses=$(((n + per_bus - 1) / per_bus))
	speed=${GW_BENCH_SPEED:-$(awk -v n="$n" -v q="$reqs" 'BEGIN { s = n * q / 4000; if (s < 1) s = 1; printf "%d", 900 / s }')}
	# the clock starts 2 minutes before day 1 at the anchor, set a little
	# ahead so that every simulator and the gateway are up by then (the
	# free ports found first, in one go)
	local -a ports
	mapfile -t ports < <(python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
for s in ss: print(s.getsockname()[1])' "$buses")
	anchor=$(awk -v now="$(date +%s.%N)" -v b="$buses" 'BEGIN { printf "%.3f", now + 5 + b * 0.5 }')
	local clock=(--clock-anchor "$anchor" --clock-start 2026-03-01T23:58:00Z --clock-speed "$speed")
	for b in $(seq 1 "$buses"); do
		cnt=$((n - (b - 1) * per_bus))
		[ "$cnt" -gt "$per_bus" ] && cnt=$per_bus
		"$GW_BUILD/metersim" --tcp "127.0.0.1:${ports[b - 1]}" --meters "$cnt" --profile "$prof" \
			--profiles-dir "$GW_TMP/profiles" --all-registers "${clock[@]}" \
			--ready-file "$dir/ready$b" 2>"$dir/sim$b.log" &
		sims+=($!)
		track_pid $!
	done
	# spool_max = 0: at 10k x B23 the journal alone passes the default
	# bound of 512 MB in a day and drop-intervals would rewrite the sealed
	# batches that the journal figure is compared with
	printf '[gateway]\nid = scale\ntimezone = UTC\nspool_dir = %s\nprofiles_dir = %s\nmeters = meters.csv\nspool_max = 0\n%s\n' \
		"$dir/spool" "$GW_TMP/profiles" "${GW_BENCH_SEAL_DELAY:+seal_delay = $GW_BENCH_SEAL_DELAY
}" >"$dir/gw.ini"
	echo "meter_id,bus,unit,profile" >"$dir/meters.csv"
	for b in $(seq 1 "$buses"); do
		cnt=$((n - (b - 1) * per_bus))
		[ "$cnt" -gt "$per_bus" ] && cnt=$per_bus
		wait_for 30 test -s "$dir/ready$b" ||
			{ echo "bench: scale_${n}_$set: metersim $b did not start"; return 1; }
		printf '[bus b%d]\ntype = modbus-tcp\nhost = 127.0.0.1\nport = %s\ntimeout_ms = 2000\n\n' \
			"$b" "${ports[b - 1]}" >>"$dir/gw.ini"
		seq 1 "$cnt" | awk -v b="$b" -v p="$prof" '{ print "M" b "-" $1 ",b" b "," $1 "," p }' >>"$dir/meters.csv"
	done
	if awk -v a="$anchor" -v n="$(date +%s.%N)" 'BEGIN { exit !(n > a) }'; then
		echo "# the start-up took longer than its lead: day 1 misses its first cycles"
	fi
	local stop_day
	stop_day=$(date -u -d "2026-03-02 + $days days" +%Y-%m-%d)
	local t_start
	t_start=$(date +%s)
	"$GW_BUILD/gatewayd" -c "$dir/gw.ini" "${clock[@]}" --stop-at "${stop_day}T00:40:00Z" \
		2>"$dir/gw.log" &
	gw=$!
	track_pid $gw
	# sample every half second; at each new seal line record
	# "hwm_kb gw_ticks sim_ticks journal_bytes seal_ms"
	local -A jmax=()
	local seen=0 hwm=0 gwt=0 simt=0 jtot nm sz line
	: >"$dir/samples"
	while kill -0 "$gw" 2>/dev/null; do
		sleep 0.5
		line=$(awk '/^VmHWM/ { print $2 }' "/proc/$gw/status" 2>/dev/null)
		[ -n "$line" ] && hwm=$line
		# a process that has just exited keeps its last figures
		kill -0 "$gw" 2>/dev/null && gwt=$(cpu_ticks "$gw") && simt=$(cpu_ticks "${sims[@]}")
		while read -r nm sz; do
			[ "${sz:-0}" -gt "${jmax[$nm]:-0}" ] && jmax[$nm]=$sz
		done < <(stat -c '%n %s' "$dir/spool/journal/"* 2>/dev/null)
		cnt=$(grep -c 'spool: seal of' "$dir/gw.log")
		while [ "$seen" -lt "$cnt" ]; do
			seen=$((seen + 1))
			jtot=0
			for nm in "${!jmax[@]}"; do jtot=$((jtot + jmax[$nm])); done
			line=$(grep 'spool: seal of' "$dir/gw.log" | sed -n "${seen}p" | sed 's/.* took \([0-9.]*\) ms.*/\1/')
			# the baseline at once, paired in time with the seal: zlib
			# of the payload of the batch just sealed
			nm=$(grep -o 'sealed [0-9-]*: .* -> [^ ]*' "$dir/gw.log" | sed -n "${seen}p" | awk '{ print $NF }')
			sz=$("$bench_bin" zlib "$dir/spool/ready/$nm" 2>/dev/null) || sz=0
			echo "$hwm $gwt $simt $jtot $line $sz" >>"$dir/samples"
		done
	done
	wait "$gw"
	local rc=$? secs=$(($(date +%s) - t_start))
	# the days sealed: "sealed DAY: N daily registers, M readings -> FILE"
	grep -o 'sealed [0-9-]*: [0-9]* daily registers, [0-9]* readings -> [^ ]*' "$dir/gw.log" |
		awk '{ print $2, $6, $NF }' | sed 's/://' >"$dir/sealed"
	local nsealed expect
	nsealed=$(wc -l <"$dir/sealed")
	expect=$((n * nregs * 96))
	echo "# scale ${n} meters x $set ($nregs registers, $reqs requests a read): $buses buses," \
		"clock speed $speed (a cycle every $(awk -v s="$speed" 'BEGIN { printf "%.1f", 900 / s }') s)," \
		"$days days in ${secs} s, gatewayd exit $rc; days sealed $nsealed," \
		"readings a day $(awk '{ printf "%s%s", s, $2; s = "," }' "$dir/sealed") (a full day: $expect)"
	grep -E 'overrun|level=err|error' "$dir/gw.log" | head -3 | sed 's/^/#   log: /'
	if [ "$nsealed" -lt 3 ] || [ "$(wc -l <"$dir/samples")" -lt 3 ]; then
		echo "bench: scale_${n}_$set: did not complete ($nsealed days sealed, $(wc -l <"$dir/samples") seals timed)"
		tail -5 "$dir/gw.log" | sed 's/^/#   /'
		return 1
	fi
	local name=scale_${n}_$set
	[ $((n % 1000)) = 0 ] && name=scale_$((n / 1000))k_$set
	# per-day figures: sample i (seal of day i) with readings of day i
	# (a day before 2026-03-02 holds the cycles of the start-up lead only)
	# columns: hwm_kb gw_ticks sim_ticks journal_bytes seal_ms zlib_ms
	# readings file day
	paste -d' ' "$dir/samples" <(awk '{ print $2, $3, $1 }' "$dir/sealed") |
		awk '$9 >= "2026-03-02"' >"$dir/days"
	: >"$dir/cpu_gw" ; : >"$dir/cpu_sim"; : >"$dir/seal"; : >"$dir/zlib"; : >"$dir/sealratio"
	awk -v t="$ticks" -v r="$nregs" -v gf="$dir/cpu_gw" -v sf="$dir/cpu_sim" '
		NR > 1 && $7 > 0 {
			reads = $7 / r
			printf "%.4f\n", ($2 - pg) * 1000 / t / reads * 1000 >>gf
			printf "%.4f\n", ($3 - ps) * 1000 / t / reads * 1000 >>sf
		}
		{ pg = $2; ps = $3 }' "$dir/days"
	local ms z
	while read -r _ _ _ _ ms z _; do
		awk -v z="$z" 'BEGIN { exit !(z > 0) }' || continue
		echo "$ms" >>"$dir/seal"
		echo "$z" >>"$dir/zlib"
		awk -v a="$ms" -v b="$z" 'BEGIN { if (b > 0) printf "%.4f\n", a / b }' >>"$dir/sealratio"
	done <"$dir/days"
	local h1 hl lim
	h1=$(awk 'NR == 1 { print $1 }' "$dir/days")
	hl=$(awk 'END { print $1 }' "$dir/days")
	lim=$([ "$set" = 3reg ] && echo 24 || echo 48)
	awk -v a="$hl" -v b="$h1" -v lim="$lim" -v nm="$name" -v d="$(wc -l <"$dir/days")" 'BEGIN {
		r = a / b
		printf "bench: %s_peak_rss: %.1f MB on day %d (baseline day 1 %.1f MB, ratio %.3f, target <= %d MB, ratio <= 1.05): %s\n",
			nm, a / 1024, d, b / 1024, r, lim, (a / 1024 <= lim && r <= 1.05 ? "met" : "missed") }'
	read -r g1 g2 g3 < <(mmm "$dir/cpu_gw")
	read -r s1 s2 s3 < <(mmm "$dir/cpu_sim")
	paste -d' ' "$dir/cpu_gw" "$dir/cpu_sim" | awk '$2 > 0 { printf "%.4f\n", $1 / $2 }' >"$dir/cpuratio"
	read -r r1 r2 r3 < <(mmm "$dir/cpuratio")
	echo "bench: ${name}_cpu_ms_per_1000_reads: median $g2 (min $g1, max $g3 over days 2..) (baseline metersim answering them: median $s2 ms (min $s1, max $s3), ratio median $r2 (min $r1, max $r3), target none): met"
	read -r m1 m2 m3 < <(mmm "$dir/seal")
	read -r z1 z2 z3 < <(mmm "$dir/zlib")
	read -r q1 q2 q3 < <(mmm "$dir/sealratio")
	awk -v m1="$m1" -v m2="$m2" -v m3="$m3" -v z1="$z1" -v z2="$z2" -v z3="$z3" \
		-v q1="$q1" -v q2="$q2" -v q3="$q3" -v nm="$name" -v k="$(wc -l <"$dir/seal")" 'BEGIN {
		printf "bench: %s_seal_ms: median %s (min %s, max %s over %d days) (baseline zlib -6 of the same batch payload: median %s ms (min %s, max %s), ratio median %s (min %s, max %s), target < 1000 ms): %s\n",
			nm, m2, m1, m3, k, z2, z1, z3, q2, q1, q3, (k > 0 && m3 < 1000 ? "met" : "missed") }'
	# journal bytes between the first and the last seal, over the readings
	# of the days sealed after the first
	awk -v nm="$name" -v dir="$dir/spool/ready" '
		NR == 1 { j0 = $4; next }
		{ j1 = $4; rd += $7; files[++nf] = $8 }
		END {
			for (i = 1; i <= nf; i++) {
				cmd = "stat -c %s \"" dir "/" files[i] "\""
				cmd | getline s; close(cmd); bb += s
			}
			jb = (j1 - j0) / rd; bpr = bb / rd
			printf "bench: %s_journal_bytes_per_reading: %.2f (baseline the sealed batches %.3f B per reading, ratio %.1f, target <= 4 B): %s\n",
				nm, jb, bpr, jb / bpr, (jb <= 4 ? "met" : "missed")
		}' "$dir/days"
	# stop this size's simulators before the next size starts
	for b in "${sims[@]}"; do kill -TERM "$b" 2>/dev/null; done
	for b in "${sims[@]}"; do wait "$b" 2>/dev/null; done
	rm -rf "$dir/spool/journal"
}

for s in ${sizes//,/ }; do
	n=${s%k}
	[ "$n" != "$s" ] && n=$((n * 1000))
	for set in ${regsets//,/ }; do
		run_scale "$n" "$set"
	done
done
