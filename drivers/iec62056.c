/* SPDX-License-Identifier: MIT */
/*
 * iec62056.c - the IEC 62056-21 driver (optical heads and RS-485 lines),
 * built on libserialport 0.1.1 for opening and configuring the port and on
 * poll() for every wait, so that no call blocks longer than its deadline.
 *
 * Mode C readout, per meter:
 *
 *   gateway                                   meter
 *   "/?ADDR!\r\n"  at the initial baud  --->
 *                                       <---  "/XXXZ\W...ident\r\n"  (after tr)
 *   (wait tr) ACK '0' Z '0' "\r\n"      --->
 *   (switch to Z once the ACK is out)         (switches, waits tr)
 *                                       <---  STX data ... "!\r\n" ETX BCC
 *
 * tr, the reaction time, is at least 200 ms (20 ms when the third letter of
 * the manufacturer is lowercase); the gateway keeps it too before each
 * message it sends, and waits for each message it sends to be on the wire
 * (its length at the line rate) before switching the baud rate. With mode
 * = fixed the ACK names the current baud and nothing switches; a meter
 * that identifies in mode A sends its data without an ACK, one in mode B
 * switches without one. With mode = d the bus only listens: a meter pushes
 * "/ident ... !" telegrams and a read takes the next complete one.
 *
 * An echo of what the gateway sent (optical heads, half-duplex RS-485) is
 * skipped: the parser skips "/?...!" before the identification, and
 * anything before STX (the echoed ACK) is dropped. With framing = 8N1 the
 * parity bit is made in software on sending and stripped on receiving, so
 * that an 8N1 converter carries 7E1 characters unchanged.
 *
 * A port that reports an error or hang-up, vanishes, or takes a write it
 * cannot pass on in time is closed; the next read opens it again. After
 * three reads in a row that got no byte at all the port is reopened too
 * (USB converters wedge). No read takes longer than its deadlines: the
 * first byte within timeout_ms, each next within byte_timeout_ms, the whole
 * readout within timeout_ms + 5 minutes.
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

#include "driver.h"
#include "iec62056.h"
#include "iec_parse.h"

#define RX_CAP 65536           /* largest telegram kept */
#define READOUT_MAX_MS 300000  /* a readout is abandoned after this */
#define MAX_READINGS_PER_METER 1024
#define WEDGED_AFTER 3         /* reads in a row without a byte */

struct meter_state {
	char id[GW_ID_MAX];
	int last_rc;
};

struct iec_bus {
	struct gw_bus_config cfg;
	struct sp_port *port;   /* NULL for a pseudo-terminal (see port_open) */
	int fd;                 /* -1 while closed */
	int baud;               /* current speed of the port */
	bool open_failed;       /* the last open failed (logged once) */
	int silent_reads;       /* reads in a row that got no byte */
	int64_t quiet_until;    /* monotonic ms: no sign-on before this */
	struct gw_iec_telegram *tg;
	uint8_t *rx;
	size_t rx_len;
	FILE *trace;
	int64_t trace_t0;
	struct meter_state *ms;
	size_t n_ms, cap_ms;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_ms_f(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Sleeps until monotonic time t_ms (fractional). */
static void sleep_until(double t_ms)
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
	b->trace_t0 = mono_ms();
}

static void trace_note(struct iec_bus *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void trace_note(struct iec_bus *b, const char *fmt, ...)
{
	va_list ap;

	if (!b->trace)
		return;
	fprintf(b->trace, "%9.1f # ", mono_ms_f() - (double)b->trace_t0);
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
		fprintf(b->trace, "%9.1f %s ", mono_ms_f() - (double)b->trace_t0, dir);
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

static void port_close(struct iec_bus *b, const char *why)
{
	if (b->fd >= 0)
		trace_note(b, "port closed: %s", why);
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

static int port_set_baud(struct iec_bus *b, int baud)
{
	if (b->baud == baud)
		return 0;
	if (b->port ? sp_set_baudrate(b->port, baud) != SP_OK
		    : tty_config(b->fd, baud, b->cfg.iec_8n1) != 0) {
		gw_warn("bus %s: cannot set %d baud: %s", b->cfg.name, baud,
			b->port ? sp_last_error_message() : strerror(errno));
		port_close(b, "baud change failed");
		return GW_ECONN;
	}
	b->baud = baud;
	trace_note(b, "baud %d", baud);
	return 0;
}

/* libserialport 0.1.1 finds a port's details under /sys/class/tty by the
 * device's name and so cannot open a pseudo-terminal (/dev/pts/N): those
 * (the simulator's lines, socat) are opened with termios directly. */
static int pty_open(struct iec_bus *b)
{
	const struct gw_bus_config *c = &b->cfg;
	int fd = open(c->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0 || !isatty(fd) || tty_config(fd, c->baud, c->iec_8n1) != 0) {
		if (!b->open_failed)
			gw_warn("bus %s: cannot open %s: %s", c->name, c->device,
				fd < 0 ? strerror(errno) : "not a terminal");
		b->open_failed = true;
		if (fd >= 0)
			close(fd);
		return GW_ECONN;
	}
	b->fd = fd;
	return 0;
}

static int port_open(struct iec_bus *b)
{
	struct sp_port *p = NULL;
	const struct gw_bus_config *c = &b->cfg;

	if (b->fd >= 0)
		return 0;
	if (sp_get_port_by_name(c->device, &p) != SP_OK) {
		if (pty_open(b))
			return GW_ECONN;
		goto opened;
	}
	if (sp_open(p, SP_MODE_READ_WRITE) != SP_OK) {
		if (!b->open_failed)
			gw_warn("bus %s: cannot open %s: %s", c->name, c->device,
				sp_last_error_message());
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
			gw_warn("bus %s: cannot configure %s: %s", c->name,
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
		gw_info("bus %s: %s open again", c->name, c->device);
	b->open_failed = false;
	b->baud = c->baud;
	trace_note(b, "port %s open, %d baud %s", c->device, c->baud,
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
static int port_write(struct iec_bus *b, const uint8_t *p, size_t n)
{
	uint8_t buf[128];
	size_t done = 0;
	double t0 = mono_ms_f();
	double wire = gw_iec_wire_ms(n, b->baud);
	int64_t deadline = mono_ms() + (int64_t)wire + 1000;

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
			gw_warn("bus %s: write to %s: %s", b->cfg.name, b->cfg.device,
				strerror(errno));
			port_close(b, "write error");
			return GW_ECONN;
		}
		int left = (int)(deadline - mono_ms());
		struct pollfd pf = {.fd = b->fd, .events = POLLOUT};
		if (left <= 0 || poll(&pf, 1, left) == 0) {
			gw_warn("bus %s: %s takes no data: port wedged", b->cfg.name,
				b->cfg.device);
			port_close(b, "write timed out");
			return GW_ECONN;
		}
		if (pf.revents & (POLLERR | POLLHUP | POLLNVAL)) {
			port_close(b, "hang-up on write");
			return GW_ECONN;
		}
	}
	sleep_until(t0 + wire);
	return 0;
}

/* Drops whatever waits in the input buffer. */
static void port_discard(struct iec_bus *b)
{
	uint8_t tmp[256];
	ssize_t r;

	while ((r = read(b->fd, tmp, sizeof(tmp))) > 0)
		trace_bytes(b, "< (dropped)", tmp, (size_t)r);
}

/* What a reception waits for. */
enum rx_goal { RX_IDENT, RX_BLOCK, RX_PUSH };

/* Complete? RX_IDENT: an identification line (after any echo/garbage);
 * RX_BLOCK: STX ... ETX BCC; RX_PUSH: "/..." through "!" LF, or an STX
 * block after the identification. */
static bool rx_complete(struct iec_bus *b, enum rx_goal goal)
{
	const uint8_t *p = b->rx;
	size_t n = b->rx_len;

	switch (goal) {
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
static int rx_until(struct iec_bus *b, enum rx_goal goal, int first_ms,
		    int gap_ms, const uint8_t *echo, size_t echo_len)
{
	int64_t start = mono_ms();
	size_t base = b->rx_len;
	int64_t hard = start + first_ms + READOUT_MAX_MS;
	int64_t next = start + first_ms;
	size_t got = 0;
	uint8_t tmp[512];

	for (;;) {
		if (rx_complete(b, goal))
			return 0;
		int64_t now = mono_ms();
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
			port_close(b, "poll failed");
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
				got = fresh;
				next = mono_ms() + gap_ms;
				continue;
			}
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
		}
		/* POLLHUP, POLLERR, POLLNVAL, EOF or a read error: gone. */
		gw_warn("bus %s: %s hung up or failed", b->cfg.name, b->cfg.device);
		port_close(b, "hang-up or read error");
		return GW_ECONN;
	}
}

/* ------------------------------------------------------------------ */
/* Driver operations                                                  */

static int iec_open(const struct gw_bus_config *bus, void **handle)
{
	struct iec_bus *b;

	*handle = NULL;
	if (bus->type != GW_BUS_IEC62056)
		return GW_EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return GW_ENOMEM;
	b->cfg = *bus;
	b->fd = -1;
	b->tg = malloc(sizeof(*b->tg));
	b->rx = malloc(RX_CAP);
	if (!b->tg || !b->rx) {
		free(b->tg);
		free(b->rx);
		free(b);
		return GW_ENOMEM;
	}
	int rc = port_open(b);
	if (rc) {
		free(b->tg);
		free(b->rx);
		free(b);
		return rc;
	}
	*handle = b;
	return 0;
}

static void iec_close(void *handle)
{
	struct iec_bus *b = handle;

	if (!b)
		return;
	port_close(b, "bus closed");
	free(b->tg);
	free(b->rx);
	free(b->ms);
	free(b);
}

static void count(struct gw_read_stats *st, int rc)
{
	if (!st)
		return;
	switch (rc) {
	case GW_ETIMEDOUT: st->timeouts++; break;
	case GW_ECRC: st->crc_errors++; break;
	case GW_EPROTO:
	case GW_EFULL: st->malformed++; break;
	default: break;
	}
}

/* Parses the telegram in b->rx[from..) and turns it into readings. */
static int take_telegram(struct iec_bus *b, const struct gw_meter_config *m,
			 size_t from, unsigned pflags, struct gw_reading *out,
			 size_t cap, struct gw_read_stats *st)
{
	struct gw_iec_telegram *t = b->tg;
	int rc = gw_iec_parse(b->rx + from, b->rx_len - from, pflags, t);

	if (rc) {
		gw_debug("meter %s: telegram rejected: %s (byte %zu)", m->id,
			 gw_iec_reason_name(t->reason), t->error_at);
		trace_note(b, "rejected: %s at byte %zu", gw_iec_reason_name(t->reason),
			   t->error_at);
		return rc;
	}
	unsigned rflags = GW_IEC_PROFILE | (b->cfg.iec_billing ? GW_IEC_BILLING : 0);
	int n = gw_iec_readings(t, m->id, rflags, out, cap);
	if (n < 0)
		return n;
	if (st && t->clock.has_date && t->clock.has_time) {
		int64_t ms;
		if (gw_iec_local_to_utc(t->clock.year, t->clock.month, t->clock.day,
					t->clock.hour, t->clock.min, t->clock.sec, -1,
					&ms) == 0)
			st->meter_clock_ms = ms;
	}
	if (st)
		gw_iec_serial(t, st->meter_serial, sizeof(st->meter_serial));
	trace_note(b, "accepted: %zu data sets, %d readings%s", t->n_sets, n,
		   t->bcc_checked ? ", BCC ok" : "");
	return n;
}

/* One mode C (or fixed, A, B) session with meter m. */
static int read_mode_c(struct iec_bus *b, const struct gw_meter_config *m,
		       struct gw_reading *out, size_t cap,
		       struct gw_read_stats *st)
{
	const struct gw_bus_config *c = &b->cfg;
	uint8_t msg[64];
	int rc;

	rc = port_set_baud(b, c->baud);
	if (rc)
		return rc;
	sleep_until((double)b->quiet_until);
	port_discard(b);
	int len = snprintf((char *)msg, sizeof(msg), "/?%s!\r\n", m->address);
	if (st)
		st->requests++;
	rc = port_write(b, msg, (size_t)len);
	if (rc)
		return rc;

	b->rx_len = 0;
	rc = rx_until(b, RX_IDENT, c->timeout_ms, c->byte_timeout_ms, msg,
		      (size_t)len);
	if (rc)
		return rc;
	struct gw_iec_ident id = b->tg->ident;
	double t_ident = mono_ms_f();
	int tr = id.fast ? GW_IEC_TR_FAST_MS : GW_IEC_TR_MS;
	int new_baud = c->baud;

	len = 0; /* the echo to expect next: the ACK, if one is sent */
	if (id.mode == 'C') {
		char z = gw_iec_baud_char(c->baud);
		if (c->iec_mode == GW_IEC_MODE_C && id.baud > 0) {
			new_baud = id.baud < c->max_baud ? id.baud : c->max_baud;
			z = gw_iec_baud_char(new_baud);
		}
		if (!z) {
			new_baud = c->baud;
			z = '0';
		}
		/* Option select: protocol '0' (normal), baud Z, mode '0'
		 * (data readout). */
		uint8_t ack[6] = {GW_IEC_ACK, '0', (uint8_t)z, '0', '\r', '\n'};
		sleep_until(t_ident + tr);
		rc = port_write(b, ack, sizeof(ack));
		if (rc)
			return rc;
		memcpy(msg, ack, sizeof(ack));
		len = (int)sizeof(ack);
	} else if (id.mode == 'B' && id.baud > 0 && c->iec_mode == GW_IEC_MODE_C) {
		new_baud = id.baud; /* the meter switches without an ACK */
	}
	rc = port_set_baud(b, new_baud);
	if (rc)
		return rc;
	rc = rx_until(b, RX_BLOCK, c->timeout_ms, c->byte_timeout_ms, msg,
		      (size_t)len);
	b->quiet_until = mono_ms() + tr;
	if (rc)
		return rc;
	/* The block starts at STX (a mode A meter may have sent it right
	 * after its identification); before it: the sign-on's echo, the
	 * identification, the ACK's echo (none of which holds an STX). */
	const uint8_t *stx = memchr(b->rx, GW_IEC_STX, b->rx_len);
	return take_telegram(b, m, (size_t)(stx - b->rx), GW_IEC_NEED_BCC, out,
			     cap, st);
}

/* Mode D: waits for the next complete push telegram. */
static int read_mode_d(struct iec_bus *b, const struct gw_meter_config *m,
		       struct gw_reading *out, size_t cap,
		       struct gw_read_stats *st)
{
	const struct gw_bus_config *c = &b->cfg;

	if (st)
		st->requests++;
	port_discard(b); /* a telegram half gone by is of no use */
	b->rx_len = 0;
	int rc = rx_until(b, RX_PUSH, c->timeout_ms, c->byte_timeout_ms, NULL, 0);
	if (rc)
		return rc;
	const uint8_t *s = memchr(b->rx, '/', b->rx_len);
	return take_telegram(b, m, (size_t)(s - b->rx), GW_IEC_NEED_END, out, cap,
			     st);
}

static int *last_rc(struct iec_bus *b, const char *id)
{
	for (size_t i = 0; i < b->n_ms; i++)
		if (strcmp(b->ms[i].id, id) == 0)
			return &b->ms[i].last_rc;
	if (b->n_ms == b->cap_ms) {
		size_t ncap = b->cap_ms ? b->cap_ms * 2 : 8;
		struct meter_state *n = realloc(b->ms, ncap * sizeof(*n));
		if (!n)
			return NULL;
		b->ms = n;
		b->cap_ms = ncap;
	}
	memset(&b->ms[b->n_ms], 0, sizeof(b->ms[0]));
	gw_strlcpy(b->ms[b->n_ms].id, id, sizeof(b->ms[0].id));
	return &b->ms[b->n_ms++].last_rc;
}

static int iec_read(void *handle, const struct gw_meter_config *meter,
		    struct gw_reading *out, size_t cap,
		    struct gw_read_stats *stats)
{
	struct iec_bus *b = handle;
	int rc;

	if (!b || !meter || !out)
		return GW_EINVAL;
	if (stats) {
		stats->meter_clock_ms = 0;
		stats->meter_serial[0] = '\0';
	}
	rc = port_open(b);
	if (rc == 0) {
		if (b->cfg.iec_mode == GW_IEC_MODE_D)
			rc = read_mode_d(b, meter, out, cap, stats);
		else
			rc = read_mode_c(b, meter, out, cap, stats);
		count(stats, rc);
		if (rc == GW_ETIMEDOUT && b->rx_len == 0) {
			if (++b->silent_reads >= WEDGED_AFTER && b->fd >= 0) {
				gw_info("bus %s: %d reads without a byte: reopening %s",
					b->cfg.name, b->silent_reads, b->cfg.device);
				port_close(b, "silent: reopening");
				b->silent_reads = 0;
			}
		} else {
			b->silent_reads = 0;
		}
	}
	int *last = last_rc(b, meter->id);
	if (last) {
		if (rc < 0 && *last != rc)
			gw_warn("meter %s (address '%s' on bus %s): read failed: %s",
				meter->id, meter->address, b->cfg.name,
				gw_strerror(rc));
		else if (rc >= 0 && *last)
			gw_info("meter %s (address '%s' on bus %s): answers again",
				meter->id, meter->address, b->cfg.name);
		*last = rc < 0 ? rc : 0;
	}
	return rc;
}

const struct gw_driver_ops gw_iec62056_driver = {
	.name = "iec62056-21",
	.open = iec_open,
	.read = iec_read,
	.close = iec_close,
};
