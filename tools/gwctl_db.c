/* SPDX-License-Identifier: MIT */
/*
 * gwctl_db.c - `gwctl db migrate|status` and `gwctl upload`.
 *
 * Migrations are the files schema/NNN_name.sql, applied in the order of
 * their number, each in its own transaction together with its row in
 * schema_migrations, so a migration is either wholly applied and recorded
 * or not at all, and running migrate again does nothing. A session
 * advisory lock keeps two migrate runs from interleaving.
 */
#include <dirent.h>
#include <errno.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "gw.h"
#include "gwctl_db.h"
#include "spool.h"
#include "upload.h"

/* Any constant will do; it names "the schema migration" for the lock. */
#define MIGRATE_LOCK_KEY "727190001"

static const char SQL_MIGRATIONS_TABLE[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	" version int PRIMARY KEY, name text NOT NULL,"
	" applied_at timestamptz NOT NULL DEFAULT now())";

struct migration {
	int version;
	char name[128];  /* "init" */
	char file[256];  /* "001_init.sql" */
	int applied;
};

static const char *conninfo_default(void)
{
	const char *s = getenv("GW_PG_CONNINFO");

	return s ? s : ""; /* "": libpq takes PGHOST, PGPORT, ... */
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The schema directory when --schema-dir is not given: $GW_SCHEMA_DIR,
 * then schema/ next to the build directory holding this program (build/
 * or build/san/), then the copy `make install` put beside it
 * (PREFIX/bin/../share/gatewayd/schema), then /usr/share/gatewayd/schema,
 * then ./schema. */
static const char *schema_dir_default(char *buf, size_t cap)
{
	static const char *const rel[] = { "/../schema", "/../../schema",
					   "/../share/gatewayd/schema" };
	const char *env = getenv("GW_SCHEMA_DIR");
	char exe[GW_PATH_MAX];
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			if (snprintf(buf, cap, "%s%s", exe, rel[i]) < (int)cap &&
			    is_dir(buf))
				return buf;
		}
	}
	if (is_dir("/usr/share/gatewayd/schema"))
		return "/usr/share/gatewayd/schema";
	return "schema";
}

static PGconn *db_connect(const char *conninfo)
{
	static const char *const keys[] = { "fallback_application_name",
					    "dbname", NULL };
	const char *vals[] = { "gwctl", conninfo, NULL };
	PGconn *conn = PQconnectdbParams(keys, vals, 1);

	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "gwctl: cannot connect to the database: %s",
			conn ? PQerrorMessage(conn) : "out of memory\n");
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Runs SQL that returns no rows; prints the error and returns -1 on failure. */
static int run(PGconn *conn, const char *what, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		fprintf(stderr, "gwctl: %s: %s", what, PQerrorMessage(conn));
		rc = -1;
	}
	PQclear(res);
	return rc;
}

static int cmp_migration(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* Parses "NNN_name.sql" (digits, '_', then letters, digits, '_' or '-').
 * Returns 1 and fills m, or 0 for a file that is not a migration. */
static int parse_migration_name(const char *file, struct migration *m)
{
	const char *p = file, *name;
	size_t len = strlen(file), nlen;
	long v = 0;

	if (len < 7 || strcmp(file + len - 4, ".sql") != 0)
		return 0;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p - '0');
		if (v > 1000000)
			return 0;
		p++;
	}
	if (*p != '_')
		return 0;
	name = p + 1;
	nlen = (size_t)(file + len - 4 - name);
	if (nlen == 0 || nlen >= sizeof(m->name) || len >= sizeof(m->file))
		return 0;
	for (size_t i = 0; i < nlen; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	m->version = (int)v;
	memcpy(m->name, name, nlen);
	m->name[nlen] = '\0';
	memcpy(m->file, file, len + 1);
	m->applied = 0;
	return 1;
}

/* Lists the migrations in dir sorted by version into *out (free()).
 * Returns their number or -1 (message printed). */
static int list_migrations(const char *dir, struct migration **out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct migration *v = NULL, m;
	int n = 0, cap = 0;

	*out = NULL;
	if (!d) {
		fprintf(stderr, "gwctl: cannot open schema directory %s: %s\n",
			dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (!parse_migration_name(e->d_name, &m)) {
			if (strstr(e->d_name, ".sql"))
				fprintf(stderr, "gwctl: ignoring %s/%s "
					"(not NNN_name.sql)\n", dir, e->d_name);
			continue;
		}
		if (n == cap) {
			struct migration *nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, (size_t)cap * sizeof(*v));
			if (!nv) {
				fprintf(stderr, "gwctl: out of memory\n");
				free(v);
				closedir(d);
				return -1;
			}
			v = nv;
		}
		v[n++] = m;
	}
	closedir(d);
	if (n > 0)
		qsort(v, (size_t)n, sizeof(*v), cmp_migration);
	for (int i = 1; i < n; i++) {
		if (v[i].version == v[i - 1].version) {
			fprintf(stderr, "gwctl: %s and %s have the same version\n",
				v[i - 1].file, v[i].file);
			free(v);
			return -1;
		}
	}
	*out = v;
	return n;
}

/* Marks the migrations recorded in schema_migrations; warns about recorded
 * versions that have no file here. Returns 0 or -1. */
static int mark_applied(PGconn *conn, struct migration *v, int n)
{
	PGresult *res = PQexec(conn, "SELECT version, name FROM schema_migrations "
				     "ORDER BY version");

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "gwctl: reading schema_migrations: %s",
			PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		int ver = atoi(PQgetvalue(res, r, 0)), found = 0;

		for (int i = 0; i < n; i++) {
			if (v[i].version == ver) {
				v[i].applied = 1;
				found = 1;
			}
		}
		if (!found)
			fprintf(stderr, "gwctl: note: the database has migration "
				"%03d_%s, which is not in the schema directory "
				"(a newer schema?)\n", ver, PQgetvalue(res, r, 1));
	}
	PQclear(res);
	return 0;
}

static char *read_text_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, got;

	if (!f)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap ? cap * 2 : 8192);

			if (!nb) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap = cap ? cap * 2 : 8192;
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* Applies one migration in its own transaction. Returns 0 or -1. */
static int apply_migration(PGconn *conn, const char *dir,
			   const struct migration *m)
{
	char path[GW_PATH_MAX + 256], ver[16];
	const char *params[2] = { ver, m->name };
	char *sql;
	PGresult *res;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, m->file);
	snprintf(ver, sizeof(ver), "%d", m->version);
	sql = read_text_file(path);
	if (!sql) {
		fprintf(stderr, "gwctl: cannot read %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (run(conn, "BEGIN", "BEGIN") < 0)
		goto out;
	/* The file's statements run as one multi-statement query inside
	 * our transaction; the file itself must not COMMIT. */
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "gwctl: migration %s failed: %s", m->file,
			PQerrorMessage(conn));
		PQclear(res);
		goto rollback;
	}
	PQclear(res);
	if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
		fprintf(stderr, "gwctl: migration %s ended the transaction "
			"(it must not contain BEGIN/COMMIT)\n", m->file);
		goto rollback;
	}
	res = PQexecParams(conn, "INSERT INTO schema_migrations (version, name) "
			   "VALUES ($1::int, $2)", 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "gwctl: recording migration %s: %s", m->file,
			PQerrorMessage(conn));
		PQclear(res);
		goto rollback;
	}
	PQclear(res);
	if (run(conn, "COMMIT", "COMMIT") < 0)
		goto out;
	printf("applied %s\n", m->file);
	rc = 0;
	goto out;
rollback:
	run(conn, "ROLLBACK", "ROLLBACK");
out:
	free(sql);
	return rc;
}

static void db_usage(FILE *f)
{
	fprintf(f,
		"usage: gwctl db migrate [--conninfo S] [--schema-dir DIR]\n"
		"       gwctl db status  [--conninfo S] [--schema-dir DIR]\n"
		"       gwctl db maintain [--conninfo S] [--from DAY]\n"
		"       gwctl db gateway ID [--role ROLE] [--timezone ZONE] [--conninfo S]\n"
		"       gwctl db assign METER GATEWAY [--from DAY] [--conninfo S]\n"
		"       gwctl db account METER ACCOUNT --from DAY [--conninfo S]\n"
		"       gwctl db claims [--conninfo S]\n"
		"  migrate  apply DIR/NNN_name.sql files not yet applied, each in\n"
		"           its own transaction (a no-op when up to date); then make\n"
		"           partitions ahead as maintain does\n"
		"  status   list migrations, applied or pending (exit 1 if pending)\n"
		"  maintain make the monthly partitions of interval_readings from last\n"
		"           month (or DAY's month) to gw_limits.partitions_ahead months\n"
		"           ahead (daily from gatewayd-maintain.timer)\n"
		"  gateway  bind gateway ID to its login ROLE (which gets the session\n"
		"           limits of gw_limits) and/or set its time zone: batches in\n"
		"           another zone are refused\n"
		"  assign   assign METER to GATEWAY from local DAY on (default: from\n"
		"           the beginning for a new meter, else from today); data the\n"
		"           gateway sent for it and that was held is loaded\n"
		"  account  ACCOUNT holds METER from local DAY on ('-' for none); the\n"
		"           previous holder no longer sees it from that day\n"
		"  claims   meters that gateways reported without being assigned them\n"
		"           (their data is held until assigned)\n"
		"  --conninfo S    libpq connection string (default: $GW_PG_CONNINFO,\n"
		"                  else libpq's PGHOST, PGPORT, PGDATABASE, PGUSER)\n"
		"  --schema-dir D  migrations directory (default: $GW_SCHEMA_DIR,\n"
		"                  else schema/ of the source tree gwctl was built in,\n"
		"                  else the installed PREFIX/share/gatewayd/schema)\n"
		"Schema changes wait at most 30 s for a lock (lock_timeout), so that\n"
		"gateways' loads do not queue behind them; run again if one timed out.\n");
}

/* Runs a query with text parameters; prints the server's error. Returns
 * the result (PQclear it) or NULL. */
static PGresult *exec_params(PGconn *conn, const char *what, const char *sql,
			     int n, const char *const *params)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		fprintf(stderr, "gwctl: %s: %s", what, PQerrorMessage(conn));
		PQclear(res);
		return NULL;
	}
	return res;
}

/* gwctl db maintain | gateway | assign | account | claims. args are the
 * verb's operands; from, role, zone its options. */
static int db_admin(PGconn *conn, const char *verb, char **args, int nargs,
		    const char *from, const char *role, const char *zone)
{
	PGresult *res = NULL;
	int rc = 1;

	(void)nargs;
	if (!strcmp(verb, "maintain")) {
		const char *p[1] = { from };

		res = exec_params(conn, "making partitions",
				  "SELECT gw_maintain($1::date)", 1, p);
		if (res)
			printf("%s partition%s of interval_readings made\n",
			       PQgetvalue(res, 0, 0),
			       strcmp(PQgetvalue(res, 0, 0), "1") ? "s" : "");
		rc = res ? 0 : 1;
	} else if (!strcmp(verb, "gateway")) {
		const char *p[3] = { args[0], role, zone };
		const char *pz[2] = { args[0], zone };

		if (!role && !zone) {
			fprintf(stderr, "gwctl db gateway: give --role and/or --timezone\n");
			return 2;
		}
		if (role)
			res = exec_params(conn, "binding the gateway",
					  "SELECT gw_register_gateway($1, $2, $3)", 3, p);
		else
			res = exec_params(conn, "setting the time zone",
					  "SELECT gw_set_gateway_timezone($1, $2)", 2, pz);
		if (!res)
			return 1;
		PQclear(res);
		if (role) {
			const char *q[1] = { role };

			res = exec_params(conn, "setting the role's limits",
					  "SELECT gw_apply_role_limits($1)", 1, q);
			if (!res)
				return 1;
			if (!PQgetisnull(res, 0, 0))
				fprintf(stderr, "gwctl: warning: not set (needs a superuser): %s\n",
					PQgetvalue(res, 0, 0));
			PQclear(res);
		}
		res = exec_params(conn, "reading the gateway",
				  "SELECT coalesce(upload_role::text, '-'), coalesce(timezone, '-') "
				  "FROM gateways WHERE gateway_id = $1", 1, p);
		if (res && PQntuples(res) == 1)
			printf("gateway %s: role %s, time zone %s\n", args[0],
			       PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
		rc = res ? 0 : 1;
	} else if (!strcmp(verb, "assign")) {
		const char *p[3] = { args[0], args[1], from };

		res = exec_params(conn, "assigning the meter",
				  "SELECT gw_assign_meter($1, $2, $3::date), "
				  "(SELECT valid_from FROM meter_gateways WHERE meter_id = $1 "
				  " AND valid_to IS NULL)", 3, p);
		if (res)
			printf("meter %s assigned to gateway %s from %s; %s held row%s loaded\n",
			       args[0], args[1], PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0),
			       strcmp(PQgetvalue(res, 0, 0), "1") ? "s" : "");
		rc = res ? 0 : 1;
	} else if (!strcmp(verb, "account")) {
		const char *p[3] = { args[0], strcmp(args[1], "-") ? args[1] : NULL, from };

		if (!from) {
			fprintf(stderr, "gwctl db account: --from DAY is needed\n");
			return 2;
		}
		res = exec_params(conn, "changing the account",
				  "SELECT gw_change_account($1, $2, $3::date)", 3, p);
		if (res)
			printf("meter %s: account %s from %s\n", args[0], args[1], from);
		rc = res ? 0 : 1;
	} else if (!strcmp(verb, "claims")) {
		res = exec_params(conn, "reading the claims",
				  "SELECT c.meter_id, c.gateway_id, c.first_day, c.last_day, "
				  "coalesce((SELECT gateway_id FROM meters m WHERE m.meter_id = c.meter_id), '-') "
				  "FROM meter_claims c ORDER BY c.gateway_id, c.meter_id", 0, NULL);
		if (res) {
			printf("%-20s %-20s %-10s %-10s %s\n", "METER", "REPORTED BY", "FROM",
			       "TO", "ASSIGNED TO");
			for (int r = 0; r < PQntuples(res); r++)
				printf("%-20s %-20s %-10s %-10s %s\n", PQgetvalue(res, r, 0),
				       PQgetvalue(res, r, 1), PQgetvalue(res, r, 2),
				       PQgetvalue(res, r, 3), PQgetvalue(res, r, 4));
		}
		rc = res ? 0 : 1;
	}
	PQclear(res);
	return rc;
}

/* Matches "--name VALUE" and "--name=VALUE"; advances *i past the value.
 * Returns 1 and sets *val, 0 if argv[*i] is another argument, -1 if the
 * value is missing. */
static int opt_value(int argc, char **argv, int *i, const char *name,
		     const char **val)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return 0;
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0')
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "gwctl: %s needs a value\n", name);
		return -1;
	}
	*val = argv[++*i];
	return 1;
}

int gwctl_db(int argc, char **argv)
{
	const char *conninfo = conninfo_default(), *dir = NULL, *verb = NULL;
	const char *from = NULL, *role = NULL, *zone = NULL;
	char dirbuf[GW_PATH_MAX];
	struct migration *v = NULL;
	PGconn *conn;
	char *args[2] = { NULL, NULL };
	int n, rc = 1, pending = 0, applied = 0, r, nargs = 0, want = 0;

	for (int i = 1; i < argc; i++) {
		if ((r = opt_value(argc, argv, &i, "--conninfo", &conninfo)) != 0 ||
		    (r = opt_value(argc, argv, &i, "--schema-dir", &dir)) != 0 ||
		    (r = opt_value(argc, argv, &i, "--from", &from)) != 0 ||
		    (r = opt_value(argc, argv, &i, "--role", &role)) != 0 ||
		    (r = opt_value(argc, argv, &i, "--timezone", &zone)) != 0) {
			if (r < 0)
				return 2;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			db_usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "gwctl db: unexpected argument '%s'\n", argv[i]);
			db_usage(stderr);
			return 2;
		} else if (!verb) {
			verb = argv[i];
		} else if (nargs < 2) {
			args[nargs++] = argv[i];
		} else {
			fprintf(stderr, "gwctl db: unexpected argument '%s'\n", argv[i]);
			db_usage(stderr);
			return 2;
		}
	}
	if (verb && (!strcmp(verb, "migrate") || !strcmp(verb, "status") ||
		     !strcmp(verb, "maintain") || !strcmp(verb, "claims")))
		want = 0;
	else if (verb && !strcmp(verb, "gateway"))
		want = 1;
	else if (verb && (!strcmp(verb, "assign") || !strcmp(verb, "account")))
		want = 2;
	else
		want = -1;
	if (want < 0 || nargs != want) {
		if (verb && want < 0)
			fprintf(stderr, "gwctl db: unknown command '%s'\n", verb);
		else if (verb)
			fprintf(stderr, "gwctl db %s: %s\n", verb,
				want == 0 ? "takes no operand" : want == 1 ?
				"needs the gateway id" : "needs two operands");
		db_usage(stderr);
		return 2;
	}
	if (strcmp(verb, "migrate") && strcmp(verb, "status")) {
		conn = db_connect(conninfo);
		if (!conn)
			return 1;
		PQsetNoticeProcessor(conn, quiet_notice, NULL);
		rc = run(conn, "setting lock_timeout", "SET lock_timeout = '30s'");
		if (rc == 0)
			rc = db_admin(conn, verb, args, nargs, from, role, zone);
		else
			rc = 1;
		PQfinish(conn);
		return rc;
	}
	if (!dir)
		dir = schema_dir_default(dirbuf, sizeof(dirbuf));
	n = list_migrations(dir, &v);
	if (n < 0)
		return 1;
	if (n == 0) {
		fprintf(stderr, "gwctl: no migrations (NNN_name.sql) in %s\n", dir);
		free(v);
		return 1;
	}
	conn = db_connect(conninfo);
	if (!conn) {
		free(v);
		return 1;
	}
	PQsetNoticeProcessor(conn, quiet_notice, NULL);
	/* Session lock, released when the connection closes. */
	if (!strcmp(verb, "status")) {
		/* Read only: a database without schema_migrations has
		 * everything pending. */
		PGresult *res = PQexec(conn, "SELECT to_regclass('schema_migrations') "
					     "IS NOT NULL");

		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			fprintf(stderr, "gwctl: %s", PQerrorMessage(conn));
			PQclear(res);
			goto out;
		}
		r = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (r && mark_applied(conn, v, n) < 0)
			goto out;
		for (int i = 0; i < n; i++) {
			printf("%-8s %s\n", v[i].applied ? "applied" : "pending",
			       v[i].file);
			pending += !v[i].applied;
		}
		rc = pending ? 1 : 0;
		goto out;
	}
	/* A migration that waits for a lock a gateway's load holds would make
	 * every load after it wait too: it gives up after 30 s instead. */
	if (run(conn, "setting lock_timeout", "SET lock_timeout = '30s'") < 0 ||
	    run(conn, "taking the migration lock",
		"SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")") < 0 ||
	    run(conn, "creating schema_migrations", SQL_MIGRATIONS_TABLE) < 0 ||
	    mark_applied(conn, v, n) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		if (v[i].applied)
			continue;
		if (apply_migration(conn, dir, &v[i]) < 0)
			goto out;
		applied++;
	}
	/* Partitions ahead at every migrate (schema 006 on). */
	{
		PGresult *res = PQexec(conn, "SELECT to_regprocedure('gw_maintain(date)') "
				       "IS NOT NULL");
		int have = PQresultStatus(res) == PGRES_TUPLES_OK &&
			   strcmp(PQgetvalue(res, 0, 0), "t") == 0;

		PQclear(res);
		res = PQexec(conn, have ? "SELECT gw_maintain()" : "SELECT 0");
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			fprintf(stderr, "gwctl: making partitions ahead: %s",
				PQerrorMessage(conn));
			PQclear(res);
			goto out;
		}
		PQclear(res);
	}
	if (applied == 0)
		printf("schema is up to date (version %d)\n", v[n - 1].version);
	else
		printf("schema now at version %d (%d migration%s applied)\n",
		       v[n - 1].version, applied, applied == 1 ? "" : "s");
	rc = 0;
out:
	PQfinish(conn);
	free(v);
	return rc;
}

static void upload_usage(FILE *f)
{
	fprintf(f,
		"usage: gwctl upload [--conninfo S] [--retry-for SECONDS] SPOOL-DIR | BATCH-FILE...\n"
		"  SPOOL-DIR    load SPOOL-DIR/ready/*.gwb oldest first, moving each\n"
		"               loaded (or already loaded) file to done/ and files\n"
		"               that do not decode to quarantine/\n"
		"  BATCH-FILE   load these batch files in the order given\n"
		"  A batch is applied exactly once: the database's batch_ledger\n"
		"  records it in the same transaction as its rows.\n"
		"  --conninfo S libpq connection string (default: $GW_PG_CONNINFO,\n"
		"               else libpq's PG* variables). Passwords belong in a\n"
		"               password file (passfile=, PGPASSFILE), not here\n"
		"  --retry-for SECONDS\n"
		"               while the database is down, restarting or failing\n"
		"               over, retry with exponential backoff and jitter\n"
		"               for up to SECONDS (default 0: fail at once)\n"
		"  A file that does not decode (gwctl spool verify) goes to\n"
		"  quarantine/ with its name and reason in the log; like a refused\n"
		"  batch, it makes the exit status 1.\n"
		"  A batch the database refuses for good (a day outside its history\n"
		"  horizon or after tomorrow, a revision or size over gw_limits, a zone\n"
		"  other than the gateway's) goes to quarantine/ with the reason; data\n"
		"  of meters not assigned to the batch's gateway is held in the database\n"
		"  until an operator assigns them (gwctl db assign).\n"
		"  TCP without sslmode uses sslmode=verify-full (sslrootcert= the CA);\n"
		"  a weaker sslmode must be written and is warned about.\n");
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits before the next attempt: 0.5 s, 1 s, 2 s ... up to 10 s, each
 * with up to 50% random jitter, never past the deadline. Returns 0 if
 * there is time left for another attempt, -1 if not. */
static int retry_wait(int64_t deadline, int64_t *backoff, unsigned *seed)
{
	int64_t now = mono_ms(), base, ms;
	struct timespec ts;

	if (now >= deadline)
		return -1;
	base = *backoff ? *backoff * 2 : 500;
	if (base > 10000)
		base = 10000;
	*backoff = base;
	ms = base / 2 + (int64_t)(rand_r(seed) % (unsigned)(base / 2 + 1));
	if (now + ms > deadline)
		ms = deadline - now;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	nanosleep(&ts, NULL);
	return 0;
}

/* gw_upload_spool reports a count once it moved anything, also when it
 * then stopped on an error (logged): what is left in ready/ tells. */
static int check_ready_empty(const char *spool)
{
	char **names = NULL;
	int n = gw_spool_list(spool, "ready", &names);

	if (n < 0)
		return 1;
	gw_spool_list_free(names, n);
	if (n > 0) {
		fprintf(stderr, "gwctl: %d batch file%s left in %s/ready\n", n,
			n == 1 ? "" : "s", spool);
		return 1;
	}
	return 0;
}

/* 0 when SPOOL/ready is empty, 1 otherwise (nothing printed). */
static int check_ready_quiet(const char *spool)
{
	char **names = NULL;
	int n = gw_spool_list(spool, "ready", &names);

	if (n < 0)
		return 1;
	gw_spool_list_free(names, n);
	return n > 0;
}

int gwctl_upload(int argc, char **argv)
{
	const char *conninfo = conninfo_default(), *retry_s = NULL;
	struct gw_uploader *u;
	char **ops;
	int nops = 0, rc = 0, r, any_refused = 0;
	int64_t deadline, backoff = 0;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();

	ops = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*ops));
	if (!ops)
		return 1;
	for (int i = 1; i < argc; i++) {
		if ((r = opt_value(argc, argv, &i, "--conninfo", &conninfo)) != 0 ||
		    (r = opt_value(argc, argv, &i, "--retry-for", &retry_s)) != 0) {
			if (r < 0) {
				free(ops);
				return 2;
			}
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			upload_usage(stdout);
			free(ops);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "gwctl upload: unknown option '%s'\n", argv[i]);
			upload_usage(stderr);
			free(ops);
			return 2;
		} else {
			ops[nops++] = argv[i];
		}
	}
	if (nops == 0) {
		upload_usage(stderr);
		free(ops);
		return 2;
	}
	if (retry_s) {
		char *end;
		long v = strtol(retry_s, &end, 10);

		if (*end || v < 0 || v > 86400) {
			fprintf(stderr, "gwctl upload: --retry-for wants 0..86400 seconds\n");
			free(ops);
			return 2;
		}
		deadline = mono_ms() + v * 1000;
	} else {
		deadline = 0;
	}
	u = gw_uploader_new(conninfo);
	if (!u) {
		fprintf(stderr, "gwctl: out of memory\n");
		free(ops);
		return 1;
	}
	/* Operands in order: a directory is a spool; files are loaded one by
	 * one. The same code path as gatewayd's upload thread. */
	for (int i = 0; i < nops && rc == 0;) {
		int n;

		if (is_dir(ops[i])) {
			int total = 0;
			unsigned refused = gw_uploader_refused(u);
			unsigned bad = gw_uploader_undecodable(u);

			for (;;) {
				n = gw_upload_spool(u, ops[i]);
				if (n > 0)
					total += n;
				if (n >= 0 && check_ready_quiet(ops[i]) == 0)
					break;
				if (retry_wait(deadline, &backoff, &seed) < 0) {
					if (n < 0)
						fprintf(stderr, "gwctl: upload of %s failed: %s\n",
							ops[i], gw_strerror(n));
					rc = 1;
					break;
				}
			}
			printf("%s: %d batch file%s loaded and moved to done/\n",
			       ops[i], total, total == 1 ? "" : "s");
			refused = gw_uploader_refused(u) - refused;
			if (refused) {
				fprintf(stderr, "gwctl: %u batch file%s refused by the "
					"database, set aside in %s/quarantine/ (the reasons "
					"are in the .refused files beside them)\n", refused,
					refused == 1 ? "" : "s", ops[i]);
				any_refused = 1;
			}
			/* A day set aside is a day missing from the database:
			 * never a success. */
			bad = gw_uploader_undecodable(u) - bad;
			if (bad) {
				fprintf(stderr, "gwctl: %u batch file%s that do%s not decode "
					"(named above, with the reason) set aside in "
					"%s/quarantine/: %s not in the database\n", bad,
					bad == 1 ? "" : "s", bad == 1 ? "es" : "", ops[i],
					bad == 1 ? "its day is" : "their days are");
				any_refused = 1;
			}
			if (rc == 0)
				backoff = 0;
			else
				check_ready_empty(ops[i]);
			i++;
			continue;
		}
		n = gw_upload_files(u, ops + i, 1);
		if (n < 0) {
			/* A refusal of the data is final; anything else may pass. */
			if (n != GW_EREFUSED && retry_wait(deadline, &backoff, &seed) == 0)
				continue;
			fprintf(stderr, "gwctl: upload of %s failed: %s\n", ops[i],
				gw_strerror(n));
			rc = 1;
			break;
		}
		backoff = 0;
		printf("%s: loaded\n", ops[i]);
		i++;
	}
	gw_uploader_free(u);
	free(ops);
	return rc || any_refused;
}
