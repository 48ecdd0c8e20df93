#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/profile_fuzz.sh - a short libFuzzer run (10 s) of meter
# profiles (tests/fuzz/fuzz_profile.c: loading, then decoding and encoding
# raw words with every register), seeded with the shipped profiles and the
# broken ones of tests/unit/files/profiles. Any crash, leak, undefined
# behaviour, timeout, or a loaded profile or a decoded value that breaks
# the rules (the target aborts) fails it. `make fuzz` runs it for
# FUZZ_TIME seconds.
. "$(dirname "$0")/../lib.sh"

fuzz_run "meter profiles" fuzz_profile "${PROFILE_FUZZ_TIME:-10}" 4096 \
	"$GW_TOP/profiles" "$GW_TOP/tests/unit/files/profiles" \
	-close_fd_mask=2 -dict="$GW_TOP/tests/fuzz/profile.dict"
finish
