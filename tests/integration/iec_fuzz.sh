#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/iec_fuzz.sh - a short libFuzzer run (10 s) of the IEC
# 62056-21 parser (tests/fuzz/fuzz_iec.c, built with clang
# -fsanitize=fuzzer,address,undefined), seeded with the captured telegrams.
# Any crash, leak, undefined behaviour or timeout fails it. `make fuzz`
# runs the same target for FUZZ_TIME seconds (300 by default).
. "$(dirname "$0")/../lib.sh"

fuzz_run "the parser" fuzz_iec "${IEC_FUZZ_TIME:-10}" 4096 "$GW_TOP/tests/unit/files/iec62056-21"
finish
