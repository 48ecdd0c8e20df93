#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The metrics file of 10,000 meters (GW_BENCH_METERS) on buses of 200:
# its size, and the time gatewayd spends reading status and health back
# and rendering them into [metrics] textfile, against the durable write of
# the status and health files it makes anyway, side by side in one
# process, GW_BENCH_REPS (3) times (tests/bench/metrics_bench.c).
set -u
cd "$(dirname "$0")/../.."
# shellcheck disable=SC1091
. tests/bench/common.bash
bin="${GW_BUILD:-build}/bench/metrics_bench"
"$bin" "${GW_BENCH_METERS:-10000}" 200 "$(bench_reps)"
