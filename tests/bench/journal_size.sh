#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Journal size on flash and decoding speed: a day of 15-minute polls of
# 10,000 meters (GW_BENCH_METERS), with 3 registers and with every register
# of profiles/abb_b23.prof, coded as segment version 2 (packed cycles)
# against version 1 (cycles written out in full) side by side in one run,
# paired on the same readings, GW_BENCH_REPEATS (3) repeats with new
# meters and a new day each, min/median/max (tests/bench/journal_bench.c).
# Target: <= 4 bytes per reading. Bytes per day are what gatewayd appends
# to journal/; "blocks fsync'ed" counts the 4 KiB blocks each append's
# fsync writes (what wears an SD card; the file system's metadata comes on
# top of both). GW_BENCH_PER_BUS (32) meters a bus; GW_BENCH_LEVELS (e.g.
# 1,2,3,4,6,rle) codes the day at those zlib levels side by side instead
# (docs/benchmarks.md, "The journal's deflate level").
set -u
cd "$(dirname "$0")/../.."
bin="${GW_BUILD:-build}/bench/journal_bench"
meters="${GW_BENCH_METERS:-10000}"
repeats="${GW_BENCH_REPEATS:-3}"
per_bus="${GW_BENCH_PER_BUS:-32}"
"$bin" "$meters" 3 "$repeats" "$per_bus"
"$bin" "$meters" profiles/abb_b23.prof "$repeats" "$per_bus"
