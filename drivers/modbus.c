/* SPDX-License-Identifier: MIT */
/*
 * modbus.c - the Modbus drivers (RTU on a serial line, TCP to an endpoint,
 * RTU frames through a serial device server), built on libmodbus 3.1.6:
 * how a meter is read. Their keys and driver tables are in modbus_conf.c;
 * the RTU-over-TCP framing and the byte trace in modbus_frame.c.
 *
 * A read walks the meter's profile (registers sorted by function code and
 * address) and groups registers into as few requests as it can: same
 * function code, at most profile->max_registers registers, gaps between
 * registers of at most MB_MAX_HOLE unused registers. A meter that refuses a
 * request spanning a gap (illegal data address) is asked again register by
 * register. Each register is then decoded with gw_profile_decode().
 *
 * libmodbus reports errors through errno; they are translated to GW_E*
 * codes here, once, and counted into the read's faults. A broken
 * connection (TCP reset, serial port gone) closes the context; the next read
 * reconnects.
 *
 * Modbus TCP replies cannot lie: every request carries a transaction id of
 * this driver's own (libmodbus 3.1.6's raw-request path always sends 0, and
 * its read functions do not check the unit id), and a reply is taken only
 * when its transaction id, unit id and function code are the request's and
 * its byte count is the one asked for. A reply with another transaction id
 * (a duplicate, or the late answer to a request that timed out) is
 * discarded and counted as stale for the meter it was meant for; the
 * request's own reply is still awaited until its timeout.
 *
 * Exceptions belong to the meter that sent them: an exception never closes
 * the connection or the serial port. One with a code Modbus does not define
 * ends that meter's read for this cycle (registers already read are kept);
 * the other meters of the bus are read as usual.
 *
 * A register whose value cannot be true (gw_profile_decode_why: a float
 * infinity, beyond the register's range) is left out of the readings and
 * named in the read's faults, for the scheduler to report.
 *
 * Field quirks a bus can be told about: a pause between requests
 * (request_pause_ms) and after connecting (connect_pause_ms), both kept
 * by one "not before" time (mb_pause); a new TCP connection per cycle
 * (close_after_cycle, at the scheduler's cycle_end); a meter's own
 * response timeout. A bus that cannot be opened or connected says where
 * and why (a serial port: what to do about it, serial_why.c).
 */
#include <errno.h>
#include <modbus.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "modbus_int.h"
#include "serial_why.h"

/* Registers a request may read in between two wanted registers. Reading a
 * few unused words costs 2 bytes each; a separate request costs a round
 * trip (tens of milliseconds on RS-485). */
#define MB_MAX_HOLE 16

/* Exception codes Modbus defines, for messages. */
static const char *const exc_names[] = {
	[1] = "illegal function",
	[2] = "illegal data address",
	[3] = "illegal data value",
	[4] = "server device failure",
	[5] = "acknowledge",
	[6] = "server device busy",
	[7] = "negative acknowledge",
	[8] = "memory parity error",
	[10] = "gateway path unavailable",
	[11] = "gateway target failed to respond",
};

/* True for the errno of an exception whose code Modbus does not define:
 * 0, 9 and 12 and up (libmodbus 3.1.6 says EMBBADEXC for 12 and up, or
 * for a malformed exception reply). */
static bool mb_exc_unknown(int e)
{
	return e == MODBUS_ENOBASE ||
	       e == MODBUS_ENOBASE + MODBUS_EXCEPTION_NOT_DEFINED ||
	       e == EMBBADEXC || e == EMBUNKEXC;
}

/* Translates libmodbus's errno after a failed call. */
static int mb_error(int e)
{
	switch (e) {
	case ETIMEDOUT:
		return GW_ETIMEDOUT;
	case EMBBADCRC:
		return GW_ECRC;
	case EMBXILFUN:
	case EMBXILADD:
	case EMBXILVAL:
	case EMBXSFAIL:
	case EMBXACK:
	case EMBXSBUSY:
	case EMBXNACK:
	case EMBXMEMPAR:
	case EMBXGPATH:
	case EMBXGTAR:
	case EMBUNKEXC:
	case EMBBADEXC: /* a code above 11, or a malformed exception */
	case MODBUS_ENOBASE: /* exception code 0 */
	case MODBUS_ENOBASE + MODBUS_EXCEPTION_NOT_DEFINED: /* code 9 */
		return GW_EEXCEPT;
	case EMBBADDATA:
	case EMBMDATA:
	case EMBBADSLAVE:
	case EINVAL: /* libmodbus: reply does not match the request */
		return GW_EPROTO;
	default:
		/* ECONNRESET, EPIPE, EBADF, ECONNREFUSED, EIO ... */
		return GW_ECONN;
	}
}

static void mb_count(struct gw_read_faults *faults, int err, int e)
{
	if (!faults)
		return;
	switch (err) {
	case GW_ETIMEDOUT: faults->timeouts++; break;
	case GW_ECRC: faults->crc_errors++; break;
	case GW_EEXCEPT:
		faults->exceptions++;
		if (e == EMBXILADD)
			faults->exc_illegal_address++;
		else if (e == EMBXSBUSY)
			faults->exc_busy++;
		else if (mb_exc_unknown(e))
			faults->exc_unknown++;
		break;
	case GW_EPROTO:
		faults->malformed++;
		if (e == EMBBADSLAVE)
			faults->wrong_unit++;
		break;
	default: break;
	}
}

/* Why a bus could not be connected or opened, for the log: the endpoint
 * and the system's word for it, and on a serial line what to do about it
 * (gw_serial_advice). */
static void mb_conn_why(const struct mb_bus *b, int e, char *buf, size_t cap)
{
	if (b->kind == MB_RTU)
		gw_serial_advice(b->device, e, buf, cap);
	else
		snprintf(buf, cap, "cannot connect to %s: %s", b->where + 4,
			 modbus_strerror(e));
}

/* A failed open is retried by the caller at each cycle, which counts the
 * attempts; the reason is logged here, where it is known: the first time
 * and whenever it changes (a converter first refusing, then unreachable),
 * not at every cycle. Buses are opened by their own threads. */
static void mb_open_failed(const struct mb_bus *b, int e)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct { char name[GW_ID_MAX]; int e; } seen[64];
	char why[512];
	bool news = true;

	/* e == 0: opened; the next failure is news again. */
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < sizeof(seen) / sizeof(seen[0]); i++) {
		if (seen[i].name[0] && strcmp(seen[i].name, b->name) != 0)
			continue;
		news = !seen[i].name[0] || seen[i].e != e;
		gw_strlcpy(seen[i].name, b->name, sizeof(seen[i].name));
		seen[i].e = e;
		break;
	}
	pthread_mutex_unlock(&lock);
	if (e == 0)
		return;
	mb_conn_why(b, e, why, sizeof(why));
	if (news)
		gw_warn("bus %s: %s", b->name, why);
	else
		gw_debug("bus %s: %s", b->name, why);
}

/* After a connect: the first request waits connect_pause_ms (a converter
 * that needs a moment before it passes bytes on). */
static void mb_connected(struct mb_bus *b)
{
	b->connected = true;
	b->connected_ms = gw_mb_mono_ms();
	b->next_ok_ms = b->connected_ms + b->connect_pause_ms;
	gw_mb_trace_note(b, "connected to %s", b->where);
}

static int mb_connect(struct mb_bus *b)
{
	if (b->connected)
		return 0;
	if (modbus_connect(b->ctx) == -1) {
		int e = errno;
		if (!b->conn_failed) {
			char why[512];
			mb_conn_why(b, e, why, sizeof(why));
			gw_warn("bus %s: %s", b->name, why);
		}
		b->conn_failed = true;
		return GW_ECONN;
	}
	if (b->conn_failed)
		gw_info("bus %s: connected again", b->name);
	b->conn_failed = false;
	mb_connected(b);
	return 0;
}

static void mb_disconnect(struct mb_bus *b)
{
	if (b->connected) {
		modbus_close(b->ctx);
		b->connected = false;
	}
}

static void set_timeout(modbus_t *ctx, int ms, bool byte)
{
	uint32_t sec = (uint32_t)(ms / 1000);
	uint32_t usec = (uint32_t)(ms % 1000) * 1000;

	if (byte)
		modbus_set_byte_timeout(ctx, sec, usec);
	else
		modbus_set_response_timeout(ctx, sec, usec);
}

/* The bus's pauses, device and timeouts into b. */
static void mb_take_opts(struct mb_bus *b, const struct gw_bus_config *bus)
{
	if (gw_modbus_is_rtu(bus)) {
		const struct gw_modbus_rtu_opts *o = bus->opts;
		b->kind = MB_RTU;
		gw_strlcpy(b->device, o->device, sizeof(b->device));
		b->request_pause_ms = o->request_pause_ms;
		b->connect_pause_ms = o->connect_pause_ms;
	} else {
		const struct gw_modbus_tcp_opts *o = bus->opts;
		b->kind = gw_modbus_is_tcp(bus) ? MB_TCP : MB_RTUTCP;
		b->request_pause_ms = o->request_pause_ms;
		b->connect_pause_ms = o->connect_pause_ms;
		b->close_after_cycle = o->close_after_cycle != 0;
	}
	b->tcp = b->kind == MB_TCP;
}

int gw_modbus_open(const struct gw_bus_config *bus, void **handle)
{
	struct mb_bus *b;

	*handle = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return GW_ENOMEM;
	gw_strlcpy(b->name, bus->name, sizeof(b->name));
	mb_take_opts(b, bus);
	b->ctx = gw_modbus_new_ctx(bus, &b->bus_timeout_ms, &b->byte_timeout_ms,
				   b->where, sizeof(b->where));
	if (!b->ctx) {
		gw_err("bus %s: %s", bus->name, modbus_strerror(errno));
		free(b);
		return GW_EINVAL;
	}
	if (b->bus_timeout_ms < 1)
		b->bus_timeout_ms = 1;
	b->timeout_ms = b->bus_timeout_ms;
	b->last_exc = -1;
	/* A failed open is counted by the caller, which retries it. */
	if (modbus_connect(b->ctx) == -1) {
		mb_open_failed(b, errno);
		modbus_free(b->ctx);
		free(b);
		return GW_ECONN;
	}
	mb_open_failed(b, 0);
	mb_connected(b);
	*handle = b;
	return 0;
}

void gw_modbus_cycle_end(void *handle)
{
	struct mb_bus *b = handle;

	/* Some converters serve one TCP client at a time, or drop a
	 * connection that stays idle between cycles: close_after_cycle
	 * frees it for the next; the next read connects again. */
	if (b && b->close_after_cycle && b->connected) {
		mb_disconnect(b);
		gw_mb_trace_note(b, "closed after the cycle");
	}
}

void gw_modbus_close(void *handle)
{
	struct mb_bus *b = handle;

	if (!b)
		return;
	mb_disconnect(b);
	modbus_free(b->ctx);
	free(b);
}

/* A TCP reply whose transaction id is not the awaited one: counted for the
 * unit the request with that id went to (or, if that is not known, the
 * meter being read), handed to that meter's faults at its next read. */
static void mb_stale(struct mb_bus *b, int rtid, int runit, int unit)
{
	const struct mb_sent *s = &b->sent[rtid & 0xFF];
	int u = s->used && s->tid == rtid ? s->unit : unit;

	b->stale[u]++;
	gw_debug("bus %s: discarded a reply with transaction id %d from unit %d "
		 "(meant for unit %d) while reading unit %d",
		 b->name, rtid, runit, u, unit);
}

/* Writes one read request with the bus's next transaction id on the TCP
 * connection (libmodbus 3.1.6 cannot send a request of ours with an id of
 * ours). Returns the transaction id, or -1 with errno. */
static int mb_tcp_send(struct mb_bus *b, int unit, int fc, int addr, int n)
{
	/* wraps after 65,535 requests on one connection, as the protocol
	 * means it to (written out: the sanitizer build traps an implicit
	 * truncation) */
	b->tid = (uint16_t)(b->tid + 1);
	uint16_t tid = b->tid;
	uint8_t req[12] = {(uint8_t)(tid >> 8), (uint8_t)tid, 0, 0, 0, 6,
			   (uint8_t)unit, (uint8_t)fc, (uint8_t)(addr >> 8),
			   (uint8_t)addr, (uint8_t)(n >> 8), (uint8_t)n};
	int fd = modbus_get_socket(b->ctx);
	size_t off = 0;

	b->sent[tid & 0xFF] = (struct mb_sent){.tid = tid, .unit = (uint8_t)unit,
					       .used = 1};
	gw_mb_trace(b, '>', req, sizeof(req));
	while (off < sizeof(req)) {
		ssize_t w = send(fd, req + off, sizeof(req) - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EPIPE;
			return -1;
		}
		off += (size_t)w;
	}
	return tid;
}

/* One read request over TCP, its reply matched here by transaction id,
 * unit id (which libmodbus 3.1.6 does not compare on TCP: a TCP-to-RTU
 * bridge that mixes up its meters must not have one meter's registers
 * stored under another's id), function code and byte count. Replies to
 * other requests are discarded (mb_stale) while the request's own is
 * awaited, up to the response timeout in all. Returns like
 * modbus_read_registers (count or -1 with errno). */
static int mb_tcp_read(struct mb_bus *b, int unit, int fc, int addr, int n,
		       uint16_t *buf)
{
	uint8_t rsp[MODBUS_TCP_MAX_ADU_LENGTH];
	int tid = mb_tcp_send(b, unit, fc, addr, n);
	int rc = -1, e = 0;

	if (tid < 0)
		return -1;
	int64_t deadline = gw_mb_mono_ms() + b->timeout_ms;
	for (;;) {
		int64_t left = deadline - gw_mb_mono_ms();
		if (left <= 0) {
			e = ETIMEDOUT;
			break;
		}
		set_timeout(b->ctx, (int)left, false);
		int len = modbus_receive_confirmation(b->ctx, rsp);
		if (len == -1) {
			e = errno;
			break;
		}
		gw_mb_trace(b, '<', rsp, (size_t)len);
		/* libmodbus frames a reply by its function code and byte
		 * count; the MBAP header must agree (protocol id 0, the
		 * length of what followed), or the stream is garbage and
		 * nothing after it can be trusted. */
		if (len < 9 || rsp[2] != 0 || rsp[3] != 0 ||
		    ((rsp[4] << 8) | rsp[5]) != len - 6) {
			e = EMBBADDATA;
			break;
		}
		int rtid = (rsp[0] << 8) | rsp[1];
		if (rtid != tid) {
			mb_stale(b, rtid, rsp[6], unit);
			continue;
		}
		if (rsp[6] != unit) {
			e = EMBBADSLAVE;
			break;
		}
		if (rsp[7] == (fc | 0x80)) {
			b->last_exc = rsp[8];
			e = gw_mb_exc_errno(rsp[8]);
			break;
		}
		if (rsp[7] != fc || rsp[8] != 2 * n || len != 9 + 2 * n) {
			e = EMBBADDATA;
			break;
		}
		for (int i = 0; i < n; i++)
			buf[i] = (uint16_t)((rsp[9 + 2 * i] << 8) | rsp[10 + 2 * i]);
		rc = n;
		break;
	}
	set_timeout(b->ctx, b->timeout_ms, false);
	errno = e;
	return rc;
}

/* RTU has no transaction ids: a reply that comes after its request timed
 * out, or a second copy of one, would be taken for the answer to the next
 * request (same unit, function and length). Whatever is pending on the line
 * before a request is such a reply: dropped, and counted as stale for the
 * unit id it starts with (else for the meter being read). */
static void mb_rtu_drain(struct mb_bus *b, int unit)
{
	int fd = modbus_get_socket(b->ctx), pending = 0;
	uint8_t first = 0;

	if (fd < 0 || ioctl(fd, FIONREAD, &pending) != 0 || pending <= 0)
		return;
	if (read(fd, &first, 1) != 1)
		return;
	modbus_flush(b->ctx);
	gw_mb_trace_note(b, "dropped %d bytes pending before a request, "
			 "starting %02X (a late or repeated reply)", pending, first);
	int u = first >= 1 && first <= GW_MODBUS_UNIT_MAX ? first : unit;
	b->stale[u]++;
	gw_debug("bus %s: dropped %d bytes pending before a request to unit %d "
		 "(they start with unit id %d)",
		 b->name, pending, unit, first);
}

/* Waits out the pause the bus asks for before a request: request_pause_ms
 * after the last reply (a converter or a meter that needs a silence
 * between requests longer than Modbus's 3.5 characters), connect_pause_ms
 * after connecting. */
static void mb_pause(const struct mb_bus *b)
{
	int64_t left = b->next_ok_ms - gw_mb_mono_ms();

	if (left <= 0)
		return;
	struct timespec ts = {.tv_sec = (time_t)(left / 1000),
			      .tv_nsec = (long)(left % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One request: registers [first, last] of the profile. */
static int mb_request(struct mb_bus *b, const struct gw_profile *p, int first,
		      int last, int unit, uint16_t *buf,
		      struct gw_read_faults *faults)
{
	const struct gw_profile_reg *r0 = &p->regs[first], *rn = &p->regs[last];
	int addr = r0->address;
	int n = rn->address + gw_reg_type_words((enum gw_reg_type)rn->type) - addr;
	int got;

	int err = 0;
	/* A reply that does not match the request (another unit id, a short
	 * or garbled frame; on RTU, which has no transaction ids, often the
	 * late answer to an earlier request that timed out) has been
	 * consumed now, so the request is sent once more. A meter that keeps
	 * answering wrongly costs two fast requests, not a timeout. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (faults)
			faults->requests++;
		b->last_exc = -1;
		mb_pause(b);
		if (b->tcp) {
			got = mb_tcp_read(b, unit, r0->function, addr, n, buf);
		} else if (b->kind == MB_RTUTCP || b->trace) {
			mb_rtu_drain(b, unit);
			got = gw_mb_rtu_read(b, unit, r0->function, addr, n, buf);
		} else {
			mb_rtu_drain(b, unit);
			if (r0->function == 4)
				got = modbus_read_input_registers(b->ctx, addr, n, buf);
			else
				got = modbus_read_registers(b->ctx, addr, n, buf);
		}
		b->next_ok_ms = gw_mb_mono_ms() + b->request_pause_ms;
		if (got == n)
			return 0;
		b->last_errno = got < 0 ? errno : EMBMDATA;
		gw_mb_trace_note(b, "unit %d: %s", unit, modbus_strerror(b->last_errno));
		if (b->last_exc < 0 && b->last_errno >= MODBUS_ENOBASE &&
		    b->last_errno < MODBUS_ENOBASE + MODBUS_EXCEPTION_MAX)
			b->last_exc = b->last_errno - MODBUS_ENOBASE; /* RTU */
		err = mb_error(b->last_errno);
		mb_count(faults, err, b->last_errno);
		if (err == GW_ECONN || err == GW_ETIMEDOUT || err == GW_ECRC ||
		    err == GW_EPROTO) {
			/* After a timeout or garbage a late reply may still
			 * arrive: drop what is pending (on RTU it would be
			 * taken for the next answer; on TCP a partial frame
			 * would break the framing). */
			modbus_flush(b->ctx);
		}
		if (err == GW_ECONN)
			mb_disconnect(b);
		if (err != GW_EPROTO)
			break;
	}
	return err;
}

/* Decodes registers [first, last] from buf (which starts at the first
 * register's address) into out. Returns the number of readings added. A
 * value that cannot be true is left out and named in the faults. */
static size_t mb_decode(const struct gw_profile *p, int first, int last,
			const uint16_t *buf, const char *meter_id,
			struct gw_reading *out, size_t cap,
			struct gw_read_faults *faults)
{
	size_t n = 0;

	for (int i = first; i <= last && n < cap; i++) {
		const struct gw_profile_reg *r = &p->regs[i];
		struct gw_reading *rd = &out[n];
		char why[sizeof(faults->bad[0].detail)];
		memset(rd, 0, sizeof(*rd));
		int rc = gw_profile_decode_why(
			r, buf + (r->address - p->regs[first].address), rd, why,
			sizeof(why));
		if (rc == GW_ENOTAVAIL)
			continue;
		if (rc) {
			/* Reported (event, log, counts) by the caller. */
			gw_debug("meter %s: register %s: bad value: %s", meter_id,
				 r->obis, why);
			if (faults) {
				if (faults->n_bad < GW_READ_BAD_MAX) {
					struct gw_read_bad *bv = &faults->bad[faults->n_bad++];
					gw_strlcpy(bv->obis, r->obis, sizeof(bv->obis));
					gw_strlcpy(bv->detail, why, sizeof(bv->detail));
				}
				faults->bad_values++;
			}
			continue;
		}
		gw_strlcpy(rd->meter_id, meter_id, sizeof(rd->meter_id));
		rd->ts_ms = 0;
		n++;
	}
	return n;
}

/* Reads every register group of one meter; returns the number of readings
 * or, when no request succeeded, the first request's error. */
static int mb_read_groups(struct mb_bus *b, const struct gw_meter_config *meter,
			  struct gw_reading *out, size_t cap,
			  struct gw_read_faults *faults)
{
	const struct gw_modbus_meter *mm = meter->opts;
	const struct gw_profile *p = mm->profile;
	uint16_t buf[MODBUS_MAX_READ_REGISTERS];
	size_t n = 0;
	int ok_requests = 0, first_err = 0;

	int rc = mb_connect(b);
	if (rc)
		return rc;

	if (modbus_set_slave(b->ctx, mm->unit_id) == -1)
		return GW_EINVAL;

	int max = p->max_registers;
	if (max < 1 || max > MODBUS_MAX_READ_REGISTERS)
		max = MODBUS_MAX_READ_REGISTERS;
	for (int i = 0; i < p->n_regs && n < cap;) {
		/* Extend the group while the next register fits. */
		int j = i;
		while (j + 1 < p->n_regs) {
			const struct gw_profile_reg *a = &p->regs[j], *c = &p->regs[j + 1];
			int end = a->address + gw_reg_type_words((enum gw_reg_type)a->type);
			int cend = c->address + gw_reg_type_words((enum gw_reg_type)c->type);
			if (c->function != a->function || c->address - end > MB_MAX_HOLE ||
			    cend - p->regs[i].address > max)
				break;
			j++;
		}
		rc = mb_request(b, p, i, j, mm->unit_id, buf, faults);
		if (rc == GW_EEXCEPT && j > i && b->last_errno == EMBXILADD) {
			/* The meter may refuse the unused registers in a
			 * gap: ask for each register on its own. */
			for (int k = i; k <= j && n < cap; k++) {
				int rk = mb_request(b, p, k, k, mm->unit_id, buf,
						    faults);
				if (rk == 0) {
					ok_requests++;
					n += mb_decode(p, k, k, buf, meter->id, out + n,
						       cap - n, faults);
				} else if (!first_err) {
					first_err = rk;
				}
				if (rk == GW_ECONN || rk == GW_ETIMEDOUT ||
				    (rk == GW_EEXCEPT && mb_exc_unknown(b->last_errno))) {
					rc = rk;
					break;
				}
			}
		} else if (rc == 0) {
			ok_requests++;
			n += mb_decode(p, i, j, buf, meter->id, out + n, cap - n,
				       faults);
		} else if (!first_err) {
			first_err = rc;
		}
		if (rc == GW_ECONN || (!b->connected))
			break;
		/* A meter that does not answer (or that a TCP gateway cannot
		 * reach) will not answer the next request either: a read
		 * waits out at most one timeout, so that a dead meter costs
		 * its line one timeout per cycle and the other meters of the
		 * line are still read in time. Registers already read are
		 * kept. So does a meter that answers with an exception code
		 * Modbus does not define: its state is unknown, it is left
		 * alone until the next cycle. */
		if (rc == GW_ETIMEDOUT ||
		    (rc == GW_EEXCEPT && mb_exc_unknown(b->last_errno)) ||
		    (ok_requests == 0 && rc == GW_EEXCEPT &&
		     (b->last_errno == EMBXGTAR || b->last_errno == EMBXGPATH)))
			break;
		i = j + 1;
	}

	if (ok_requests == 0 && first_err)
		return first_err;
	return (int)n;
}

/* "exception 0x12 (not defined by Modbus)" for the last exception reply. */
static void exc_text(const struct mb_bus *b, char *buf, size_t cap)
{
	int c = b->last_exc;

	if (c < 0)
		snprintf(buf, cap, "an exception code not defined by Modbus");
	else
		snprintf(buf, cap, "exception 0x%02X (%s)", c,
			 c < (int)(sizeof(exc_names) / sizeof(exc_names[0])) &&
				 exc_names[c]
			 ? exc_names[c]
			 : "not defined by Modbus");
}

int gw_modbus_read(void *handle, const struct gw_meter_config *meter,
		   const struct gw_read_ctx *ctx, struct gw_read_result *res)
{
	struct mb_bus *b = handle;
	const struct gw_modbus_meter *mm = meter ? meter->opts : NULL;

	(void)ctx; /* a Modbus meter has no time stamps of its own */
	if (!res)
		return GW_EINVAL;
	gw_read_result_clear(res);
	if (!b || !mm || !mm->profile || mm->profile->n_regs == 0 ||
	    mm->unit_id < 0 || mm->unit_id > GW_MODBUS_UNIT_MAX || !res->readings)
		return GW_EINVAL;
	int u = mm->unit_id;
	struct gw_read_faults *f = &res->faults;
	/* A meter slower than the others of its bus has a timeout of its
	 * own (a meter behind a radio link, a bridge to another line). */
	int to = mm->timeout_ms > 0 ? mm->timeout_ms : b->bus_timeout_ms;
	if (to != b->timeout_ms) {
		b->timeout_ms = to;
		set_timeout(b->ctx, to, false);
	}
	int rc = mb_read_groups(b, meter, res->readings, res->cap, f);
	/* The failure is the caller's to log (it knows how long the meter
	 * has been failing); the exception is what only the driver knows. */
	if (rc == GW_EEXCEPT)
		exc_text(b, f->detail, sizeof(f->detail));
	res->n = rc > 0 ? (size_t)rc : 0;
	/* Stale replies meant for this meter, found during any read. */
	if (b->stale[u]) {
		if (!b->stale_warned[u])
			gw_warn("meter %s (unit %d on bus %s): %u replies discarded "
				"that answered another request (a duplicate or a late "
				"answer); counted as stale replies in its health",
				meter->id, u, b->name, b->stale[u]);
		b->stale_warned[u] = true;
		f->stale_replies += b->stale[u];
		b->stale[u] = 0;
	}
	return rc;
}

modbus_t *gw_modbus_new_ctx(const struct gw_bus_config *bus, int *timeout_ms,
			    int *byte_timeout_ms, char *where, size_t cap)
{
	modbus_t *ctx = NULL;
	int to = 0, byte_to = 0;
	char port[16];

	if (gw_modbus_is_tcp(bus) || gw_modbus_is_rtutcp(bus)) {
		const struct gw_modbus_tcp_opts *o = bus->opts;
		/* modbus_new_tcp_pi also accepts host names and IPv6. An
		 * RTU-over-TCP bus frames its requests itself
		 * (modbus_frame.c); the context connects it. */
		snprintf(port, sizeof(port), "%d", o->port);
		ctx = modbus_new_tcp_pi(o->host, port);
		if (where)
			snprintf(where, cap, "tcp %.200s:%d", o->host, o->port);
		to = o->timeout_ms;
		byte_to = o->byte_timeout_ms;
	} else if (gw_modbus_is_rtu(bus)) {
		const struct gw_modbus_rtu_opts *o = bus->opts;
		ctx = modbus_new_rtu(o->device, o->baud, o->parity ? o->parity : 'N',
				     o->data_bits ? o->data_bits : 8,
				     o->stop_bits ? o->stop_bits : 1);
		if (where)
			snprintf(where, cap, "%.200s %d baud", o->device, o->baud);
		to = o->timeout_ms;
		byte_to = o->byte_timeout_ms;
	} else {
		errno = EINVAL;
		return NULL;
	}
	if (!ctx)
		return NULL;
	if (to > 0)
		set_timeout(ctx, to, false);
	if (byte_to > 0)
		set_timeout(ctx, byte_to, true);
	if (byte_timeout_ms)
		*byte_timeout_ms = byte_to;
	if (timeout_ms) {
		uint32_t sec = 0, usec = 0;
		modbus_get_response_timeout(ctx, &sec, &usec);
		*timeout_ms = (int)(sec * 1000 + usec / 1000);
	}
	return ctx;
}
