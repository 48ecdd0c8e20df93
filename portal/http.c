/* SPDX-License-Identifier: MIT */
/*
 * http.c - portald's HTTP server (GNU libmicrohttpd): parses a request
 * into struct gw_request, lets api.c answer, and sends the reply.
 *
 * Bounds: a thread per connection, at most max_connections connections
 * (each request runs its query on its connection's thread, on one of the
 * `threads` database connections of the pool, waiting its turn there),
 * connection_timeout seconds of silence per connection, memory_limit
 * bytes per connection for the request line and headers (a request that
 * does not fit is answered 431/414 by the library), max_url bytes of
 * URL, no request bodies. Connections are kept alive between requests.
 *
 * Not a pool of `threads` threads each serving its share of the
 * connections: with connections kept alive (a reverse proxy's upstream
 * keepalive, a client's), a thread that happened to accept more of them
 * made each of its clients wait for all of the others on it (at 64
 * clients and 4 threads the p99 latency was 5 to 7 times the median). A
 * thread per connection waits for the database in the pool's queue,
 * served in order.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>

#include "api.h"
#include "http.h"
#include "page.h"

struct args {
	struct gw_request *rq;
	int from, to, format, token;
	int through, limit, before;
};

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct args *a = cls;
	int *seen = NULL;
	const char **slot = NULL;

	(void)kind;
	if (strcmp(key, "from") == 0) {
		seen = &a->from;
		slot = &a->rq->from;
	} else if (strcmp(key, "to") == 0) {
		seen = &a->to;
		slot = &a->rq->to;
	} else if (strcmp(key, "format") == 0) {
		seen = &a->format;
		slot = &a->rq->format;
	} else if (strcmp(key, "through") == 0) {
		seen = &a->through;
		slot = &a->rq->through;
	} else if (strcmp(key, "token") == 0 && strcmp(a->rq->path, "/session") == 0) {
		seen = &a->token; /* the page's handoff only: never logged */
		slot = &a->rq->token;
	} else if (strcmp(key, "limit") == 0) {
		seen = &a->limit;
		slot = &a->rq->limit;
	} else if (strcmp(key, "before") == 0) {
		seen = &a->before;
		slot = &a->rq->before;
	}
	if (!seen || (*seen)++) {
		a->rq->bad_arg = key;
		return MHD_YES;
	}
	*slot = value ? value : "";
	return MHD_YES;
}

/* The request's context pointer holds a number, nothing to free: the
 * length of the raw request URL (from the URI log callback) shifted left
 * by one, and in the low bit whether the request was seen once already. */
#define SEEN_ONCE ((uintptr_t)1)

static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *con)
{
	(void)cls;
	(void)con;
	return (void *)((uintptr_t)(strlen(uri) + 1) << 1);
}

static void peer_text(struct MHD_Connection *con, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, cap, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)cap);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)cap);
}

/* The path as the log shows it: the library decoded %0A and the like, and
 * a line break in a log line would let a caller forge lines. Control
 * characters become '?'; at most cap - 1 bytes. */
static void shown_path(const char *url, char *out, size_t cap)
{
	size_t i;

	for (i = 0; url[i] && i + 1 < cap; i++)
		out[i] = (unsigned char)url[i] < 0x20 || url[i] == 0x7f ? '?' : url[i];
	out[i] = '\0';
}

static int64_t mono_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* gw_page_headers' way of adding a header to a libmicrohttpd response. */
static int resp_header(void *resp, const char *name, const char *value)
{
	return MHD_add_response_header(resp, name, value) == MHD_YES ? 0 : -1;
}

static enum MHD_Result send_reply(struct MHD_Connection *con, struct gw_reply *rp)
{
	struct MHD_Response *resp;
	char num[24], disp[160];
	enum MHD_Result r;

	/* The body's memory passes to the library (MHD_RESPMEM_MUST_FREE). */
	resp = MHD_create_response_from_buffer(rp->body.len, rp->body.data, MHD_RESPMEM_MUST_FREE);
	if (!resp)
		return MHD_NO;
	rp->body.data = NULL;
	MHD_add_response_header(resp, "Content-Type", rp->content_type);
	MHD_add_response_header(resp, "Cache-Control", rp->html ? "private, no-store" : "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (rp->html && gw_page_headers(resp_header, resp) < 0) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	if (rp->location)
		MHD_add_response_header(resp, "Location", rp->location);
	if (rp->set_cookie)
		MHD_add_response_header(resp, "Set-Cookie", rp->set_cookie);
	if (rp->www_authenticate)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	if (rp->retry_after) {
		snprintf(num, sizeof(num), "%u", rp->retry_after);
		MHD_add_response_header(resp, "Retry-After", num);
	}
	if (rp->filename) {
		snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", rp->filename);
		MHD_add_response_header(resp, "Content-Disposition", disp);
	}
	r = MHD_queue_response(con, rp->status, resp);
	MHD_destroy_response(resp);
	return r;
}

/* Whether the request announces a body (which this API never takes). */
static int announces_body(struct MHD_Connection *con)
{
	const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Transfer-Encoding");

	return te || (cl && strspn(cl, "0") != strlen(cl));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct gw_portal *p = cls;
	struct gw_request rq;
	struct gw_reply rp;
	struct args a;
	char peer[64], shown[160];
	int64_t t0 = mono_us();
	enum MHD_Result r;

	(void)version;
	(void)upload_data;
	/* The library calls first when the headers are in, then again when
	 * the (empty) body is. A reply queued at the first call is an early
	 * reply, after which the library closes the connection: every
	 * request would cost the client (the reverse proxy) a new TCP
	 * connection. So a request without a body is answered at the second
	 * call and its connection kept; one that announces a body is refused
	 * at once (413), without reading it, and closed. */
	if (!((uintptr_t)*con_cls & SEEN_ONCE) && !announces_body(con)) {
		*con_cls = (void *)((uintptr_t)*con_cls | SEEN_ONCE);
		return MHD_YES;
	}
	*upload_data_size = 0;
	memset(&rq, 0, sizeof(rq));
	memset(&a, 0, sizeof(a));
	a.rq = &rq;
	peer_text(con, peer, sizeof(peer));
	rq.method = method;
	rq.path = url;
	shown_path(url, shown, sizeof(shown));
	rq.shown_path = shown;
	rq.peer = peer;
	rq.url_len = (size_t)((uintptr_t)*con_cls >> 1);
	rq.url_len = rq.url_len ? rq.url_len - 1 : strlen(url);
	rq.authorization = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
	rq.has_body = announces_body(con);
	rq.cookie = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Cookie");
	rq.accept_language = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Accept-Language");
	MHD_get_connection_values(con, MHD_GET_ARGUMENT_KIND, on_arg, &a);

	gw_api_handle(p, &rq, (int64_t)time(NULL), t0, &rp);
	gw_info("portal: %s %s %u %zu bytes %lld ms (%s)", method, shown, rp.status, rp.body.len,
		(long long)((mono_us() - t0) / 1000), peer);
	r = send_reply(con, &rp);
	gw_buf_free(&rp.body);
	return r;
}

/* libmicrohttpd's own messages: fmt is the library's format string. */
__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	gw_warn("portal: http: %s", msg);
}

void *gw_http_start(struct gw_portal *p)
{
	const struct gw_portal_config *c = p->cfg;
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	const struct sockaddr *sa;
	/* poll(), not select(): no limit of FD_SETSIZE on the descriptors'
	 * numbers, and no fd_set to fill and scan for each wait */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
			 MHD_USE_ERROR_LOG;

	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	if (inet_pton(AF_INET, c->listen, &a4.sin_addr) == 1) {
		a4.sin_family = AF_INET;
		a4.sin_port = htons((uint16_t)c->port);
		sa = (const struct sockaddr *)&a4;
	} else if (inet_pton(AF_INET6, c->listen, &a6.sin6_addr) == 1) {
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((uint16_t)c->port);
		sa = (const struct sockaddr *)&a6;
		flags |= MHD_USE_IPv6;
	} else {
		gw_err("portal: listen = %s is not an address", c->listen);
		return NULL;
	}
	return MHD_start_daemon(flags, (uint16_t)c->port, NULL, NULL, on_request, p,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, /* first: for the other options' messages */
		MHD_OPTION_SOCK_ADDR, sa,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)c->max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)c->connection_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)c->memory_limit,
		MHD_OPTION_URI_LOG_CALLBACK, uri_seen, NULL,
		MHD_OPTION_END);
}

void gw_http_stop(void *server)
{
	if (server)
		MHD_stop_daemon(server);
}
