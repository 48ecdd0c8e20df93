/* SPDX-License-Identifier: MIT */
/*
 * test_portal_jwt.c - the portal's ES256 tokens and the choice of the
 * algorithm by the configured keys (jwt.h): a good ES256 token; the high
 * s of the same signature (accepted, see jwt.h); r or s of 0 or of the
 * curve's order, a DER signature, 63 and 65 bytes, P-384's 96; another
 * P-256 key; an ES256 token where only HS256 is configured and the other
 * way round; HS256 signed with the public key's PEM text (the classic
 * confusion); alg none, ES384, es256; the key loader's refusals (RSA,
 * P-384, not PEM); the table of used handoff tokens (once, again after
 * expiry, another account's same jti, a full window refused and nothing
 * forgotten, eight threads racing for one token). Keys are made here
 * with libcrypto; the integration
 * test (tests/integration/portal_keys.sh) signs with Python's
 * cryptography and openssl's keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "handoff.h"
#include "jwt.h"

#include <pthread.h>

#define NOW 1780000000
#define AUD "gatewayd-portal"
#define HS_KEY "0123456789abcdef0123456789abcdef-test-key"
#define GOOD "{\"sub\":\"C-1042\",\"exp\":1780000600,\"aud\":\"gatewayd-portal\",\"jti\":\"h-1\"}"
#define ES_HEAD "{\"alg\":\"ES256\",\"typ\":\"JWT\"}"

static EVP_PKEY *k256, *other256, *k384;
static char pem256[1024];

static void b64url(const unsigned char *in, size_t n, char *out)
{
	gw_base64url_encode(in, n, out);
}

/* "header.payload" in t (capacity enough), returns its length. */
static size_t signed_part(char *t, const char *header, const char *payload)
{
	size_t n;

	b64url((const unsigned char *)header, strlen(header), t);
	n = strlen(t);
	t[n++] = '.';
	b64url((const unsigned char *)payload, strlen(payload), t + n);
	return strlen(t);
}

/* The DER ECDSA signature of data under key, and its r, s of `half`
 * bytes each into rs. Returns the DER length. */
static size_t es_sign(EVP_PKEY *key, const char *data, size_t n, unsigned char *der, size_t cap,
		      unsigned char *rs, int half)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *sig;
	size_t len = cap;

	assert_non_null(md);
	assert_int_equal(EVP_DigestSignInit(md, NULL, half == 48 ? EVP_sha384() : EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(md, der, &len, (const unsigned char *)data, n), 1);
	EVP_MD_CTX_free(md);
	sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	assert_non_null(sig);
	ECDSA_SIG_get0(sig, &r, &s);
	assert_int_equal(BN_bn2binpad(r, rs, half), half);
	assert_int_equal(BN_bn2binpad(s, rs + half, half), half);
	ECDSA_SIG_free(sig);
	return len;
}

/* A token of header and payload whose signature part is the given bytes. */
static char *with_sig(const char *header, const char *payload, const unsigned char *sig, size_t n)
{
	char *t = malloc(8192);
	size_t k;

	assert_non_null(t);
	k = signed_part(t, header, payload);
	t[k++] = '.';
	b64url(sig, n, t + k);
	return t;
}

/* An ES256 token: r || s of key's signature. */
static char *es_token(EVP_PKEY *key, const char *header, const char *payload, unsigned char *rs)
{
	char t[4096];
	unsigned char der[160];
	size_t n = signed_part(t, header, payload);

	es_sign(key, t, n, der, sizeof(der), rs, 32);
	return with_sig(header, payload, rs, 64);
}

static int verify(const char *t, int hs, int es)
{
	struct gw_jwt_keys k = { hs ? (const unsigned char *)HS_KEY : NULL, hs ? strlen(HS_KEY) : 0,
				 es ? k256 : NULL };
	struct gw_jwt_claims c;
	int rc = gw_jwt_verify_keys(t, strlen(t), &k, AUD, NOW, 30, &c);

	if (rc != GW_JWT_OK)
		assert_string_equal(c.account, "");
	return rc;
}

static int setup(void **state)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	(void)state;
	k256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	other256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	k384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	if (!k256 || !other256 || !k384 || !b || PEM_write_bio_PUBKEY(b, k256) != 1)
		return -1;
	n = BIO_read(b, pem256, sizeof(pem256) - 1);
	BIO_free(b);
	if (n <= 0)
		return -1;
	pem256[n] = '\0';
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(k256);
	EVP_PKEY_free(other256);
	EVP_PKEY_free(k384);
	return 0;
}

static void es256_good(void **state)
{
	struct gw_jwt_keys k = { NULL, 0, NULL };
	struct gw_jwt_claims c;
	unsigned char rs[64];
	char *t = es_token(k256, ES_HEAD, GOOD, rs);

	(void)state;
	k.es256 = k256;
	assert_int_equal(gw_jwt_verify_keys(t, strlen(t), &k, AUD, NOW, 30, &c), GW_JWT_OK);
	assert_string_equal(c.account, "C-1042");
	assert_string_equal(c.jti, "h-1");
	/* with both keys configured, each alg finds its own */
	assert_int_equal(verify(t, 1, 1), GW_JWT_OK);
	free(t);
	/* a kid is ignored: keys come from the configuration only */
	t = es_token(k256, "{\"alg\":\"ES256\",\"kid\":\"2026-12\"}", GOOD, rs);
	assert_int_equal(verify(t, 0, 1), GW_JWT_OK);
	free(t);
	/* the claims are judged as for HS256 */
	t = es_token(k256, ES_HEAD, "{\"sub\":\"C\",\"exp\":1779999960,\"aud\":\"gatewayd-portal\"}", rs);
	assert_int_equal(verify(t, 0, 1), GW_JWT_EXPIRED);
	free(t);
}

/* s replaced by n - s: the other valid signature (ECDSA's malleability). */
static void es256_high_s(void **state)
{
	unsigned char rs[64], flip[64];
	BIGNUM *order = NULL, *s, *s2;
	const EC_GROUP *g;
	EC_GROUP *grp = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	char *t = es_token(k256, ES_HEAD, GOOD, rs), *u;

	(void)state;
	g = grp;
	assert_non_null(g);
	order = BN_dup(EC_GROUP_get0_order(g));
	s = BN_bin2bn(rs + 32, 32, NULL);
	s2 = BN_new();
	assert_int_equal(BN_sub(s2, order, s), 1);
	memcpy(flip, rs, 32);
	assert_int_equal(BN_bn2binpad(s2, flip + 32, 32), 32);
	u = with_sig(ES_HEAD, GOOD, flip, 64);
	assert_int_equal(verify(t, 0, 1), GW_JWT_OK);
	assert_int_equal(verify(u, 0, 1), GW_JWT_OK); /* accepted: jwt.h says why */
	free(u);
	/* s = n and r = n (out of range), r = 0, s = 0, all 0xff: refused */
	memcpy(flip, rs, 32);
	assert_int_equal(BN_bn2binpad(order, flip + 32, 32), 32);
	u = with_sig(ES_HEAD, GOOD, flip, 64);
	assert_int_equal(verify(u, 0, 1), GW_JWT_SIGNATURE);
	free(u);
	memcpy(flip + 32, rs + 32, 32);
	assert_int_equal(BN_bn2binpad(order, flip, 32), 32);
	u = with_sig(ES_HEAD, GOOD, flip, 64);
	assert_int_equal(verify(u, 0, 1), GW_JWT_SIGNATURE);
	free(u);
	memset(flip, 0, 32);
	u = with_sig(ES_HEAD, GOOD, flip, 64);
	assert_int_equal(verify(u, 0, 1), GW_JWT_SIGNATURE);
	free(u);
	memcpy(flip, rs, 64);
	memset(flip + 32, 0, 32);
	u = with_sig(ES_HEAD, GOOD, flip, 64);
	assert_int_equal(verify(u, 0, 1), GW_JWT_SIGNATURE);
	free(u);
	memset(flip, 0, 64);
	u = with_sig(ES_HEAD, GOOD, flip, 64);
	assert_int_equal(verify(u, 0, 1), GW_JWT_SIGNATURE);
	free(u);
	memset(flip, 0xff, 64);
	u = with_sig(ES_HEAD, GOOD, flip, 64);
	assert_int_equal(verify(u, 0, 1), GW_JWT_SIGNATURE);
	free(u);
	BN_free(order);
	BN_free(s);
	BN_free(s2);
	EC_GROUP_free(grp);
	free(t);
}

/* Signatures of the wrong form or length, another key, a changed claim. */
static void es256_bad_signatures(void **state)
{
	unsigned char rs[96], der[160], longer[65];
	char t[4096], *u;
	size_t n = signed_part(t, ES_HEAD, GOOD), dl;

	(void)state;
	dl = es_sign(k256, t, n, der, sizeof(der), rs, 32);
	u = with_sig(ES_HEAD, GOOD, der, dl); /* DER, as libcrypto makes it, is not JWS */
	assert_int_equal(verify(u, 0, 1), GW_JWT_SIGNATURE);
	free(u);
	u = with_sig(ES_HEAD, GOOD, rs, 63);
	assert_int_equal(verify(u, 0, 1), GW_JWT_SIGNATURE);
	free(u);
	memcpy(longer, rs, 64);
	longer[64] = 0;
	u = with_sig(ES_HEAD, GOOD, longer, 65);
	assert_int_equal(verify(u, 0, 1), GW_JWT_SIGNATURE);
	free(u);
	u = with_sig(ES_HEAD, GOOD, rs, 0);
	assert_int_equal(verify(u, 0, 1), GW_JWT_SIGNATURE); /* an empty signature part */
	free(u);
	/* a P-384 key's signature (96 bytes) under "ES256" */
	es_sign(k384, t, n, der, sizeof(der), rs, 48);
	u = with_sig(ES_HEAD, GOOD, rs, 96);
	assert_int_equal(verify(u, 0, 1), GW_JWT_SIGNATURE);
	free(u);
	/* another P-256 key */
	u = es_token(other256, ES_HEAD, GOOD, rs);
	assert_int_equal(verify(u, 0, 1), GW_JWT_SIGNATURE);
	/* a claim changed after signing */
	{
		char *v = with_sig(ES_HEAD, "{\"sub\":\"C-1043\",\"exp\":1780000600,\"aud\":\"gatewayd-portal\"}", rs,
				   0);
		char *sig = strrchr(u, '.');
		strcat(v, sig + 1);
		assert_int_equal(verify(v, 0, 1), GW_JWT_SIGNATURE);
		free(v);
	}
	free(u);
	/* bad base64url in the signature */
	u = es_token(k256, ES_HEAD, GOOD, rs);
	u[strlen(u) - 3] = '+';
	assert_int_equal(verify(u, 0, 1), GW_JWT_FORM);
	free(u);
}

/* The configured keys decide which algorithms a token may name. */
static void alg_by_key(void **state)
{
	unsigned char rs[64], mac[32];
	unsigned int maclen = 0;
	char t[4096], *u;
	size_t n;

	(void)state;
	/* ES256 token, only HS256 configured */
	u = es_token(k256, ES_HEAD, GOOD, rs);
	assert_int_equal(verify(u, 1, 0), GW_JWT_ALG);
	free(u);
	/* HS256 token (good under the HS256 key), only ES256 configured */
	n = signed_part(t, "{\"alg\":\"HS256\"}", GOOD);
	HMAC(EVP_sha256(), HS_KEY, (int)strlen(HS_KEY), (unsigned char *)t, n, mac, &maclen);
	u = with_sig("{\"alg\":\"HS256\"}", GOOD, mac, maclen);
	assert_int_equal(verify(u, 1, 0), GW_JWT_OK);
	assert_int_equal(verify(u, 0, 1), GW_JWT_ALG);
	free(u);
	/* the confusion: HS256 whose HMAC key is the public key's PEM text
	 * (as a naive verifier would take "the key"); with ES256 only, and
	 * with both (the HS256 secret is another) */
	HMAC(EVP_sha256(), pem256, (int)strlen(pem256), (unsigned char *)t, n, mac, &maclen);
	u = with_sig("{\"alg\":\"HS256\"}", GOOD, mac, maclen);
	assert_int_equal(verify(u, 0, 1), GW_JWT_ALG);
	assert_int_equal(verify(u, 1, 1), GW_JWT_SIGNATURE);
	free(u);
	/* alg none, ES384, es256, missing; crit */
	u = with_sig("{\"alg\":\"none\"}", GOOD, rs, 0);
	strcat(u, "AA");
	assert_int_equal(verify(u, 1, 1), GW_JWT_ALG);
	free(u);
	u = es_token(k256, "{\"alg\":\"ES384\"}", GOOD, rs);
	assert_int_equal(verify(u, 1, 1), GW_JWT_ALG);
	free(u);
	u = es_token(k256, "{\"alg\":\"es256\"}", GOOD, rs);
	assert_int_equal(verify(u, 1, 1), GW_JWT_ALG);
	free(u);
	u = es_token(k256, "{\"typ\":\"JWT\"}", GOOD, rs);
	assert_int_equal(verify(u, 0, 1), GW_JWT_ALG);
	free(u);
	u = es_token(k256, "{\"alg\":\"ES256\",\"crit\":[\"b64\"]}", GOOD, rs);
	assert_int_equal(verify(u, 0, 1), GW_JWT_ALG);
	free(u);
	u = es_token(k256, "{\"alg\":\"ES256\",\"alg\":\"ES256\"}", GOOD, rs);
	assert_int_equal(verify(u, 0, 1), GW_JWT_DUPLICATE);
	free(u);
	/* no key at all */
	u = es_token(k256, ES_HEAD, GOOD, rs);
	assert_int_equal(verify(u, 0, 0), GW_JWT_FORM);
	free(u);
}

/* The key loader: a P-256 public key in PEM and nothing else. */
static void key_loader(void **state)
{
	EVP_PKEY *pk = NULL, *rsa;
	char pem[4096];
	BIO *b;
	int n;

	(void)state;
	assert_null(gw_jwt_es256_key(pem256, strlen(pem256), &pk));
	assert_non_null(pk);
	EVP_PKEY_free(pk);
	/* P-384 */
	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PUBKEY(b, k384), 1);
	n = BIO_read(b, pem, sizeof(pem) - 1);
	BIO_free(b);
	assert_true(n > 0);
	assert_non_null(strstr(gw_jwt_es256_key(pem, (size_t)n, &pk), "P-256"));
	assert_null(pk);
	/* RSA */
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(rsa);
	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PUBKEY(b, rsa), 1);
	n = BIO_read(b, pem, sizeof(pem) - 1);
	BIO_free(b);
	EVP_PKEY_free(rsa);
	assert_non_null(strstr(gw_jwt_es256_key(pem, (size_t)n, &pk), "not an EC key"));
	assert_null(pk);
	/* a private key's PEM, an HS256 secret, half a PEM */
	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PrivateKey(b, k256, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_read(b, pem, sizeof(pem) - 1);
	BIO_free(b);
	assert_non_null(strstr(gw_jwt_es256_key(pem, (size_t)n, &pk), "not a public key"));
	assert_null(pk);
	assert_non_null(gw_jwt_es256_key(HS_KEY, strlen(HS_KEY), &pk));
	assert_non_null(gw_jwt_es256_key(pem256, strlen(pem256) / 2, &pk));
	assert_null(pk);
}

static void handoff_once(void **state)
{
	struct gw_handoff *h = gw_handoff_new(1024);
	char jti[32];
	int i, first = 0, full = 0;

	(void)state;
	assert_null(gw_handoff_new(GW_HANDOFF_PROBES - 1));
	assert_non_null(h);
	assert_int_equal(gw_handoff_take(h, "C-1", "j-1", NOW + 630, NOW), GW_HANDOFF_FIRST);
	assert_int_equal(gw_handoff_take(h, "C-1", "j-1", NOW + 630, NOW + 1), GW_HANDOFF_USED);
	assert_int_equal(gw_handoff_take(h, "C-1", "j-1", NOW + 630, NOW + 629), GW_HANDOFF_USED);
	/* the same jti of another account is another token */
	assert_int_equal(gw_handoff_take(h, "C-2", "j-1", NOW + 630, NOW), GW_HANDOFF_FIRST);
	/* "C-1" + "0j" and "C-10" + "j": the account ends where its NUL is */
	assert_int_equal(gw_handoff_take(h, "C-1", "0j", NOW + 630, NOW), GW_HANDOFF_FIRST);
	assert_int_equal(gw_handoff_take(h, "C-10", "j", NOW + 630, NOW), GW_HANDOFF_FIRST);
	assert_int_equal(gw_handoff_count(h, NOW), 4);
	/* once its token has expired (exp + leeway) the pair is forgotten:
	 * the token is refused by its exp from then on anyway */
	assert_int_equal(gw_handoff_count(h, NOW + 630), 0);
	assert_int_equal(gw_handoff_take(h, "C-1", "j-1", NOW + 1300, NOW + 630), GW_HANDOFF_FIRST);
	gw_handoff_free(h);

	/* 64 slots: 64 handoffs fill them; the 65th is refused, none of the
	 * 64 is forgotten; when they expire there is room again */
	h = gw_handoff_new(GW_HANDOFF_PROBES);
	assert_non_null(h);
	for (i = 0; i < GW_HANDOFF_PROBES + 10; i++) {
		enum gw_handoff_result r;
		snprintf(jti, sizeof(jti), "t-%d", i);
		r = gw_handoff_take(h, "C-1", jti, NOW + 600, NOW);
		first += r == GW_HANDOFF_FIRST;
		full += r == GW_HANDOFF_FULL;
	}
	assert_int_equal(first, GW_HANDOFF_PROBES);
	assert_int_equal(full, 10);
	for (i = 0; i < GW_HANDOFF_PROBES; i++) {
		snprintf(jti, sizeof(jti), "t-%d", i);
		assert_int_equal(gw_handoff_take(h, "C-1", jti, NOW + 600, NOW + 1), GW_HANDOFF_USED);
	}
	assert_int_equal(gw_handoff_take(h, "C-1", "t-new", NOW + 1200, NOW + 600), GW_HANDOFF_FIRST);
	gw_handoff_free(h);
}

/* The session cookie: the token sealed by this process only. */
static void handoff_seal(void **state)
{
	struct gw_handoff *h = gw_handoff_new(64), *other = gw_handoff_new(64);
	const char *tok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDLTEifQ.c2ln";
	char c[256], d[256], small[60];
	size_t n = strlen(tok);

	(void)state;
	assert_non_null(h);
	assert_non_null(other);
	assert_int_equal(gw_handoff_seal(h, tok, c, sizeof(c)), 0);
	assert_int_equal(strlen(c), n + GW_HANDOFF_SEAL);
	assert_int_equal(c[n], '~');
	assert_int_equal(strspn(c + n + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	strcpy(d, c);
	assert_int_equal(gw_handoff_open(h, d), 0);
	assert_string_equal(d, tok);
	/* another process's seal, the bare token, a changed token or seal,
	 * a seal cut short or longer, two seals */
	strcpy(d, c);
	assert_int_equal(gw_handoff_open(other, d), -1);
	strcpy(d, tok);
	assert_int_equal(gw_handoff_open(h, d), -1);
	strcpy(d, c);
	d[3] = d[3] == 'A' ? 'B' : 'A';
	assert_int_equal(gw_handoff_open(h, d), -1);
	strcpy(d, c);
	d[n + 5] = d[n + 5] == 'A' ? 'B' : 'A';
	assert_int_equal(gw_handoff_open(h, d), -1);
	strcpy(d, c);
	d[strlen(d) - 1] = '\0';
	assert_int_equal(gw_handoff_open(h, d), -1);
	snprintf(d, sizeof(d), "%sA", c);
	assert_int_equal(gw_handoff_open(h, d), -1);
	snprintf(d, sizeof(d), "%s%s", c, c + n);
	assert_int_equal(gw_handoff_open(h, d), -1);
	strcpy(d, "~");
	assert_int_equal(gw_handoff_open(h, d), -1);
	/* it must fit */
	assert_int_equal(gw_handoff_seal(h, tok, small, sizeof(small)), -1);
	gw_handoff_free(h);
	gw_handoff_free(other);
}

struct race {
	struct gw_handoff *h;
	int first;
};

static void *racer(void *arg)
{
	struct race *r = arg;

	r->first = gw_handoff_take(r->h, "C-1", "the-one", NOW + 600, NOW) == GW_HANDOFF_FIRST;
	return NULL;
}

/* Eight requests with one token at once: exactly one is handed off. */
static void handoff_race(void **state)
{
	struct race r[8];
	pthread_t t[8];
	int i, n, round;

	(void)state;
	for (round = 0; round < 50; round++) {
		struct gw_handoff *h = gw_handoff_new(4096);
		assert_non_null(h);
		for (i = 0; i < 8; i++) {
			r[i].h = h;
			assert_int_equal(pthread_create(&t[i], NULL, racer, &r[i]), 0);
		}
		for (i = 0, n = 0; i < 8; i++) {
			pthread_join(t[i], NULL);
			n += r[i].first;
		}
		assert_int_equal(n, 1);
		gw_handoff_free(h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(es256_good),
		cmocka_unit_test(es256_high_s),
		cmocka_unit_test(es256_bad_signatures),
		cmocka_unit_test(alg_by_key),
		cmocka_unit_test(key_loader),
		cmocka_unit_test(handoff_once),
		cmocka_unit_test(handoff_seal),
		cmocka_unit_test(handoff_race),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
