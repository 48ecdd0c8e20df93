#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/journal_fuzz.sh - a short libFuzzer run (10 s) of the
# journal segment reader (tests/fuzz/fuzz_journal.c, built with clang
# -fsanitize=fuzzer,address,undefined), seeded with the golden segments of
# tests/golden: whole files, and their records re-framed with good CRCs and
# a zero-filled tail. Any crash, leak or undefined behaviour, or a verdict
# that does not hold up (the good part does not read whole, or the good
# part followed by zeros is not cut at the same place) fails it. `make
# fuzz` runs it for FUZZ_TIME seconds.
. "$(dirname "$0")/../lib.sh"

check_cmd "seeds from the golden journal segments" "$GW_TOP/tests/fuzz/journal_seeds.py" "$GW_TOP/tests/golden" "$GW_TMP/seeds"
fuzz_run "the journal segment reader" fuzz_journal "${JOURNAL_FUZZ_TIME:-10}" 65536 "$GW_TMP/seeds"
finish
