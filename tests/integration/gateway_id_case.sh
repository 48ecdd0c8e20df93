#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/gateway_id_case.sh - gateway ids are case-sensitive
# (schema 009): registering an id that differs from a registered one only
# in case is refused, naming the registered id; a gateway whose configured
# id differs only in case from the registered one has its batch refused
# with both ids named, so that the mismatch is seen at once.
. "$(dirname "$0")/../lib.sh"

gwctl=$GW_BUILD/gwctl
gen=$GW_BUILD/bench/pg_gen
start_pg pg
local_ci="host=$PGHOST port=$PGPORT dbname=meters"

psql -Xq -v ON_ERROR_STOP=1 -c "CREATE ROLE gw_sub042 LOGIN IN ROLE gw_uploader" ||
	not_ok "create the gateway's role"
check_cmd "gwctl db gateway registers SUB-042" \
	"$gwctl" db gateway SUB-042 --role gw_sub042 --timezone Asia/Ho_Chi_Minh

# Registration: an id differing only in case is refused with a reason.
"$gwctl" db gateway sub-042 --role gw_sub042 --timezone Asia/Ho_Chi_Minh >"$GW_TMP/reg.out" 2>&1
rc=$?
if [ $rc -ne 0 ] &&
	grep -q "gateway id sub-042 differs only in case from the registered SUB-042" "$GW_TMP/reg.out"; then
	ok "registering sub-042 beside SUB-042 is refused, naming both"
else
	not_ok "registering sub-042 beside SUB-042 is refused, naming both (exit $rc: $(head -c 300 "$GW_TMP/reg.out"))"
fi
check_eq "$(psql -XAtc "SELECT string_agg(gateway_id || '=' || coalesce(upload_role, '-'), ',') FROM gateways")" \
	"SUB-042=gw_sub042" "the database still has SUB-042 only, bound to its role"
check_cmd "registering SUB-042 again (a new zone or role) still works" \
	"$gwctl" db gateway SUB-042 --role gw_sub042 --timezone Asia/Ho_Chi_Minh

# Upload: a gateway configured as sub-042 is refused, and told why.
"$gen" --gateway sub-042 --prefix M- --meters 2 --days 1 "$GW_TMP/lower" >/dev/null
"$gwctl" upload --conninfo "$local_ci user=gw_sub042" "$GW_TMP/lower" >"$GW_TMP/up.out" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q "role gw_sub042 may not load batches of gateway sub-042 (registered: SUB-042, which differs only in case" "$GW_TMP/up.out"; then
	ok "a batch of sub-042 is refused, naming sub-042 and the registered SUB-042"
else
	not_ok "a batch of sub-042 is refused, naming sub-042 and the registered SUB-042 (exit $rc: $(head -c 400 "$GW_TMP/up.out"))"
fi
# Another gateway's id with no near twin: the refusal is as before.
"$gen" --gateway sub-043 --prefix N- --meters 1 --days 1 "$GW_TMP/other" >/dev/null
"$gwctl" upload --conninfo "$local_ci user=gw_sub042" "$GW_TMP/other" >"$GW_TMP/up2.out" 2>&1
if grep -q "role gw_sub042 may not load batches of gateway sub-043" "$GW_TMP/up2.out" &&
	! grep -q "registered:" "$GW_TMP/up2.out"; then
	ok "a batch of an unrelated gateway is refused without naming other gateways"
else
	not_ok "a batch of an unrelated gateway is refused without naming other gateways ($(head -c 400 "$GW_TMP/up2.out"))"
fi
# With the id as registered, the same role loads.
"$gen" --gateway SUB-042 --prefix M- --meters 2 --days 1 "$GW_TMP/upper" >/dev/null
check_cmd "a batch of SUB-042 loads" "$gwctl" upload --conninfo "$local_ci user=gw_sub042" "$GW_TMP/upper"
check_eq "$(psql -XAtc "SELECT string_agg(DISTINCT gateway_id, ',') FROM batch_ledger")" "SUB-042" \
	"the ledger has SUB-042's batch and nothing of sub-042"
finish
