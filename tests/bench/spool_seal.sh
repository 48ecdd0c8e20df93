#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sealing one day of 10,000 meters x 96 intervals x 3 registers against
# plain zlib of as many raw bytes (tests/bench/spool_bench.c).
set -u
cd "$(dirname "$0")/../.."
"${GW_BUILD:-build}/bench/spool_bench" seal "${GW_BENCH_METERS:-10000}"
