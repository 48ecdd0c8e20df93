#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/upload_crash.sh - exactly once against a real
# PostgreSQL when things break: the uploader (gwctl upload, the daemon's
# code path) killed with SIGKILL at random moments 30 times, batches
# replayed after a crash between COMMIT and the move to done/, and the
# server restarted in the middle of an upload.
. "$(dirname "$0")/../lib.sh"

gwctl=$GW_BUILD/gwctl
gen=$GW_BUILD/bench/pg_gen
start_pg pg
pgdir=$GW_TMP/pg
KILLS=${GW_CRASH_KILLS:-30}
DAYS=40
METERS=80

# --- SIGKILL at random points ------------------------------------------------
spool=$GW_TMP/spool
"$gen" --gateway crash-gw --meters $METERS --days $DAYS --events "$spool" >/dev/null ||
	not_ok "pg_gen wrote the spool"
check_eq "$(ls "$spool/ready" | wc -l)" $DAYS "$DAYS batch files to load"
RANDOM=$$
progress=0
for i in $(seq 1 "$KILLS"); do
	before=$(ls "$spool/ready" | wc -l)
	"$gwctl" upload "$spool" >"$GW_TMP/kill.out" 2>&1 &
	pid=$!
	# 0 .. 250 ms: before connecting, in a COPY, in gw_begin_batch, at
	# COMMIT, between COMMIT and the rename into done/ ...
	sleep "0.$(printf '%03d' $((RANDOM % 250)))"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	after=$(ls "$spool/ready" | wc -l)
	[ "$after" -lt "$before" ] && progress=$((progress + 1))
done
ok "gwctl upload killed with SIGKILL $KILLS times ($progress runs moved files before dying)"
aborted=$(grep -c "unexpected EOF on client connection with an open transaction\|could not receive data from client\|connection to client lost" "$pgdir/postgres.log")
if [ "$aborted" -gt 0 ]; then
	ok "some kills hit an open transaction ($aborted seen by the server)"
else
	not_ok "some kills hit an open transaction (none seen in the server log)"
fi
check_cmd "a last gwctl upload finishes the spool" "$gwctl" upload "$spool"
check_eq "$(ls "$spool/ready" | wc -l)/$(ls "$spool/done" | wc -l)/$(ls "$spool/quarantine" 2>/dev/null | wc -l)" \
	"0/$DAYS/0" "every file is in done/, none quarantined"

verify() {
	check_eq "$(psql -XAtc "SELECT count(*) || '/' || count(DISTINCT day) || '/' || max(revision) FROM batch_ledger WHERE gateway_id = 'crash-gw'")" \
		"$DAYS/$DAYS/0" "$1: the ledger has each batch exactly once"
	check_eq "$(psql -XAtc "SELECT count(*) FROM daily_registers WHERE gateway_id = 'crash-gw'")/$(psql -XAtc "SELECT count(*) FROM interval_readings WHERE meter_id LIKE 'M-crash-gw-%'")/$(psql -XAtc "SELECT count(*) FROM meter_events WHERE gateway_id = 'crash-gw'")" \
		"$((DAYS * METERS * 3))/$((DAYS * METERS * 3 * 96))/$((DAYS * 2))" \
		"$1: daily, interval and event rows exact"
	# each day's rows counted in one pass over the tables (a count per
	# ledger row scanned the 921,600 interval rows 40 times: a minute)
	check_eq "$(psql -XAtc "SELECT count(*) FROM batch_ledger l
		LEFT JOIN (SELECT day, count(*) AS n FROM daily_registers
			WHERE gateway_id = 'crash-gw' GROUP BY day) d ON d.day = l.day
		LEFT JOIN (SELECT (ts AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS day, count(*) AS n
			FROM interval_readings WHERE meter_id LIKE 'M-crash-gw-%' GROUP BY 1) i ON i.day = l.day
		WHERE l.gateway_id = 'crash-gw'
		AND (l.daily_rows, l.interval_rows) <> (coalesce(d.n, 0), coalesce(i.n, 0))")" \
		0 "$1: each day holds exactly its ledger row's counts"
}
verify "after $KILLS kills"

# A crash between COMMIT and the move into done/: the files come back.
ls "$spool/done" | head -3 | while read -r f; do cp "$spool/done/$f" "$spool/ready/"; done
check_cmd "batches replayed after a crash before the move are accepted" "$gwctl" upload "$spool"
check_eq "$(grep -c 'was applied before' "$GW_TMP/last.out")" 3 "the ledger recognises the 3 replayed batches"
verify "after the replay"

# --- the server restarts in the middle of an upload --------------------------
spool2=$GW_TMP/spool2
"$gen" --gateway restart-gw --meters 400 --days 8 "$spool2" >/dev/null
"$gwctl" upload --retry-for 120 "$spool2" >"$GW_TMP/restart.out" 2>&1 &
upid=$!
track_pid "$upid"
if wait_for 60 bash -c "[ \$(psql -XAtc \"SELECT count(*) FROM batch_ledger WHERE gateway_id = 'restart-gw'\") -ge 2 ]"; then
	ok "the upload is under way"
else
	not_ok "the upload is under way"
fi
"$GW_TOP/tools/pgtmp.sh" stop "$pgdir" >/dev/null
# the server comes back once the uploader has found it gone
wait_for 30 grep -q "connection lost\|cannot connect" "$GW_TMP/restart.out"
"$GW_TOP/tools/pgtmp.sh" start "$pgdir" >"$GW_TMP/restart-pg.out" 2>&1 || not_ok "restart the server"
if wait_pid_exit 120 "$upid"; then
	wait "$upid"
	check_eq "$?" 0 "gwctl upload --retry-for rode out the restart"
else
	not_ok "gwctl upload --retry-for rode out the restart (still running)"
fi
if grep -q "connection lost\|cannot connect" "$GW_TMP/restart.out"; then
	ok "the uploader saw the server go away"
else
	not_ok "the uploader saw the server go away ($(tail -3 "$GW_TMP/restart.out"))"
fi
check_eq "$(psql -XAtc "SELECT count(*) FROM batch_ledger WHERE gateway_id = 'restart-gw'")/$(psql -XAtc "SELECT count(*) FROM daily_registers WHERE gateway_id = 'restart-gw'")/$(psql -XAtc "SELECT count(*) FROM interval_readings WHERE meter_id LIKE 'M-restart-gw-%'")" \
	"8/$((8 * 400 * 3))/$((8 * 400 * 3 * 96))" "after the restart every batch is there exactly once"
check_eq "$(ls "$spool2/ready" | wc -l)" 0 "nothing left in ready/"
finish
