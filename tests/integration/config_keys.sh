#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The key tables of docs/configuration.md are the ones the code has
# (`gwctl config keys`, from the key tables of the configuration core and
# of every driver): none differs, none is missing; a table that differs is
# found.
. "$(dirname "$0")/../lib.sh"

doc="$GW_TOP/docs/configuration.md"
gwctl="$GW_BUILD/gwctl"

if "$GW_TOP/tools/config_docs.sh" --check "$gwctl" "$doc" >"$GW_TMP/out" 2>&1; then
	ok "docs/configuration.md has every key table as the code makes it"
else
	not_ok "docs/configuration.md differs from the key tables (tools/config_docs.sh $gwctl $doc):"
	sed 's/^/#   /' "$GW_TMP/out" | head -30
fi

# The check finds a changed default and a missing table.
sed 's/^| `port` | no | 502 |/| `port` | no | 503 |/' "$doc" >"$GW_TMP/changed.md"
if ! cmp -s "$doc" "$GW_TMP/changed.md" &&
   ! "$GW_TOP/tools/config_docs.sh" --check "$gwctl" "$GW_TMP/changed.md" >/dev/null 2>&1; then
	ok "a table whose default differs from the code is found"
else
	not_ok "a changed default in the docs went unnoticed"
fi
grep -v -e '^<!-- keys modbus-rtu -->$' "$doc" >"$GW_TMP/missing.md"
if "$GW_TOP/tools/config_docs.sh" --check "$gwctl" "$GW_TMP/missing.md" 2>"$GW_TMP/err" >/dev/null; then
	not_ok "a missing table went unnoticed"
else
	check_eq "$(grep -c "the keys of 'modbus-rtu' have no table" "$GW_TMP/err")" 1 \
		"a bus type without its table is named"
fi

# Every section the list names prints a table; an unknown one is refused.
n=0
while IFS= read -r s; do
	"$gwctl" config keys "$s" | head -1 | grep -q '^| key | required | default | range | meaning |$' &&
		n=$((n + 1))
done < <("$gwctl" config keys)
check_eq "$n" "$("$gwctl" config keys | wc -l)" "every listed section prints its table"
"$gwctl" config keys zigbee >/dev/null 2>&1
check_eq "$?" 2 "an unknown section is a usage error"
finish
