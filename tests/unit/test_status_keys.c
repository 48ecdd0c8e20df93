/* SPDX-License-Identifier: MIT */
/*
 * test_status_keys.c - the status file's keys and the health file's
 * columns are defined once (gateway/status_keys.c): docs/spool-format.md
 * lists the same keys with the same types, in both directions; the writer
 * and the reader agree on every key; a line too long for the text is left
 * out whole, never cut.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "status_keys.h"

#define MAX_ROWS 96
struct doc_row {
	char key[64], type[16];
	int seen;
};

/* The rows of the markdown table that follows the line starting with
 * `intro` in docs/spool-format.md: each `key` of the first column (a
 * cell may name several) with the type of the second. Returns the count. */
static int doc_table(const char *intro, struct doc_row *rows)
{
	FILE *f = fopen("docs/spool-format.md", "r");
	char line[2048];
	int n = 0, state = 0; /* 0 before intro, 1 before the table, 2 in it */

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (state == 0) {
			state = strncmp(line, intro, strlen(intro)) == 0;
			continue;
		}
		if (line[0] != '|') {
			if (state == 2)
				break;
			continue;
		}
		state = 2;
		char *c1 = line + 1, *c2 = strchr(c1, '|');
		if (!c2 || c1[1] != '`')
			continue; /* the header and its rule */
		*c2++ = '\0';
		char *c3 = strchr(c2, '|');
		assert_non_null(c3);
		*c3 = '\0';
		char type[16];
		assert_int_equal(sscanf(c2, " %15s", type), 1);
		for (char *k = strchr(c1, '`'); k; k = strchr(k, '`')) {
			char *e = strchr(k + 1, '`');
			assert_non_null(e);
			assert_true(n < MAX_ROWS);
			snprintf(rows[n].key, sizeof(rows[n].key), "%.*s",
				 (int)(e - k - 1), k + 1);
			snprintf(rows[n].type, sizeof(rows[n].type), "%s", type);
			rows[n++].seen = 0;
			k = e + 1;
		}
	}
	fclose(f);
	return n;
}

/* Marks the doc row of key (with the type) seen; fails if there is none. */
static void find(struct doc_row *rows, int n, const char *key,
		 enum gw_status_type type)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(rows[i].key, key) != 0)
			continue;
		if (strcmp(rows[i].type, gw_status_type_name(type)) != 0)
			fail_msg("docs/spool-format.md: %s is '%s', the table says '%s'",
				 key, rows[i].type, gw_status_type_name(type));
		rows[i].seen++;
		return;
	}
	fail_msg("docs/spool-format.md does not list '%s'", key);
}

static void status_keys_match_docs(void **state)
{
	struct doc_row rows[MAX_ROWS];
	char key[64];
	int n = doc_table("`status` is `key=value` lines", rows);

	(void)state;
	assert_true(n >= GW_SK_COUNT_);
	for (int k = 0; k < GW_SK_COUNT_; k++) {
		if (gw_status_key_per_bus((enum gw_status_key)k)) {
			/* listed as "poll_cycles.BUS" */
			snprintf(key, sizeof(key), "%sBUS", gw_status_keys[k].name);
			find(rows, n, key, gw_status_keys[k].type);
			continue;
		}
		if (k != GW_SK_DROPPED) {
			find(rows, n, gw_status_keys[k].name, gw_status_keys[k].type);
			continue;
		}
		for (int r = 0; r < GW_DROP_REASON_COUNT_; r++) {
			snprintf(key, sizeof(key), "%s%s", gw_status_keys[k].name,
				 gw_drop_reason_name((enum gw_drop_reason)r));
			find(rows, n, key, gw_status_keys[k].type);
		}
	}
	for (int i = 0; i < n; i++)
		if (rows[i].seen != 1)
			fail_msg("docs/spool-format.md lists '%s', which gatewayd does not write",
				 rows[i].key);
}

static void health_columns_match_docs(void **state)
{
	struct doc_row rows[MAX_ROWS];
	int n = doc_table("`health` is a TSV table", rows);

	(void)state;
	assert_int_equal(n, GW_HC_COUNT_);
	for (int c = 0; c < GW_HC_COUNT_; c++) {
		assert_string_equal(rows[c].key, gw_health_cols[c].name); /* in order */
		find(rows, n, gw_health_cols[c].name, gw_health_cols[c].type);
	}
	char hdr[512];
	assert_true(gw_health_header(hdr, sizeof(hdr)) > 0);
	assert_string_equal(hdr, "meter_id\tbus\tstate\tfailed_in_a_row\tcycles\tok\t"
				 "failed\tskipped\ttimeouts\tcrc_errors\texceptions\t"
				 "malformed\tlast_error\tstale_replies\tbad_values\t"
				 "last_ok\n");
}

/* Every key written is read back by its enum; a key not there reads "?". */
static void writer_and_reader_agree(void **state)
{
	char text[4096], buf[64], want[64];
	struct gw_status_text t = {.buf = text, .cap = sizeof(text)};

	(void)state;
	text[0] = '\0';
	for (int k = 0; k < GW_SK_COUNT_; k++)
		if (gw_status_key_per_bus((enum gw_status_key)k))
			continue; /* below */
		else if (k != GW_SK_DROPPED && k != GW_SK_CLOCK_SEAL_TIME)
			gw_status_put(&t, (enum gw_status_key)k, "v%d", k);
	for (int r = 0; r < GW_DROP_REASON_COUNT_; r++)
		gw_status_put_drop(&t, (enum gw_drop_reason)r, (unsigned long long)r + 10);
	for (int k = 0; k < GW_SK_COUNT_; k++) {
		if (k == GW_SK_DROPPED || gw_status_key_per_bus((enum gw_status_key)k))
			continue;
		const char *v = gw_status_get(text, (enum gw_status_key)k, buf, sizeof(buf));
		if (k == GW_SK_CLOCK_SEAL_TIME) {
			assert_string_equal(v, "?");
			continue;
		}
		snprintf(want, sizeof(want), "v%d", k);
		assert_string_equal(v, want);
	}
	for (int r = 0; r < GW_DROP_REASON_COUNT_; r++) {
		snprintf(want, sizeof(want), "%d", r + 10);
		assert_string_equal(gw_status_get_drop(text, (enum gw_drop_reason)r, buf,
						       sizeof(buf)), want);
	}
	/* "clock" is not read from "clock_detail=" nor the other way */
	assert_string_equal(gw_status_get("clock_detail=x\n", GW_SK_CLOCK, buf, sizeof(buf)), "?");
	assert_string_equal(gw_status_get("clock=trusted\n", GW_SK_CLOCK_DETAIL, buf,
					  sizeof(buf)), "?");
}

/* The keys per bus: one line per key and bus, "<key><bus>=value", read back
 * by key and bus; a bus whose name begins another's is not mistaken for
 * it, and no key per bus is read as another key. */
static void keys_per_bus(void **state)
{
	char text[4096], buf[64], want[64];
	struct gw_status_text t = {.buf = text, .cap = sizeof(text)};
	static const char *const buses[] = {"feeder-7", "feeder", "rs485.2"};
	int per_bus = 0;

	(void)state;
	text[0] = '\0';
	gw_status_put(&t, GW_SK_POLL_BUSES, "%s", "feeder-7,feeder,rs485.2");
	for (int b = 0; b < 3; b++)
		for (int k = 0; k < GW_SK_COUNT_; k++)
			if (gw_status_key_per_bus((enum gw_status_key)k))
				gw_status_put_bus(&t, (enum gw_status_key)k, buses[b],
						  "%d-%d", b, k);
	assert_non_null(strstr(text, "\npoll_overrun.feeder-7=0-"));
	assert_non_null(strstr(text, "\npoll_max_ms.rs485.2=2-"));
	for (int k = 0; k < GW_SK_COUNT_; k++) {
		if (!gw_status_key_per_bus((enum gw_status_key)k)) {
			if (k != GW_SK_POLL_BUSES && k != GW_SK_DROPPED)
				assert_string_equal(gw_status_get(text, (enum gw_status_key)k,
								  buf, sizeof(buf)), "?");
			continue;
		}
		per_bus++;
		/* the name ends in '.', so a key and a bus are told apart */
		assert_int_equal(gw_status_keys[k].name[strlen(gw_status_keys[k].name) - 1], '.');
		for (int b = 0; b < 3; b++) {
			snprintf(want, sizeof(want), "%d-%d", b, k);
			assert_string_equal(gw_status_get_bus(text, (enum gw_status_key)k,
							      buses[b], buf, sizeof(buf)), want);
		}
		assert_string_equal(gw_status_get_bus(text, (enum gw_status_key)k, "rs485",
						      buf, sizeof(buf)), "?");
	}
	assert_int_equal(per_bus, 10);
	assert_string_equal(gw_status_get(text, GW_SK_POLL_BUSES, buf, sizeof(buf)),
			    "feeder-7,feeder,rs485.2");
	assert_string_equal(gw_status_type_name(GW_ST_MS), "milliseconds");
}

static void full_text_keeps_whole_lines(void **state)
{
	char text[24];
	struct gw_status_text t = {.buf = text, .cap = sizeof(text)};

	(void)state;
	text[0] = '\0';
	gw_status_put(&t, GW_SK_GATEWAY, "%s", "sub-1");       /* 14 bytes */
	gw_status_put(&t, GW_SK_ALARM, "%s", "spool_full");    /* would not fit */
	gw_status_put(&t, GW_SK_CLOCK, "%s", "ok");            /* 9 bytes: fits */
	assert_string_equal(text, "gateway=sub-1\nclock=ok\n");
	gw_status_put(&t, GW_SK_CLOCK, "%s", "");              /* full */
	assert_string_equal(text, "gateway=sub-1\nclock=ok\n");
	assert_int_equal(t.len, strlen(text));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_keys_match_docs),
		cmocka_unit_test(health_columns_match_docs),
		cmocka_unit_test(writer_and_reader_agree),
		cmocka_unit_test(keys_per_bus),
		cmocka_unit_test(full_text_keeps_whole_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
