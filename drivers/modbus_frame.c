/* SPDX-License-Identifier: MIT */
/*
 * modbus_frame.c - Modbus RTU over TCP (the modbus-rtu-tcp bus) and the
 * Modbus byte trace.
 *
 * Serial device servers (Moxa NPort in "TCP server" mode, USR-TCP232 in
 * transparent mode, most cheap RS-485-to-Ethernet converters) pass the
 * bytes of an RS-485 line through a TCP connection unchanged: the master
 * sends RTU frames, CRC and all, and gets RTU frames back. libmodbus 3.1.6
 * has no backend for this, so the frames are built and taken apart here,
 * on the socket of a libmodbus TCP context (which still connects, flushes
 * and closes it).
 *
 * An RTU reply carries no length of its own: it is framed by its function
 * code. An exception reply (function code + 0x80) is 5 bytes; a reply to a
 * read (function 3 or 4) is unit, function, byte count, that many bytes
 * and the CRC. A reply with another function code cannot be framed: what
 * arrives until the line falls silent is dropped and the request fails as
 * garbled. The checks follow libmodbus's RTU backend, so that the driver's
 * fault counting (modbus.c) means the same on a serial line and through a
 * converter: the CRC first (a garbled frame proves nothing else), then the
 * unit id, then an exception, then the byte count.
 *
 * As on a serial line there are no transaction ids: a late or duplicated
 * reply waiting on the connection is drained before the next request
 * (modbus.c, mb_rtu_drain) and counted as stale.
 *
 * The same framing reads a serial line when its bytes are traced (gwctl
 * read --trace): libmodbus's RTU backend does not show the bytes it read.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "modbus_int.h"

int64_t gw_mb_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int gw_mb_exc_errno(int c)
{
	if (c >= 1 && c < MODBUS_EXCEPTION_MAX && c != MODBUS_EXCEPTION_NOT_DEFINED)
		return MODBUS_ENOBASE + c;
	return EMBUNKEXC;
}

uint16_t gw_mb_crc16(const uint8_t *p, size_t n)
{
	uint16_t crc = 0xFFFF;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001)
					: (uint16_t)(crc >> 1);
	}
	return crc;
}

/* ------------------------------------------------------------------ */
/* Trace                                                              */

void gw_modbus_set_trace(void *handle, FILE *f)
{
	struct mb_bus *b = handle;

	if (!b)
		return;
	b->trace = f;
	b->trace_t0 = gw_mb_mono_ms();
	if (!f)
		return;
	gw_mb_trace_note(b, "bus %s: %s", b->name, b->where);
	if (b->connected) {
		/* opened before the trace began: times count from the
		 * connect, so that connect_pause_ms shows */
		b->trace_t0 = b->connected_ms;
		fprintf(f, "%9.1f # connected to %s\n", 0.0, b->where);
		fflush(f);
	}
}

void gw_mb_trace_note(struct mb_bus *b, const char *fmt, ...)
{
	va_list ap;

	if (!b->trace)
		return;
	fprintf(b->trace, "%9.1f # ", (double)(gw_mb_mono_ms() - b->trace_t0));
	va_start(ap, fmt);
	vfprintf(b->trace, fmt, ap);
	va_end(ap);
	fputc('\n', b->trace);
	fflush(b->trace);
}

void gw_mb_trace(struct mb_bus *b, char dir, const uint8_t *p, size_t n)
{
	if (!b->trace || n == 0)
		return;
	fprintf(b->trace, "%9.1f %c", (double)(gw_mb_mono_ms() - b->trace_t0), dir);
	for (size_t i = 0; i < n; i++)
		fprintf(b->trace, " %02X", p[i]);
	fputc('\n', b->trace);
	fflush(b->trace);
}

/* ------------------------------------------------------------------ */
/* RTU over TCP                                                       */

/* Sends all of p; -1 with errno on failure. */
static int send_all(int fd, const uint8_t *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = send(fd, p + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == ENOTSOCK) /* a serial line */
			w = write(fd, p + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EPIPE;
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

/* Receives up to want - *have more bytes into rsp (cap bytes), each batch
 * within wait_ms of the last. Returns 0 once *have == want, -1 with errno
 * (ETIMEDOUT when the peer fell silent, ECONNRESET when it closed). */
static int recv_upto(int fd, uint8_t *rsp, size_t *have, size_t want,
		     int64_t deadline, int byte_ms)
{
	while (*have < want) {
		int64_t now = gw_mb_mono_ms();
		int64_t wait = *have == 0 ? deadline - now : byte_ms;
		if (*have == 0 && wait <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, (int)wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -1;
		if (pr == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ssize_t r = read(fd, rsp + *have, want - *have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			return -1;
		}
		*have += (size_t)r;
	}
	return 0;
}

/* A reply that cannot be framed: what follows until the peer falls silent
 * is read (and traced) so that the next request starts clean. */
static void drain_silence(struct mb_bus *b, int fd, uint8_t *rsp, size_t have,
			  size_t cap)
{
	while (have < cap) {
		size_t before = have;
		if (recv_upto(fd, rsp, &have, cap, 0, b->byte_timeout_ms) == 0 ||
		    have == before)
			break;
	}
	gw_mb_trace(b, '<', rsp, have);
}

int gw_mb_rtu_read(struct mb_bus *b, int unit, int fc, int addr, int n,
		      uint16_t *buf)
{
	uint8_t req[8] = {(uint8_t)unit, (uint8_t)fc, (uint8_t)(addr >> 8),
			  (uint8_t)addr, (uint8_t)(n >> 8), (uint8_t)n, 0, 0};
	uint8_t rsp[MODBUS_RTU_MAX_ADU_LENGTH];
	int fd = modbus_get_socket(b->ctx);
	size_t have = 0, want = 3;

	uint16_t crc = gw_mb_crc16(req, 6);
	req[6] = (uint8_t)(crc & 0xFF);
	req[7] = (uint8_t)(crc >> 8);
	gw_mb_trace(b, '>', req, sizeof(req));
	if (send_all(fd, req, sizeof(req)))
		return -1;
	int64_t deadline = gw_mb_mono_ms() + b->timeout_ms;
	int byte_ms = b->byte_timeout_ms > 0 ? b->byte_timeout_ms : 500;
	if (recv_upto(fd, rsp, &have, want, deadline, byte_ms))
		goto partial;
	if (rsp[1] == (fc | 0x80)) {
		want = 5;
	} else if (rsp[1] == fc) {
		want = 5 + (size_t)rsp[2];
	} else {
		/* Not a reply to a read: no length to frame it by. */
		drain_silence(b, fd, rsp, have, sizeof(rsp));
		errno = EMBBADDATA;
		return -1;
	}
	if (recv_upto(fd, rsp, &have, want, deadline, byte_ms))
		goto partial;
	gw_mb_trace(b, '<', rsp, have);
	if (gw_mb_crc16(rsp, have - 2) !=
	    (uint16_t)(rsp[have - 2] | (rsp[have - 1] << 8))) {
		errno = EMBBADCRC;
		return -1;
	}
	if (rsp[0] != unit) {
		errno = EMBBADSLAVE;
		return -1;
	}
	if (rsp[1] == (fc | 0x80)) {
		b->last_exc = rsp[2];
		errno = gw_mb_exc_errno(rsp[2]);
		return -1;
	}
	if (rsp[2] != 2 * n) {
		errno = EMBMDATA;
		return -1;
	}
	for (int i = 0; i < n; i++)
		buf[i] = (uint16_t)((rsp[3 + 2 * i] << 8) | rsp[4 + 2 * i]);
	return n;

partial: {
	int e = errno;
	gw_mb_trace(b, '<', rsp, have);
	if (e == ETIMEDOUT && have)
		gw_mb_trace_note(b, "reply cut short: %zu of %zu bytes", have, want);
	errno = e;
	return -1;
}
}
