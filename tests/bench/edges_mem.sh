#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The heap gatewayd takes to write <spool>/edges after a day sealed, at
# 10,000 meters (GW_BENCH_METERS) x 3 registers (2 energy) and x 23 (8
# energy, as the ABB B23): the text streamed into the file as it is made
# (gw_edges_write), against the text made whole in a buffer reserved for
# every register and then written, side by side in one process,
# GW_BENCH_REPS (3) times; the two files must be the same bytes
# (tests/bench/edges_mem.c).
set -u
cd "$(dirname "$0")/../.."
# shellcheck disable=SC1091
. tests/bench/common.bash
bin="${GW_BUILD:-build}/bench/edges_mem"
"$bin" "${GW_BENCH_METERS:-10000}" 2 3 "$(bench_reps)" || exit 1
"$bin" "${GW_BENCH_METERS:-10000}" 8 23 "$(bench_reps)"
