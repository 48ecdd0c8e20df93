/* SPDX-License-Identifier: MIT */
/*
 * gwctl_db.h - the database subcommands of gwctl: "db" (schema migrations)
 * and "upload" (load spool batches).
 *
 * Both take argc/argv as main() would get them for the subcommand: argv[0]
 * is the subcommand's name ("db" or "upload"), options and operands follow.
 * Both return the process exit status: 0 on success, 1 on failure, 2 on a
 * usage error. The connection string comes from --conninfo, else from the
 * environment variable GW_PG_CONNINFO, else from libpq's own PG* variables.
 */
#ifndef GW_GWCTL_DB_H
#define GW_GWCTL_DB_H

/* gwctl db migrate [--conninfo S] [--schema-dir DIR]
 *     applies every DIR/NNN_name.sql not yet recorded in schema_migrations,
 *     each in its own transaction together with its row; a no-op when the
 *     schema is current.
 * gwctl db status [--conninfo S] [--schema-dir DIR]
 *     lists the migrations, applied or pending; exit 1 if any is pending. */
int gwctl_db(int argc, char **argv);

/* gwctl upload [--conninfo S] SPOOL-DIR | FILE...
 *     a directory is a spool: its ready/ batches are loaded oldest first and
 *     moved to done/; files are loaded in the order given and left where
 *     they are. A batch applied before is not applied again. */
int gwctl_upload(int argc, char **argv);

#endif
