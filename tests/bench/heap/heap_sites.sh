#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/heap/heap_sites.sh - gatewayd's live heap by allocation
# site, while tests/bench/scale.sh runs it: a measurement, not a ratio
# benchmark (run.sh does not run it; docs/architecture.md, "gatewayd as
# a whole", has its figures).
#
#   heap_sites.sh OUTDIR [SCALE.SH VARIABLES...]
#   e.g. GW_BUILD=build GW_BENCH_SCALE=2k GW_BENCH_REGS=3reg \
#        GW_BENCH_SCALE_DAYS=3 tests/bench/heap/heap_sites.sh /tmp/sites
#
# It builds heapsites.c as a preloaded library, runs scale.sh with a
# GW_BUILD of links to the real programs in which gatewayd is a script
# that preloads it, and writes OUTDIR/sites.peak.txt (the live heap at its
# largest: the seal), OUTDIR/sites.NNN.txt (every HEAPSITES_EVERY
# seconds, default 20) and OUTDIR/sites.exit.txt: per site, live bytes,
# resident bytes of them (-1: not known, at the peak), the thread (main / worker), allocations made, and the three functions
# (with file:line) nearest the allocator; and OUTDIR/smaps.log, every 2
# s: the seals so far, VmRSS, VmHWM, the main heap's Rss and the other
# anonymous mappings' Rss (the workers' arenas, stacks; not the
# preloaded library's 64 MB table, which VmRSS and VmHWM include) in kB. With
# HEAP_SITES_SEALS=N gatewayd is stopped (SIGTERM) 20 s after its Nth
# seal (10k meters' seals of day 1 and day 2 in 10 minutes instead of
# scale.sh's 3 days in 25; scale.sh then says it did not complete).
# With HEAP_SITES_PRELOAD=0 gatewayd runs as it is, nothing preloaded and
# no sites written: smaps.log is then gatewayd's own RSS and peak (the
# figures docs/benchmarks.md gives for 10k x B23), with the file-backed
# part (RssFile: the shared libraries) as its last column.
# Load the machine as scale.sh does: hold the bench lock.
set -u
out=${1:?usage: heap_sites.sh OUTDIR}
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=${GW_BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
mkdir -p "$out/bin" || exit 1
out=$(cd "$out" && pwd)
preload=${HEAP_SITES_PRELOAD:-1}
for x in metersim gwctl bench; do ln -sfn "$build/$x" "$out/bin/$x"; done
if [ "$preload" = 0 ]; then
	cat >"$out/bin/gatewayd" <<EOF
#!/bin/sh
echo \$\$ >$out/pid
exec "$build/gatewayd" "\$@"
EOF
else
	cc -O2 -g -shared -fPIC -o "$out/heapsites.so" "$top/tests/bench/heap/heapsites.c" \
		-ldl -lpthread || exit 1
	cat >"$out/bin/gatewayd" <<EOF
#!/bin/sh
echo \$\$ >$out/pid
HEAPSITES_OUT=$out/raw HEAPSITES_EVERY=\${HEAPSITES_EVERY:-20} LD_PRELOAD=$out/heapsites.so exec "$build/gatewayd" "\$@"
EOF
fi
chmod +x "$out/bin/gatewayd"
rm -f "$out"/raw.* "$out"/sites.* "$out/pid" "$out/smaps.log"
# the sampler: gatewayd's stderr is scale.sh's log of it
watch_gw() {
	local pid seals stop=${HEAP_SITES_SEALS:-0} at=0
	# scale.sh may end before gatewayd starts (a program not built)
	while [ ! -s "$out/pid" ]; do
		kill -0 "$scale" 2>/dev/null || return 0
		sleep 1
	done
	pid=$(cat "$out/pid")
	while kill -0 "$pid" 2>/dev/null; do
		seals=$(grep -c 'spool: seal of' "/proc/$pid/fd/2" 2>/dev/null)
		awk -v s="${seals:-0}" -v t="$(date +%s)" -v pre="$preload" '
			FNR == 1 && FILENAME ~ /status/ { } /^VmRSS|^VmHWM|^RssFile/ { v[$1] = $2 }
			/^[0-9a-f]+-/ { anon = ($6 == "" || $6 ~ /^\[(heap|stack)/); heap = ($6 == "[heap]") }
			/^Size:/ { table = (pre != 0 && $2 == 65536) } # heapsites.c'"'"'s own table
			/^Rss:/ { if (heap) h += $2; else if (anon && !table) a += $2 }
			END { printf "%s seals=%s rss=%s hwm=%s heap=%d other_anon=%d file=%s\n", t, s, v["VmRSS:"], v["VmHWM:"], h, a, v["RssFile:"] }' \
			"/proc/$pid/status" "/proc/$pid/smaps" 2>/dev/null >>"$out/smaps.log"
		if [ "$stop" -gt 0 ] && [ "${seals:-0}" -ge "$stop" ]; then
			[ "$at" = 0 ] && at=$(($(date +%s) + 20))
			[ "$(date +%s)" -ge "$at" ] && kill -TERM "$pid" 2>/dev/null
		fi
		sleep 2
	done
}
GW_BUILD=$out/bin "$top/tests/bench/scale.sh" &
scale=$!
watch_gw &
watcher=$!
wait "$scale"
rc=$?
wait "$watcher"

# name each site's addresses: "live resident thread allocs fn@file:line < ..."
for f in "$out"/raw.*; do
	[ -e "$f" ] || continue
	/usr/bin/python3 - "$f" "$out/sites.${f##*/raw.}.txt" "$build/gatewayd" <<'PY'
import subprocess, sys
src, dst, exe = sys.argv[1:4]
lines = open(src).read().splitlines()
rows = sorted((l.split() for l in lines[1:]), key=lambda r: -int(r[0]))[:60]
# the return address points after the call: name the byte before it
pcs = sorted({int(x, 16) - 1 for r in rows for x in r[3:6] if int(x, 16)})
res = subprocess.run(["addr2line", "-f", "-s", "-e", exe] + ["%#x" % p for p in pcs],
                     capture_output=True, text=True).stdout.splitlines()
name = {p: "%s@%s" % (res[2 * i], res[2 * i + 1].split(" (")[0]) for i, p in enumerate(pcs)}
with open(dst, "w") as o:
    o.write(lines[0] + "\n")
    for r in rows:
        where = " < ".join(name[int(x, 16) - 1] for x in r[3:6] if int(x, 16))
        o.write("%10d %10s %-6s %9s  %s\n" % (int(r[0]), r[6], "worker" if r[1] == "1" else "main", r[2], where))
PY
done
ls "$out"/sites.*.txt 2>/dev/null | sed 's/^/# heap sites: /'
exit $rc
