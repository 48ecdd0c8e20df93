#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The heap gatewayd takes to write <spool>/health of 10,000 meters
# (GW_BENCH_METERS) on buses of 200: the text streamed into the file as
# it is made (gw_spool_status_make), against the text made whole first
# and then written, side by side in one process, GW_BENCH_REPS (3) times;
# the two files must be the same bytes (tests/bench/status_mem.c).
set -u
cd "$(dirname "$0")/../.."
# shellcheck disable=SC1091
. tests/bench/common.bash
bin="${GW_BUILD:-build}/bench/status_mem"
"$bin" "${GW_BENCH_METERS:-10000}" 200 "$(bench_reps)"
