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
 *
 * The serial side (port, baud, framing, timed writes and reception) is in
 * iec_port.c; the keys of the bus and the driver table in iec_conf.c.
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
#include "drops.h"
#include "iec62056.h"
#include "iec_bus.h"
#include "iec_parse.h"
#include "iec_profile.h"

/* ------------------------------------------------------------------ */
/* Driver operations                                                  */

int gw_iec_open(const struct gw_bus_config *bus, void **handle)
{
	struct iec_bus *b;

	*handle = NULL;
	if (bus->driver != &gw_iec62056_driver || !bus->opts)
		return GW_EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return GW_ENOMEM;
	gw_strlcpy(b->name, bus->name, sizeof(b->name));
	b->cfg = *(const struct gw_iec_bus_opts *)bus->opts;
	b->fd = -1;
	b->tg = malloc(sizeof(*b->tg));
	b->rx = malloc(RX_CAP);
	if (!b->tg || !b->rx) {
		free(b->tg);
		free(b->rx);
		free(b);
		return GW_ENOMEM;
	}
	int rc = iec_port_open(b);
	if (rc) {
		free(b->tg);
		free(b->rx);
		free(b);
		return rc;
	}
	*handle = b;
	return 0;
}

void gw_iec_close(void *handle)
{
	struct iec_bus *b = handle;

	if (!b)
		return;
	iec_port_close(b, "bus closed");
	free(b->tg);
	free(b->rx);
	free(b->ms);
	free(b);
}

static void count(struct gw_read_faults *f, int rc)
{
	switch (rc) {
	case GW_ETIMEDOUT: f->timeouts++; break;
	case GW_ECRC: f->crc_errors++; break;
	case GW_EEXCEPT: f->exceptions++; break;
	case GW_EPROTO:
	case GW_EFULL: f->malformed++; break;
	default: break;
	}
}

/* Parses the telegram in b->rx[from..) and turns it into readings. */
static int take_telegram(struct iec_bus *b, const struct gw_meter_config *m,
			 size_t from, unsigned pflags, struct gw_reading *out,
			 size_t cap, struct gw_meter_seen *seen)
{
	struct gw_iec_telegram *t = b->tg;
	int rc = gw_iec_parse(b->rx + from, b->rx_len - from, pflags, t);

	if (rc) {
		gw_debug("meter %s: telegram rejected: %s (byte %zu)", m->id,
			 gw_iec_reason_name(t->reason), t->error_at);
		iec_trace_note(b, "rejected: %s at byte %zu", gw_iec_reason_name(t->reason),
			   t->error_at);
		return rc;
	}
	unsigned rflags = GW_IEC_PROFILE | (b->cfg.iec_billing ? GW_IEC_BILLING : 0);
	int n = gw_iec_readings(t, m->id, rflags, out, cap);
	if (n < 0)
		return n;
	if (t->clock.has_date && t->clock.has_time) {
		int64_t ms;
		/* The meter read its clock as it began to answer: moved on
		 * by the time the answer took, it compares with the
		 * gateway's time at the end of the read. */
		if (gw_iec_local_to_utc(t->clock.year, t->clock.month, t->clock.day,
					t->clock.hour, t->clock.min, t->clock.sec, -1,
					&ms) == 0)
			seen->clock_ms = ms + (b->rx_first_ms ? iec_bus_now(b) - b->rx_first_ms : 0);
	}
	gw_iec_serial(t, seen->serial, sizeof(seen->serial));
	iec_trace_note(b, "accepted: %zu data sets, %d readings%s", t->n_sets, n,
		   t->bcc_checked ? ", BCC ok" : "");
	return n;
}

/* Sign-on and option select with meter m: "/?ADDRESS!", its
 * identification, ACK 0 Z `mode` ('0' data readout, '1' programming) and
 * the baud switch. On return 0, ack[0..*ack_len) is what was sent last
 * (its echo is to be skipped), *tr the meter's reaction time and *id its
 * identification. */
static int sign_on(struct iec_bus *b, const struct gw_meter_config *m,
		   char mode, struct gw_read_faults *f, struct gw_iec_ident *id,
		   int *tr, uint8_t *ack, size_t *ack_len)
{
	const struct gw_iec_bus_opts *c = &b->cfg;
	uint8_t msg[64];
	int rc;

	rc = iec_port_set_baud(b, c->baud);
	if (rc)
		return rc;
	iec_sleep_until((double)b->quiet_until);
	iec_port_discard(b);
	int len = snprintf((char *)msg, sizeof(msg), "/?%s!\r\n",
			   ((const struct gw_iec_meter *)m->opts)->address);
	f->requests++;
	rc = iec_port_write(b, msg, (size_t)len);
	if (rc)
		return rc;

	b->rx_len = 0;
	rc = iec_rx_until(b, RX_IDENT, c->timeout_ms, c->byte_timeout_ms, msg,
		      (size_t)len);
	b->rx_first_ms = 0; /* the answer that counts comes after the ACK */
	if (rc)
		return rc;
	*id = b->tg->ident;
	double t_ident = iec_mono_ms_f();
	*tr = id->fast ? GW_IEC_TR_FAST_MS : GW_IEC_TR_MS;
	int new_baud = c->baud;

	*ack_len = 0; /* the echo to expect next: the ACK, if one is sent */
	if (id->mode == 'C') {
		char z = gw_iec_baud_char(c->baud);
		if (c->iec_mode == GW_IEC_MODE_C && id->baud > 0) {
			new_baud = id->baud < c->max_baud ? id->baud : c->max_baud;
			z = gw_iec_baud_char(new_baud);
		}
		if (!z) {
			new_baud = c->baud;
			z = '0';
		}
		/* Option select: protocol '0' (normal), baud Z, mode '0'
		 * (data readout) or '1' (programming). */
		uint8_t a[6] = {GW_IEC_ACK, '0', (uint8_t)z, (uint8_t)mode, '\r', '\n'};
		iec_sleep_until(t_ident + *tr);
		rc = iec_port_write(b, a, sizeof(a));
		if (rc)
			return rc;
		memcpy(ack, a, sizeof(a));
		*ack_len = sizeof(a);
	} else if (mode != '0') {
		return GW_EINVAL; /* mode A and B know no programming mode */
	} else if (id->mode == 'B' && id->baud > 0 && c->iec_mode == GW_IEC_MODE_C) {
		new_baud = id->baud; /* the meter switches without an ACK */
	}
	return iec_port_set_baud(b, new_baud);
}

/* A meter's identification ('/', not our "/?ADDRESS!" or its echo)
 * followed by a blank line and data ending in '!': what a push (mode D)
 * meter sends unasked, with no STX ... ETX around its data. */
static bool looks_pushed(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] != '/' || p[i + 1] == '?')
			continue;
		const uint8_t *blank = memmem(p + i, n - i, "\r\n\r\n", 4);
		return blank && memchr(blank, '!', n - (size_t)(blank - p)) != NULL;
	}
	return false;
}

/* The verdict on a mode C reply that holds no complete STX ... ETX block,
 * for the trace; and for the caller's message (f->detail) the hint that a
 * push meter answers so, when its bytes look like one. */
static void no_block_verdict(struct iec_bus *b, int rc, struct gw_read_faults *f)
{
	const uint8_t *stx = memchr(b->rx, GW_IEC_STX, b->rx_len);
	bool pushed = !stx && looks_pushed(b->rx, b->rx_len);

	if (stx)
		iec_trace_note(b, "rejected: the data block has no ETX and BCC (%s)",
			       rc == GW_ETIMEDOUT ? "timed out" : "cut short");
	else if (pushed)
		iec_trace_note(b, "rejected: data without STX ... ETX, sent unasked: "
			       "the meter looks like a push meter (mode = d on its bus)");
	else
		iec_trace_note(b, "rejected: no STX ... ETX data block after the "
			       "option select (%s)", rc == GW_ETIMEDOUT ? "timed out"
			       : "other bytes came");
	if (pushed)
		gw_strlcpy(f->detail, "no STX/ETX block; a push meter? (mode = d)",
			   sizeof(f->detail));
}

/* One mode C (or fixed, A, B) session with meter m. */
static int read_mode_c(struct iec_bus *b, const struct gw_meter_config *m,
		       struct gw_reading *out, size_t cap,
		       struct gw_read_result *res)
{
	const struct gw_iec_bus_opts *c = &b->cfg;
	struct gw_iec_ident id;
	uint8_t ack[8];
	size_t ack_len;
	int tr, rc;

	rc = sign_on(b, m, '0', &res->faults, &id, &tr, ack, &ack_len);
	if (rc)
		return rc;
	rc = iec_rx_until(b, RX_BLOCK, c->timeout_ms, c->byte_timeout_ms, ack, ack_len);
	b->quiet_until = iec_mono_ms() + tr;
	if (rc == GW_ETIMEDOUT || rc == GW_EPROTO)
		no_block_verdict(b, rc, &res->faults);
	if (rc)
		return rc;
	/* The block starts at STX (a mode A meter may have sent it right
	 * after its identification); before it: the sign-on's echo, the
	 * identification, the ACK's echo (none of which holds an STX). */
	const uint8_t *stx = memchr(b->rx, GW_IEC_STX, b->rx_len);
	return take_telegram(b, m, (size_t)(stx - b->rx), GW_IEC_NEED_BCC, out,
			     cap, &res->ident);
}

/* Sends SOH cmd [STX data] ETX BCC (a programming-mode command) after
 * the reaction time; msg[] gets what was sent, for its echo. */
static int send_command(struct iec_bus *b, int tr, const char *cmd,
			const char *data, uint8_t *msg, size_t cap, size_t *len)
{
	size_t n = 0;

	msg[n++] = GW_IEC_SOH;
	n += (size_t)snprintf((char *)msg + n, cap - n - 3, "%s", cmd);
	if (data) {
		msg[n++] = GW_IEC_STX;
		n += (size_t)snprintf((char *)msg + n, cap - n - 2, "%s", data);
	}
	msg[n++] = GW_IEC_ETX;
	msg[n] = gw_iec_bcc(msg + 1, n - 1);
	n++;
	*len = n;
	iec_sleep_until(iec_mono_ms_f() + tr);
	b->rx_len = 0;
	return iec_port_write(b, msg, n);
}

/* The meter's local time of gateway time ms on its clock (offset_ms
 * ahead) as a profile time "Syymmddhhmm" (S: 1 summer time, else 0). */
static void profile_time(int64_t ms, int64_t offset_ms, char *buf, size_t cap)
{
	time_t t = (time_t)((ms + offset_ms) / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	snprintf(buf, cap, "%d%02d%02d%02d%02d%02d", tm.tm_isdst > 0 ? 1 : 0,
		 tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
}

/* The meter's load profile from `from_ms` to `to_ms` (gateway clock) in
 * programming mode: sign-on with ACK 0 Z 1, the meter's SOH P0 STX (id)
 * ETX BCC, then SOH R5 STX P.01(Syymmddhhmm;Syymmddhhmm) ETX BCC, whose
 * answer STX P.01(...)(...)... ETX BCC is parsed into b->tg; then SOH B0
 * ETX BCC ends the session. No password is sent (P1): the meters we know
 * give their profile without one. Returns 0 or a GW_E code, with *what
 * saying what went wrong. */
static int request_profile(struct iec_bus *b, const struct gw_meter_config *m,
			   int64_t from_ms, int64_t to_ms, int64_t offset_ms,
			   struct gw_read_faults *f, const char **what)
{
	const struct gw_iec_bus_opts *c = &b->cfg;
	struct gw_iec_ident id;
	uint8_t ack[8], msg[96];
	size_t ack_len, len;
	char range[80], a[32], z[32];
	int tr, rc;

	*what = "no answer to the sign-on";
	rc = sign_on(b, m, '1', f, &id, &tr, ack, &ack_len);
	if (rc == GW_EINVAL)
		*what = "it identifies in mode A or B, which has no programming mode";
	if (rc)
		return rc;
	*what = "it refuses programming mode";
	rc = iec_rx_until(b, RX_REPLY, c->timeout_ms, c->byte_timeout_ms, ack, ack_len);
	b->quiet_until = iec_mono_ms() + tr;
	if (rc)
		return rc == GW_ETIMEDOUT ? GW_EEXCEPT : rc;
	const uint8_t *soh = memchr(b->rx, GW_IEC_SOH, b->rx_len);
	if (!soh || soh + 3 > b->rx + b->rx_len || soh[1] != 'P' || soh[2] != '0')
		return GW_EEXCEPT;
	const uint8_t *etx = memchr(soh, GW_IEC_ETX, b->rx_len - (size_t)(soh - b->rx));
	if (!etx || gw_iec_bcc(soh + 1, (size_t)(etx - soh)) != etx[1]) {
		*what = "its programming-mode answer P0 has a wrong BCC";
		return GW_ECRC;
	}
	profile_time(from_ms, offset_ms, a, sizeof(a));
	profile_time(to_ms + 60000, offset_ms, z, sizeof(z));
	snprintf(range, sizeof(range), "P.01(%s;%s)", a, z);
	f->requests++;
	*what = "the load-profile request could not be sent";
	rc = send_command(b, tr, "R5", range, msg, sizeof(msg), &len);
	if (rc)
		return rc;
	iec_trace_note(b, "load profile %s", range);
	*what = "no answer to the load-profile request";
	rc = iec_rx_until(b, RX_REPLY, c->timeout_ms, c->byte_timeout_ms, msg, len);
	b->quiet_until = iec_mono_ms() + tr;
	size_t got = b->rx_len;
	/* End the programming session whatever came (SOH B0 ETX BCC). */
	if (b->fd >= 0 && send_command(b, tr, "B0", NULL, msg, sizeof(msg), &len) == 0)
		b->quiet_until = iec_mono_ms() + tr;
	b->rx_len = got;
	if (rc == GW_EPROTO)
		*what = "its answer was cut short";
	if (rc)
		return rc;
	const uint8_t *stx = memchr(b->rx, GW_IEC_STX, b->rx_len);
	if (!stx) {
		*what = "it refused the load-profile request";
		return GW_EEXCEPT;
	}
	rc = gw_iec_parse(stx, b->rx_len - (size_t)(stx - b->rx), GW_IEC_NEED_BCC, b->tg);
	if (rc) {
		*what = b->tg->reason == GW_IEC_BAD_BCC ? "its answer has a wrong BCC"
		      : b->tg->reason == GW_IEC_NO_ETX ? "its answer was cut short"
							: "its answer is malformed";
		iec_trace_note(b, "rejected: %s at byte %zu",
			   gw_iec_reason_name(b->tg->reason), b->tg->error_at);
	}
	return rc;
}

/* Mode D: waits for the next complete push telegram. */
static int read_mode_d(struct iec_bus *b, const struct gw_meter_config *m,
		       struct gw_reading *out, size_t cap,
		       struct gw_read_result *res)
{
	const struct gw_iec_bus_opts *c = &b->cfg;

	res->faults.requests++;
	iec_port_discard(b); /* a telegram half gone by is of no use */
	b->rx_len = 0;
	b->rx_first_ms = 0;
	int rc = iec_rx_until(b, RX_PUSH, c->timeout_ms, c->byte_timeout_ms, NULL, 0);
	if (rc)
		return rc;
	const uint8_t *s = memchr(b->rx, '/', b->rx_len);
	return take_telegram(b, m, (size_t)(s - b->rx), GW_IEC_NEED_END, out, cap,
			     &res->ident);
}

static struct meter_state *meter_state(struct iec_bus *b, const char *id)
{
	for (size_t i = 0; i < b->n_ms; i++)
		if (strcmp(b->ms[i].id, id) == 0)
			return &b->ms[i];
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
	return &b->ms[b->n_ms++];
}

/* The current energy registers of a readout (OK status, no billing
 * period), at most MAX_REGS. */
static int energy_regs(const struct gw_reading *r, int n, struct reg_value *out)
{
	int k = 0;

	for (int i = 0; i < n && k < MAX_REGS; i++)
		if (r[i].ts_ms == 0 && r[i].status == GW_RS_OK && r[i].scale == 0 &&
		    gw_unit_is_energy((enum gw_unit)r[i].unit) &&
		    !strchr(r[i].obis, '*') && !strchr(r[i].obis, ':')) {
			gw_strlcpy(out[k].obis, r[i].obis, sizeof(out[k].obis));
			out[k++].value = r[i].value;
		}
	return k;
}

/* The profile readings of a readout (ts_ms != 0) onto the gateway's clock:
 * moved by the meter's clock offset, outside the window refused (counted
 * as bad_time), those passed on before left out. Returns the new n. */
static int place_profile(struct iec_bus *b, const struct gw_meter_config *m,
			 struct meter_state *ms, struct gw_reading *out, int n,
			 int64_t now)
{
	const struct gw_iec_bus_opts *c = &b->cfg;
	int64_t window = (int64_t)c->iec_profile_window_s * 1000;
	int64_t ahead = (int64_t)c->max_clock_drift_s * 1000;
	int profile = 0;

	for (int i = 0; i < n; i++)
		profile += out[i].ts_ms != 0;
	if (!profile)
		return n;
	if (ahead < 60000)
		ahead = 60000;
	size_t k = gw_iec_profile_place(out, (size_t)n, ms->has_offset ? ms->offset_ms : 0,
					now, window, ahead);
	size_t refused = (size_t)n - k;
	if (refused) {
		gw_drops_add(GW_DROP_BAD_TIME, refused);
		if (!ms->bad_time_logged)
			gw_warn("meter %s: %zu load-profile entries refused: their time "
				"stamps lie outside %d s before to %lld s after the "
				"gateway's time (meter clock %+lld s)",
				m->id, refused, c->iec_profile_window_s,
				(long long)(ahead / 1000),
				(long long)(ms->offset_ms / 1000));
		ms->bad_time_logged = true;
	} else {
		ms->bad_time_logged = false;
	}
	/* left out: what an earlier readout passed on already */
	int64_t newest = ms->prof_last_ms;
	size_t j = 0;
	for (size_t i = 0; i < k; i++) {
		if (out[i].ts_ms != 0 && out[i].ts_ms <= ms->prof_last_ms)
			continue;
		if (out[i].ts_ms > newest)
			newest = out[i].ts_ms;
		out[j++] = out[i];
	}
	ms->prof_last_ms = newest;
	return (int)j;
}

/* Fills the meter's pending gap from its load profile, appending points
 * to out[n..cap). Returns the new n; a failure is logged and counted in
 * faults, and the gap is tried again at the next read, BACKFILL_TRIES times
 * in all. */
/* Longer than 80 lines: the one place where the driver's memory of a gap
 * meets the meter's answer (ask, place on the gateway's clock, fill each
 * register, log and count, retry bookkeeping); split, the retry state
 * (gap_tries) would be spread over several functions. */
static int backfill(struct iec_bus *b, const struct gw_meter_config *m,
		    struct meter_state *ms, struct gw_reading *out, int n,
		    size_t cap, struct gw_read_faults *faults)
{
	const struct gw_iec_bus_opts *c = &b->cfg;
	int64_t window = (int64_t)c->iec_profile_window_s * 1000;
	int64_t from = ms->gap_from_ms, to = ms->gap_to_ms;
	const char *what = "";
	char why[256] = "", f[40], t[40];
	struct gw_reading *p = NULL;
	int rc, added = 0, derived = 0, points = 0;

	gw_format_utc(from, f, sizeof(f));
	gw_format_utc(to, t, sizeof(t));
	if (from < to - window)
		from = to - window; /* never ask for more than the window */
	ms->gap_tries--;
	rc = request_profile(b, m, from, to, ms->offset_ms, faults, &what);
	if (rc) {
		count(faults, rc);
		snprintf(why, sizeof(why), "%s (%s)", what, gw_strerror(rc));
		goto failed;
	}
	int64_t step = 0;
	p = malloc(GW_IEC_MAX_READINGS * sizeof(*p));
	int np = p ? gw_iec_profile(b->tg, m->id, p, GW_IEC_MAX_READINGS, &step) : GW_ENOMEM;
	if (np < 0) {
		snprintf(why, sizeof(why), "%s", gw_strerror(np));
		goto failed;
	}
	int64_t ahead = (int64_t)c->max_clock_drift_s * 1000;
	size_t kept = gw_iec_profile_place(p, (size_t)np, ms->offset_ms, to,
					   window, ahead < 60000 ? 60000 : ahead);
	if (kept < (size_t)np)
		gw_drops_add(GW_DROP_BAD_TIME, (size_t)np - kept);
	/* Register points for each energy register known at both ends. */
	for (int i = 0; i < ms->n_gap; i++) {
		struct gw_iec_gap g;
		memset(&g, 0, sizeof(g));
		gw_strlcpy(g.obis, ms->gap_to[i].obis, sizeof(g.obis));
		int j;
		for (j = 0; j < ms->n_gap; j++)
			if (strcmp(ms->gap_from[j].obis, g.obis) == 0)
				break;
		if (j == ms->n_gap || !ms->gap_from[j].obis[0])
			continue;
		g.from_ms = ms->gap_from_ms + GAP_MARGIN_MS;
		g.from_value = ms->gap_from[j].value;
		g.to_ms = ms->gap_to_ms - GAP_MARGIN_MS;
		g.to_value = ms->gap_to[i].value;
		char w[120];
		int k = gw_iec_backfill(p, kept, step, &g, m->id, out + n + added,
					cap - (size_t)(n + added), w, sizeof(w));
		if (k < 0) {
			if (k == GW_EPROTO)
				snprintf(why, sizeof(why),
					 "the profile does not fit register %s: %s",
					 g.obis, w);
			else
				snprintf(why, sizeof(why), "%s", gw_strerror(k));
			faults->malformed++;
			goto failed;
		}
		for (int q = 0; q < k; q++)
			derived += out[n + added + q].status == GW_RS_DERIVED;
		added += k;
	}
	points = added;
	/* The profile's own series over the gap (demand ...), as in a
	 * readout. */
	int ns = gw_iec_readings(b->tg, m->id, GW_IEC_PROFILE, out + n + added,
				 cap - (size_t)(n + added));
	if (ns > 0) {
		size_t k2 = gw_iec_profile_place(out + n + added, (size_t)ns,
						 ms->offset_ms, to, window,
						 ahead < 60000 ? 60000 : ahead);
		size_t u = 0;
		for (size_t q = 0; q < k2; q++) {
			struct gw_reading *r = &out[n + added + q];
			if (r->ts_ms > ms->gap_from_ms && r->ts_ms < ms->gap_to_ms)
				out[n + added + u++] = *r;
		}
		added += (int)u;
	}
	free(p);
	ms->gap_tries = 0;
	gw_info("meter %s: gap %s .. %s filled from its load profile: %d register "
		"points (%d derived from its interval demand)", m->id, f, t,
		points, derived);
	return n + added;
failed:
	free(p);
	if (ms->gap_tries > 0)
		gw_warn("meter %s: gap %s .. %s not filled from its load profile: %s; "
			"tried again at the next read", m->id, f, t, why);
	else
		gw_warn("meter %s: gap %s .. %s not filled from its load profile: %s; "
			"given up, its days stay estimated", m->id, f, t, why);
	ms->gap_tries = ms->gap_tries > 0 ? ms->gap_tries : 0;
	return n;
}

/* After a good readout at `now`: the meter's clock offset, its profile
 * entries placed, and, when it answers again after a gap longer than
 * backfill_after, the gap filled from its load profile. Returns the new
 * number of readings. */
static int after_readout(struct iec_bus *b, const struct gw_meter_config *m,
			 struct gw_reading *out, int n, size_t cap,
			 struct gw_read_result *res, int64_t last_good_ms,
			 int64_t sampled, int64_t now)
{
	const struct gw_iec_bus_opts *c = &b->cfg;
	struct meter_state *ms = meter_state(b, m->id);

	if (!ms)
		return n;
	if (res->ident.clock_ms) {
		/* offset rounded to the second (the meter's resolution) and
		 * kept while measurements agree, so that one interval lands
		 * on the same instant at every readout */
		int64_t d0 = res->ident.clock_ms + 500 - now; /* its seconds are cut */
		int64_t off = (d0 >= 0 ? d0 + 500 : d0 - 500) / 1000 * 1000;
		int64_t d = off - ms->offset_ms;
		if (!ms->has_offset || d > OFFSET_KEEP_MS || d < -OFFSET_KEEP_MS)
			ms->offset_ms = off;
		ms->has_offset = true;
	}
	n = place_profile(b, m, ms, out, n, now);

	struct reg_value regs[MAX_REGS];
	int nr = energy_regs(out, n, regs);
	const char *serial = res->ident.serial;
	bool same_meter = !serial[0] || !ms->serial[0] || strcmp(serial, ms->serial) == 0;
	/* The last good read as the caller stamped it (its registers'
	 * time), else as the driver saw it end. */
	int64_t last = last_good_ms ? last_good_ms : ms->last_ok_ms;
	if (c->iec_backfill_after_s > 0 && c->iec_mode != GW_IEC_MODE_D &&
	    ms->last_ok_ms && last && same_meter && nr > 0 && ms->n_regs > 0 &&
	    now - last > (int64_t)c->iec_backfill_after_s * 1000) {
		char f[40];
		gw_info("meter %s: answers again after %lld s without a good read "
			"(last %s): asking for its load profile", m->id,
			(long long)((now - last) / 1000),
			gw_format_utc(last, f, sizeof(f)));
		if (ms->gap_tries > 0) {
			/* The meter went silent again before the last gap
			 * was filled: this read asks for the new gap; the
			 * old one is said to be given up, not dropped
			 * without a word. */
			char g0[40], g1[40];
			gw_warn("meter %s: gap %s .. %s not filled from its load profile: "
				"it went silent again before another try; given up, its "
				"days stay estimated", m->id,
				gw_format_utc(ms->gap_from_ms, g0, sizeof(g0)),
				gw_format_utc(ms->gap_to_ms, g1, sizeof(g1)));
		}
		ms->gap_tries = BACKFILL_TRIES;
		ms->gap_from_ms = last;
		/* the gap ends when the meter read its registers: as it
		 * began to answer */
		ms->gap_to_ms = sampled ? sampled : now;
		memset(ms->gap_from, 0, sizeof(ms->gap_from));
		memcpy(ms->gap_from, ms->regs, sizeof(ms->regs));
		memcpy(ms->gap_to, regs, sizeof(regs));
		ms->n_gap = nr;
		for (int i = ms->n_regs; i < MAX_REGS; i++)
			ms->gap_from[i].obis[0] = '\0';
	} else if (!same_meter) {
		ms->gap_tries = 0; /* another meter: its profile says nothing of the gap */
	}
	if (serial[0])
		gw_strlcpy(ms->serial, serial, sizeof(ms->serial));
	memcpy(ms->regs, regs, sizeof(regs));
	ms->n_regs = nr;
	if (ms->gap_tries > 0)
		n = backfill(b, m, ms, out, n, cap, &res->faults);
	/* The read ends now; the next gap starts here. Taken after the
	 * profile request, so that it is never before the time the caller
	 * stamps this read's registers with. */
	ms->last_ok_ms = iec_bus_now(b);
	return n;
}

int gw_iec_read(void *handle, const struct gw_meter_config *meter,
		const struct gw_read_ctx *ctx, struct gw_read_result *res)
{
	struct iec_bus *b = handle;
	struct gw_reading *out;
	size_t cap;
	int rc;

	if (!res)
		return GW_EINVAL;
	gw_read_result_clear(res);
	out = res->readings;
	cap = res->cap;
	if (!b || !meter || !out)
		return GW_EINVAL;
	b->clock = ctx ? ctx->clock : NULL;
	b->rx_first_ms = 0;
	rc = iec_port_open(b);
	if (rc == 0) {
		if (b->cfg.iec_mode == GW_IEC_MODE_D)
			rc = read_mode_d(b, meter, out, cap, res);
		else
			rc = read_mode_c(b, meter, out, cap, res);
		count(&res->faults, rc);
		if (rc == GW_ETIMEDOUT && b->rx_len == 0) {
			if (++b->silent_reads >= WEDGED_AFTER && b->fd >= 0) {
				gw_info("bus %s: %d reads without a byte: reopening %s",
					b->name, b->silent_reads, b->cfg.device);
				iec_port_close(b, "silent: reopening");
				b->silent_reads = 0;
			}
		} else {
			b->silent_reads = 0;
		}
	}
	if (rc >= 0)
		rc = after_readout(b, meter, out, rc, cap, res,
				   ctx ? ctx->last_good_ms : 0, b->rx_first_ms,
				   iec_bus_now(b));
	/* A failed read is the caller's to log (it knows how long the meter
	 * has been failing). */
	res->n = rc > 0 ? (size_t)rc : 0;
	return rc;
}
