#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/ini_fuzz.sh - a short libFuzzer run (10 s) of the INI
# reader (tests/fuzz/fuzz_ini.c, built with clang
# -fsanitize=fuzzer,address,undefined), seeded with a full gateway
# configuration, a CRLF/BOM file and the shipped profiles. Any crash, leak,
# undefined behaviour, timeout, or a callback given something that does not
# hold together (the target aborts) fails it. `make fuzz` runs it for
# FUZZ_TIME seconds.
. "$(dirname "$0")/../lib.sh"

fuzz_run "the INI reader" fuzz_ini "${INI_FUZZ_TIME:-10}" 4096 \
	"$GW_TOP/tests/fuzz/seeds/ini" "$GW_TOP/profiles" \
	-close_fd_mask=2 -dict="$GW_TOP/tests/fuzz/ini.dict"
finish
