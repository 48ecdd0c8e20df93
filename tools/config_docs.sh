#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/config_docs.sh [--check] GWCTL DOC: the key tables of
# docs/configuration.md come from the key tables in the code (`gwctl
# config keys SECTION`). Each table sits between the lines
#   <!-- keys SECTION -->  and  <!-- end keys -->
# Without --check the tables in DOC are rewritten; with --check nothing is
# written and the exit status is 1 (with a diff) if a table differs, or if
# a section gwctl knows has no table in DOC.
set -u
check=0
[ "${1:-}" = "--check" ] && { check=1; shift; }
[ $# -eq 2 ] || { echo "usage: $0 [--check] GWCTL DOC" >&2; exit 2; }
gwctl=$1
doc=$2
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.t"' EXIT
status=0

# Rewrite DOC into $tmp, each marked table from gwctl.
section=""
while IFS= read -r line; do
	case "$line" in
	"<!-- keys "*" -->")
		# A blank line on each side of the table: a renderer that
		# takes the marker for the start of a paragraph, or the end
		# marker for one more row, would break the table otherwise.
		printf '%s\n\n' "$line" >>"$tmp"
		section=${line#<!-- keys }
		section=${section% -->}
		if ! "$gwctl" config keys "$section" >"$tmp.t"; then
			echo "$doc: no key table '$section'" >&2
			status=1
		fi
		cat "$tmp.t" >>"$tmp"
		echo >>"$tmp"
		continue ;;
	"<!-- end keys -->")
		section="" ;;
	esac
	[ -n "$section" ] && continue
	printf '%s\n' "$line" >>"$tmp"
done <"$doc"

# Every section has its table.
while IFS= read -r s; do
	if ! grep -qxF "<!-- keys $s -->" "$doc"; then
		echo "$doc: the keys of '$s' have no table (<!-- keys $s -->)" >&2
		status=1
	fi
done < <("$gwctl" config keys)

if [ $check -eq 1 ]; then
	if ! diff -u "$doc" "$tmp" >&2; then
		echo "$doc: key tables differ from the code; run $0 $gwctl $doc" >&2
		status=1
	fi
	exit $status
fi
cp "$tmp" "$doc"
exit $status
