#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/spool_seal.sh - sealing one day of 10,000 meters with the
# registers of the shipped Eastron SDM630 (26 registers) and ABB B23 (23)
# profiles, 96 readings a day each, realistic values passed through each
# register's own encoding (tests/bench/spool_bench.c): the batching core
# with gatewayd's defaults and the durable write into a spool, paired with
# zlib -6 (the batch writer's level) of that batch's own uncompressed
# payload, GW_BENCH_REPS pairs (default 3); CPU and wall time, min / median
# / max. Target: the seal in < 1 s.
#   GW_BENCH_METERS (10000), GW_BENCH_REPS (3)
set -u
cd "$(dirname "$0")/../.."
. tests/bench/common.bash
"${GW_BUILD:-build}/bench/spool_bench" seal "${GW_BENCH_METERS:-10000}" "$(bench_reps)" \
	profiles/eastron_sdm630.prof profiles/abb_b23.prof
