/* SPDX-License-Identifier: MIT */
/*
 * metersim.c - simulates N Modbus energy meters of one model (any profile in
 * profiles/) behind one Modbus TCP endpoint or on one RS-485 line (a serial
 * device or pseudo-terminal), for tests and the demo.
 *
 * The meters' registers are a closed-form function of the simulated time
 * (the same gw_clock as the gateway's): energy is integrated exactly over
 * the local hours since the reference time T_ref, never step by step, so
 * any poll pattern sees consistent values and a test can compute what a
 * day's consumption must be (--print-expected). docs/metersim.md describes
 * the model and every option.
 *
 * One process, one thread: a pselect() loop over the listening socket and
 * its clients (TCP) or over the serial line (RTU). SIGTERM and SIGINT only
 * set a flag that the loop acts on.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <modbus.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "gw.h"
#include "metersim_iec.h"
#include "profile.h"
#include "tz.h"
#include "version.h"

#define MAX_CLIENTS 64
#define HOUR_MS 3600000LL

enum load { LOAD_SHOP, LOAD_HOME };

/* Power per local hour as a weight; the meter's power is
 * w[hour] * mul / div watts. */
struct curve {
	int w[24];
	int64_t *cum; /* cum[k]: integral of w dt (W*ms) over days
		       * day_ref .. day_ref+k-1 */
	int ncum, capcum;
};

/* Faults of one simulated unit (docs/metersim.md). */
enum {
	F_NOANSWER = 1,  /* no reply at all */
	F_CRC = 2,       /* RTU: wrong CRC; TCP: wrong protocol id */
	F_WRONGUNIT = 4, /* the reply carries unit id u % 247 + 1 */
	F_SHORT = 8,     /* one register less than asked, well framed */
	F_TWICE = 16,    /* every reply sent twice */
	F_LATE = 32,     /* TCP: the reply held back until the simulator's
			  * next reply on that connection */
	F_INF = 64,      /* float registers of 1.8.0 read as +Inf */
};

/* A reply held back by the "late" fault, per TCP connection. */
struct held_reply {
	int fd;
	int n;
	uint8_t frame[MODBUS_TCP_MAX_ADU_LENGTH];
};

struct fault {
	unsigned flags;
	int exception;    /* exception code to answer with, 0 none */
	int slow_ms;      /* delay before the reply */
	int64_t wrap_wh;  /* energy registers wrap this many Wh after wrap_t0 */
	int64_t wrap_t0;  /* simulated time the wrap fault was switched on */
	int replaced;     /* times the meter was replaced */
	int64_t imp_base, exp_base; /* counters at the last replacement */
};

struct sim {
	struct gw_profile *prof;
	int first_unit, n_meters;
	enum load load;
	struct gw_clock clock;
	int64_t t_ref;   /* UTC ms: energy counts from here */
	int32_t day_ref; /* local day of t_ref */
	struct curve imp, exp;
	modbus_mapping_t *map;
	bool strict; /* refuse requests that touch unmapped registers */
	bool all_regs; /* --all-registers: a value for every register */
	struct fault faults[248]; /* per unit id */
	int ctl_fd;               /* --control FIFO, or -1 */
	char ctl_buf[512];
	size_t ctl_len;
	bool pace;                /* RTU: pace bytes at the line rate */
	int64_t char_ns;          /* one character on the line */
	int64_t line_free_ns;     /* CLOCK_MONOTONIC: end of the last gap */
	bool tcp;                 /* serving Modbus TCP */
	struct held_reply held[MAX_CLIENTS]; /* "late" replies, one per fd */
	int n_held;
	unsigned long connections; /* TCP connections accepted */
	FILE *reqlog;             /* --request-log, line buffered, or NULL */
	uint16_t regs[MODBUS_MAX_READ_REGISTERS]; /* reply scratch */
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* ------------------------------------------------------------------ */
/* The meter model                                                    */

/* Home load, W per local hour for a factor of 1; a day is 13.0 kWh. */
static const int home_w[24] = {
	150, 150, 150, 150, 150, 150, 400, 900, 900, 300, 300, 300,
	300, 300, 300, 300, 300, 600, 1500, 1500, 1500, 1500, 600, 300,
};

static void curves_init(struct sim *s)
{
	memset(&s->imp, 0, sizeof(s->imp));
	memset(&s->exp, 0, sizeof(s->exp));
	for (int h = 0; h < 24; h++) {
		if (s->load == LOAD_HOME)
			s->imp.w[h] = home_w[h];
		else
			s->imp.w[h] = h >= 6 && h < 22;
		s->exp.w[h] = h >= 10 && h < 14;
	}
}

/* Integral of the curve (W*ms) from the start of local day d to x (at most
 * the day's end), hour slot by hour slot: a 23- or 25-hour day has 23 or
 * 25 slots, each with the power of its local hour. */
static int64_t within_day(const struct curve *c, int32_t d, int64_t x)
{
	int64_t start = gw_tz_day_start(d), end = gw_tz_day_start(d + 1);
	int64_t sum = 0;

	if (x < end)
		end = x;
	for (int64_t t = start; t < end; t += HOUR_MS) {
		int64_t te = t + HOUR_MS < end ? t + HOUR_MS : end;
		time_t secs = (time_t)(t / 1000);
		struct tm tm;
		localtime_r(&secs, &tm);
		sum += (int64_t)c->w[tm.tm_hour] * (te - t);
	}
	return sum;
}

/* Integral of the curve from the start of day_ref to x (x >= that start). */
static int64_t integral(struct sim *s, struct curve *c, int64_t x)
{
	int32_t d = gw_tz_day_of(x);
	int k = d - s->day_ref;

	if (k < 0)
		return 0;
	if (c->ncum == 0) {
		c->capcum = 64;
		c->cum = malloc(sizeof(*c->cum) * (size_t)c->capcum);
		if (!c->cum)
			abort();
		c->cum[0] = 0;
		c->ncum = 1;
	}
	while (c->ncum <= k) {
		if (c->ncum == c->capcum) {
			c->capcum *= 2;
			int64_t *n = realloc(c->cum, sizeof(*n) * (size_t)c->capcum);
			if (!n)
				abort();
			c->cum = n;
		}
		int32_t dd = s->day_ref + c->ncum - 1;
		c->cum[c->ncum] = c->cum[c->ncum - 1] +
				  within_day(c, dd, gw_tz_day_start(dd + 1));
		c->ncum++;
	}
	return c->cum[k] + within_day(c, d, x);
}

static int64_t imp_mul(const struct sim *s, int u, int64_t *div)
{
	if (s->load == LOAD_HOME) {
		*div = 10; /* home power: w * (10 + u) / 10 */
		return 10 + u;
	}
	*div = 1;
	return 200 + 50 * u;
}

static int64_t exp_mul(int u)
{
	return u % 3 == 0 ? 500 * u : 0;
}

static int64_t floordiv64(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Cumulative import Wh (1.8.0) of unit u at time t, before faults. */
static int64_t import_wh_raw(struct sim *s, int u, int64_t t)
{
	int64_t div;
	int64_t mul = imp_mul(s, u, &div);

	if (t < s->t_ref)
		t = s->t_ref;
	int64_t ws = integral(s, &s->imp, t) - integral(s, &s->imp, s->t_ref);
	return 1000000LL * u + floordiv64(mul * ws, HOUR_MS * div);
}

/* Cumulative export Wh (2.8.0) of unit u at time t, before faults. */
static int64_t export_wh_raw(struct sim *s, int u, int64_t t)
{
	if (t < s->t_ref)
		t = s->t_ref;
	int64_t ws = integral(s, &s->exp, t) - integral(s, &s->exp, s->t_ref);
	return floordiv64(exp_mul(u) * ws, HOUR_MS);
}

/* ------------------------------------------------------------------ */
/* Faults                                                             */

/* Parses a fault spec "UNIT:KIND[:ARG]" (UNIT a unit id or "all") and
 * applies it at simulated time now. Returns 0, or GW_EINVAL with a message
 * in err. */
static int fault_apply(struct sim *s, const char *spec, int64_t now, char *err,
		       size_t errcap)
{
	char buf[96], *kind, *arg, *end;
	int lo, hi;

	if (gw_strlcpy(buf, spec, sizeof(buf))) {
		snprintf(err, errcap, "fault '%.40s...': too long", spec);
		return GW_EINVAL;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	kind = strchr(buf, ':');
	if (!kind) {
		snprintf(err, errcap, "fault '%s': want UNIT:KIND[:ARG]", buf);
		return GW_EINVAL;
	}
	*kind++ = '\0';
	arg = strchr(kind, ':');
	if (arg)
		*arg++ = '\0';
	if (strcmp(buf, "all") == 0) {
		lo = 1;
		hi = 247;
	} else {
		errno = 0;
		long u = strtol(buf, &end, 10);
		if (errno || *end || end == buf || u < 1 || u > 247) {
			snprintf(err, errcap, "fault '%s': unit '%s' is not 1..247 or 'all'",
				 spec, buf);
			return GW_EINVAL;
		}
		lo = hi = (int)u;
	}
	long long a = -1;
	if (arg) {
		errno = 0;
		a = strtoll(arg, &end, 0);
		if (errno || *end || end == arg || a < 0) {
			snprintf(err, errcap, "fault '%s': bad argument '%s'", spec, arg);
			return GW_EINVAL;
		}
	}
	struct fault f;
	unsigned flag = 0;
	memset(&f, 0, sizeof(f));
	if (strcmp(kind, "none") == 0 || strcmp(kind, "clear") == 0) {
		flag = 0;
	} else if (strcmp(kind, "noanswer") == 0) {
		flag = F_NOANSWER;
	} else if (strcmp(kind, "crc") == 0) {
		flag = F_CRC;
	} else if (strcmp(kind, "wrongunit") == 0) {
		flag = F_WRONGUNIT;
	} else if (strcmp(kind, "short") == 0) {
		flag = F_SHORT;
	} else if (strcmp(kind, "twice") == 0) {
		flag = F_TWICE;
	} else if (strcmp(kind, "late") == 0) {
		if (!s->tcp) {
			snprintf(err, errcap,
				 "fault '%s': late is for --tcp (RTU has no transaction ids to tell a late reply by)",
				 spec);
			return GW_EINVAL;
		}
		flag = F_LATE;
	} else if (strcmp(kind, "inf") == 0) {
		flag = F_INF;
	} else if (strcmp(kind, "exception") == 0) {
		if (arg && (a < 1 || a > 255)) {
			snprintf(err, errcap, "fault '%s': exception code 1..255", spec);
			return GW_EINVAL;
		}
		f.exception = arg ? (int)a : MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY;
	} else if (strcmp(kind, "slow") == 0) {
		if (!arg || a < 1 || a > 60000) {
			snprintf(err, errcap, "fault '%s': slow needs a delay 1..60000 ms", spec);
			return GW_EINVAL;
		}
		f.slow_ms = (int)a;
	} else if (strcmp(kind, "wrap") == 0) {
		if (arg && a < 1) {
			snprintf(err, errcap, "fault '%s': wrap needs at least 1 Wh", spec);
			return GW_EINVAL;
		}
		f.wrap_wh = arg ? (int64_t)a : 1000;
	} else if (strcmp(kind, "replaced") == 0) {
		/* a one-off action, not a state */
	} else {
		snprintf(err, errcap,
			 "fault '%s': unknown kind '%s' (noanswer crc exception slow wrap replaced wrongunit short twice late inf none)",
			 spec, kind);
		return GW_EINVAL;
	}
	if (arg && (flag || strcmp(kind, "none") == 0 || strcmp(kind, "clear") == 0 ||
		    strcmp(kind, "replaced") == 0)) {
		snprintf(err, errcap, "fault '%s': %s takes no argument", spec, kind);
		return GW_EINVAL;
	}
	for (int u = lo; u <= hi; u++) {
		struct fault *t = &s->faults[u];
		if (strcmp(kind, "none") == 0 || strcmp(kind, "clear") == 0) {
			t->flags = 0;
			t->exception = 0;
			t->slow_ms = 0;
			t->wrap_wh = 0;
		} else if (strcmp(kind, "replaced") == 0) {
			/* The new meter's counters start at 0 now; its serial
			 * number is new. */
			t->imp_base = import_wh_raw(s, u, now);
			t->exp_base = export_wh_raw(s, u, now);
			t->replaced++;
		} else if (flag) {
			t->flags |= flag;
		} else if (strcmp(kind, "exception") == 0) {
			t->exception = f.exception;
		} else if (strcmp(kind, "slow") == 0) {
			t->slow_ms = f.slow_ms;
		} else if (strcmp(kind, "wrap") == 0) {
			t->wrap_wh = f.wrap_wh;
			t->wrap_t0 = now;
		}
	}
	return 0;
}

/* The meter's serial number (96.1.0): a new one after each replacement. */
static int64_t serial_of(const struct sim *s, int u)
{
	return 21000000LL + 1000LL * s->faults[u].replaced + u;
}

/* An energy counter of a replaced meter counts from 0 at the replacement. */
static int64_t energy_fault(const struct sim *s, int u, int64_t v, int64_t base)
{
	return s->faults[u].replaced ? v - base : v;
}

static int64_t import_wh(struct sim *s, int u, int64_t t)
{
	return energy_fault(s, u, import_wh_raw(s, u, t), s->faults[u].imp_base);
}

static int64_t export_wh(struct sim *s, int u, int64_t t)
{
	return energy_fault(s, u, export_wh_raw(s, u, t), s->faults[u].exp_base);
}

/* Net active power in 0.1 W at time t. */
static int64_t power_dw(const struct sim *s, int u, int64_t t)
{
	time_t secs = (time_t)floordiv64(t, 1000);
	struct tm tm;
	int64_t div;

	localtime_r(&secs, &tm);
	int64_t mul = imp_mul(s, u, &div);
	int64_t p = s->imp.w[tm.tm_hour] * mul * 10 / div;
	return p - s->exp.w[tm.tm_hour] * exp_mul(u) * 10;
}

/* With --all-registers, a plausible value for a register the model does
 * not compute (as a meter with its full map would answer; the gateway's
 * memory grows with its registers): per-phase energies (C.8.x, 21-61)
 * count a third of the import or export, currents and per-phase powers
 * follow the net power at 230 V, power factors are 0.95..0.99, others 0. */
static int other_value(struct sim *s, const char *obis, int u, int64_t t,
		       int64_t *v, int *scale)
{
	int c = atoi(obis), d = atoi(strchr(obis, '.') ? strchr(obis, '.') + 1 : "0");
	int64_t p = power_dw(s, u, t);

	*scale = 0;
	if (d == 8)
		*v = (c % 20 == 2 ? export_wh(s, u, t) : import_wh(s, u, t)) / 3;
	else if (d == 7 && c % 20 == 11) /* current: 0.01 A */
		*v = (p < 0 ? -p : p) / 69, *scale = -2;
	else if (d == 7 && c % 20 == 16) /* per-phase power: 0.1 W */
		*v = p / 3, *scale = -1;
	else if (d == 7 && c % 20 == 13) /* power factor */
		*v = 950 + (u * 7 + c) % 40, *scale = -3;
	else
		*v = 0;
	return 0;
}

/* The model's value of an OBIS register as value * 10^scale in the base
 * unit; GW_ENOTFOUND for a register the model does not know. */
static int model_value(struct sim *s, const char *obis, int u, int64_t t,
		       int64_t *v, int *scale)
{
	*scale = 0;
	if (strcmp(obis, "1.8.0") == 0) {
		*v = import_wh(s, u, t);
	} else if (strcmp(obis, "2.8.0") == 0) {
		*v = export_wh(s, u, t);
	} else if (strcmp(obis, "32.7.0") == 0 || strcmp(obis, "52.7.0") == 0 ||
		   strcmp(obis, "72.7.0") == 0) {
		int ph = obis[0] == '3' ? 0 : obis[0] == '5' ? 1 : 2;
		*v = 2300 + (u * 7 + ph * 3) % 21 - 10; /* 229.0 .. 231.0 V */
		*scale = -1;
	} else if (strcmp(obis, "16.7.0") == 0) {
		*v = power_dw(s, u, t);
		*scale = -1;
	} else if (strcmp(obis, "14.7.0") == 0) {
		*v = 5000;
		*scale = -2;
	} else if (strcmp(obis, "96.1.0") == 0) {
		*v = serial_of(s, u);
	} else {
		return s->all_regs ? other_value(s, obis, u, t, v, scale) : GW_ENOTFOUND;
	}
	return 0;
}

/* The na sentinel's wire words (the inverse of the profile's word order). */
static void na_words(const struct gw_profile_reg *r, uint16_t *words)
{
	int n = gw_reg_type_words((enum gw_reg_type)r->type);
	bool sw = r->order == GW_ORDER_CDAB || r->order == GW_ORDER_DCBA;
	bool sb = r->order == GW_ORDER_BADC || r->order == GW_ORDER_DCBA;
	uint64_t v = r->has_na ? r->na : 0;

	for (int i = n - 1; i >= 0; i--) {
		uint16_t w = (uint16_t)(v & 0xFFFF);
		v >>= 16;
		if (sb)
			w = (uint16_t)((w >> 8) | (w << 8));
		words[sw ? n - 1 - i : i] = w;
	}
}

/* Where an energy register rolls over, in Wh: 2^bits register steps for a
 * 16- or 32-bit unsigned register of whole Wh steps, else 10^9 Wh. */
static int64_t wrap_modulus(const struct gw_profile_reg *r)
{
	int bits = r->type == GW_T_UINT16 ? 16 : r->type == GW_T_UINT32 ? 32 : 0;
	int e = r->exp10 + r->unit_exp10;
	int64_t f = 1;

	if (!bits || e < 0 || e > 9)
		return 1000000000LL;
	while (e-- > 0)
		f *= 10;
	if (f % r->divisor)
		return 1000000000LL;
	return ((int64_t)1 << bits) * (f / r->divisor);
}

/* The register's words for unit u at time t. */
static void reg_words(struct sim *s, const struct gw_profile_reg *r, int u,
		      int64_t t, uint16_t *words)
{
	int64_t v;
	int scale;

	if (model_value(s, r->obis, u, t, &v, &scale) != 0) {
		na_words(r, words);
		return;
	}
	const struct fault *f = &s->faults[u];
	bool imp = strcmp(r->obis, "1.8.0") == 0;
	if (f->wrap_wh > 0 && (imp || strcmp(r->obis, "2.8.0") == 0)) {
		/* The register rolls over wrap_wh Wh after the fault was
		 * switched on: at its width for a 16- or 32-bit unsigned
		 * register, else at 10^9 Wh (a 6-digit kWh display). */
		int64_t roll = wrap_modulus(r);
		int64_t v0 = imp ? import_wh(s, u, f->wrap_t0) : export_wh(s, u, f->wrap_t0);
		v = ((v - v0) + roll - f->wrap_wh % roll) % roll;
	}
	if ((f->flags & F_INF) && imp &&
	    (r->type == GW_T_FLOAT32 || r->type == GW_T_FLOAT64)) {
		/* A meter in trouble: +Inf where its import total should be. */
		const struct gw_profile_reg inf = {.type = r->type, .order = r->order,
						   .has_na = 1,
						   .na = r->type == GW_T_FLOAT32
								 ? 0x7F800000u
								 : 0x7FF0000000000000ull};
		na_words(&inf, words);
		return;
	}
	if (gw_profile_encode(r, v, scale, words) != 0)
		na_words(r, words);
}

/* What the gateway will read from the register: the model's value through
 * the profile's resolution (encode, then decode). */
static int64_t as_read(struct sim *s, const char *obis, int64_t wh)
{
	for (int i = 0; i < s->prof->n_regs; i++) {
		const struct gw_profile_reg *r = &s->prof->regs[i];
		uint16_t w[4];
		struct gw_reading rd;
		if (strcmp(r->obis, obis) != 0)
			continue;
		if (gw_profile_encode(r, wh, 0, w) == 0 &&
		    gw_profile_decode(r, w, &rd) == 0)
			return rd.value;
	}
	return wh;
}

/* ------------------------------------------------------------------ */
/* Serving requests                                                   */

/* CRC-16/MODBUS of an RTU frame (without its CRC). */
static uint16_t crc16(const uint8_t *p, int n)
{
	uint16_t crc = 0xFFFF;

	for (int i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001)
					: (uint16_t)(crc >> 1);
	}
	return crc;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until_ns(int64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / 1000000000),
			      .tv_nsec = (long)(t % 1000000000)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
	       !stop_flag)
		;
}

static void write_all(int fd, const uint8_t *p, int n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, (size_t)n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the client went away; the loop notices */
		p += w;
		n -= (int)w;
	}
}

/* Sends the reply held back for connection fd, if any (and forgets it). */
static void held_send(struct sim *s, int fd)
{
	for (int i = 0; i < s->n_held; i++) {
		if (s->held[i].fd != fd)
			continue;
		write_all(fd, s->held[i].frame, s->held[i].n);
		s->held[i] = s->held[--s->n_held];
		return;
	}
}

/* Forgets what was held for a connection that closed. */
static void held_drop(struct sim *s, int fd)
{
	for (int i = 0; i < s->n_held; i++)
		if (s->held[i].fd == fd) {
			s->held[i--] = s->held[--s->n_held];
		}
}

/* Sends one reply (pdu starts with the function code) to request q, with
 * the faults of unit `unit` applied. RTU with --pace: the reply starts
 * 3.5 characters after the request would have ended on the wire, goes out
 * one byte per character time, and the line is then silent for 3.5
 * characters, so that a master sees the throughput of a real line. */
static void send_reply(struct sim *s, int fd, const uint8_t *q, int req_len,
		       bool tcp, int unit, const uint8_t *pdu, int pdu_len)
{
	const struct fault *f = &s->faults[unit];
	uint8_t frame[2 * (MODBUS_TCP_MAX_ADU_LENGTH + 8)]; /* room for "twice" */
	int n = 0, wunit = (f->flags & F_WRONGUNIT) ? unit % 247 + 1 : unit;
	int64_t rx = mono_ns();

	if (f->flags & F_NOANSWER)
		return;
	if (tcp) {
		frame[n++] = q[0]; /* transaction id */
		frame[n++] = q[1];
		frame[n++] = 0;    /* protocol id, 1 for the "crc" fault */
		frame[n++] = (f->flags & F_CRC) ? 1 : 0;
		frame[n++] = (uint8_t)((pdu_len + 1) >> 8);
		frame[n++] = (uint8_t)(pdu_len + 1);
	}
	frame[n++] = (uint8_t)wunit;
	memcpy(frame + n, pdu, (size_t)pdu_len);
	n += pdu_len;
	if (!tcp) {
		uint16_t crc = crc16(frame, n);
		if (f->flags & F_CRC)
			crc ^= 0x5A5A;
		frame[n++] = (uint8_t)(crc & 0xFF);
		frame[n++] = (uint8_t)(crc >> 8);
	}
	if (f->slow_ms > 0) {
		/* The whole simulator waits, as a line (or a bridge in front
		 * of one) waits for its slow meter. */
		sleep_until_ns(rx + (int64_t)f->slow_ms * 1000000);
	}
	if (tcp) {
		/* A reply held back earlier goes out first: after the master
		 * gave up on it and sent this request. */
		held_send(s, fd);
		if ((f->flags & F_LATE) && s->n_held < MAX_CLIENTS &&
		    n <= (int)sizeof(s->held[0].frame)) {
			struct held_reply *h = &s->held[s->n_held++];
			h->fd = fd;
			h->n = n;
			memcpy(h->frame, frame, (size_t)n);
			return;
		}
	}
	if (tcp || !s->pace) {
		if (f->flags & F_TWICE) {
			/* Both copies in one write: the second is there as
			 * soon as the first is, whatever the scheduler does. */
			memcpy(frame + n, frame, (size_t)n);
			n *= 2;
		}
		write_all(fd, frame, n);
		return;
	}
	/* The request went on the wire once the line was free: its bytes,
	 * then the silence that ends it, then the reply. */
	int64_t t = (rx > s->line_free_ns ? rx : s->line_free_ns) +
		    s->char_ns * req_len + s->char_ns * 7 / 2;
	for (int copy = 0; copy < ((f->flags & F_TWICE) ? 2 : 1); copy++) {
		if (copy)
			t += s->char_ns * 7 / 2; /* the silence between frames */
		for (int i = 0; i < n && !stop_flag; i++) {
			sleep_until_ns(t);
			write_all(fd, frame + i, 1);
			t += s->char_ns;
		}
	}
	s->line_free_ns = t + s->char_ns * 7 / 2;
}

static void send_exception(struct sim *s, int fd, const uint8_t *q, int len,
			   bool tcp, int unit, int fc, int code)
{
	uint8_t pdu[2] = {(uint8_t)(fc | 0x80), (uint8_t)code};
	send_reply(s, fd, q, len, tcp, unit, pdu, 2);
}

/* Answers one request (header_len: 7 for TCP, 1 for RTU) on fd. */
static void serve(struct sim *s, int fd, const uint8_t *q, int len,
		  int header_len)
{
	int unit = q[header_len - 1];
	int fc = q[header_len];
	bool tcp = header_len > 1;

	if (s->reqlog && len >= header_len + 5)
		fprintf(s->reqlog, "%.3f %d %d %d %d %d\n", (double)mono_ns() / 1e6,
			fd, unit, fc, (q[header_len + 1] << 8) | q[header_len + 2],
			(q[header_len + 3] << 8) | q[header_len + 4]);

	if (unit < s->first_unit || unit >= s->first_unit + s->n_meters) {
		/* On a serial line another device may answer; behind a TCP
		 * gateway the gateway reports the missing target. */
		if (tcp && unit != 0)
			send_exception(s, fd, q, len, tcp, unit, fc,
				       MODBUS_EXCEPTION_GATEWAY_TARGET);
		return;
	}
	const struct fault *f = &s->faults[unit];
	if (f->flags & F_NOANSWER)
		return;
	if (fc != MODBUS_FC_READ_HOLDING_REGISTERS &&
	    fc != MODBUS_FC_READ_INPUT_REGISTERS) {
		send_exception(s, fd, q, len, tcp, unit, fc,
			       MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
		return;
	}
	if (len < header_len + 5)
		return;
	if (f->exception) {
		send_exception(s, fd, q, len, tcp, unit, fc, f->exception);
		return;
	}
	int addr = (q[header_len + 1] << 8) | q[header_len + 2];
	int nb = (q[header_len + 3] << 8) | q[header_len + 4];
	if (nb < 1 || nb > MODBUS_MAX_READ_REGISTERS) {
		send_exception(s, fd, q, len, tcp, unit, fc,
			       MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
		return;
	}
	if (addr + nb > 0x10000) {
		send_exception(s, fd, q, len, tcp, unit, fc,
			       MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
		return;
	}
	uint16_t *tab = s->regs;
	int64_t now = gw_clock_now_ms(&s->clock);
	bool any = false;
	int covered = 0;

	memset(tab, 0, sizeof(*tab) * (size_t)nb);
	for (int i = 0; i < s->prof->n_regs; i++) {
		const struct gw_profile_reg *r = &s->prof->regs[i];
		int n = gw_reg_type_words((enum gw_reg_type)r->type);
		uint16_t w[4];
		if (r->function != fc || r->address + n <= addr ||
		    r->address >= addr + nb)
			continue;
		any = true;
		reg_words(s, r, unit, now, w);
		for (int k = 0; k < n; k++) {
			int a = r->address + k;
			if (a >= addr && a < addr + nb) {
				tab[a - addr] = w[k];
				covered++;
			}
		}
	}
	if (!any || (s->strict && covered != nb)) {
		/* Nothing the meter knows in that range. */
		send_exception(s, fd, q, len, tcp, unit, fc,
			       MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
		return;
	}
	uint8_t pdu[2 + 2 * MODBUS_MAX_READ_REGISTERS];
	int words = (f->flags & F_SHORT) ? nb - 1 : nb;
	pdu[0] = (uint8_t)fc;
	pdu[1] = (uint8_t)(2 * words);
	for (int i = 0; i < words; i++) {
		pdu[2 + 2 * i] = (uint8_t)(tab[i] >> 8);
		pdu[3 + 2 * i] = (uint8_t)(tab[i] & 0xFF);
	}
	send_reply(s, fd, q, len, tcp, unit, pdu, 2 + 2 * words);
}

/* --control: reads fault specs, one per line, from the FIFO. */
static void control_read(struct sim *s)
{
	char err[200];

	for (;;) {
		ssize_t r = read(s->ctl_fd, s->ctl_buf + s->ctl_len,
				 sizeof(s->ctl_buf) - 1 - s->ctl_len);
		if (r <= 0)
			return;
		s->ctl_len += (size_t)r;
		char *nl;
		while ((nl = memchr(s->ctl_buf, '\n', s->ctl_len)) != NULL) {
			*nl = '\0';
			if (s->ctl_buf[0] && s->ctl_buf[0] != '#') {
				if (fault_apply(s, s->ctl_buf, gw_clock_now_ms(&s->clock),
						err, sizeof(err)))
					gw_warn("metersim: control: %s", err);
				else
					gw_info("metersim: fault %s", s->ctl_buf);
			}
			size_t used = (size_t)(nl - s->ctl_buf) + 1;
			memmove(s->ctl_buf, nl + 1, s->ctl_len - used);
			s->ctl_len -= used;
		}
		if (s->ctl_len == sizeof(s->ctl_buf) - 1) {
			gw_warn("metersim: control: line too long, dropped");
			s->ctl_len = 0;
		}
	}
}

/* Opens the control FIFO (made if missing). Our own write end keeps it
 * open when a writer closes, so select never sees a permanent EOF. */
static int control_open(struct sim *s, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (mkfifo(path, 0600) != 0) {
			fprintf(stderr, "metersim: cannot make FIFO %s: %s\n", path,
				strerror(errno));
			return GW_EIO;
		}
	} else if (!S_ISFIFO(st.st_mode)) {
		fprintf(stderr, "metersim: --control %s exists and is not a FIFO\n",
			path);
		return GW_EINVAL;
	}
	s->ctl_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (s->ctl_fd < 0 || open(path, O_WRONLY | O_CLOEXEC) < 0) {
		fprintf(stderr, "metersim: cannot open FIFO %s: %s\n", path,
			strerror(errno));
		return GW_EIO;
	}
	return 0;
}

static int write_file(const char *path, const char *text)
{
	char tmp[GW_PATH_MAX + 8];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fputs(text, f) == EOF || fclose(f) != 0 ||
	    rename(tmp, path) != 0) {
		fprintf(stderr, "metersim: cannot write %s: %s\n", path,
			strerror(errno));
		return GW_EIO;
	}
	return 0;
}

/* Serves the whole RTU requests in rbuf (*rlen bytes, cap room), read from
 * fd (a serial line, or a TCP connection of --rtu-tcp), and keeps an
 * incomplete one for the next read. Read requests (FC 3 and 4) are 8
 * bytes. */
static void rtu_frames(struct sim *s, int fd, uint8_t *rbuf, size_t *rlen,
		       size_t cap)
{
	uint8_t q[MODBUS_RTU_MAX_ADU_LENGTH];

	while (*rlen >= 2) {
		int fc = rbuf[1];
		if (fc != MODBUS_FC_READ_HOLDING_REGISTERS &&
		    fc != MODBUS_FC_READ_INPUT_REGISTERS) {
			/* Not a read request: reply "illegal function" if it
			 * is a whole frame for us, then drop it (after the
			 * line has been quiet briefly). */
			struct timeval tv = {0, 20000};
			fd_set one;
			FD_ZERO(&one);
			FD_SET(fd, &one);
			while (select(fd + 1, &one, NULL, NULL, &tv) > 0) {
				ssize_t m = read(fd, rbuf + *rlen, cap - *rlen);
				if (m <= 0 || *rlen + (size_t)m >= cap)
					break;
				*rlen += (size_t)m;
				tv.tv_usec = 20000;
			}
			if (*rlen >= 4 && rbuf[0] != 0 &&
			    crc16(rbuf, (int)*rlen - 2) ==
				    (uint16_t)(rbuf[*rlen - 2] | (rbuf[*rlen - 1] << 8)) &&
			    rbuf[0] >= s->first_unit &&
			    rbuf[0] < s->first_unit + s->n_meters)
				send_exception(s, fd, rbuf, (int)*rlen, false, rbuf[0],
					       fc, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
			*rlen = 0;
			return;
		}
		if (*rlen < 8)
			return;
		if (crc16(rbuf, 6) != (uint16_t)(rbuf[6] | (rbuf[7] << 8))) {
			/* noise: resynchronise on the next byte */
			memmove(rbuf, rbuf + 1, --*rlen);
			continue;
		}
		memcpy(q, rbuf, 8);
		memmove(rbuf, rbuf + 8, *rlen - 8);
		*rlen -= 8;
		if (q[0] != 0) /* broadcast reads are never answered */
			serve(s, fd, q, 8, 1);
	}
}

/* Drops client i of n (closed by its peer, or garbage), keeping the
 * others' RTU buffers with them. */
static void client_drop(struct sim *s, int *clients, uint8_t (*cbuf)[MODBUS_RTU_MAX_ADU_LENGTH],
			size_t *clen, int i, int *n)
{
	held_drop(s, clients[i]);
	close(clients[i]);
	gw_info("metersim: a connection closed");
	(*n)--;
	clients[i] = clients[*n];
	memcpy(cbuf[i], cbuf[*n], clen[*n]);
	clen[i] = clen[*n];
}

/* Serves Modbus TCP, or with rtu RTU frames on TCP connections (as a
 * serial device server passes a line's bytes through). */
static int run_tcp(struct sim *s, const char *host, const char *port,
		   bool rtu, const char *ready_file, const sigset_t *waitmask)
{
	modbus_t *ctx = modbus_new_tcp_pi(host, port);
	int clients[MAX_CLIENTS], nclients = 0;
	uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
	static uint8_t cbuf[MAX_CLIENTS][MODBUS_RTU_MAX_ADU_LENGTH];
	size_t clen[MAX_CLIENTS] = {0};

	if (!ctx) {
		fprintf(stderr, "metersim: %s:%s: %s\n", host, port,
			modbus_strerror(errno));
		return 1;
	}
	int ls = modbus_tcp_pi_listen(ctx, 16);
	if (ls < 0) {
		fprintf(stderr, "metersim: cannot listen on %s:%s: %s\n", host,
			port, modbus_strerror(errno));
		modbus_free(ctx);
		return 1;
	}
	int header_len = modbus_get_header_length(ctx);
	gw_info("metersim: %d meter(s), units %d..%d, profile %s, Modbus %s on %s:%s",
		s->n_meters, s->first_unit, s->first_unit + s->n_meters - 1,
		s->prof->name, rtu ? "RTU over TCP" : "TCP", host, port);
	if (ready_file) {
		/* The port bound, not the one asked for: with port 0 the
		 * kernel chose it, and the ready file is how a caller learns
		 * it. */
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);
		char text[64], num[NI_MAXSERV];

		if (getsockname(ls, (struct sockaddr *)&sa, &salen) != 0 ||
		    getnameinfo((struct sockaddr *)&sa, salen, NULL, 0, num,
				sizeof(num), NI_NUMERICSERV) != 0) {
			fprintf(stderr, "metersim: cannot tell the port bound on %s:%s: %s\n",
				host, port, strerror(errno));
			close(ls);
			modbus_free(ctx);
			return 1;
		}
		snprintf(text, sizeof(text), "%s\n", num);
		if (write_file(ready_file, text)) {
			close(ls);
			modbus_free(ctx);
			return 1;
		}
	}

	while (!stop_flag) {
		fd_set rd;
		int maxfd = ls;
		FD_ZERO(&rd);
		FD_SET(ls, &rd);
		for (int i = 0; i < nclients; i++) {
			FD_SET(clients[i], &rd);
			if (clients[i] > maxfd)
				maxfd = clients[i];
		}
		if (s->ctl_fd >= 0) {
			FD_SET(s->ctl_fd, &rd);
			if (s->ctl_fd > maxfd)
				maxfd = s->ctl_fd;
		}
		/* Signals are blocked except inside pselect: no lost wake-up. */
		int n = pselect(maxfd + 1, &rd, NULL, NULL, NULL, waitmask);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("metersim: select");
			break;
		}
		if (s->ctl_fd >= 0 && FD_ISSET(s->ctl_fd, &rd))
			control_read(s);
		if (FD_ISSET(ls, &rd)) {
			int c = accept(ls, NULL, NULL);
			if (c >= 0 && nclients < MAX_CLIENTS) {
				clen[nclients] = 0;
				clients[nclients++] = c;
				s->connections++;
				if (s->reqlog)
					fprintf(s->reqlog, "%.3f %d accept\n",
						(double)mono_ns() / 1e6, c);
				gw_info("metersim: connection %lu accepted",
					s->connections);
			} else if (c >= 0) {
				close(c);
			}
		}
		for (int i = 0; i < nclients; i++) {
			if (!FD_ISSET(clients[i], &rd))
				continue;
			if (rtu) {
				ssize_t r = read(clients[i], cbuf[i] + clen[i],
						 sizeof(cbuf[i]) - clen[i]);
				if (r <= 0 && !(r < 0 && errno == EINTR)) {
					client_drop(s, clients, cbuf, clen, i--,
						    &nclients);
					continue;
				}
				if (r > 0) {
					clen[i] += (size_t)r;
					rtu_frames(s, clients[i], cbuf[i], &clen[i],
						   sizeof(cbuf[i]));
				}
				continue;
			}
			modbus_set_socket(ctx, clients[i]);
			int len = modbus_receive(ctx, q);
			if (len > 0) {
				serve(s, clients[i], q, len, header_len);
			} else if (len < 0) {
				/* Closed by the client, or garbage. */
				client_drop(s, clients, cbuf, clen, i--, &nclients);
			}
		}
	}
	for (int i = 0; i < nclients; i++)
		close(clients[i]);
	close(ls);
	modbus_set_socket(ctx, -1);
	modbus_free(ctx);
	return 0;
}

static int run_rtu(struct sim *s, const char *device, int baud, char parity,
		   int data_bits, int stop_bits, const char *ready_file,
		   const sigset_t *waitmask)
{
	modbus_t *ctx = modbus_new_rtu(device, baud, parity, data_bits, stop_bits);
	uint8_t rbuf[MODBUS_RTU_MAX_ADU_LENGTH];
	size_t rlen = 0;

	if (!ctx || modbus_connect(ctx) == -1) {
		fprintf(stderr, "metersim: cannot open %s: %s\n", device,
			modbus_strerror(errno));
		modbus_free(ctx);
		return 1;
	}
	gw_info("metersim: %d meter(s), units %d..%d, profile %s, Modbus RTU on %s %d %d%c%d",
		s->n_meters, s->first_unit, s->first_unit + s->n_meters - 1,
		s->prof->name, device, baud, data_bits, parity, stop_bits);
	if (ready_file && write_file(ready_file, "rtu\n")) {
		modbus_close(ctx);
		modbus_free(ctx);
		return 1;
	}
	int fd = modbus_get_socket(ctx);
	/* start bit, data bits, parity bit, stop bits */
	s->char_ns = (int64_t)(1 + data_bits + (parity != 'N') + stop_bits) *
		     1000000000 / baud;
	while (!stop_flag) {
		fd_set rd;
		FD_ZERO(&rd);
		FD_SET(fd, &rd);
		if (s->ctl_fd >= 0)
			FD_SET(s->ctl_fd, &rd);
		int n = pselect((fd > s->ctl_fd ? fd : s->ctl_fd) + 1, &rd, NULL,
				NULL, NULL, waitmask);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("metersim: select");
			break;
		}
		if (s->ctl_fd >= 0 && FD_ISSET(s->ctl_fd, &rd))
			control_read(s);
		if (!FD_ISSET(fd, &rd))
			continue;
		/* Frames are read here, not with modbus_receive: libmodbus
		 * 3.1.6 serves one unit id and, after a request for another
		 * unit, takes the next frame on the line for that unit's reply
		 * and skips it, so it would swallow every other request of a
		 * multi-drop line. */
		ssize_t r = read(fd, rbuf + rlen, sizeof(rbuf) - rlen);
		if (r <= 0)
			continue;
		rlen += (size_t)r;
		rtu_frames(s, fd, rbuf, &rlen, sizeof(rbuf));
	}
	modbus_close(ctx);
	modbus_free(ctx);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Command line                                                       */

static void usage(FILE *f)
{
	fputs("usage: metersim (--tcp HOST:PORT | --rtu-tcp HOST:PORT | --rtu DEVICE [--baud N] [--parity N|E|O]\n"
	      "                 [--data-bits N] [--stop-bits N])\n"
	      "                 --meters N [--first-unit U] --profile NAME [--profiles-dir DIRS]\n"
	      "                 [--load shop|home] [--tz ZONE]\n"
	      "                 [--clock-anchor A --clock-start UTC --clock-speed S]\n"
	      "                 [--pidfile FILE] [--ready-file FILE] [--print-expected DAY]\n"
	      "                 [--strict-map] [--all-registers] [--fault UNIT:KIND[:ARG]]...\n"
	      "                 [--control FIFO]\n"
	      "                 [--pace]\n"
	      "       metersim --iec DEVICE [options]   (see metersim --iec DEVICE --help)\n"
	      "       metersim --version\n"
	      "\n"
	      "With --iec: IEC 62056-21 meters on a serial line or pseudo-terminal (mode\n"
	      "C, fixed baud or mode D push; a load profile with range reads in\n"
	      "programming mode; faults); docs/metersim.md.\n"
	      "\n"
	      "Simulates N Modbus meters (unit ids U..U+N-1, default U=1) of the model\n"
	      "described by profiles/NAME.prof behind one Modbus TCP endpoint or on one\n"
	      "serial line. Registers are computed at request time from the (simulated)\n"
	      "clock: 1.8.0/2.8.0 energy, 32.7.0/52.7.0/72.7.0 voltage, 16.7.0 power,\n"
	      "14.7.0 frequency; other registers read as the profile's 'na' value (or 0).\n"
	      "\n"
	      "  --iec DEVICE         IEC 62056-21 meters instead, on a serial device or\n"
	      "                       pty (its options: metersim --iec DEVICE --help)\n"
	      "  --tcp HOST:PORT      listen for Modbus TCP (unit id selects the meter)\n"
	      "  --rtu DEVICE         serve Modbus RTU on a serial device or pty\n"
	      "  --rtu-tcp HOST:PORT  serve Modbus RTU frames (with CRC) on TCP, as a\n"
	      "                       serial device server (Moxa NPort, USR-TCP232) does\n"
	      "  --request-log FILE   append a line per request: monotonic ms, connection\n"
	      "                       fd, unit, function, address, count (and per TCP\n"
	      "                       connection accepted: ms, fd, \"accept\")\n"
	      "  --baud N             RTU speed (default 9600)\n"
	      "  --parity N|E|O       RTU parity (default N); --data-bits 8, --stop-bits 1\n"
	      "  --meters N           number of meters (1..247)\n"
	      "  --first-unit U       unit id of the first meter (default 1)\n"
	      "  --profile NAME       profile name, or a path to a .prof file\n"
	      "  --profiles-dir DIRS  where profiles are, directories separated by ':'\n"
	      "                       searched in order (default: ../profiles next to\n"
	      "                       the binary if it exists, else ./profiles)\n"
	      "  --load shop|home     load model (default shop): shop imports 200+50*U W\n"
	      "                       06:00-22:00 local; home follows a daily curve\n"
	      "                       (13 kWh/day scaled by (10+U)/10); meters with\n"
	      "                       U%3==0 export 500*U W 10:00-14:00 local\n"
	      "  --tz ZONE            IANA zone of the local day (default UTC)\n"
	      "  --clock-anchor A     real UTC seconds (or 'now') of the simulated start;\n"
	      "                       @FILE: the seconds FILE will hold, the clock\n"
	      "                       standing at the start until it is there\n"
	      "  --clock-start UTC    simulated time at the anchor, e.g. 2026-03-28T00:00:00Z\n"
	      "  --clock-speed S      simulated seconds per real second (1..100000)\n"
	      "  --pidfile FILE       write the process id to FILE\n"
	      "  --ready-file FILE    written once the simulator listens (TCP: the port\n"
	      "                       bound, the one the kernel chose for port 0)\n"
	      "  --print-expected DAY print per meter 'UNIT<TAB>IMPORT_WH<TAB>EXPORT_WH' for\n"
	      "                       local day DAY (YYYY-MM-DD), as the gateway should\n"
	      "                       compute it from the registers, and exit\n"
	      "  --strict-map         answer 'illegal data address' to a request that\n"
	      "                       covers registers the profile does not define (as\n"
	      "                       many real meters do); default: they read as 0\n"
	      "  --all-registers      give every register of the profile a value (per-phase\n"
	      "                       energy, current, power, power factor; others 0)\n"
	      "                       instead of 'na' (tests/bench/scale.sh)\n"
	      "  --fault UNIT:KIND[:ARG]  switch a fault on for unit UNIT (or 'all'); may\n"
	      "                       be repeated. KIND: noanswer; crc (RTU: bad CRC, TCP:\n"
	      "                       bad protocol id); exception[:CODE] (default 6, busy;\n"
	      "                       2 is illegal data address); slow:MS (reply MS ms\n"
	      "                       late); wrap[:WH] (1.8.0/2.8.0 roll over to 0 after\n"
	      "                       WH more Wh, default 1000: at the register's width,\n"
	      "                       or 1e9 Wh for 64-bit and float registers);\n"
	      "                       replaced (counters restart at 0, new serial number\n"
	      "                       in 96.1.0); wrongunit (reply from unit UNIT+1);\n"
	      "                       short (one register less than asked); twice (every\n"
	      "                       reply sent twice); late (TCP: each reply held back\n"
	      "                       until the next reply on that connection, so that\n"
	      "                       it comes after the master gave up and asked again);\n"
	      "                       inf (a float 1.8.0 reads +Inf); none (clear every\n"
	      "                       fault of the unit)\n"
	      "  --control FIFO       read more fault specs, one per line, from FIFO (made\n"
	      "                       if missing) while running: echo 3:noanswer > FIFO\n"
	      "  --pace               RTU: send replies at the line rate (one byte per\n"
	      "                       character time, 3.5 characters of silence around\n"
	      "                       each frame), as a real RS-485 line would\n"
	      "\n"
	      "Energy counts from T_ref = the clock start (2026-01-01T00:00:00Z on the real\n"
	      "clock): 1.8.0 = 1000000*U Wh at T_ref, 2.8.0 = 0. See docs/metersim.md.\n"
	      "SIGTERM or SIGINT stops it.\n",
	      f);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi)
		return GW_EINVAL;
	*out = (int)v;
	return 0;
}

/* The default profiles directory: ../profiles next to the binary, else
 * ./profiles. */
static void default_profiles_dir(char *out, size_t cap)
{
	char exe[GW_PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(out, cap, "%.400s/../profiles", exe) < (int)cap &&
			    access(out, F_OK) == 0)
				return;
		}
	}
	snprintf(out, cap, "profiles");
}

int metersim_time_setup(const char *tz, const char *anchor, const char *start,
			const char *speed, struct gw_clock *clock, int64_t *t_ref)
{
	int rc = gw_tz_set(tz);

	if (rc) {
		fprintf(stderr, "metersim: --tz %s: %s\n", tz, gw_strerror(rc));
		return 2;
	}
	if (start || speed || anchor) {
		if (gw_clock_from_options(clock, "metersim", anchor, start, speed))
			return 2;
		*t_ref = clock->start_ms;
	} else {
		gw_clock_init_real(clock);
		gw_parse_utc("2026-01-01T00:00:00Z", t_ref);
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* --version, with or without --iec */
	for (int a = 1; a < argc; a++)
		if (strcmp(argv[a], "--version") == 0) {
			gw_version_print(stdout, "metersim");
			return 0;
		}
	/* IEC 62056-21 meters are a simulator of their own
	 * (tools/metersim_iec.c). */
	for (int a = 1; a < argc; a++)
		if (strcmp(argv[a], "--iec") == 0 || strncmp(argv[a], "--iec=", 6) == 0)
			return metersim_iec_main(argc, argv);
	static const struct option opts[] = {
		{ "tcp", required_argument, NULL, 't' },
		{ "rtu-tcp", required_argument, NULL, 'U' },
		{ "request-log", required_argument, NULL, 'Q' },
		{ "rtu", required_argument, NULL, 'r' },
		{ "baud", required_argument, NULL, 'b' },
		{ "parity", required_argument, NULL, 'P' },
		{ "data-bits", required_argument, NULL, 'D' },
		{ "stop-bits", required_argument, NULL, 'S' },
		{ "meters", required_argument, NULL, 'n' },
		{ "first-unit", required_argument, NULL, 'u' },
		{ "profile", required_argument, NULL, 'p' },
		{ "profiles-dir", required_argument, NULL, 'd' },
		{ "load", required_argument, NULL, 'l' },
		{ "tz", required_argument, NULL, 'z' },
		{ "clock-anchor", required_argument, NULL, 'A' },
		{ "clock-start", required_argument, NULL, 'T' },
		{ "clock-speed", required_argument, NULL, 'X' },
		{ "pidfile", required_argument, NULL, 'i' },
		{ "ready-file", required_argument, NULL, 'R' },
		{ "print-expected", required_argument, NULL, 'E' },
		{ "strict-map", no_argument, NULL, 'M' },
		{ "all-registers", no_argument, NULL, 'a' },
		{ "fault", required_argument, NULL, 'F' },
		{ "control", required_argument, NULL, 'C' },
		{ "pace", no_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tcp = NULL, *rtu = NULL, *profile = NULL, *dir = NULL;
	const char *tz = "UTC", *anchor = NULL, *start = NULL, *speed = NULL;
	const char *pidfile = NULL, *ready = NULL, *expected = NULL;
	const char *control = NULL, *rtutcp = NULL, *reqlog = NULL;
	const char *fault_specs[64];
	int n_faults = 0;
	int baud = 9600, data_bits = 8, stop_bits = 1;
	char parity = 'N';
	struct sim s;
	char dirbuf[GW_PATH_MAX];
	int c;

	memset(&s, 0, sizeof(s));
	s.ctl_fd = -1;
	s.first_unit = 1;
	s.load = LOAD_SHOP;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't': tcp = optarg; break;
		case 'U': rtutcp = optarg; break;
		case 'Q': reqlog = optarg; break;
		case 'r': rtu = optarg; break;
		case 'b':
			if (parse_int(optarg, 50, 4000000, &baud))
				goto bad;
			break;
		case 'P':
			if (strlen(optarg) != 1 || !strchr("NEO", optarg[0]))
				goto bad;
			parity = optarg[0];
			break;
		case 'D':
			if (parse_int(optarg, 5, 8, &data_bits))
				goto bad;
			break;
		case 'S':
			if (parse_int(optarg, 1, 2, &stop_bits))
				goto bad;
			break;
		case 'n':
			if (parse_int(optarg, 1, 247, &s.n_meters))
				goto bad;
			break;
		case 'u':
			if (parse_int(optarg, 1, 247, &s.first_unit))
				goto bad;
			break;
		case 'p': profile = optarg; break;
		case 'd': dir = optarg; break;
		case 'l':
			if (strcmp(optarg, "shop") == 0)
				s.load = LOAD_SHOP;
			else if (strcmp(optarg, "home") == 0)
				s.load = LOAD_HOME;
			else
				goto bad;
			break;
		case 'z': tz = optarg; break;
		case 'A': anchor = optarg; break;
		case 'T': start = optarg; break;
		case 'X': speed = optarg; break;
		case 'i': pidfile = optarg; break;
		case 'R': ready = optarg; break;
		case 'E': expected = optarg; break;
		case 'M': s.strict = true; break;
		case 'a': s.all_regs = true; break;
		case 'F':
			if (n_faults == (int)(sizeof(fault_specs) / sizeof(fault_specs[0]))) {
				fprintf(stderr, "metersim: too many --fault options\n");
				return 2;
			}
			fault_specs[n_faults++] = optarg;
			break;
		case 'C': control = optarg; break;
		case 'G': s.pace = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		continue;
bad:
		fprintf(stderr, "metersim: bad value '%s' (see --help)\n", optarg);
		return 2;
	}
	if (optind < argc || !profile || s.n_meters == 0 ||
	    (!expected && !!tcp + !!rtu + !!rtutcp != 1)) {
		fprintf(stderr, "metersim: need --profile, --meters and one of --tcp, --rtu or --rtu-tcp\n");
		usage(stderr);
		return 2;
	}
	if (s.first_unit + s.n_meters - 1 > 247) {
		fprintf(stderr, "metersim: unit ids end above 247\n");
		return 2;
	}
	if (metersim_time_setup(tz, anchor, start, speed, &s.clock, &s.t_ref))
		return 2;
	s.tcp = tcp != NULL;
	s.day_ref = gw_tz_day_of(s.t_ref);
	curves_init(&s);
	for (int i = 0; i < n_faults; i++) {
		char err[200];
		if (fault_apply(&s, fault_specs[i], gw_clock_now_ms(&s.clock), err,
				sizeof(err))) {
			fprintf(stderr, "metersim: --%s\n", err);
			return 2;
		}
	}
	if (s.pace && !rtu) {
		fprintf(stderr, "metersim: --pace is for --rtu\n");
		return 2;
	}

	int rc;
	if (strchr(profile, '/') ||
	    (strlen(profile) > 5 && strcmp(profile + strlen(profile) - 5, ".prof") == 0)) {
		rc = gw_profile_load(profile, &s.prof);
	} else {
		if (!dir) {
			default_profiles_dir(dirbuf, sizeof(dirbuf));
			dir = dirbuf;
		}
		rc = gw_profile_load_named(dir, profile, &s.prof);
		if (rc == GW_ENOTFOUND)
			fprintf(stderr, "metersim: no profile %s.prof in %s\n",
				profile, dir);
	}
	if (rc)
		return 2;

	if (expected) {
		int32_t day;
		if (gw_day_parse(expected, &day)) {
			fprintf(stderr, "metersim: bad --print-expected day '%s'\n",
				expected);
			return 2;
		}
		int64_t t0 = gw_tz_day_start(day), t1 = gw_tz_day_start(day + 1);
		for (int u = s.first_unit; u < s.first_unit + s.n_meters; u++) {
			int64_t imp = as_read(&s, "1.8.0", import_wh(&s, u, t1)) -
				      as_read(&s, "1.8.0", import_wh(&s, u, t0));
			int64_t ex = as_read(&s, "2.8.0", export_wh(&s, u, t1)) -
				     as_read(&s, "2.8.0", export_wh(&s, u, t0));
			printf("%d\t%" PRId64 "\t%" PRId64 "\n", u, imp, ex);
		}
		free(s.imp.cum);
		free(s.exp.cum);
		gw_profile_free(s.prof);
		return 0;
	}

	/* One mapping big enough for any request; serve() fills the part a
	 * request asks for. */
	s.map = modbus_mapping_new(0, 0, 0x10000, 0x10000);
	if (!s.map) {
		fprintf(stderr, "metersim: out of memory\n");
		return 1;
	}

	struct sigaction sa;
	sigset_t block, waitmask;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);

	if (pidfile) {
		char text[32];
		snprintf(text, sizeof(text), "%ld\n", (long)getpid());
		if (write_file(pidfile, text))
			return 1;
	}
	if (control && control_open(&s, control))
		return 1;

	if (reqlog) {
		s.reqlog = fopen(reqlog, "a");
		if (!s.reqlog) {
			fprintf(stderr, "metersim: cannot write %s: %s\n", reqlog,
				strerror(errno));
			return 1;
		}
		setvbuf(s.reqlog, NULL, _IOLBF, 0);
	}
	if (tcp || rtutcp) {
		char host[256];
		const char *hp = tcp ? tcp : rtutcp;
		const char *colon = strrchr(hp, ':');
		if (!colon || colon == hp || (size_t)(colon - hp) >= sizeof(host) ||
		    !colon[1]) {
			fprintf(stderr, "metersim: --%s wants HOST:PORT\n",
				tcp ? "tcp" : "rtu-tcp");
			return 2;
		}
		tcp = hp;
		memcpy(host, tcp, (size_t)(colon - tcp));
		host[colon - tcp] = '\0';
		if (host[0] == '[' && host[strlen(host) - 1] == ']') {
			memmove(host, host + 1, strlen(host));
			host[strlen(host) - 1] = '\0';
		}
		rc = run_tcp(&s, host, colon + 1, rtutcp != NULL, ready, &waitmask);
	} else {
		rc = run_rtu(&s, rtu, baud, parity, data_bits, stop_bits, ready,
			     &waitmask);
	}
	if (pidfile)
		unlink(pidfile);
	if (s.reqlog)
		fclose(s.reqlog);
	if (s.ctl_fd >= 0)
		close(s.ctl_fd);
	gw_info("metersim: stopped");
	modbus_mapping_free(s.map);
	free(s.imp.cum);
	free(s.exp.cum);
	gw_profile_free(s.prof);
	return rc;
}
