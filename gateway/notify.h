/* SPDX-License-Identifier: MIT */
/*
 * notify.h - tells systemd how the gateway is (sd_notify(3)'s protocol,
 * spoken directly, without libsystemd): READY=1, STOPPING=1, STATUS=...
 * and the watchdog's WATCHDOG=1, as datagrams to the AF_UNIX socket named
 * by $NOTIFY_SOCKET (a path, or an abstract name when it begins with '@').
 * Without $NOTIFY_SOCKET (not started by systemd with Type=notify, a
 * test, a shell) every call does nothing and succeeds.
 *
 * The state is the process's (systemd watches one main process); the
 * calls are for the main thread.
 */
#ifndef GW_NOTIFY_H
#define GW_NOTIFY_H

#include <stdint.h>

/* Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID. Returns 1 when
 * there is a socket to tell, 0 when there is none, GW_EINVAL (logged) when
 * $NOTIFY_SOCKET is not an address a Unix socket can have. */
int gw_notify_open(void);
/* Sends one message ("READY=1", "STATUS=...", several lines separated by
 * '\n'). Returns 0 (also without a socket) or GW_EIO; a failure is logged
 * on the first, second, fourth ... time. */
int gw_notify_send(const char *msg);
/* The watchdog's period in microseconds that systemd asks for
 * ($WATCHDOG_USEC, when $WATCHDOG_PID is unset or this process), or 0
 * when there is no watchdog. */
int64_t gw_notify_watchdog_us(void);
/* Whether there is a socket to tell (gw_notify_open returned 1). */
int gw_notify_active(void);
/* Closes the socket. */
void gw_notify_close(void);

#endif
