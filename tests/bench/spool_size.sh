#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Batch format size: a month of 15-minute data of 10,000 meters, bytes per
# reading against gzip of the same readings as CSV and against the order-0
# entropy of the interval deltas (tests/bench/spool_bench.c), both computed
# from the same readings in the same run. A size, not a time: the data are
# generated from a fixed seed, so a repetition gives the same bytes and the
# script runs once.
set -u
cd "$(dirname "$0")/../.."
"${GW_BUILD:-build}/bench/spool_bench" size "${GW_BENCH_METERS:-10000}" "${GW_BENCH_DAYS:-30}"
