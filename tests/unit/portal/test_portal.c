/* SPDX-License-Identifier: MIT */
/*
 * test_portal.c - the customer portal's pure parts: the JWT verifier
 * (a good token, each refusal, base64url edge cases, a very long token),
 * the JSON string escaper, CSV fields, exact kWh decimals, the rate
 * limiter and the bill's JSON and CSV. Tokens are made here with the same libcrypto HMAC the portal
 * uses to check them; the integration test (tests/integration/portal.sh)
 * makes them independently with python3's hmac.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api.h"
#include "json.h"
#include "jsonread.h"
#include "jwt.h"
#include "rate.h"

#define NOW 1780000000
static const unsigned char KEY[] = "0123456789abcdef0123456789abcdef-test-key";
#define KEYLEN (sizeof(KEY) - 1)
#define AUD "gatewayd-portal"

static void b64url(const unsigned char *in, size_t n, char *out)
{
	gw_base64url_encode(in, n, out);
}

/* header.payload.signature of the given JSON texts, signed with key. */
static char *make_token(const char *header, const char *payload, const unsigned char *key,
			size_t keylen)
{
	size_t hl = strlen(header), pl = strlen(payload);
	char *t = malloc(hl * 2 + pl * 2 + 128);
	unsigned char mac[32];
	unsigned int maclen = 0;
	size_t n;

	assert_non_null(t);
	b64url((const unsigned char *)header, hl, t);
	n = strlen(t);
	t[n++] = '.';
	b64url((const unsigned char *)payload, pl, t + n);
	n = strlen(t);
	HMAC(EVP_sha256(), key, (int)keylen, (unsigned char *)t, n, mac, &maclen);
	t[n++] = '.';
	b64url(mac, maclen, t + n);
	return t;
}

static int verify(const char *token, struct gw_jwt_claims *c)
{
	return gw_jwt_verify(token, strlen(token), KEY, KEYLEN, AUD, NOW, 30, c);
}

static int verify_claims(const char *payload)
{
	struct gw_jwt_claims c;
	char *t = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, KEY, KEYLEN);
	int rc = verify(t, &c);

	free(t);
	return rc;
}

#define GOOD "{\"sub\":\"C-1042\",\"exp\":1780000600,\"aud\":\"gatewayd-portal\"}"

static void jwt_good(void **state)
{
	struct gw_jwt_claims c;
	char *t = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD, KEY, KEYLEN);

	(void)state;
	assert_int_equal(verify(t, &c), GW_JWT_OK);
	assert_string_equal(c.account, "C-1042");
	assert_int_equal(c.exp, 1780000600);
	free(t);
	/* nbf in the past, aud as an array naming us among others, an
	 * unknown claim, a fractional exp, escapes in a string */
	assert_int_equal(verify_claims("{\"sub\":\"C\\u002d9\",\"nbf\":1779990000,\"exp\":1780000600.75,"
				       "\"aud\":[\"other\",\"gatewayd-portal\"],\"x\":{\"y\":[1,2]}}"),
			 GW_JWT_OK);
	/* within the leeway: expired 20 s ago, valid from 20 s on */
	assert_int_equal(verify_claims("{\"sub\":\"C\",\"exp\":1779999980,\"aud\":\"gatewayd-portal\"}"), GW_JWT_OK);
	assert_int_equal(verify_claims("{\"sub\":\"C\",\"exp\":1780000600,\"nbf\":1780000020,"
				       "\"aud\":\"gatewayd-portal\"}"), GW_JWT_OK);
}

static void jwt_refusals(void **state)
{
	struct gw_jwt_claims c;
	char *t;

	(void)state;
	assert_int_equal(verify_claims("{\"sub\":\"C\",\"exp\":1779999970,\"aud\":\"gatewayd-portal\"}"), GW_JWT_EXPIRED);
	assert_int_equal(verify_claims("{\"sub\":\"C\",\"aud\":\"gatewayd-portal\"}"), GW_JWT_EXPIRED);
	assert_int_equal(verify_claims("{\"sub\":\"C\",\"exp\":\"1780000600\",\"aud\":\"gatewayd-portal\"}"), GW_JWT_EXPIRED);
	assert_int_equal(verify_claims("{\"sub\":\"C\",\"exp\":1e10,\"aud\":\"gatewayd-portal\"}"), GW_JWT_EXPIRED);
	assert_int_equal(verify_claims("{\"sub\":\"C\",\"exp\":1780000600,\"nbf\":1780000031,"
				       "\"aud\":\"gatewayd-portal\"}"), GW_JWT_NOT_YET);
	assert_int_equal(verify_claims("{\"sub\":\"C\",\"exp\":1780000600,\"aud\":\"other\"}"), GW_JWT_AUDIENCE);
	assert_int_equal(verify_claims("{\"sub\":\"C\",\"exp\":1780000600,\"aud\":[\"a\",\"b\"]}"), GW_JWT_AUDIENCE);
	assert_int_equal(verify_claims("{\"sub\":\"C\",\"exp\":1780000600}"), GW_JWT_AUDIENCE);
	assert_int_equal(verify_claims("{\"exp\":1780000600,\"aud\":\"gatewayd-portal\"}"), GW_JWT_ACCOUNT);
	assert_int_equal(verify_claims("{\"sub\":\"C/../D\",\"exp\":1780000600,\"aud\":\"gatewayd-portal\"}"), GW_JWT_ACCOUNT);
	assert_int_equal(verify_claims("{\"sub\":42,\"exp\":1780000600,\"aud\":\"gatewayd-portal\"}"), GW_JWT_ACCOUNT);
	assert_int_equal(verify_claims("{\"sub\":\"C\",\"sub\":\"D\",\"exp\":1780000600,\"aud\":\"gatewayd-portal\"}"),
			 GW_JWT_DUPLICATE);
	assert_int_equal(verify_claims("{\"sub\":\"C\",\"exp\":1780000600,\"aud\":\"gatewayd-portal\",}"), GW_JWT_JSON);
	assert_int_equal(verify_claims("[\"sub\"]"), GW_JWT_JSON);
	assert_int_equal(verify_claims(GOOD " x"), GW_JWT_JSON);
	assert_int_equal(verify_claims("{\"sub\":\"C\\u0000\",\"exp\":1780000600,\"aud\":\"gatewayd-portal\"}"), GW_JWT_JSON);

	/* alg: none, another, missing, twice, crit */
	t = make_token("{\"alg\":\"none\"}", GOOD, KEY, KEYLEN);
	assert_int_equal(verify(t, &c), GW_JWT_ALG);
	t[strlen(t) - 43] = '\0'; /* "alg none" with an empty signature */
	assert_int_equal(verify(t, &c), GW_JWT_ALG);
	free(t);
	t = make_token("{\"alg\":\"HS512\"}", GOOD, KEY, KEYLEN);
	assert_int_equal(verify(t, &c), GW_JWT_ALG);
	free(t);
	t = make_token("{\"alg\":\"hs256\"}", GOOD, KEY, KEYLEN);
	assert_int_equal(verify(t, &c), GW_JWT_ALG);
	free(t);
	t = make_token("{\"typ\":\"JWT\"}", GOOD, KEY, KEYLEN);
	assert_int_equal(verify(t, &c), GW_JWT_ALG);
	free(t);
	t = make_token("{\"alg\":\"HS256\",\"alg\":\"none\"}", GOOD, KEY, KEYLEN);
	assert_int_equal(verify(t, &c), GW_JWT_DUPLICATE);
	free(t);
	t = make_token("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", GOOD, KEY, KEYLEN);
	assert_int_equal(verify(t, &c), GW_JWT_ALG);
	free(t);
	/* another key; the good key with one byte less */
	t = make_token("{\"alg\":\"HS256\"}", GOOD, (const unsigned char *)"another key of the same length!!!", 33);
	assert_int_equal(verify(t, &c), GW_JWT_SIGNATURE);
	assert_string_equal(c.account, "");
	free(t);
	t = make_token("{\"alg\":\"HS256\"}", GOOD, KEY, KEYLEN - 1);
	assert_int_equal(verify(t, &c), GW_JWT_SIGNATURE);
	free(t);
}

/* A good token changed in its text. */
static void jwt_tampered(void **state)
{
	struct gw_jwt_claims c;
	char *t = make_token("{\"alg\":\"HS256\"}", GOOD, KEY, KEYLEN), *u;
	char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
	size_t n = strlen(t);

	(void)state;
	u = strdup(t);
	u[d1 - t + 3] = u[d1 - t + 3] == 'A' ? 'B' : 'A'; /* a claim changed */
	assert_int_equal(verify(u, &c), GW_JWT_SIGNATURE);
	strcpy(u, t);
	u[n - 5] = u[n - 5] == 'A' ? 'B' : 'A'; /* the signature changed */
	assert_int_equal(verify(u, &c), GW_JWT_SIGNATURE);
	{ /* the signature's first 31 bytes, well encoded */
		unsigned char sig[40];
		long k = gw_base64url_decode(d2 + 1, strlen(d2 + 1), sig, sizeof(sig));
		assert_int_equal(k, 32);
		strcpy(u, t);
		b64url(sig, 31, u + (d2 - t) + 1);
		assert_int_equal(verify(u, &c), GW_JWT_SIGNATURE);
	}
	strcpy(u, t);
	u[d2 - t] = '\0'; /* no signature part */
	assert_int_equal(verify(u, &c), GW_JWT_FORM);
	assert_int_equal(verify("a.b", &c), GW_JWT_FORM);
	assert_int_equal(verify("a.b.c.d", &c), GW_JWT_FORM);
	assert_int_equal(verify("..", &c), GW_JWT_FORM);
	assert_int_equal(verify("", &c), GW_JWT_FORM);
	free(u);
	/* the signature with padding, or in standard base64 ('+', '/') */
	u = malloc(n + 4);
	snprintf(u, n + 4, "%s=", t);
	assert_int_equal(verify(u, &c), GW_JWT_FORM);
	strcpy(u, t);
	u[n - 2] = '+';
	assert_int_equal(verify(u, &c), GW_JWT_FORM);
	/* the last character with non-zero unused bits: 'A'+1 decodes to
	 * the same bytes in a lax decoder, never here */
	strcpy(u, t);
	u[n - 1] = (char)(u[n - 1] + 1);
	assert_int_equal(verify(u, &c), GW_JWT_FORM);
	free(u);
	free(t);
}

static void jwt_long(void **state)
{
	struct gw_jwt_claims c;
	size_t n = 1 << 20;
	char *big = malloc(n + 1), *claims, *t;

	(void)state;
	memset(big, 'A', n);
	big[n] = '\0';
	assert_int_equal(gw_jwt_verify(big, n, KEY, KEYLEN, AUD, NOW, 30, &c), GW_JWT_TOO_LONG);
	/* a well-signed token just over the limit, and one whose claim
	 * string is longer than the reader takes */
	claims = malloc(4000);
	snprintf(claims, 4000, "{\"sub\":\"C\",\"exp\":1780000600,\"aud\":\"gatewayd-portal\",\"pad\":\"%03000d\"}", 0);
	t = make_token("{\"alg\":\"HS256\"}", claims, KEY, KEYLEN);
	assert_true(strlen(t) > GW_JWT_MAX);
	assert_int_equal(verify(t, &c), GW_JWT_TOO_LONG);
	free(t);
	snprintf(claims, 4000, "{\"sub\":\"C\",\"exp\":1780000600,\"aud\":\"gatewayd-portal\",\"pad\":\"%01500d\"}", 0);
	t = make_token("{\"alg\":\"HS256\"}", claims, KEY, KEYLEN);
	assert_true(strlen(t) < GW_JWT_MAX);
	assert_int_equal(verify(t, &c), GW_JWT_JSON);
	free(t);
	/* nesting past the bound */
	snprintf(claims, 4000, "{\"sub\":\"C\",\"exp\":1780000600,\"aud\":\"gatewayd-portal\",\"n\":%.*s1%.*s}",
		 40, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 40, "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	t = make_token("{\"alg\":\"HS256\"}", claims, KEY, KEYLEN);
	assert_int_equal(verify(t, &c), GW_JWT_JSON);
	free(t);
	free(claims);
	free(big);
}

static void base64url_edges(void **state)
{
	unsigned char out[8];

	(void)state;
	assert_int_equal(gw_base64url_decode("", 0, out, sizeof(out)), 0);
	assert_int_equal(gw_base64url_decode("QQ", 2, out, sizeof(out)), 1); /* "A" */
	assert_int_equal(out[0], 'A');
	assert_int_equal(gw_base64url_decode("QUI", 3, out, sizeof(out)), 2); /* "AB" */
	assert_int_equal(gw_base64url_decode("QUJD", 4, out, sizeof(out)), 3);
	assert_int_equal(gw_base64url_decode("Q", 1, out, sizeof(out)), -1);     /* n % 4 == 1 */
	assert_int_equal(gw_base64url_decode("QR", 2, out, sizeof(out)), -1);    /* unused bits */
	assert_int_equal(gw_base64url_decode("QUJ", 3, out, sizeof(out)), -1);   /* unused bits */
	assert_int_equal(gw_base64url_decode("QQ==", 4, out, sizeof(out)), -1);  /* padding */
	assert_int_equal(gw_base64url_decode("Q+I", 3, out, sizeof(out)), -1);   /* '+' */
	assert_int_equal(gw_base64url_decode("Q/I", 3, out, sizeof(out)), -1);   /* '/' */
	assert_int_equal(gw_base64url_decode("Q I", 3, out, sizeof(out)), -1);
	assert_int_equal(gw_base64url_decode("-_-_", 4, out, sizeof(out)), 3);
	assert_int_equal(out[0], 0xfb);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(out[2], 0xbf);
	assert_int_equal(gw_base64url_decode("QUJDREVGR0hJ", 12, out, 8), -1);  /* 9 bytes > 8 */
}

static char *json_of(const char *s)
{
	static struct gw_buf b;

	gw_buf_free(&b);
	gw_json_string(&b, s);
	return b.data;
}

static void json_escape(void **state)
{
	(void)state;
	assert_string_equal(json_of(""), "\"\"");
	assert_string_equal(json_of("C-1042"), "\"C-1042\"");
	assert_string_equal(json_of("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
	assert_string_equal(json_of("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
	assert_string_equal(json_of("\x01\x1f\x7f"), "\"\\u0001\\u001f\\u007f\"");
	assert_string_equal(json_of("<script>&"), "\"\\u003cscript\\u003e\\u0026\"");
	assert_string_equal(json_of("K\xc3\xb6ln \xe2\x82\xac \xf0\x9f\x94\x8c"), "\"K\xc3\xb6ln \xe2\x82\xac \xf0\x9f\x94\x8c\"");
	assert_string_equal(json_of("\xe2\x80\xa8\xe2\x80\xa9"), "\"\\u2028\\u2029\"");
	/* invalid UTF-8: a lone continuation byte, a cut sequence, an
	 * overlong '/', a surrogate, past U+10FFFF */
	assert_string_equal(json_of("a\x80z"), "\"a\\ufffdz\"");
	assert_string_equal(json_of("\xc3"), "\"\\ufffd\"");
	assert_string_equal(json_of("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
	assert_string_equal(json_of("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
	assert_string_equal(json_of("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

/* The escaper's output read back by the portal's own JSON reader gives
 * the input again, for every byte value in a string. */
static int take_string(void *ctx, const char *key, const struct gw_jr_value *v)
{
	(void)key;
	strcpy(ctx, v->type == GW_JR_STRING ? v->str : "?");
	return 0;
}

static void json_round_trip(void **state)
{
	char in[160], back[GW_JR_STR_MAX];
	struct gw_buf b;
	int i;

	(void)state;
	for (i = 1; i < 128; i++)
		in[i - 1] = (char)i;
	in[127] = '\0';
	gw_buf_init(&b, 0);
	gw_buf_puts(&b, "{\"k\":");
	gw_json_string(&b, in);
	gw_buf_puts(&b, "}");
	assert_int_equal(gw_jr_object(b.data, b.len, take_string, back), 0);
	assert_string_equal(back, in);
	gw_buf_free(&b);
}

static void csv_fields(void **state)
{
	struct gw_buf b;

	(void)state;
	gw_buf_init(&b, 0);
	gw_csv_field(&b, "plain");
	gw_buf_puts(&b, "|");
	gw_csv_field(&b, "a,b");
	gw_buf_puts(&b, "|");
	gw_csv_field(&b, "say \"hi\"");
	gw_buf_puts(&b, "|");
	gw_csv_field(&b, "two\r\nlines");
	assert_string_equal(b.data, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\r\nlines\"");
	gw_buf_free(&b);
}

static void kwh_exact(void **state)
{
	char s[GW_KWH_MAX];

	(void)state;
	gw_wh_to_kwh(12345, s, sizeof(s));
	assert_string_equal(s, "12.345");
	gw_wh_to_kwh(0, s, sizeof(s));
	assert_string_equal(s, "0.000");
	gw_wh_to_kwh(7, s, sizeof(s));
	assert_string_equal(s, "0.007");
	gw_wh_to_kwh(1500, s, sizeof(s));
	assert_string_equal(s, "1.500");
	gw_wh_to_kwh(-5, s, sizeof(s));
	assert_string_equal(s, "-0.005");
	gw_wh_to_kwh(-1000, s, sizeof(s));
	assert_string_equal(s, "-1.000");
	/* 2^53 + 1 Wh: a double would already have lost the last digit */
	gw_wh_to_kwh(INT64_C(9007199254740993), s, sizeof(s));
	assert_string_equal(s, "9007199254740.993");
	gw_wh_to_kwh(INT64_MAX, s, sizeof(s));
	assert_string_equal(s, "9223372036854775.807");
	gw_wh_to_kwh(INT64_MIN, s, sizeof(s));
	assert_string_equal(s, "-9223372036854775.808");
}

/* A bill query's answer as libpq would give it (db.c, GW_PQ_BILL): 23
 * text columns, one row per line; NULL where a value is NULL. */
#define BILL_COLS 23
static PGresult *bill_result(const char *const rows[][BILL_COLS], int n)
{
	PGresAttDesc att[BILL_COLS];
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	int i, j;

	assert_non_null(r);
	memset(att, 0, sizeof(att));
	for (i = 0; i < BILL_COLS; i++) {
		att[i].name = (char *)"c";
		att[i].typid = 25; /* text */
		att[i].typlen = -1;
		att[i].atttypmod = -1;
	}
	assert_true(PQsetResultAttrs(r, BILL_COLS, att));
	for (i = 0; i < n; i++)
		for (j = 0; j < BILL_COLS; j++)
			assert_true(PQsetvalue(r, i, j, (char *)rows[i][j],
					       rows[i][j] ? (int)strlen(rows[i][j]) : -1));
	return r;
}

static const char *const bill_rows[2][BILL_COLS] = {
	{ "2025-06-01", "2025-06-30", "2025-06-10", "50001", "99202", "7936", "107138", "VND", "EVN-RES",
	  "1", "2", "0.08", "8", "month", "2025-05-10", "2025-06-01", "2025-06-30", "1", "0", "50000",
	  "50000", "1984", "99200" },
	{ "2025-06-01", "2025-06-30", "2025-06-10", "50001", "99202", "7936", "107138", "VND", "EVN-RES",
	  "1", "2", "0.08", "8", "month", "2025-05-10", "2025-06-01", "2025-06-30", "6", "400000", NULL,
	  "1", "3460", "2" },
};

/* The bill's JSON and CSV: exact kWh from Wh, money as the database's
 * decimals, an open limit null / empty; values that are not plain
 * numbers are refused (never written as they came). */
static void bill_render(void **state)
{
	const char *rows[2][BILL_COLS];
	struct gw_buf b;
	PGresult *r;

	(void)state;
	r = bill_result(bill_rows, 2);
	gw_buf_init(&b, 0);
	assert_int_equal(gw_api_render_bill(0, "C-1", r, &b), 0);
	assert_string_equal(b.data,
		"{\"account\":\"C-1\",\"period_start\":\"2025-06-01\",\"period_end\":\"2025-06-30\","
		"\"through\":\"2025-06-10\",\"tariff\":\"EVN-RES\",\"currency\":\"VND\",\"tier_limits\":\"month\","
		"\"import_kwh\":50.001,\"amount\":99202,\"vat_rate\":0.08,\"vat\":7936,\"total\":107138,"
		"\"days_estimated\":1,\"days_missing\":2,\"days_with_data\":8,\"periods\":["
		"{\"price_list\":\"2025-05-10\",\"from\":\"2025-06-01\",\"to\":\"2025-06-30\",\"tiers\":[\n"
		"{\"tier\":1,\"from_kwh\":0.000,\"upto_kwh\":50.000,\"kwh\":50.000,\"price\":1984,\"amount\":99200},\n"
		"{\"tier\":6,\"from_kwh\":400.000,\"upto_kwh\":null,\"kwh\":0.001,\"price\":3460,\"amount\":2}]}]}\n");
	gw_buf_free(&b);
	assert_int_equal(gw_api_render_bill(1, "C-1", r, &b), 0);
	assert_string_equal(strchr(b.data, '\n') + 1,
		"2025-06-01,2025-06-30,2025-06-10,EVN-RES,VND,2025-05-10,2025-06-01,2025-06-30,1,0.000,50.000,"
		"50.000,1984,99200,50.001,99202,0.08,7936,107138,1,2,8,month\r\n"
		"2025-06-01,2025-06-30,2025-06-10,EVN-RES,VND,2025-05-10,2025-06-01,2025-06-30,6,400.000,,"
		"0.001,3460,2,50.001,99202,0.08,7936,107138,1,2,8,month\r\n");
	gw_buf_free(&b);
	PQclear(r);

	/* Not numbers: a float's exponent, Wh with a point, text, a bare
	 * point, an empty value. */
	static const struct { int col; const char *v; } bad[] = {
		{ 4, "9.92e4" }, { 3, "50.001" }, { 21, "NaN" }, { 22, "." }, { 6, "" }, { 9, "1.0" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(rows, bill_rows, sizeof(rows));
		rows[0][bad[i].col] = bad[i].v;
		r = bill_result(rows, 2);
		gw_buf_init(&b, 0);
		assert_int_equal(gw_api_render_bill(0, "C-1", r, &b), GW_EDB);
		gw_buf_free(&b);
		gw_buf_init(&b, 0);
		assert_int_equal(gw_api_render_bill(1, "C-1", r, &b), GW_EDB);
		gw_buf_free(&b);
		PQclear(r);
	}
	/* No row, or another number of columns: refused. */
	r = bill_result(bill_rows, 0);
	gw_buf_init(&b, 0);
	assert_int_equal(gw_api_render_bill(0, "C-1", r, &b), GW_EDB);
	PQclear(r);
	r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	assert_int_equal(gw_api_render_bill(0, "C-1", r, &b), GW_EDB);
	PQclear(r);
	gw_buf_free(&b);
}

static void buffer_limit(void **state)
{
	struct gw_buf b;

	(void)state;
	gw_buf_init(&b, 10);
	assert_int_equal(gw_buf_puts(&b, "0123456789"), 0);
	assert_int_not_equal(gw_buf_puts(&b, "x"), 0);
	assert_true(b.failed);
	assert_int_not_equal(gw_buf_puts(&b, ""), 0);
	assert_int_equal(b.len, 10);
	gw_buf_free(&b);
}

static void rate_buckets(void **state)
{
	struct gw_rate *r = gw_rate_new(16, 60, 3); /* one a second, three at once */
	unsigned retry = 0;
	int64_t t = 1000000000;
	int i;

	(void)state;
	assert_non_null(r);
	for (i = 0; i < 3; i++)
		assert_int_equal(gw_rate_take(r, "A", t, &retry), 0);
	assert_int_equal(gw_rate_take(r, "A", t, &retry), 1);
	assert_int_equal(retry, 1);
	assert_int_equal(gw_rate_take(r, "B", t, &retry), 0); /* B has its own bucket */
	assert_int_equal(gw_rate_take(r, "A", t + 999000, &retry), 1);
	assert_int_equal(gw_rate_take(r, "A", t + 1000000, &retry), 0);
	assert_int_equal(gw_rate_take(r, "A", t + 1000000, &retry), 1);
	/* an hour later: a full bucket, never more than the burst */
	for (i = 0; i < 3; i++)
		assert_int_equal(gw_rate_take(r, "A", t + 3600000000LL, &retry), 0);
	assert_int_equal(gw_rate_take(r, "A", t + 3600000000LL, &retry), 1);
	gw_rate_free(r);
	/* a table of 16 slots and 1000 accounts: bounded, and each new
	 * account still gets its burst */
	r = gw_rate_new(16, 1, 2);
	for (i = 0; i < 1000; i++) {
		char k[16];
		snprintf(k, sizeof(k), "acct-%d", i);
		assert_int_equal(gw_rate_take(r, k, t + i, &retry), 0);
	}
	gw_rate_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jwt_good),
		cmocka_unit_test(jwt_refusals),
		cmocka_unit_test(jwt_tampered),
		cmocka_unit_test(jwt_long),
		cmocka_unit_test(base64url_edges),
		cmocka_unit_test(json_escape),
		cmocka_unit_test(json_round_trip),
		cmocka_unit_test(csv_fields),
		cmocka_unit_test(kwh_exact),
		cmocka_unit_test(bill_render),
		cmocka_unit_test(buffer_limit),
		cmocka_unit_test(rate_buckets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
