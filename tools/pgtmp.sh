#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/pgtmp.sh - a private, throw-away PostgreSQL cluster for tests, the
# demo and a developer's own experiments.
#
#   tools/pgtmp.sh start DIR    create (if needed) and start a cluster in DIR,
#                               create database "meters", apply schema/
#   tools/pgtmp.sh stop DIR     fast shutdown by the PID in DIR/data/postmaster.pid
#                               (SIGINT, bounded wait, then SIGKILL); fine when
#                               already stopped
#   tools/pgtmp.sh status DIR   exit 0 if the cluster in DIR is running
#   tools/pgtmp.sh env DIR      print DIR/env (shell lines: GW_PG_CONNINFO, PG*)
#   tools/pgtmp.sh cert DIR NAME
#                               a client certificate for role NAME signed by
#                               DIR's CA: DIR/tls/NAME.crt, DIR/tls/NAME.key
#   tools/pgtmp.sh standby PRIMARY DIR
#                               a streaming standby of the running cluster in
#                               PRIMARY (pg_basebackup -R), started in DIR
#   tools/pgtmp.sh promote DIR  promote the standby in DIR to a primary
#
# The cluster listens on a Unix socket in DIR/sock, with trust
# authentication there. With GW_PG_TCP=1 at the first start it also
# listens on 127.0.0.1 (same port number) with TLS only: a local CA, a
# server certificate for localhost/127.0.0.1 and the CA's key are made with
# openssl in DIR/tls; members of gw_uploader log in with a client
# certificate (CN = role name), everyone else with a SCRAM password; plain
# TCP is refused. DIR/env then also sets GW_PG_TLS_CONNINFO (verify-full).
# PostgreSQL refuses to run as root, so
# when we are root the server runs as the "postgres" system user (runuser);
# DIR's parents must then be searchable by that user (0755 temp dirs are).
#
# Environment: GW_PG_CONF (extra postgresql.conf lines), GW_PG_TCP (see
# above), GW_PG_HISTORY_FROM (the oldest day batches may be for, default
# 2025-01-01, for the tests' fixed days), PGBIN (server binaries; default the newest
# /usr/lib/postgresql/*/bin), GW_BUILD (build dir, default build: the schema
# is applied with $GW_BUILD/gwctl db migrate when it exists, else with psql;
# GW_PG_MIGRATE=psql forces psql), GW_PG_START_TIMEOUT, GW_PG_STOP_TIMEOUT
# (seconds, default 60 and 30).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
start_timeout=${GW_PG_START_TIMEOUT:-60}
stop_timeout=${GW_PG_STOP_TIMEOUT:-30}

die() {
	echo "pgtmp: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 start|stop|status|env|promote DIR | cert DIR ROLE | standby PRIMARY DIR" >&2
	exit 2
}

find_pgbin() {
	local d
	if [ -n "${PGBIN:-}" ]; then
		[ -x "$PGBIN/initdb" ] || die "PGBIN=$PGBIN has no initdb"
		return
	fi
	for d in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			PGBIN=$d
			return
		fi
	done
	d=$(command -v initdb 2>/dev/null || true)
	[ -n "$d" ] || die "no PostgreSQL server binaries (install postgresql, or set PGBIN)"
	PGBIN=$(dirname "$d")
}

# as_owner CMD...: runs a command as the cluster's owner: "postgres" when we
# are root, ourselves otherwise.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# postmaster_pid DIR: prints the PID of a live postmaster of DIR, or fails.
postmaster_pid() {
	local pidfile="$1/data/postmaster.pid" pid comm
	[ -f "$pidfile" ] || return 1
	pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	kill -0 "$pid" 2>/dev/null || return 1
	# A stale file may name a PID that a different program reuses now.
	comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
	case "$comm" in postgres | postmaster) ;; *) return 1 ;; esac
	echo "$pid"
}

cmd_start() {
	local dir=$1 data sock port pid attempt log
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	case "$dir" in *[[:space:]\'\"\\]*) die "DIR must not contain spaces, quotes or backslashes: $dir" ;; esac
	data=$dir/data
	sock=$dir/sock
	log=$dir/postgres.log
	# The socket path (sock/.s.PGSQL.NNNNN) must fit in sun_path (108 bytes).
	[ ${#sock} -le 90 ] || die "DIR is too long for a Unix socket path: $sock"
	find_pgbin

	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' system user"
		chown postgres: "$dir"
		runuser -u postgres -- test -w "$dir" ||
			die "user postgres cannot reach $dir (are its parent directories 0700?)"
	fi
	as_owner mkdir -p "$sock"

	if pid=$(postmaster_pid "$dir"); then
		echo "pgtmp: already running in $dir (pid $pid)" >&2
	else
		if [ ! -f "$data/PG_VERSION" ]; then
			# --no-sync: only initdb's own files; the running server keeps fsync on.
			as_owner "$PGBIN/initdb" -D "$data" -U postgres --auth=trust \
				-E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
				{ tail -20 "$dir/initdb.log" >&2; die "initdb failed (log: $dir/initdb.log)"; }
			echo "include_if_exists = 'pgtmp.conf'" | as_owner tee -a "$data/postgresql.conf" >/dev/null
		fi
		# With no TCP listener the socket name is private to DIR, so a port
		# only clashes if another server uses the same socket directory;
		# still pick one that nothing listens on and retry on failure.
		[ "${GW_PG_TCP:-}" = 1 ] && [ ! -f "$dir/tls/server.crt" ] && make_tls "$dir"
		# A restart keeps its port, so that clients find it again.
		port=$(sed -n "s/^port = \([0-9]*\)$/\1/p" "$data/pgtmp.conf" 2>/dev/null || true)
		for attempt in 1 2 3 4 5; do
			[ -n "$port" ] && [ "$attempt" -eq 1 ] || port=$(pick_port)
			local listen="''" tls=""
			if [ -f "$dir/tls/server.crt" ]; then
				listen="'127.0.0.1'"
				tls="ssl = on
ssl_cert_file = '$dir/tls/server.crt'
ssl_key_file = '$dir/tls/server.key'
ssl_ca_file = '$dir/tls/ca.crt'
password_encryption = scram-sha-256"
				write_hba "$data"
			fi
			as_owner tee "$data/pgtmp.conf" >/dev/null <<-EOF
				# written by tools/pgtmp.sh
				listen_addresses = $listen
				$tls
				unix_socket_directories = '$sock'
				port = $port
				shared_buffers = 16MB
				max_connections = 30
				max_wal_size = 256MB
				log_min_messages = warning
				log_line_prefix = '%m [%p] %u@%d '
				${GW_PG_CONF:-}
			EOF
			if as_owner "$PGBIN/pg_ctl" -D "$data" -l "$log" -w -t "$start_timeout" start >/dev/null 2>&1; then
				break
			fi
			if pid=$(postmaster_pid "$dir"); then
				# pg_ctl gave up waiting but the server is alive: not a clash.
				cmd_stop "$dir" >/dev/null 2>&1 || true
				die "server did not become ready within ${start_timeout}s (log: $log)"
			fi
			if [ "$attempt" -eq 5 ] || ! grep -qiE 'address already in use|lock file|could not (bind|create)' "$log" 2>/dev/null; then
				tail -20 "$log" >&2 || true
				die "pg_ctl start failed (log: $log)"
			fi
			echo "pgtmp: port $port clashed, retrying" >&2
		done
	fi
	port=$(sed -n 4p "$data/postmaster.pid")
	pid=$(postmaster_pid "$dir") || die "server is not running after start (log: $log)"

	local psql=(env PGOPTIONS='-c client_min_messages=warning' "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres)
	local conninfo="host=$sock port=$port dbname=meters user=postgres"
	if [ "$("${psql[@]}" -d postgres -Atc "SELECT pg_is_in_recovery()")" = t ]; then
		: # a standby: the database and its schema come from the primary
	elif [ "$("${psql[@]}" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'meters'")" != 1 ]; then
		"${psql[@]}" -d postgres -c "CREATE DATABASE meters" >/dev/null || die "CREATE DATABASE meters failed"
		migrate "$conninfo" "${psql[@]}" -d meters
	else
		migrate "$conninfo" "${psql[@]}" -d meters
	fi
	if [ "$("${psql[@]}" -d postgres -Atc "SELECT pg_is_in_recovery()")" = f ]; then
		# The tests' batches are of fixed days from 2026 on: the history
		# horizon of a test cluster reaches back to 2025 whatever today is
		# (GW_PG_HISTORY_FROM to change it; the schema's default is two
		# years back from today).
		"${psql[@]}" -d meters -c "UPDATE gw_limits SET history_days =
			greatest(history_days, current_date - date '${GW_PG_HISTORY_FROM:-2025-01-01}')
			WHERE to_regclass('gw_limits') IS NOT NULL" >/dev/null 2>&1 || true
	fi

	umask 022
	cat >"$dir/env.tmp" <<-EOF
		export GW_PG_CONNINFO='$conninfo'
		export PGHOST='$sock'
		export PGPORT='$port'
		export PGDATABASE='meters'
		export PGUSER='postgres'
	EOF
	if [ -f "$dir/tls/server.crt" ]; then
		echo "export GW_PG_TLS_CONNINFO='host=127.0.0.1 port=$port dbname=meters sslmode=verify-full sslrootcert=$dir/tls/ca.crt'" >>"$dir/env.tmp"
	fi
	mv "$dir/env.tmp" "$dir/env"

	cat <<-EOF
		PostgreSQL $("$PGBIN/postgres" -V | awk '{print $3}') running in $dir (pid $pid, socket $sock, port $port)
		connect:  psql -h $sock -p $port -U postgres meters
		env:      . $dir/env
		stop:     $0 stop $dir
	EOF
}

# migrate CONNINFO PSQL...: applies schema/ with gwctl when built, else psql.
migrate() {
	local conninfo=$1 build=${GW_BUILD:-build}
	shift
	case "$build" in /*) ;; *) build="$top/$build" ;; esac
	if [ -x "$build/gwctl" ] && [ "${GW_PG_MIGRATE:-}" != psql ]; then
		"$build/gwctl" db migrate --conninfo "$conninfo" --schema-dir "$top/schema" >&2 ||
			die "gwctl db migrate failed"
	else
		migrate_psql "$top/schema" "$@"
	fi
}

# make_tls DIR: a CA, a server certificate for localhost and 127.0.0.1.
# Test material only: short-lived, unencrypted keys, the CA key kept next
# to it so that `cert` can sign client certificates.
make_tls() {
	local t=$1/tls
	command -v openssl >/dev/null || die "GW_PG_TCP=1 needs openssl"
	mkdir -p "$t"
	chmod 700 "$t"
	(
		cd "$t" || exit 1
		openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-keyout ca.key -out ca.crt -days 30 -subj "/CN=pgtmp test CA" &&
		openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-keyout server.key -out server.csr -subj "/CN=localhost" &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext &&
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out server.crt -days 30 -extfile server.ext
	) >"$1/tls.log" 2>&1 || { tail -5 "$1/tls.log" >&2; die "openssl failed (log: $1/tls.log)"; }
	chmod 600 "$t"/*.key
	chmod 644 "$t/ca.crt" "$t/server.crt"
	chmod 711 "$t"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$t/server.key" "$t/server.crt"
	fi
}

# write_hba DATA: TLS-only TCP; gateways by client certificate.
write_hba() {
	as_owner tee "$1/pg_hba.conf" >/dev/null <<-EOF
		# written by tools/pgtmp.sh
		local   all          all                          trust
		local   replication  all                          trust
		hostssl all          +gw_uploader  127.0.0.1/32   cert
		hostssl all          all           127.0.0.1/32   scram-sha-256
		host    all          all           127.0.0.1/32   reject
		host    all          all           ::1/128        reject
	EOF
}

cmd_cert() {
	local dir=$1 name=$2 t=$1/tls
	[ -f "$t/ca.key" ] || die "no CA in $t (start the cluster with GW_PG_TCP=1)"
	case "$name" in '' | *[!A-Za-z0-9_.-]*) die "bad role name: $name" ;; esac
	(
		cd "$t" || exit 1
		openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-keyout "$name.key" -out "$name.csr" -subj "/CN=$name" &&
		printf 'extendedKeyUsage=clientAuth\n' >client.ext &&
		openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out "$name.crt" -days 30 -extfile client.ext
	) >"$dir/tls.log" 2>&1 || { tail -5 "$dir/tls.log" >&2; die "openssl failed"; }
	chmod 600 "$t/$name.key"
	echo "sslcert=$t/$name.crt sslkey=$t/$name.key"
}

cmd_standby() {
	local primary=$1 dir=$2 ppid pport
	ppid=$(postmaster_pid "$primary") || die "no running primary in $primary"
	pport=$(sed -n 4p "$primary/data/postmaster.pid")
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	find_pgbin
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$PGBIN/pg_basebackup" -h "$primary/sock" -p "$pport" -U postgres \
			-D "$dir/data" -R -X stream -c fast >"$dir/basebackup.log" 2>&1 ||
			{ tail -5 "$dir/basebackup.log" >&2; die "pg_basebackup failed"; }
		as_owner rm -f "$dir/data/pgtmp.conf" "$dir/data/postmaster.pid"
	fi
	[ -d "$primary/tls" ] && [ ! -e "$dir/tls" ] && ln -s "$primary/tls" "$dir/tls"
	cmd_start "$dir"
}

cmd_promote() {
	find_pgbin
	as_owner "$PGBIN/pg_ctl" -D "$1/data" -w -t "$start_timeout" promote >/dev/null ||
		die "promote failed (log: $1/postgres.log)"
	echo "pgtmp: promoted $1"
}

# pick_port: prints a random port in 20000..59999 with no TCP listener.
pick_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if ! grep -qi ":$(printf '%04X' "$p") 00000000:0000 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "$p"
}

# migrate_psql SCHEMA_DIR PSQL...: applies schema/NNN_name.sql files not yet
# recorded in schema_migrations, each with its row in one transaction; the
# same rules as `gwctl db migrate`, for when gwctl is not built.
migrate_psql() {
	local schema=$1 f base ver name
	shift
	"$@" -c "CREATE TABLE IF NOT EXISTS schema_migrations (
		version int PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())" >/dev/null 2>&1 ||
		die "cannot create schema_migrations"
	for f in "$schema"/[0-9]*_*.sql; do
		[ -f "$f" ] || continue
		base=$(basename "$f" .sql)
		ver=$((10#${base%%_*}))
		name=${base#*_}
		case "$name" in '' | *[!A-Za-z0-9_-]*) die "bad migration file name: $f" ;; esac
		if [ "$("$@" -Atc "SELECT 1 FROM schema_migrations WHERE version = $ver")" = 1 ]; then
			continue
		fi
		"$@" -1 -f "$f" -c "INSERT INTO schema_migrations (version, name) VALUES ($ver, '$name')" >/dev/null ||
			die "migration $base failed"
		echo "pgtmp: applied $base" >&2
	done
}

cmd_stop() {
	local dir=$1 pid child
	[ -d "$dir" ] || { echo "pgtmp: no cluster in $dir"; return 0; }
	if ! pid=$(postmaster_pid "$dir"); then
		echo "pgtmp: not running in $dir"
		return 0
	fi
	# SIGINT is PostgreSQL's "fast" shutdown: roll back sessions, checkpoint.
	kill -INT "$pid" 2>/dev/null || true
	for _ in $(seq 1 $((stop_timeout * 10))); do
		kill -0 "$pid" 2>/dev/null || { echo "pgtmp: stopped $dir (pid $pid)"; return 0; }
		sleep 0.1
	done
	echo "pgtmp: pid $pid did not stop within ${stop_timeout}s; killing it" >&2
	for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
		kill -KILL "$child" 2>/dev/null || true
	done
	kill -KILL "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	die "pid $pid survived SIGKILL"
}

[ $# -ge 2 ] || usage
case "$1" in
start) cmd_start "$2" ;;
cert) [ $# -eq 3 ] || usage; cmd_cert "$2" "$3" ;;
standby) [ $# -eq 3 ] || usage; cmd_standby "$2" "$3" ;;
promote) cmd_promote "$2" ;;
stop) cmd_stop "$2" ;;
status)
	if pid=$(postmaster_pid "$2"); then
		echo "running (pid $pid)"
	else
		echo "not running"
		exit 1
	fi
	;;
env)
	[ -f "$2/env" ] || die "no $2/env (start the cluster first)"
	cat "$2/env"
	;;
*) usage ;;
esac
