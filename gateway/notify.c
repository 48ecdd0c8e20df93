/* SPDX-License-Identifier: MIT */
/*
 * notify.c - sd_notify's datagram protocol; see notify.h.
 *
 * Why not libsystemd: the protocol is one datagram per message to a socket
 * whose address is in the environment, stable and documented in
 * sd_notify(3) ("the protocol ... is a simple datagram"); speaking it
 * takes a page of code and keeps the gateway free of a library that a
 * container or another init system would not have, and of its own
 * dependencies (liblzma, libzstd, libgcrypt, liblz4) on a small ARM board.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gw.h"
#include "notify.h"

static int fd = -1;
static struct sockaddr_un addr;
static socklen_t addr_len;
static int64_t watchdog_us;
static struct gw_logrl send_rl;

/* $NOTIFY_SOCKET into addr: "/run/systemd/notify", or "@name" for the
 * abstract namespace (a leading NUL, the length counts the name only). */
static int parse_address(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n >= sizeof(addr.sun_path) || (s[0] != '/' && s[0] != '@'))
		return GW_EINVAL;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, s, n);
	if (s[0] == '@')
		addr.sun_path[0] = '\0';
	addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
			       (s[0] == '/' ? 1 : 0));
	return 0;
}

/* $WATCHDOG_USEC, for this process only ($WATCHDOG_PID). */
static int64_t parse_watchdog(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;

	if (!us || !*us)
		return 0;
	if (pid && *pid) {
		long p = strtol(pid, &end, 10);
		if (*end || p != (long)getpid())
			return 0;
	}
	long long v = strtoll(us, &end, 10);
	if (*end || v <= 0) {
		gw_warn("systemd: WATCHDOG_USEC='%s' is not a period; no watchdog", us);
		return 0;
	}
	return (int64_t)v;
}

int gw_notify_open(void)
{
	const char *s = getenv("NOTIFY_SOCKET");

	gw_notify_close();
	watchdog_us = 0;
	if (!s || !*s)
		return 0;
	if (parse_address(s)) {
		gw_err("systemd: NOTIFY_SOCKET='%s' is not a Unix socket address; "
		       "systemd is not told the gateway is ready", s);
		return GW_EINVAL;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		gw_err("systemd: cannot open a socket to tell systemd (%s)",
		       strerror(errno));
		return GW_EIO;
	}
	watchdog_us = parse_watchdog();
	return 1;
}

int gw_notify_send(const char *msg)
{
	if (fd < 0)
		return 0;
	ssize_t n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
			   (const struct sockaddr *)&addr, addr_len);
	if (n == (ssize_t)strlen(msg)) {
		unsigned long failed = gw_logrl_ok(&send_rl);
		if (failed)
			gw_info("systemd: notifications get through again after %lu "
				"failed", failed);
		return 0;
	}
	int err = n < 0 ? errno : EMSGSIZE;
	unsigned long quiet;
	if (gw_logrl_fail(&send_rl, &quiet))
		gw_warn("systemd: cannot send %.*s (%s): %lu failures in a row, "
			"%lu not logged", (int)strcspn(msg, "=\n"), msg,
			strerror(err), gw_logrl_count(&send_rl), quiet);
	return GW_EIO;
}

int gw_notify_active(void)
{
	return fd >= 0;
}

int64_t gw_notify_watchdog_us(void)
{
	return fd >= 0 ? watchdog_us : 0;
}

void gw_notify_close(void)
{
	if (fd >= 0)
		close(fd);
	fd = -1;
}
