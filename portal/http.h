/* SPDX-License-Identifier: MIT */
/*
 * http.h - portald's HTTP server (libmicrohttpd) around api.h.
 */
#ifndef GW_PORTAL_HTTP_H
#define GW_PORTAL_HTTP_H

#include "api.h"

/* Starts serving p on p->cfg's listen address and port, in threads of
 * the library's own. Returns the server (stop with gw_http_stop) or NULL
 * (logged by the library: address in use, no permission). */
void *gw_http_start(struct gw_portal *p);
void gw_http_stop(void *server);

#endif
