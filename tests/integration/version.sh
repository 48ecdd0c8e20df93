#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/version.sh - gatewayd, gwctl and metersim state the
# version they were built from (git describe, the VERSION file of a
# tarball, else 0.0.0-unknown), all three the same; gatewayd names it in
# its start line; the Debian package version derived from it is valid.
. "$(dirname "$0")/../lib.sh"

gv=$("$GW_BUILD/gatewayd" --version)
cv=$("$GW_BUILD/gwctl" --version)
mv_=$("$GW_BUILD/metersim" --version)
v=${gv#gatewayd }
check_eq "$(printf '%s\n' "$gv" | wc -l)/$([ -n "$v" ] && [ "$v" != "$gv" ] && echo named)" "1/named" \
	"gatewayd --version prints one line: gatewayd VERSION"
check_eq "$cv" "gwctl $v" "gwctl --version states the same version as gatewayd"
check_eq "$mv_" "metersim $v" "metersim --version states the same version as gatewayd"
check_eq "$("$GW_BUILD/metersim" --iec /dev/null --version)" "metersim $v" \
	"metersim --iec ... --version states it too"
check_eq "$("$GW_BUILD/gwctl" version)" "gwctl $v" "gwctl version is --version"
check_eq "$v" "$(cat "$GW_BUILD/.version")" "the version is the one the build compiled in"
if [ -e "$GW_TOP/.git" ]; then
	check_eq "$v" "$(git -C "$GW_TOP" describe --tags --always --dirty)" \
		"in a git checkout the version is git describe --tags --always --dirty"
fi
"$GW_BUILD/gatewayd" --help | grep -q -- '--version' &&
	ok "gatewayd --help lists --version" || not_ok "gatewayd --help lists --version"

# A source tree without .git: its VERSION file, else 0.0.0-unknown
# (the Makefile's answer; make print-version compiles nothing).
src=$GW_TMP/src
mkdir -p "$src"
cp "$GW_TOP/Makefile" "$src/"
check_eq "$(make -s -C "$src" print-version)" "0.0.0-unknown" \
	"a tree with neither .git nor VERSION is version 0.0.0-unknown"
echo "1.4.2" >"$src/VERSION"
check_eq "$(make -s -C "$src" print-version)" "1.4.2" "a tarball's VERSION file gives the version"

# The Debian package version
dv() { "$GW_TOP/packaging/debversion.sh" "$1"; }
check_eq "$(dv v1.2.0)" "1.2.0" "a release tag is the package version"
check_eq "$(dv v1.2.0-14-g3fa2c1d-dirty)" "1.2.0+14.g3fa2c1d.dirty" \
	"commits after a tag sort after it and before the next release"
check_eq "$(dv 3fa2c1d)" "0.0.0+g3fa2c1d" "an untagged build: 0.0.0+g<commit>"
check_eq "$(dv 0.0.0-unknown)" "0.0.0+unknown" "an unknown version is a valid one"
if command -v dpkg >/dev/null; then
	bad=
	for x in "$v" v1.2.0-14-g3fa2c1d-dirty 3fa2c1d-dirty 0.0.0-unknown; do
		d=$(dv "$x")
		dpkg --validate-version "$d" 2>/dev/null || bad="$bad $x->$d"
	done
	check_eq "$bad" "" "dpkg accepts every derived version"
	dpkg --compare-versions "$(dv v1.2.0-14-g3fa2c1d)" gt 1.2.0 &&
		dpkg --compare-versions "$(dv v1.2.0-14-g3fa2c1d)" lt 1.2.1 &&
		ok "1.2.0 < 1.2.0+14.g3fa2c1d < 1.2.1 for dpkg" ||
		not_ok "1.2.0 < 1.2.0+14.g3fa2c1d < 1.2.1 for dpkg"
fi

# The start line carries the version: the first line gatewayd logs.
cat >"$GW_TMP/gw.ini" <<EOF2
[gateway]
id = sub-ver
timezone = Europe/Berlin
spool_dir = $GW_TMP/spool
profiles_dir = $GW_TOP/profiles

[bus a]
type = modbus-tcp
host = 127.0.0.1
port = 1

[meter PE1]
bus = a
unit = 1
profile = eastron_sdm120
EOF2
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" 2>"$GW_TMP/gw.log" &
pid=$!
track_pid $pid
if wait_for 30 grep -q "gateway sub-ver: 1 meters on 1 buses" "$GW_TMP/gw.log"; then
	kill -TERM $pid
	wait $pid
	check_eq "$?" 0 "gatewayd stops on SIGTERM"
	first=$(head -n1 "$GW_TMP/gw.log")
	case "$first" in
	*"gatewayd $v starting, configuration $GW_TMP/gw.ini") ok "the start line names the version: $first" ;;
	*) not_ok "the start line names the version (got '$first')" ;;
	esac
else
	not_ok "gatewayd started (log: $(cat "$GW_TMP/gw.log"))"
fi
finish
