#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/install.sh - `make install` into a staging root, and
# the installed programs find what they need there: gwctl its schema
# without --schema-dir, gatewayd the installed profiles, systemd a unit
# that names the installed paths.
. "$(dirname "$0")/../lib.sh"

root=$GW_TMP/root
san=
case "$GW_BUILD" in */san) san=1 ;; esac
check_cmd "make install DESTDIR=... PREFIX=/usr" \
	make -s -C "$GW_TOP" install BUILD="$GW_BUILD" SANITIZE="$san" DESTDIR="$root" PREFIX=/usr
for f in usr/bin/gatewayd usr/bin/gwctl lib/systemd/system/gatewayd.service; do
	[ -f "$root/$f" ] && ok "installed $f" || not_ok "installed $f"
done
check_eq "$(ls "$root/usr/share/gatewayd/profiles" | wc -l)" "$(ls "$GW_TOP"/profiles/*.prof | wc -l)" \
	"every meter profile is installed"
check_eq "$(ls "$root/usr/share/gatewayd/schema" | wc -l)" "$(ls "$GW_TOP"/schema/*.sql | wc -l)" \
	"every schema migration is installed"
unit=$root/lib/systemd/system/gatewayd.service
check_eq "$(grep -c '@PREFIX@' "$unit")/$(grep -c '^ExecStart=/usr/bin/gatewayd -c /etc/gatewayd/gateway.ini$' "$unit")" \
	"0/1" "the unit starts the installed /usr/bin/gatewayd"

# The installed gwctl finds the installed schema (run from / so that a
# ./schema cannot stand in for it).
start_pg pg
psql -Xqc "CREATE DATABASE installed" >/dev/null 2>&1
(cd / && env -u GW_SCHEMA_DIR "$root/usr/bin/gwctl" db migrate \
	--conninfo "host=$PGHOST port=$PGPORT dbname=installed user=postgres") >"$GW_TMP/mig.out" 2>&1
check_eq "$(grep -c '^applied ' "$GW_TMP/mig.out")" "$(ls "$GW_TOP"/schema/*.sql | wc -l)" \
	"the installed gwctl migrates from the installed schema, with no --schema-dir"

# The installed gatewayd accepts a configuration that uses the installed profiles.
mkdir -p "$GW_TMP/etc"
cat >"$GW_TMP/etc/gateway.ini" <<EOF2
[gateway]
id = sub-042
timezone = Asia/Ho_Chi_Minh
spool_dir = $GW_TMP/spool
profiles_dir = $root/usr/share/gatewayd/profiles
meters = meters.csv

[bus line1]
type = modbus-tcp
host = 127.0.0.1
port = 1502
EOF2
printf 'meter_id,bus,unit,profile\nPE0001,line1,1,eastron_sdm630\nPE0002,line1,2,abb_b23\n' >"$GW_TMP/etc/meters.csv"
check_cmd "the installed gatewayd --check accepts a configuration with the installed profiles" \
	"$root/usr/bin/gatewayd" -c "$GW_TMP/etc/gateway.ini" --check
finish
