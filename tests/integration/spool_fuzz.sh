#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/spool_fuzz.sh - a short libFuzzer run (20 s) of the
# batch file decoder (tests/fuzz/fuzz_batch.c, built with clang
# -fsanitize=fuzzer,address,undefined), seeded with the golden files of
# tests/golden: whole files with their CRC set right, and payloads wrapped
# in valid headers. Any crash, leak, undefined behaviour, a failed decode
# that leaves a batch behind, or a decoded batch that does not encode back
# to the same bytes fails it. `make fuzz` runs it for FUZZ_TIME seconds.
. "$(dirname "$0")/../lib.sh"

if ! command -v "${FUZZ_CC:-clang}" >/dev/null; then
	not_ok "clang is installed (tools/deps.sh installs clang and libclang-rt-14-dev)"
	finish
fi
if make -C "$GW_TOP" --no-print-directory BUILD="$GW_BUILD" fuzz-build \
	>"$GW_TMP/build.log" 2>&1; then
	ok "the libFuzzer target builds (clang, ASan + UBSan)"
else
	not_ok "the libFuzzer target builds"
	sed 's/^/#   /' "$GW_TMP/build.log" | tail -20
	finish
fi
mkdir -p "$GW_TMP/corpus"
check_cmd "seeds from the golden batch files" "$GW_TOP/tools/fuzz_seeds.py" "$GW_TOP/tests/golden" "$GW_TMP/seeds"
(cd "$GW_TMP" && "$GW_BUILD/fuzz/fuzz_batch" -max_total_time="${BATCH_FUZZ_TIME:-20}" \
	-max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	"$GW_TMP/corpus" "$GW_TMP/seeds" >"$GW_TMP/fuzz.log" 2>&1)
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$GW_TMP/fuzz.log")
if [ "$rc" -eq 0 ] && ! grep -qE '^==[0-9]+==ERROR|runtime error|deadly signal|SUMMARY' "$GW_TMP/fuzz.log"; then
	ok "fuzzing the batch decoder for ${BATCH_FUZZ_TIME:-20} s: no crash, leak, undefined behaviour or broken round trip (${runs:-?} inputs)"
else
	not_ok "fuzzing the batch decoder (exit $rc)"
	grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$GW_TMP/fuzz.log" | head -10 | sed 's/^/#   /'
	ls "$GW_TMP"/crash-* "$GW_TMP"/leak-* 2>/dev/null | sed 's/^/#   /'
fi
finish
