#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/profile_path.sh - profiles_dir as a search path: a
# site's own profile directory before the shipped one. A profile only in
# the shipped directory is found there; a site's copy under the same name
# wins (an invalid copy is the one reported, so the order is proven) and
# the start names both files; a name in neither directory is reported
# with the near names of both; a directory of the path that does not exist
# is skipped, one the gateway may not look into stops the search (run as
# nobody); an empty element is a configuration error with file:line; the
# relative elements are relative to the configuration file; metersim takes
# the same path.
. "$(dirname "$0")/../lib.sh"

check_contains() { # DESCRIPTION TEXT STRING: ok if TEXT has STRING
	if grep -qF -- "$3" <<<"$2"; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   expected '$3' in:"
		sed 's/^/#   /' <<<"$2"
	fi
}
check_not_contains() { # DESCRIPTION TEXT STRING
	if grep -qF -- "$3" <<<"$2"; then
		not_ok "$1"
		sed 's/^/#   /' <<<"$2"
	else
		ok "$1"
	fi
}

chmod 755 "$GW_TMP"
site=$GW_TMP/etc/profiles
pkg=$GW_TMP/share/profiles
mkdir -p "$site" "$pkg"
cp "$GW_TOP"/profiles/*.prof "$pkg/"
chmod -R a+rX "$GW_TMP"

conf() { # PROFILES_DIR PROFILE: a gateway with one Modbus TCP meter
	cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = path-1
timezone = UTC
spool_dir = spool
profiles_dir = $1

[bus tcp]
type = modbus-tcp
host = 127.0.0.1
port = 1502

[meter m1]
bus = tcp
unit = 1
profile = $2
INI
}

check() { # [RUNNER...]: gatewayd --check on gw.ini, stdout+stderr; rc in $rc
	out=$("$@" "$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" --check 2>&1)
	rc=$?
}

# 1. Only the shipped directory has it.
conf "etc/profiles:share/profiles" abb_b23
check
check_eq "$rc" 0 "a profile only in the second directory is found (relative elements)"
check_not_contains "no site copy: nothing is said to be hidden" "$out" "hides"

# 2. A site copy hides the shipped one: an invalid copy is what is reported.
printf '[profile]\nname = broken copy\nbogus_key = 1\n' >"$site/abb_b23.prof"
check
check_eq "$rc" 2 "a broken site copy is the one loaded (the shipped one is not used behind it)"
check_contains "the error names the site's file" "$out" "$site/abb_b23.prof"
cp "$pkg/abb_b23.prof" "$site/abb_b23.prof"
check
check_eq "$rc" 0 "a valid site copy loads"
check_contains "the start names the copy and the file it hides" "$out" \
	"profile abb_b23: $site/abb_b23.prof (it hides $pkg/abb_b23.prof)"

# 3. In neither: the near names of both directories, each name once.
cp "$pkg/eastron_sdm630.prof" "$site/site_meter_x7.prof"
conf "etc/profiles:share/profiles" site-meter-x7
check
check_eq "$rc" 2 "a profile in no directory is a configuration error"
check_contains "it names the search path" "$out" \
	"cannot load profile 'site-meter-x7' from $site:$pkg: no file site-meter-x7.prof in any of them"
check_contains "a near name from the site's directory is suggested" "$out" "did you mean 'site_meter_x7'"
conf "etc/profiles:share/profiles" abb-b23
check
check_contains "a name both directories have is suggested once" "$out" "did you mean 'abb_b23'?"
check_eq "$(grep -o "'abb_b23'" <<<"$out" | wc -l)" 1 "... and only once"

# 4. A directory that does not exist is skipped.
conf "etc/none:share/profiles" abb_b23
check
check_eq "$rc" 0 "a missing directory of the path is skipped"

# 5. A directory the gateway may not look into stops the search.
if [ "$(id -u)" -eq 0 ]; then
	runner=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
else
	runner=()
fi
if [ "$(id -u)" -eq 0 ] && ! command -v setpriv >/dev/null; then
	not_ok "an unreadable site directory needs setpriv (util-linux) when run as root"
else
	conf "etc/profiles:share/profiles" eastron_sdm630
	chmod 700 "$site"
	[ "$(id -u)" -eq 0 ] || chmod 000 "$site"
	check "${runner[@]}"
	chmod 755 "$site"
	check_eq "$rc" 2 "a site directory that cannot be looked into is an error, not a silent fallback"
	check_contains "... that names the directory and the reason" "$out" \
		"profile eastron_sdm630: cannot look into $site: Permission denied"
fi

# 6. An empty element.
conf "etc/profiles::share/profiles" abb_b23
check
check_eq "$rc" 2 "an empty directory in the path is refused"
check_contains "... with the file and line" "$out" \
	"$GW_TMP/gw.ini:5: profiles_dir: an empty directory in 'etc/profiles::share/profiles'"

# 7. metersim takes the same path (the site copy of a shipped name).
port=$(free_port)
"$GW_BUILD/metersim" --tcp "127.0.0.1:$port" --meters 1 --profile abb_b23 \
	--profiles-dir "$site:$pkg" --ready-file "$GW_TMP/ready" >"$GW_TMP/sim.log" 2>&1 &
track_pid $!
if wait_for 10 test -s "$GW_TMP/ready"; then
	ok "metersim serves a profile found along a search path"
else
	not_ok "metersim serves a profile found along a search path"
fi
out=$("$GW_BUILD/metersim" --tcp "127.0.0.1:$port" --meters 1 --profile nowhere \
	--profiles-dir "$site:$pkg" 2>&1)
check_contains "metersim names the path of a profile it cannot find" "$out" \
	"metersim: no profile nowhere.prof in $site:$pkg"
finish
