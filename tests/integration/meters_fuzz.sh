#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/meters_fuzz.sh - a short libFuzzer run (10 s) of the
# CSV meter list (tests/fuzz/fuzz_meters.c: gw_config_load of a fixed
# configuration around the fuzzed CSV file), seeded with the lists of
# tests/fuzz/seeds/meters. Any crash, leak, undefined behaviour, timeout,
# or a configuration that loads with meters that do not hold together (the
# target aborts) fails it. `make fuzz` runs it for FUZZ_TIME seconds.
. "$(dirname "$0")/../lib.sh"

# The target keeps its configuration and CSV file under $TMPDIR.
TMPDIR=$GW_TMP fuzz_run "the CSV meter list" fuzz_meters "${METERS_FUZZ_TIME:-10}" 4096 \
	"$GW_TOP/tests/fuzz/seeds/meters" \
	-close_fd_mask=2 -dict="$GW_TOP/tests/fuzz/meters.dict"
finish
