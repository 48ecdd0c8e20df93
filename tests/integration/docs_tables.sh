#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/docs_tables.sh - every Markdown table in docs/ and
# README.md renders as one: a blank line before and after it, a delimiter
# row under its header, and as many cells in each row as in the header
# (a "|" inside a cell written "\|"). The key tables of
# docs/configuration.md are generated (tools/config_docs.sh): a break
# there is the generator's.
. "$(dirname "$0")/../lib.sh"

for doc in "$GW_TOP"/README.md "$GW_TOP"/docs/*.md; do
	name=${doc#"$GW_TOP"/}
	if python3 - "$doc" >"$GW_TMP/t.out" 2>&1 <<'PY'; then
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
bad = []
def cells(row):
    return row.strip().replace("\\|", "x").strip("|").count("|") + 1
fence = False
i = 0
while i < len(lines):
    l = lines[i]
    if l.lstrip().startswith("```"):
        fence = not fence
    if fence or not l.startswith("|"):
        i += 1
        continue
    start = i
    while i < len(lines) and lines[i].startswith("|"):
        i += 1
    rows = lines[start:i]
    if start > 0 and lines[start - 1].strip():
        bad.append(f"line {start + 1}: no blank line before the table")
    if i < len(lines) and lines[i].strip():
        bad.append(f"line {i}: no blank line after the table")
    if len(rows) < 2 or not re.fullmatch(r"\|( *:?-+:? *\|)+", rows[1].strip()):
        bad.append(f"line {start + 2}: no delimiter row under the header")
    n = cells(rows[0])
    for k, r in enumerate(rows):
        if cells(r) != n:
            bad.append(f"line {start + k + 1}: {cells(r)} cells, the header has {n}")
print("; ".join(bad))
sys.exit(1 if bad else 0)
PY
		ok "$name: its tables are well formed"
	else
		not_ok "$name: its tables are well formed ($(cat "$GW_TMP/t.out"))"
	fi
done
finish
