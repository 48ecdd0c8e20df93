/* SPDX-License-Identifier: MIT */
/*
 * iec_port.c - the serial side of the IEC 62056-21 driver: the port
 * (libserialport, or termios for a pseudo-terminal), its baud rate and
 * framing (7E1, or 8N1 with the parity bit made in software), writing with
 * the line's timing, receiving until a message is complete within its
 * deadlines, and the byte trace. iec62056.c has the protocol on top.
 */
#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "iec_bus.h"
#include "serial_why.h"

int64_t iec_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double iec_mono_ms_f(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The gateway's time (its clock for this read, else the system's). */
int64_t iec_bus_now(const struct iec_bus *b)
{
	struct gw_clock real;

	if (b->clock)
		return gw_clock_now_ms(b->clock);
	gw_clock_init_real(&real);
	return gw_clock_now_ms(&real);
}

/* Sleeps until monotonic time t_ms (fractional). */
void iec_sleep_until(double t_ms)
{
	struct timespec ts;

	if (t_ms <= 0)
		return;
	ts.tv_sec = (time_t)(t_ms / 1000.0);
	ts.tv_nsec = (long)((t_ms - (double)ts.tv_sec * 1000.0) * 1e6);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

double gw_iec_wire_ms(size_t n, int baud)
{
	return baud > 0 ? (double)n * 10.0 * 1000.0 / (double)baud : 0.0;
}

/* ------------------------------------------------------------------ */
/* Trace                                                              */

void gw_iec_set_trace(void *handle, FILE *f)
{
	struct iec_bus *b = handle;

	if (!b)
		return;
	b->trace = f;
	b->trace_t0 = iec_mono_ms();
}

void iec_trace_note(struct iec_bus *b, const char *fmt, ...)
{
	va_list ap;

	if (!b->trace)
		return;
	fprintf(b->trace, "%9.1f # ", iec_mono_ms_f() - (double)b->trace_t0);
	va_start(ap, fmt);
	vfprintf(b->trace, fmt, ap);
	va_end(ap);
	fputc('\n', b->trace);
	fflush(b->trace);
}

static void trace_bytes(struct iec_bus *b, const char *dir, const uint8_t *p,
			size_t n)
{
	if (!b->trace || n == 0)
		return;
	for (size_t off = 0; off < n; off += 32) {
		size_t k = n - off < 32 ? n - off : 32;
		fprintf(b->trace, "%9.1f %s ", iec_mono_ms_f() - (double)b->trace_t0, dir);
		for (size_t i = 0; i < k; i++)
			fprintf(b->trace, "%02x ", p[off + i]);
		fputs(" |", b->trace);
		for (size_t i = 0; i < k; i++) {
			uint8_t c = p[off + i];
			fputc(c >= 0x20 && c < 0x7f ? c : '.', b->trace);
		}
		fputs("|\n", b->trace);
	}
	fflush(b->trace);
}

/* ------------------------------------------------------------------ */
/* The port                                                           */

void iec_port_close(struct iec_bus *b, const char *why)
{
	if (b->fd >= 0)
		iec_trace_note(b, "port closed: %s", why);
	if (b->port) {
		sp_close(b->port);
		sp_free_port(b->port);
	} else if (b->fd >= 0) {
		close(b->fd);
	}
	b->port = NULL;
	b->fd = -1;
}

static speed_t speed_of(int baud)
{
	switch (baud) {
	case 300: return B300;
	case 600: return B600;
	case 1200: return B1200;
	case 2400: return B2400;
	case 4800: return B4800;
	case 19200: return B19200;
	default: return B9600;
	}
}

/* termios for a pseudo-terminal: raw, 7E1 or 8N1, no flow control. */
static int tty_config(int fd, int baud, bool c8n1)
{
	struct termios tio;

	if (tcgetattr(fd, &tio) != 0)
		return -1;
	cfmakeraw(&tio);
	tio.c_cflag &= ~(tcflag_t)(CSIZE | PARODD | CSTOPB | CRTSCTS);
	tio.c_cflag |= CLOCAL | CREAD | (c8n1 ? CS8 : (CS7 | PARENB));
	tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
	cfsetispeed(&tio, speed_of(baud));
	cfsetospeed(&tio, speed_of(baud));
	if (tcsetattr(fd, TCSANOW, &tio) == 0)
		return 0;
	/* A pseudo-terminal has no character framing, and recent kernels
	 * refuse CS7/PARENB on one: keep its 8 bits (bit 7 is stripped on
	 * receiving anyway). */
	tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	tio.c_cflag |= CS8;
	return tcsetattr(fd, TCSANOW, &tio);
}

int iec_port_set_baud(struct iec_bus *b, int baud)
{
	if (b->baud == baud)
		return 0;
	if (b->port ? sp_set_baudrate(b->port, baud) != SP_OK
		    : tty_config(b->fd, baud, b->cfg.iec_8n1) != 0) {
		gw_warn("bus %s: cannot set %d baud: %s", b->name, baud,
			b->port ? sp_last_error_message() : strerror(errno));
		iec_port_close(b, "baud change failed");
		return GW_ECONN;
	}
	b->baud = baud;
	iec_trace_note(b, "baud %d", baud);
	return 0;
}

/* libserialport 0.1.1 finds a port's details under /sys/class/tty by the
 * device's name and so cannot open a pseudo-terminal (/dev/pts/N): those
 * (the simulator's lines, socat) are opened with termios directly. */
static int pty_open(struct iec_bus *b)
{
	const struct gw_iec_bus_opts *c = &b->cfg;
	int fd = open(c->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0 || !isatty(fd) || tty_config(fd, c->baud, c->iec_8n1) != 0) {
		int e = fd < 0 ? errno : ENOTTY;
		char why[1024];
		if (!b->open_failed)
			gw_warn("bus %s: %s", b->name,
				gw_serial_advice(c->device, e, why, sizeof(why)));
		b->open_failed = true;
		if (fd >= 0)
			close(fd);
		return GW_ECONN;
	}
	b->fd = fd;
	return 0;
}

int iec_port_open(struct iec_bus *b)
{
	struct sp_port *p = NULL;
	const struct gw_iec_bus_opts *c = &b->cfg;

	if (b->fd >= 0)
		return 0;
	if (sp_get_port_by_name(c->device, &p) != SP_OK) {
		if (pty_open(b))
			return GW_ECONN;
		goto opened;
	}
	if (sp_open(p, SP_MODE_READ_WRITE) != SP_OK) {
		int e = sp_last_error_code();
		char why[1024];
		if (!b->open_failed)
			gw_warn("bus %s: %s", b->name,
				gw_serial_advice(c->device, e, why, sizeof(why)));
		b->open_failed = true;
		if (p)
			sp_free_port(p);
		return GW_ECONN;
	}
	int bits = c->iec_8n1 ? 8 : 7;
	enum sp_parity par = c->iec_8n1 ? SP_PARITY_NONE : SP_PARITY_EVEN;
	if (sp_set_baudrate(p, c->baud) != SP_OK || sp_set_bits(p, bits) != SP_OK ||
	    sp_set_parity(p, par) != SP_OK || sp_set_stopbits(p, 1) != SP_OK ||
	    sp_set_flowcontrol(p, SP_FLOWCONTROL_NONE) != SP_OK ||
	    sp_get_port_handle(p, &b->fd) != SP_OK) {
		if (!b->open_failed)
			gw_warn("bus %s: cannot configure %s: %s", b->name,
				c->device, sp_last_error_message());
		b->open_failed = true;
		sp_close(p);
		sp_free_port(p);
		b->fd = -1;
		return GW_ECONN;
	}
	/* Every wait is a poll() with a deadline: never block in read(). */
	int fl = fcntl(b->fd, F_GETFL);
	if (fl < 0 || fcntl(b->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		sp_close(p);
		sp_free_port(p);
		b->fd = -1;
		return GW_ECONN;
	}
	b->port = p;
opened:
	if (b->open_failed)
		gw_info("bus %s: %s open again", b->name, c->device);
	b->open_failed = false;
	b->baud = c->baud;
	iec_trace_note(b, "port %s open, %d baud %s", c->device, c->baud,
		   c->iec_8n1 ? "8N1 (parity in software)" : "7E1");
	return 0;
}

/* Even parity in bit 7, for 7E1 characters over an 8N1 port. */
static uint8_t with_parity(uint8_t c)
{
	uint8_t x = c & 0x7f, p = 0;

	for (uint8_t v = x; v; v >>= 1)
		p ^= v & 1;
	return (uint8_t)(x | (p << 7));
}

/* Writes p[0..n) and returns once it is on the wire (its length at the
 * current baud after the write started): the baud may change after that.
 * A write the port does not take in time means a wedged port. */
int iec_port_write(struct iec_bus *b, const uint8_t *p, size_t n)
{
	uint8_t buf[128];
	size_t done = 0;
	double t0 = iec_mono_ms_f();
	double wire = gw_iec_wire_ms(n, b->baud);
	int64_t deadline = iec_mono_ms() + (int64_t)wire + 1000;

	if (n > sizeof(buf))
		return GW_EINVAL;
	for (size_t i = 0; i < n; i++)
		buf[i] = b->cfg.iec_8n1 ? with_parity(p[i]) : p[i];
	trace_bytes(b, ">", p, n);
	while (done < n) {
		ssize_t w = write(b->fd, buf + done, n - done);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			gw_warn("bus %s: write to %s: %s", b->name, b->cfg.device,
				strerror(errno));
			iec_port_close(b, "write error");
			return GW_ECONN;
		}
		int left = (int)(deadline - iec_mono_ms());
		struct pollfd pf = {.fd = b->fd, .events = POLLOUT};
		if (left <= 0 || poll(&pf, 1, left) == 0) {
			gw_warn("bus %s: %s takes no data: port wedged", b->name,
				b->cfg.device);
			iec_port_close(b, "write timed out");
			return GW_ECONN;
		}
		if (pf.revents & (POLLERR | POLLHUP | POLLNVAL)) {
			iec_port_close(b, "hang-up on write");
			return GW_ECONN;
		}
	}
	iec_sleep_until(t0 + wire);
	return 0;
}

/* Drops whatever waits in the input buffer. */
void iec_port_discard(struct iec_bus *b)
{
	uint8_t tmp[256];
	ssize_t r;

	while ((r = read(b->fd, tmp, sizeof(tmp))) > 0)
		trace_bytes(b, "< (dropped)", tmp, (size_t)r);
}

/* Complete? RX_IDENT: an identification line (after any echo/garbage);
 * RX_BLOCK: STX ... ETX BCC; RX_PUSH: "/..." through "!" LF, or an STX
 * block after the identification; RX_REPLY (programming mode, in
 * b->rx[from..), after the echo of what was sent): a NAK or ACK, or a
 * message ending in ETX BCC (SOH P0 STX (...) ETX BCC, STX data ETX BCC,
 * SOH B0 ETX BCC). */
static bool rx_complete(struct iec_bus *b, enum rx_goal goal, size_t from)
{
	const uint8_t *p = b->rx;
	size_t n = b->rx_len;

	switch (goal) {
	case RX_REPLY: {
		for (size_t i = from; i < n; i++) {
			if (p[i] == GW_IEC_NAK || p[i] == GW_IEC_ACK)
				return true;
			if (p[i] == GW_IEC_STX || p[i] == GW_IEC_SOH) {
				const uint8_t *etx = memchr(p + i, GW_IEC_ETX, n - i);
				return etx && (size_t)(etx - p) + 1 < n;
			}
		}
		return false;
	}
	case RX_IDENT:
		return gw_iec_parse(p, n, 0, b->tg) == 0 && b->tg->has_ident;
	case RX_BLOCK: {
		const uint8_t *stx = memchr(p, GW_IEC_STX, n);
		if (!stx)
			return false;
		const uint8_t *etx = memchr(stx, GW_IEC_ETX, n - (size_t)(stx - p));
		return etx && (size_t)(etx - p) + 1 < n;
	}
	case RX_PUSH: {
		const uint8_t *s = memchr(p, '/', n);
		if (!s)
			return false;
		size_t off = (size_t)(s - p);
		const uint8_t *stx = memchr(s, GW_IEC_STX, n - off);
		if (stx) {
			const uint8_t *etx = memchr(stx, GW_IEC_ETX,
						    n - (size_t)(stx - p));
			return etx && (size_t)(etx - p) + 1 < n;
		}
		const uint8_t *bang = memchr(s, '!', n - off);
		return bang && memchr(bang, '\n', n - (size_t)(bang - p)) != NULL;
	}
	}
	return false;
}

/* Receives into b->rx (appending) until the goal is complete. The first
 * byte must come within first_ms, each next within gap_ms. An echo of what
 * was just sent (echo[0..echo_len), half-duplex lines) is no answer: it
 * neither starts the gap timer nor counts as a byte. Returns 0,
 * GW_ETIMEDOUT (no byte at all), GW_EPROTO (bytes, but the goal is not
 * complete: cut short or garbage), GW_EFULL or GW_ECONN (port closed). */
int iec_rx_until(struct iec_bus *b, enum rx_goal goal, int first_ms,
		    int gap_ms, const uint8_t *echo, size_t echo_len)
{
	int64_t start = iec_mono_ms();
	size_t base = b->rx_len;
	/* A readout as long as the buffer takes this long on the wire. */
	int64_t most = (int64_t)(2 * gw_iec_wire_ms(RX_CAP, b->baud));
	int64_t hard = start + first_ms + (most > READOUT_MAX_MS ? most : READOUT_MAX_MS);
	int64_t next = start + first_ms;
	size_t got = 0;
	uint8_t tmp[512];

	for (;;) {
		/* RX_REPLY looks past the echo of what was sent */
		size_t in = b->rx_len - base, from = base;
		if (echo_len && in && memcmp(b->rx + base, echo,
					     in < echo_len ? in : echo_len) == 0)
			from = base + (in < echo_len ? in : echo_len);
		if (rx_complete(b, goal, from))
			return 0;
		int64_t now = iec_mono_ms();
		int64_t until = next < hard ? next : hard;
		if (now >= until) {
			if (goal == RX_PUSH && got) {
				/* "!" with nothing after it ends a push. */
				const uint8_t *s = memchr(b->rx, '/', b->rx_len);
				if (s && memchr(s, '!', b->rx_len - (size_t)(s - b->rx)))
					return 0;
			}
			return got ? GW_EPROTO : GW_ETIMEDOUT;
		}
		struct pollfd pf = {.fd = b->fd, .events = POLLIN};
		int pr = poll(&pf, 1, (int)(until - now));
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			iec_port_close(b, "poll failed");
			return GW_ECONN;
		}
		if (pr == 0)
			continue;
		if (pf.revents & POLLIN) {
			ssize_t r = read(b->fd, tmp, sizeof(tmp));
			if (r > 0) {
				for (ssize_t i = 0; i < r; i++)
					tmp[i] &= 0x7f; /* parity bit / 7-bit chars */
				trace_bytes(b, "<", tmp, (size_t)r);
				if (b->rx_len + (size_t)r > RX_CAP)
					return GW_EFULL;
				memcpy(b->rx + b->rx_len, tmp, (size_t)r);
				b->rx_len += (size_t)r;
				size_t fresh = b->rx_len - base;
				if (fresh <= echo_len &&
				    memcmp(b->rx + base, echo, fresh) == 0)
					continue; /* only our own echo so far */
				if (!got)
					b->rx_first_ms = iec_bus_now(b);
				got = fresh;
				next = iec_mono_ms() + gap_ms;
				continue;
			}
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
		}
		/* POLLHUP, POLLERR, POLLNVAL, EOF or a read error: gone. */
		gw_warn("bus %s: %s hung up or failed", b->name, b->cfg.device);
		iec_port_close(b, "hang-up or read error");
		return GW_ECONN;
	}
}

