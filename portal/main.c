/* SPDX-License-Identifier: MIT */
/*
 * main.c - portald: the customer portal's read-only HTTP service (see
 * docs/portal.md).
 *
 *   portald -c portal.ini            serve until SIGTERM or SIGINT
 *   portald -c portal.ini --check    check the configuration and the key
 *   portald -c portal.ini --query daily|monthly|outages|notices --as ACCOUNT [--for ACCOUNT]
 *           --from X --to Y [--format csv|json]
 *   portald -c portal.ini --query bill --as ACCOUNT [--for ACCOUNT]
 *           [--through YYYY-MM-DD] [--format csv|json]
 *                                    one query as the service runs it,
 *                                    answer on stdout (for operators: what
 *                                    does this customer see; --for another
 *                                    account shows that row-level security
 *                                    gives a session nothing of it)
 *   portald --version
 *
 * The signals are blocked before any thread starts and taken with
 * sigwait() by the main thread, so no handler runs in a request thread.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "jwt.h"
#include "version.h"

struct cli {
	const char *config;
	int check;
	const char *query, *as, *for_acct, *from, *to, *format;
	const char *through;
	const char *limit;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: portald -c portal.ini [--check]\n"
		   "       portald -c portal.ini --query daily|monthly|outages --as ACCOUNT [--for ACCOUNT]\n"
		   "               --from FROM --to TO [--format csv|json]\n"
		   "       portald -c portal.ini --query bill --as ACCOUNT [--for ACCOUNT]\n"
		   "               [--through YYYY-MM-DD] [--format csv|json]\n"
		   "       portald -c portal.ini --query notices --as ACCOUNT [--for ACCOUNT] [--limit N]\n"
		   "       portald --version\n");
}

/* Returns -1 to go on, else the exit status. */
static int parse_cli(int argc, char **argv, struct cli *cl)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "check", no_argument, NULL, 'k' },
		{ "query", required_argument, NULL, 'q' },  { "as", required_argument, NULL, 'a' },
		{ "for", required_argument, NULL, 'F' },    { "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },     { "format", required_argument, NULL, 'o' },
		{ "version", no_argument, NULL, 'V' },      { "help", no_argument, NULL, 'h' },
		{ "through", required_argument, NULL, 'T' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	memset(cl, 0, sizeof(*cl));
	while ((o = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'c': cl->config = optarg; break;
		case 'k': cl->check = 1; break;
		case 'q': cl->query = optarg; break;
		case 'a': cl->as = optarg; break;
		case 'F': cl->for_acct = optarg; break;
		case 'f': cl->from = optarg; break;
		case 't': cl->to = optarg; break;
		case 'o': cl->format = optarg; break;
		case 'T': cl->through = optarg; break;
		case 'l': cl->limit = optarg; break;
		case 'V': gw_version_print(stdout, "portald"); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cl->config || optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* --query: the service's own query and answer, printed. */
static int run_query(struct gw_portal *p, const struct cli *cl)
{
	struct gw_request rq;
	struct gw_reply rp;
	if (!cl->as || !gw_account_valid(cl->as) || (cl->for_acct && !gw_account_valid(cl->for_acct)) ||
	    (strcmp(cl->query, "daily") != 0 && strcmp(cl->query, "monthly") != 0 &&
	     strcmp(cl->query, "outages") != 0 && strcmp(cl->query, "bill") != 0 &&
	     strcmp(cl->query, "notices") != 0)) {
		fprintf(stderr, "portald: --query daily|monthly|outages|bill|notices needs --as ACCOUNT (and valid accounts)\n");
		return 2;
	}
	memset(&rq, 0, sizeof(rq));
	rq.from = cl->from;
	rq.to = cl->to;
	rq.format = cl->format;
	rq.through = cl->through;
	rq.limit = cl->limit;
	if (gw_api_query(p, &rq,
			 strcmp(cl->query, "daily") == 0     ? GW_PQ_DAILY
			 : strcmp(cl->query, "monthly") == 0 ? GW_PQ_MONTHLY
			 : strcmp(cl->query, "bill") == 0    ? GW_PQ_BILL
			 : strcmp(cl->query, "notices") == 0 ? GW_PQ_NOTICES
							     : GW_PQ_OUTAGES,
			 cl->as, cl->for_acct ? cl->for_acct : cl->as, &rp) < 0 || rp.status != 200) {
		fprintf(stderr, "portald: %u %s", rp.status, rp.body.data ? rp.body.data : "\n");
		gw_buf_free(&rp.body);
		return 1;
	}
	fwrite(rp.body.data, 1, rp.body.len, stdout);
	gw_buf_free(&rp.body);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int serve(struct gw_portal *p, const sigset_t *set)
{
	void *server;
	int sig;

	server = gw_http_start(p);
	if (!server) {
		gw_err("portal: cannot listen on %s port %u", p->cfg->listen, p->cfg->port);
		return 1;
	}
	gw_info("portal: listening on %s port %u, a thread per connection (at most %u),"
		" %u database connections", p->cfg->listen, p->cfg->port, p->cfg->max_connections,
		p->cfg->threads);
	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			gw_info("portal: SIGHUP: nothing to reload; restart to read a new key or configuration");
			continue;
		}
		break;
	}
	gw_info("portal: signal %d, stopping", sig);
	gw_http_stop(server);
	return 0;
}

int main(int argc, char **argv)
{
	static struct gw_portal_config cfg;
	struct gw_portal p = { &cfg, NULL, NULL, NULL };
	struct cli cl;
	sigset_t set;
	int rc;

	rc = parse_cli(argc, argv, &cl);
	if (rc >= 0)
		return rc;
	if (gw_portal_config_load(cl.config, &cfg) < 0)
		return 2; /* as gatewayd: 2 for a configuration error */
	if (cl.check) {
		printf("%s: ok\n", cl.config);
		return 0;
	}
	gw_log_set_level(cfg.log_level);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	p.db = gw_pdb_new(cfg.conninfo, cfg.threads, cfg.query_timeout_ms);
	p.rate = gw_rate_new(cfg.rate_table, cfg.rate_per_minute, cfg.rate_burst);
	p.handoff = gw_handoff_new(cfg.handoff_table);
	if (!p.db || !p.rate || !p.handoff) {
		gw_err("portal: out of memory");
		return 1;
	}
	if (!cl.query)
		gw_info("portald %s starting, configuration %s", gw_version(), cl.config);
	rc = gw_pdb_check_role(p.db);
	if (rc == 0)
		rc = cl.query ? run_query(&p, &cl) : serve(&p, &set);
	else
		rc = 1;
	gw_pdb_free(p.db);
	gw_rate_free(p.rate);
	gw_handoff_free(p.handoff);
	return rc;
}
