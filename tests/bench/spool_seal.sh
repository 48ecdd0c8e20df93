#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/spool_seal.sh - sealing one day of 10,000 meters with the
# registers of the shipped Eastron SDM630 (26 registers) and ABB B23 (23)
# profiles, 96 readings a day each, realistic values passed through each
# register's own encoding (tests/bench/spool_bench.c): the batching core
# with gatewayd's defaults and the durable write into a spool, streamed
# from the tracks as gatewayd does it (deflate on a thread of its own),
# paired with zlib -6 (the batch writer's default level) of that batch's
# own uncompressed payload, GW_BENCH_REPS pairs (default 3); the CPU time
# of both threads (cpu), of the busier one (twocore: the seal with two
# cores to itself) and the wall time, min / median / max. Target: the
# seal in < 1 s.
#   GW_BENCH_METERS (10000), GW_BENCH_REPS (3),
#   GW_BENCH_DEFLATE (zlib-6, zlib-1, zlib-rle: as spool_compression),
#   GW_BENCH_LEVELS=1 (the payload's zlib time and size at levels 1-6
#   and Z_RLE), GW_BENCH_KEEP=DIR (the last batch kept there)
set -u
cd "$(dirname "$0")/../.."
. tests/bench/common.bash
"${GW_BUILD:-build}/bench/spool_bench" seal "${GW_BENCH_METERS:-10000}" "$(bench_reps)" \
	profiles/eastron_sdm630.prof profiles/abb_b23.prof
