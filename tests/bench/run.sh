#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench: runs every benchmark script in tests/bench/. Each measures a
# ratio against a baseline run side by side in the same process or script
# (the machines are shared and noisy) and prints lines
#   bench: NAME: VALUE (baseline ..., ratio R, target T): met|missed
# Benchmarks never fail the build; they report. docs/benchmarks.md lists
# them, their baselines, targets, run times and the figures measured.
#   tests/bench/run.sh [PATTERN]
set -u
cd "$(dirname "$0")/../.."
for b in tests/bench/*.sh; do
	[ "$(basename "$b")" = run.sh ] && continue
	case "$b" in *"${1:-}"*) ;; *) continue ;; esac
	echo "# $(basename "$b" .sh)"
	t0=$(date +%s)
	bash "$b" || echo "bench: $(basename "$b" .sh): did not complete (exit $?)"
	echo "# $(basename "$b" .sh) took $(($(date +%s) - t0)) s"
done
