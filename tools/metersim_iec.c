/* SPDX-License-Identifier: MIT */
/*
 * metersim_iec.c - simulated IEC 62056-21 meters on one serial line or
 * pseudo-terminal (metersim --iec DEVICE): several addressed meters on one
 * RS-485 line, mode C with the baud switch, fixed-baud lines, mode D push
 * telegrams, a sign-on echo, 7E1 characters through an 8N1 converter, and
 * faults that can be switched on while it runs (no answer, garbage, wrong
 * BCC, wrong baud, block cut short, meter replaced).
 *
 * A pseudo-terminal passes bytes at once whatever its baud, so with --pace
 * the simulator sends each character in its slot at the line rate and
 * takes a received message as complete only when it would have arrived on
 * a real line; the reaction time tr (200 ms, 20 ms for a lowercase
 * manufacturer letter) is kept before every answer. That makes exchange
 * times on a pty what they would be on a wire (tests/bench/iec_readout.sh).
 *
 * The registers follow the simulated clock (docs/simulated-time.md), in
 * closed form: meter u (1-based position in the address list) imports
 * P_u = 200 + 50 u W from 06:00 to 22:00 local time, and meters with
 * u % 3 == 0 export 500 u W from 10:00 to 14:00; 1.8.0 = 1000000 u Wh at
 * the clock start (T_ref) plus that energy. docs/metersim.md describes
 * every option.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "gw.h"
#include "iec62056.h"
#include "iec_parse.h"
#include "metersim_iec.h"
#include "tz.h"

#define MAX_METERS 64
#define HOUR_MS 3600000LL

enum fault { F_NONE, F_SILENT, F_GARBAGE, F_BCC, F_BAUD, F_CUT, F_REPLACED,
	     F_LP_REFUSE, F_LP_BCC, F_LP_CUT };

static const char *const fault_names[] = {"none", "silent", "garbage",
					  "bcc", "baud", "cut", "replaced",
					  "lp-refuse", "lp-bcc", "lp-cut"};
#define N_FAULTS (sizeof(fault_names) / sizeof(fault_names[0]))

/* A replacement meter's registers: 1.8.0 starts at this many Wh (a
 * refurbished meter), 2.8.0 at 0. */
#define REPLACEMENT_IMPORT_WH 12345

struct isim {
	int fd;
	int n;                          /* meters */
	char addr[MAX_METERS][GW_IEC_ADDR_MAX];
	int baud, max_baud, cur_baud;
	bool fixed, push, echo, parity_bit, pace, load_profile;
	bool profile_registers;         /* 1.8.0 and 2.8.0 in the profile too */
	int profile_hours;              /* of profile in each readout */
	int reaction_ms;
	int push_ms;
	int block_bytes;                /* pad data blocks to about this size */
	int64_t clock_offset_ms;        /* meter clock minus true time */
	int64_t replaced_at[MAX_METERS]; /* simulated time of the swap, 0: none */
	const char *faults_file;
	char manufacturer[4];
	struct gw_clock clock;
	int64_t t_ref;
	unsigned rnd;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sleep_until(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(t / 1000.0);
	ts.tv_nsec = (long)((t - (double)ts.tv_sec * 1000.0) * 1e6);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
	       !stop_flag)
		;
}

/* ------------------------------------------------------------------ */
/* The meter model                                                    */

/* W*ms that a power of w W drawn from local hh0 to hh1 each day adds
 * between T_ref and t. */
static int64_t window_wms(const struct isim *s, int64_t t, int hh0, int hh1,
			  int64_t w)
{
	int64_t sum = 0;

	if (t <= s->t_ref || w == 0)
		return 0;
	for (int32_t d = gw_tz_day_of(s->t_ref); d <= gw_tz_day_of(t); d++) {
		int y, m, dd;
		int64_t a, b;
		gw_day_to_ymd(d, &y, &m, &dd);
		if (gw_iec_local_to_utc(y, m, dd, hh0, 0, 0, -1, &a) ||
		    gw_iec_local_to_utc(y, m, dd, hh1, 0, 0, -1, &b))
			continue;
		if (a < s->t_ref)
			a = s->t_ref;
		if (b > t)
			b = t;
		if (b > a)
			sum += (b - a) * w;
	}
	return sum;
}

static int64_t import_wh(const struct isim *s, int u, int64_t t)
{
	return 1000000LL * u + window_wms(s, t, 6, 22, 200 + 50 * u) / HOUR_MS;
}

static int64_t export_wh(const struct isim *s, int u, int64_t t)
{
	return u % 3 == 0 ? window_wms(s, t, 10, 14, 500LL * u) / HOUR_MS : 0;
}

static int64_t power_w(const struct isim *s, int u, int64_t t)
{
	time_t secs = (time_t)(t / 1000);
	struct tm tm;
	int64_t p = 0;

	(void)s;
	localtime_r(&secs, &tm);
	if (tm.tm_hour >= 6 && tm.tm_hour < 22)
		p += 200 + 50 * u;
	if (u % 3 == 0 && tm.tm_hour >= 10 && tm.tm_hour < 14)
		p -= 500LL * u;
	return p;
}

/* Appends printf output to buf (capacity cap, length *len). */
static void addf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void addf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;

	if (*len >= cap)
		return;
	va_start(ap, fmt);
	int w = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (w > 0)
		*len += (size_t)w < cap - *len ? (size_t)w : cap - *len - 1;
}

static void kwh(char *out, size_t cap, int64_t wh)
{
	snprintf(out, cap, "%07" PRId64 ".%03" PRId64, wh / 1000, wh % 1000);
}

#define PROFILE_STEP_MS 900000LL /* the meters' profile interval: 15 min */

/* The meter's load profile (P.01) from meter time a to b: one header,
 * then a row per quarter hour whose end (on the meter's clock, which runs
 * clock_offset_ms ahead) lies in [a, b], at most at its clock's now and
 * at least 40 days before. Channels 1.5.0 and 2.5.0, the
 * average import and export power of the interval in kW (exact: the
 * registers count whole Wh), and with --profile-registers 1.8.0 and 2.8.0
 * at the interval's end. Consistent with the registers by construction. */
static size_t profile_lines(struct isim *s, int u, int64_t a, int64_t b,
			    int64_t t, char *buf, size_t cap)
{
	size_t len = 0;
	int m = u + 1;
	int64_t off = s->clock_offset_ms, mnow = t + off;
	int64_t e = (a + PROFILE_STEP_MS - 1) / PROFILE_STEP_MS * PROFILE_STEP_MS;
	/* it keeps 40 days (before T_ref: nothing flowed) */
	int64_t first_ok = t - 40 * 86400000LL + off;

	if (e < first_ok)
		e = (first_ok + PROFILE_STEP_MS - 1) / PROFILE_STEP_MS * PROFILE_STEP_MS;
	if (b > mnow)
		b = mnow;
	if (e > b)
		return 0;
	time_t hs = (time_t)(e / 1000);
	struct tm ht;
	localtime_r(&hs, &ht);
	addf(buf, cap, &len, "P.01(%d%02d%02d%02d%02d%02d00)(00000000)(15)(%d)"
	     "(1.5.0)(kW)(2.5.0)(kW)%s\r\n", ht.tm_isdst > 0 ? 1 : 0,
	     ht.tm_year % 100, ht.tm_mon + 1, ht.tm_mday, ht.tm_hour, ht.tm_min,
	     s->profile_registers ? 4 : 2,
	     s->profile_registers ? "(1.8.0)(kWh)(2.8.0)(kWh)" : "");
	for (; e <= b && len + 80 < cap; e += PROFILE_STEP_MS) {
		int64_t t1 = e - off, t0 = t1 - PROFILE_STEP_MS;
		int64_t wi = (import_wh(s, m, t1) - import_wh(s, m, t0)) * 4;
		int64_t we = (export_wh(s, m, t1) - export_wh(s, m, t0)) * 4;
		addf(buf, cap, &len, "(%03" PRId64 ".%03" PRId64 ")(%03" PRId64 ".%03" PRId64 ")",
		     wi / 1000, wi % 1000, we / 1000, we % 1000);
		if (s->profile_registers) {
			char v1[32], v2[32];
			kwh(v1, sizeof(v1), import_wh(s, m, t1));
			kwh(v2, sizeof(v2), export_wh(s, m, t1));
			addf(buf, cap, &len, "(%s)(%s)", v1, v2);
		}
		addf(buf, cap, &len, "\r\n");
	}
	return len;
}

/* The data lines of meter u (index) at simulated time t, through "!\r\n". */
static size_t data_lines(struct isim *s, int u, int64_t t, char *buf, size_t cap)
{
	size_t len = 0;
	char v[32];
	int m = u + 1;
	int64_t mt = t + s->clock_offset_ms;
	time_t secs = (time_t)(mt / 1000);
	struct tm tm;

	localtime_r(&secs, &tm);
	addf(buf, cap, &len, "F.F(00000000)\r\n0.0.0(%s)\r\n", s->addr[u]);
	/* the serial number: a replacement meter has another one */
	int64_t swap = s->replaced_at[u];
	addf(buf, cap, &len, "C.1.0(SIM-%s%s)\r\n", s->addr[u], swap ? "-R" : "");
	addf(buf, cap, &len, "1-0:0.9.1*255(%02d%02d%02d)\r\n", tm.tm_hour,
	     tm.tm_min, tm.tm_sec);
	addf(buf, cap, &len, "1-0:0.9.2*255(0%02d%02d%02d)\r\n", tm.tm_year % 100,
	     tm.tm_mon + 1, tm.tm_mday);
	kwh(v, sizeof(v), swap ? REPLACEMENT_IMPORT_WH + import_wh(s, m, t) -
					 import_wh(s, m, swap)
			       : import_wh(s, m, t));
	addf(buf, cap, &len, "1-0:1.8.0*255(%s*kWh)\r\n", v);
	kwh(v, sizeof(v), swap ? export_wh(s, m, t) - export_wh(s, m, swap)
			       : export_wh(s, m, t));
	addf(buf, cap, &len, "1-0:2.8.0*255(%s*kWh)\r\n", v);
	int64_t p = power_w(s, m, t);
	addf(buf, cap, &len, "1-0:16.7.0*255(%s%06.3f*kW)\r\n", p < 0 ? "-" : "",
	     (double)(p < 0 ? -p : p) / 1000.0);
	addf(buf, cap, &len, "1-0:32.7.0*255(%03d.%d*V)\r\n", 230 + m / 10, m % 10);
	addf(buf, cap, &len, "1-0:14.7.0*255(50.00*Hz)\r\n");
	if (s->load_profile) /* the last quarter hours */
		len += profile_lines(s, u, mt - s->profile_hours * 4 * PROFILE_STEP_MS + 1,
				     mt, t, buf + len, cap - len);
	/* Padding to the requested size: service data sets, no readings. */
	for (int k = 0; len + 40 < (size_t)s->block_bytes && k < 100000; k++)
		addf(buf, cap, &len, "C.90.%d(%08d)\r\n", k, k * 7 % 100000000);
	addf(buf, cap, &len, "!\r\n");
	return len;
}

/* ------------------------------------------------------------------ */
/* The line                                                           */

static void set_baud(struct isim *s, int baud)
{
	struct termios tio;
	speed_t sp;

	switch (baud) {
	case 300: sp = B300; break;
	case 600: sp = B600; break;
	case 1200: sp = B1200; break;
	case 2400: sp = B2400; break;
	case 4800: sp = B4800; break;
	case 19200: sp = B19200; break;
	default: sp = B9600; break;
	}
	if (tcgetattr(s->fd, &tio) == 0) {
		cfsetispeed(&tio, sp);
		cfsetospeed(&tio, sp);
		tcsetattr(s->fd, TCSANOW, &tio);
	}
	s->cur_baud = baud;
}

static uint8_t parity_of(uint8_t c)
{
	uint8_t x = c & 0x7f, p = 0;

	for (uint8_t v = x; v; v >>= 1)
		p ^= v & 1;
	return (uint8_t)(x | (p << 7));
}

/* Sends p[0..n) at the current baud: with --pace each character at the
 * end of its slot on the line (absolute deadlines, so sleeps do not add
 * up). */
static void send(struct isim *s, const uint8_t *p, size_t n)
{
	double t0 = now_ms(), ch = gw_iec_wire_ms(1, s->cur_baud);

	for (size_t i = 0; i < n && !stop_flag;) {
		uint8_t buf[256];
		size_t k = 0;
		/* A character is received when its stop bit is: deliver it
		 * at the end of its slot. */
		if (s->pace)
			sleep_until(t0 + ch * (double)(i + 1));
		if (s->pace) {
			buf[k++] = s->parity_bit ? parity_of(p[i]) : p[i];
		} else {
			while (k < sizeof(buf) && i + k < n) {
				buf[k] = s->parity_bit ? parity_of(p[i + k]) : p[i + k];
				k++;
			}
		}
		size_t off = 0;
		while (off < k) {
			ssize_t w = write(s->fd, buf + off, k - off);
			if (w > 0) {
				off += (size_t)w;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				return;
			} else {
				struct pollfd pf = {.fd = s->fd, .events = POLLOUT};
				poll(&pf, 1, 100);
			}
		}
		i += k;
	}
}

/* Faults from --faults FILE: lines "ADDRESS FAULT" or "* FAULT". */
static enum fault fault_for(const struct isim *s, const char *addr)
{
	FILE *f;
	char line[128], a[64], name[32];
	enum fault ft = F_NONE;

	if (!s->faults_file || !(f = fopen(s->faults_file, "r")))
		return F_NONE;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %31s", a, name) != 2 || a[0] == '#')
			continue;
		if (strcmp(a, "*") != 0 && strcmp(a, addr) != 0)
			continue;
		for (size_t k = 0; k < N_FAULTS; k++)
			if (strcmp(name, fault_names[k]) == 0)
				ft = (enum fault)k;
	}
	fclose(f);
	return ft;
}

/* Reads what is available into in[] (stripping the parity bit). With
 * --echo the bytes go straight back, as on a half-duplex line. */
static void take_input(struct isim *s, uint8_t *in, size_t *len, size_t cap,
		       double *first)
{
	uint8_t tmp[256];
	ssize_t r = read(s->fd, tmp, sizeof(tmp));

	if (r <= 0)
		return;
	if (*len == 0)
		*first = now_ms();
	if (s->echo) {
		ssize_t off = 0;
		while (off < r) {
			ssize_t w = write(s->fd, tmp + off, (size_t)(r - off));
			if (w <= 0)
				break;
			off += w;
		}
	}
	for (ssize_t i = 0; i < r && *len < cap; i++)
		in[(*len)++] = tmp[i] & 0x7f;
}

/* Waits (up to ms) for a message ending in LF; returns its length or 0.
 * With --pace the message counts as received when its last character
 * would have arrived at the current baud. */
static size_t wait_message(struct isim *s, uint8_t *in, size_t cap, int ms)
{
	size_t len = 0;
	double first = 0, deadline = now_ms() + ms;

	while (!stop_flag) {
		uint8_t *lf = len ? memchr(in, '\n', len) : NULL;
		if (lf) {
			size_t n = (size_t)(lf - in) + 1;
			if (s->pace)
				sleep_until(first + gw_iec_wire_ms(n, s->cur_baud));
			return n;
		}
		double left = deadline - now_ms();
		if (ms >= 0 && left <= 0)
			return 0;
		struct pollfd pf = {.fd = s->fd, .events = POLLIN};
		int pr = poll(&pf, 1, ms < 0 ? 200 : (int)left + 1);
		if (pr > 0 && (pf.revents & POLLIN))
			take_input(s, in, &len, cap, &first);
		else if (pr > 0)
			usleep(20000); /* the other side of the pty is not open */
		if (len == cap)
			len = 0;
	}
	return 0;
}

/* Waits (up to ms) for a programming-mode command SOH ... ETX BCC (or a
 * lone NAK/ACK); returns its length or 0. */
static size_t wait_command(struct isim *s, uint8_t *in, size_t cap, int ms)
{
	size_t len = 0;
	double first = 0, deadline = now_ms() + ms;

	while (!stop_flag) {
		uint8_t *etx = len ? memchr(in, GW_IEC_ETX, len) : NULL;
		if (etx && (size_t)(etx - in) + 1 < len) {
			size_t n = (size_t)(etx - in) + 2;
			if (s->pace)
				sleep_until(first + gw_iec_wire_ms(n, s->cur_baud));
			return n;
		}
		double left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd pf = {.fd = s->fd, .events = POLLIN};
		int pr = poll(&pf, 1, (int)left + 1);
		if (pr > 0 && (pf.revents & POLLIN))
			take_input(s, in, &len, cap, &first);
		else if (pr > 0)
			usleep(20000);
		if (len == cap)
			return 0;
	}
	return 0;
}

/* "Syymmddhhmm" (S the season digit) on the meter's clock as UTC ms. */
static int meter_time(const char *p, size_t n, int64_t *ms)
{
	int x[5];

	if (n != 11)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	for (int i = 0; i < 5; i++)
		x[i] = (p[1 + 2 * i] - '0') * 10 + (p[2 + 2 * i] - '0');
	return gw_iec_local_to_utc(2000 + x[0], x[1], x[2], x[3], x[4], 0,
				   p[0] == '1' ? 1 : 0, ms) ? -1 : 0;
}

/* Programming mode (ACK 0 Z 1) for meter index u: SOH P0 STX (serial)
 * ETX BCC, then commands until B0 or silence. R5 P.01(from;to) is
 * answered with the load profile of that range; other commands with NAK.
 * Faults: lp-refuse (NAK instead of P0), lp-bcc, lp-cut (the profile's
 * answer with a wrong BCC, or cut short). */
static void programming(struct isim *s, int u, enum fault ft, uint8_t *block,
			size_t cap)
{
	uint8_t cmd[128];
	int tr = s->reaction_ms;
	size_t len = 0;
	uint8_t nak = GW_IEC_NAK;

	if (ft == F_LP_REFUSE) {
		send(s, &nak, 1);
		return;
	}
	block[len++] = GW_IEC_SOH;
	len += (size_t)snprintf((char *)block + len, cap - len, "P0%c(SIM-%s%s)%c",
				GW_IEC_STX, s->addr[u], s->replaced_at[u] ? "-R" : "",
				GW_IEC_ETX);
	block[len] = gw_iec_bcc(block + 1, len - 1);
	len++;
	send(s, block, len);
	for (;;) {
		size_t m = wait_command(s, cmd, sizeof(cmd), 1500 + tr);
		const uint8_t *soh = m ? memchr(cmd, GW_IEC_SOH, m) : NULL;
		if (!soh)
			return;
		size_t k = m - (size_t)(soh - cmd);
		sleep_until(now_ms() + tr);
		if (k >= 4 && soh[1] == 'B')
			return; /* B0: the session ends */
		if (gw_iec_bcc(soh + 1, k - 2) != soh[k - 1] || k < 6 || soh[1] != 'R' ||
		    soh[3] != GW_IEC_STX || memcmp(soh + 4, "P.01(", 5) != 0) {
			send(s, &nak, 1);
			continue;
		}
		const char *a = (const char *)soh + 9;
		const char *semi = memchr(a, ';', k - 9);
		const char *close = semi ? memchr(semi, ')', k - (size_t)(semi - (const char *)soh)) : NULL;
		int64_t from, to;
		if (!close || meter_time(a, (size_t)(semi - a), &from) ||
		    meter_time(semi + 1, (size_t)(close - semi - 1), &to)) {
			send(s, &nak, 1);
			continue;
		}
		int64_t sim = gw_clock_now_ms(&s->clock);
		len = 0;
		block[len++] = GW_IEC_STX;
		len += profile_lines(s, u, from, to, sim, (char *)block + len, cap - len - 4);
		if (len == 1)
			len += (size_t)snprintf((char *)block + len, cap - len, "P.01(ERROR)\r\n");
		block[len++] = GW_IEC_ETX;
		uint8_t bcc = gw_iec_bcc(block + 1, len - 1);
		block[len++] = ft == F_LP_BCC ? (uint8_t)(bcc ^ 0x01) : bcc;
		if (ft == F_LP_CUT)
			len /= 2;
		send(s, block, len);
	}
}

/* One mode C session after a sign-on for meter index u. */
static void session(struct isim *s, int u, enum fault ft)
{
	uint8_t msg[64];
	static uint8_t block[GW_IEC_MAX_BYTES];
	char ident[64];
	char z = gw_iec_baud_char(s->max_baud);
	int tr = s->reaction_ms;
	double t;

	if (ft == F_SILENT)
		return;
	t = now_ms();
	sleep_until(t + tr);
	if (ft == F_GARBAGE) {
		uint8_t g[40];
		for (size_t i = 0; i < sizeof(g); i++)
			g[i] = (uint8_t)(0x80 | ((s->rnd = s->rnd * 1103515245u + 12345u) >> 16));
		send(s, g, sizeof(g));
		return;
	}
	int n = snprintf(ident, sizeof(ident), "/%s%c\\2SIM%s\r\n", s->manufacturer,
			 s->fixed ? gw_iec_baud_char(s->baud) : z, s->addr[u]);
	send(s, (const uint8_t *)ident, (size_t)n);

	/* Option select: ACK 0 Z 0 CR LF (the meter's own echo is not
	 * what it waits for; skip anything before ACK). */
	size_t m = wait_message(s, msg, sizeof(msg), 1500 + tr);
	const uint8_t *ack = m ? memchr(msg, GW_IEC_ACK, m) : NULL;
	if (!ack || (size_t)(ack - msg) + 4 > m)
		return; /* back to idle */
	int nb = gw_iec_baud_of((char)ack[2]);
	if (nb && !s->fixed)
		set_baud(s, nb);
	t = now_ms();
	sleep_until(t + tr);
	if (ack[3] == '1') {
		programming(s, u, ft, block, sizeof(block));
		set_baud(s, s->baud);
		return;
	}

	int64_t sim = gw_clock_now_ms(&s->clock);
	size_t len = 0;
	if (ft == F_REPLACED && !s->replaced_at[u])
		s->replaced_at[u] = sim; /* swapped just before this readout */
	block[len++] = GW_IEC_STX;
	len += data_lines(s, u, sim, (char *)block + len, sizeof(block) - len - 4);
	block[len++] = GW_IEC_ETX;
	uint8_t bcc = gw_iec_bcc(block + 1, len - 1);
	block[len++] = ft == F_BCC ? (uint8_t)(bcc ^ 0x01) : bcc;
	if (ft == F_BAUD) {
		/* What a receiver at another speed makes of it: no STX, ETX
		 * or line ends survive. */
		for (size_t i = 0; i < len; i++)
			block[i] = (uint8_t)(0x40 | ((block[i] * 7u) & 0x3f));
	}
	if (ft == F_CUT)
		len /= 2;
	send(s, block, len);
	set_baud(s, s->baud);
}

static void run_mode_c(struct isim *s)
{
	uint8_t in[256];

	while (!stop_flag) {
		size_t m = wait_message(s, in, sizeof(in), -1);
		if (!m)
			continue;
		/* "/?ADDRESS!\r\n" */
		uint8_t *q = NULL;
		for (size_t i = 0; i + 1 < m; i++)
			if (in[i] == '/' && in[i + 1] == '?')
				q = in + i;
		uint8_t *bang = q ? memchr(q, '!', m - (size_t)(q - in)) : NULL;
		if (!bang)
			continue;
		char a[GW_IEC_ADDR_MAX];
		size_t al = (size_t)(bang - q - 2);
		if (al >= sizeof(a))
			continue;
		memcpy(a, q + 2, al);
		a[al] = '\0';
		int u = -1;
		for (int k = 0; k < s->n; k++)
			if (al == 0 || strcmp(a, s->addr[k]) == 0) {
				u = k;
				break;
			}
		if (u < 0)
			continue; /* another meter's address: stay silent */
		session(s, u, fault_for(s, s->addr[u]));
	}
}

static void run_mode_d(struct isim *s)
{
	static uint8_t tel[GW_IEC_MAX_BYTES];
	double next = now_ms();

	while (!stop_flag) {
		sleep_until(next);
		next += s->push_ms;
		if (stop_flag)
			break;
		enum fault ft = fault_for(s, s->addr[0]);
		if (ft == F_SILENT)
			continue;
		int n = snprintf((char *)tel, sizeof(tel), "/%s%c\\2SIM%s\r\n\r\n",
				 s->manufacturer, gw_iec_baud_char(s->baud), s->addr[0]);
		size_t len = (size_t)n;
		int64_t sim = gw_clock_now_ms(&s->clock);
		if (ft == F_REPLACED && !s->replaced_at[0])
			s->replaced_at[0] = sim;
		len += data_lines(s, 0, sim, (char *)tel + len, sizeof(tel) - len);
		if (ft == F_CUT)
			len /= 2;
		send(s, tel, len);
		/* drop whatever the gateway may have sent */
		uint8_t tmp[256];
		while (read(s->fd, tmp, sizeof(tmp)) > 0)
			;
	}
}

static int write_file(const char *path, const char *text)
{
	char tmp[GW_PATH_MAX + 8];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fputs(text, f) == EOF || fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "metersim: cannot write %s: %s\n", path, strerror(errno));
		return GW_EIO;
	}
	return 0;
}

static void usage(FILE *f)
{
	fputs("usage: metersim --iec DEVICE [--meters N] [--addresses A,B,...]\n"
	      "                [--baud N] [--max-baud N] [--mode c|fixed|d] [--push-ms MS]\n"
	      "                [--pace] [--echo] [--parity-bit] [--reaction-ms MS]\n"
	      "                [--manufacturer XXX] [--block-bytes N] [--load-profile]\n"
	      "                [--profile-hours H] [--profile-registers] [--clock-offset S]\n"
	      "                [--faults FILE]\n"
	      "                [--tz ZONE]\n"
	      "                [--clock-anchor A --clock-start UTC --clock-speed S]\n"
	      "                [--pidfile FILE] [--ready-file FILE]\n"
	      "\n"
	      "Simulates IEC 62056-21 meters on one serial device or pty.\n"
	      "  --iec DEVICE       the line (one end of a socat pty pair)\n"
	      "  --meters N         meters on the line (1..64), addresses 1..N unless\n"
	      "  --addresses LIST   comma-separated addresses (sets N)\n"
	      "  --baud N           the sign-on speed (default 300)\n"
	      "  --max-baud N       the speed the meters offer (default 9600)\n"
	      "  --mode c|fixed|d   c: baud switch (default); fixed: stay at --baud;\n"
	      "                     d: push a telegram of the first meter every --push-ms\n"
	      "  --pace             send each character at the line rate, and take a\n"
	      "                     message as received when it would have arrived\n"
	      "  --echo             echo every byte received (half-duplex line)\n"
	      "  --parity-bit       7E1 seen through an 8N1 port: even parity in bit 7\n"
	      "  --reaction-ms MS   reaction time before each answer (default 200)\n"
	      "  --manufacturer XXX three letters (default GWS; lowercase third letter:\n"
	      "                     20 ms reaction time)\n"
	      "  --block-bytes N    pad each data block to about N bytes with C.90.x sets\n"
	      "                     (at most 523264)\n"
	      "  --load-profile     add a P.01 load profile (last 4 quarter hours) to\n"
	      "                     each readout; a range read in programming mode\n"
	      "                     (ACK 0Z1, R5 P.01(Syymmddhhmm;Syymmddhhmm)) is\n"
	      "                     answered whether or not this is given\n"
	      "  --profile-hours H  hours of profile in each readout (1..168, default 1)\n"
	      "  --profile-registers the profile also records 1.8.0 and 2.8.0 (kWh)\n"
	      "                     besides the average power 1.5.0 and 2.5.0 (kW)\n"
	      "  --clock-offset S   the meters' clocks run S seconds ahead (negative: behind)\n"
	      "  --faults FILE      read at every sign-on: lines 'ADDRESS FAULT' or\n"
	      "                     '* FAULT'; FAULT: none, silent, garbage, bcc (wrong\n"
	      "                     BCC), baud (data at a wrong baud), cut (block cut short),\n"
	      "                     replaced (from the next readout on: another serial\n"
	      "                     number, C.1.0 SIM-ADDRESS-R, and registers counting\n"
	      "                     from 12.345 kWh import, 0 export); programming\n"
	      "                     mode only: lp-refuse (NAK instead of P0), lp-bcc\n"
	      "                     (the profile's answer with a wrong BCC), lp-cut\n"
	      "                     (the profile's answer cut short)\n"
	      "Meter u (1-based) imports 200+50u W from 06:00 to 22:00 local; meters with\n"
	      "u%3==0 export 500u W 10:00-14:00; 1.8.0 = 1000000u Wh at the clock start.\n",
	      f);
}

int metersim_iec_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"iec", required_argument, NULL, 'I'},
		{"meters", required_argument, NULL, 'n'},
		{"addresses", required_argument, NULL, 'a'},
		{"baud", required_argument, NULL, 'b'},
		{"max-baud", required_argument, NULL, 'B'},
		{"mode", required_argument, NULL, 'm'},
		{"push-ms", required_argument, NULL, 'p'},
		{"pace", no_argument, NULL, 'P'},
		{"echo", no_argument, NULL, 'e'},
		{"parity-bit", no_argument, NULL, 'y'},
		{"reaction-ms", required_argument, NULL, 'r'},
		{"manufacturer", required_argument, NULL, 'M'},
		{"block-bytes", required_argument, NULL, 'k'},
		{"load-profile", no_argument, NULL, 'L'},
		{"profile-registers", no_argument, NULL, 'G'},
		{"profile-hours", required_argument, NULL, 'H'},
		{"clock-offset", required_argument, NULL, 'o'},
		{"faults", required_argument, NULL, 'f'},
		{"tz", required_argument, NULL, 'z'},
		{"clock-anchor", required_argument, NULL, 'A'},
		{"clock-start", required_argument, NULL, 'T'},
		{"clock-speed", required_argument, NULL, 'X'},
		{"pidfile", required_argument, NULL, 'i'},
		{"ready-file", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct isim s;
	const char *dev = NULL, *tz = "UTC", *anchor = NULL, *start = NULL;
	const char *speed = NULL, *pidfile = NULL, *ready = NULL, *addrs = NULL;
	int c;

	memset(&s, 0, sizeof(s));
	s.n = 1;
	s.baud = 300;
	s.max_baud = 9600;
	s.reaction_ms = GW_IEC_TR_MS;
	s.push_ms = 1000;
	s.profile_hours = 1;
	s.rnd = 12345;
	memcpy(s.manufacturer, "GWS", 4);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'I': dev = optarg; break;
		case 'n': s.n = atoi(optarg); break;
		case 'a': addrs = optarg; break;
		case 'b': s.baud = atoi(optarg); break;
		case 'B': s.max_baud = atoi(optarg); break;
		case 'm':
			s.fixed = strcmp(optarg, "fixed") == 0;
			s.push = strcmp(optarg, "d") == 0;
			if (!s.fixed && !s.push && strcmp(optarg, "c") != 0)
				goto bad;
			break;
		case 'p': s.push_ms = atoi(optarg); break;
		case 'P': s.pace = true; break;
		case 'e': s.echo = true; break;
		case 'y': s.parity_bit = true; break;
		case 'r': s.reaction_ms = atoi(optarg); break;
		case 'M':
			if (strlen(optarg) != 3)
				goto bad;
			memcpy(s.manufacturer, optarg, 4);
			break;
		case 'k': s.block_bytes = atoi(optarg); break;
		case 'L': s.load_profile = true; break;
		case 'G': s.profile_registers = true; break;
		case 'H': s.profile_hours = atoi(optarg); break;
		case 'o': s.clock_offset_ms = atoll(optarg) * 1000; break;
		case 'f': s.faults_file = optarg; break;
		case 'z': tz = optarg; break;
		case 'A': anchor = optarg; break;
		case 'T': start = optarg; break;
		case 'X': speed = optarg; break;
		case 'i': pidfile = optarg; break;
		case 'R': ready = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		continue;
bad:
		fprintf(stderr, "metersim: bad value '%s' (see --iec DEVICE --help)\n",
			optarg);
		return 2;
	}
	if (!dev || optind < argc || s.n < 1 || s.n > MAX_METERS ||
	    !gw_iec_baud_char(s.baud) || !gw_iec_baud_char(s.max_baud) ||
	    s.reaction_ms < 0 || s.push_ms < 10 || s.block_bytes < 0 ||
	    s.profile_hours < 1 || s.profile_hours > 24 * 7 ||
	    s.block_bytes > GW_IEC_MAX_BYTES - 1024) {
		usage(stderr);
		return 2;
	}
	if (addrs) {
		char list[1024];
		s.n = 0;
		snprintf(list, sizeof(list), "%s", addrs);
		for (char *tok = strtok(list, ","); tok && s.n < MAX_METERS;
		     tok = strtok(NULL, ","))
			snprintf(s.addr[s.n++], sizeof(s.addr[0]), "%s", tok);
	} else {
		for (int k = 0; k < s.n; k++)
			snprintf(s.addr[k], sizeof(s.addr[0]), "%d", k + 1);
	}
	if (metersim_time_setup(tz, anchor, start, speed, &s.clock, &s.t_ref))
		return 2;

	s.fd = open(dev, O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (s.fd < 0) {
		fprintf(stderr, "metersim: cannot open %s: %s\n", dev, strerror(errno));
		return 1;
	}
	struct termios tio;
	if (tcgetattr(s.fd, &tio) == 0) {
		cfmakeraw(&tio);
		tio.c_cflag &= ~(tcflag_t)(CSIZE | PARODD | CSTOPB);
		tio.c_cflag |= s.parity_bit ? (CS8) : (CS7 | PARENB);
		tcsetattr(s.fd, TCSANOW, &tio);
	}
	set_baud(&s, s.baud);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if (pidfile) {
		char text[32];
		snprintf(text, sizeof(text), "%ld\n", (long)getpid());
		if (write_file(pidfile, text))
			return 1;
	}
	gw_info("metersim: %d IEC 62056-21 meter(s) on %s, %s, %d baud sign-on, %d max",
		s.n, dev, s.push ? "mode D push" : s.fixed ? "fixed baud" : "mode C",
		s.baud, s.max_baud);
	if (ready && write_file(ready, "iec\n"))
		return 1;
	if (s.push)
		run_mode_d(&s);
	else
		run_mode_c(&s);
	close(s.fd);
	if (pidfile)
		unlink(pidfile);
	gw_info("metersim: stopped");
	return 0;
}
