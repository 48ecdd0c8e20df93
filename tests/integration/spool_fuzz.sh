#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/spool_fuzz.sh - a short libFuzzer run (10 s) of the
# batch file decoder (tests/fuzz/fuzz_batch.c, built with clang
# -fsanitize=fuzzer,address,undefined), seeded with the golden files of
# tests/golden: whole files with their CRC set right, and payloads wrapped
# in valid headers. Any crash, leak, undefined behaviour, a failed decode
# that leaves a batch behind, or a decoded batch that does not encode back
# to the same bytes (the target aborts) fails it. `make fuzz` runs it for
# FUZZ_TIME seconds.
. "$(dirname "$0")/../lib.sh"

check_cmd "seeds from the golden batch files" "$GW_TOP/tools/fuzz_seeds.py" "$GW_TOP/tests/golden" "$GW_TMP/seeds"
fuzz_run "the batch decoder" fuzz_batch "${BATCH_FUZZ_TIME:-10}" 65536 "$GW_TMP/seeds"
finish
