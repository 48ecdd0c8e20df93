/* SPDX-License-Identifier: MIT */
/*
 * jwt.c - HS256 and ES256 JSON Web Tokens for the portal; see jwt.h for
 * what is accepted.
 *
 * Order: form and length first (cheap, bounded), then the header (alg
 * decides everything after, and only among the configured keys), then
 * the signature over the untouched header.payload text, and only then
 * the claims: an unsigned payload is never interpreted beyond being
 * decoded.
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "jsonread.h"
#include "jwt.h"

#define SIG_LEN 32    /* HMAC-SHA256 */
#define ES_SIG_LEN 64 /* ES256: r || s, 32 bytes each (RFC 7518 3.4) */

enum alg { ALG_OTHER, ALG_HS256, ALG_ES256 };

const char *gw_jwt_strerror(int r)
{
	switch (r) {
	case GW_JWT_OK: return "valid";
	case GW_JWT_TOO_LONG: return "token too long";
	case GW_JWT_FORM: return "not three base64url parts";
	case GW_JWT_JSON: return "header or claims not a JSON object";
	case GW_JWT_ALG: return "algorithm not HS256 or ES256, or its key not configured (or crit present)";
	case GW_JWT_SIGNATURE: return "bad signature";
	case GW_JWT_EXPIRED: return "expired (or no exp)";
	case GW_JWT_NOT_YET: return "not yet valid (nbf)";
	case GW_JWT_AUDIENCE: return "wrong audience (or no aud)";
	case GW_JWT_ACCOUNT: return "no valid account (sub)";
	case GW_JWT_DUPLICATE: return "a field given twice";
	default: return "unknown";
	}
}

int gw_account_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];
		if (n >= GW_JWT_ACCOUNT_MAX - 1)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return 0;
	}
	return n > 0;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t gw_base64url_encode(const unsigned char *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		v = (unsigned)in[i] << 16;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
	} else if (n - i == 2) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

long gw_base64url_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
	size_t i, o = 0, outlen;
	unsigned acc = 0;
	int bits = 0, v;

	if (n % 4 == 1)
		return -1;
	outlen = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (outlen > cap)
		return -1;
	for (i = 0; i < n; i++) {
		v = b64_value(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* The unused low bits of the last character must be zero: otherwise
	 * several texts decode to the same bytes (a malleable token). */
	if (acc != 0)
		return -1;
	return (long)o;
}

struct header_seen {
	enum alg alg;
	int alg_seen;
	int crit;
};

static int header_member(void *ctx, const char *key, const struct gw_jr_value *v)
{
	struct header_seen *h = ctx;

	if (strcmp(key, "alg") == 0) {
		if (h->alg_seen)
			return -GW_JWT_DUPLICATE;
		h->alg_seen = 1;
		if (v->type == GW_JR_STRING && strcmp(v->str, "HS256") == 0)
			h->alg = ALG_HS256;
		else if (v->type == GW_JR_STRING && strcmp(v->str, "ES256") == 0)
			h->alg = ALG_ES256;
	} else if (strcmp(key, "crit") == 0) {
		h->crit = 1;
	}
	return 0;
}

struct claims_seen {
	struct gw_jwt_claims *c;
	const char *audience;
	int sub, exp, nbf, aud, jti;
	int sub_ok, exp_ok, nbf_ok, aud_ok;
};

static int aud_element(void *ctx, const char *key, const struct gw_jr_value *v)
{
	struct claims_seen *s = ctx;

	(void)key;
	if (v->type == GW_JR_STRING && strcmp(v->str, s->audience) == 0)
		s->aud_ok = 1;
	return 0;
}

/* Notes one claim; a claim given twice stops with GW_JWT_DUPLICATE. */
static int claim_member(void *ctx, const char *key, const struct gw_jr_value *v)
{
	struct claims_seen *s = ctx;

	if (strcmp(key, "sub") == 0) {
		if (s->sub++)
			return -GW_JWT_DUPLICATE;
		s->sub_ok = v->type == GW_JR_STRING && gw_account_valid(v->str);
		if (s->sub_ok)
			memcpy(s->c->account, v->str, strlen(v->str) + 1);
	} else if (strcmp(key, "exp") == 0) {
		if (s->exp++)
			return -GW_JWT_DUPLICATE;
		s->exp_ok = v->type == GW_JR_NUMBER && v->num_ok;
		s->c->exp = v->num;
	} else if (strcmp(key, "nbf") == 0) {
		if (s->nbf++)
			return -GW_JWT_DUPLICATE;
		s->nbf_ok = v->type == GW_JR_NUMBER && v->num_ok;
		s->c->nbf = v->num;
	} else if (strcmp(key, "jti") == 0) {
		if (s->jti++)
			return -GW_JWT_DUPLICATE;
		/* kept only when it is a string that fits; the handoff asks */
		if (v->type == GW_JR_STRING && v->str[0] && strlen(v->str) < sizeof(s->c->jti))
			memcpy(s->c->jti, v->str, strlen(v->str) + 1);
	} else if (strcmp(key, "aud") == 0) {
		if (s->aud++)
			return -GW_JWT_DUPLICATE;
		if (v->type == GW_JR_STRING)
			s->aud_ok = strcmp(v->str, s->audience) == 0;
		else if (v->type == GW_JR_ARRAY && gw_jr_array(v->raw, v->raw_len, aud_element, s) != 0)
			return -GW_JWT_JSON;
	}
	return 0;
}

/* Checks the claims' values once the object was read whole. */
static int judge_claims(const struct claims_seen *s, int64_t now, int64_t leeway)
{
	if (!s->sub_ok)
		return GW_JWT_ACCOUNT;
	if (!s->exp_ok || s->c->exp <= now - leeway)
		return GW_JWT_EXPIRED;
	if (s->nbf && (!s->nbf_ok || s->c->nbf > now + leeway))
		return GW_JWT_NOT_YET;
	if (!s->aud_ok)
		return GW_JWT_AUDIENCE;
	return GW_JWT_OK;
}

/* Verifies the signature part against header.payload (signed_len bytes). */
static int check_signature(const char *token, size_t signed_len, const char *sig, size_t sig_len,
			   const unsigned char *key, size_t keylen)
{
	unsigned char want[EVP_MAX_MD_SIZE], got[SIG_LEN + 3];
	unsigned int want_len = 0;
	long n;

	n = gw_base64url_decode(sig, sig_len, got, sizeof(got));
	if (n < 0)
		return GW_JWT_FORM;
	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)token, signed_len, want,
		  &want_len) || want_len != SIG_LEN)
		return GW_JWT_SIGNATURE;
	if (n != SIG_LEN || CRYPTO_memcmp(want, got, SIG_LEN) != 0)
		return GW_JWT_SIGNATURE;
	return GW_JWT_OK;
}

/* ES256: the signature part is r || s, 64 bytes, big-endian (RFC 7518
 * 3.4), not DER. It is turned into the DER that libcrypto verifies; r or
 * s of 0 or not below the curve's order fail there. A high s (the other
 * of the two valid signatures) is accepted, see jwt.h. */
static int check_es256(const char *token, size_t signed_len, const char *sig, size_t sig_len,
		       EVP_PKEY *pkey)
{
	unsigned char got[ES_SIG_LEN + 3], *der = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r, *s;
	EVP_MD_CTX *md = NULL;
	int der_len, ok = 0;
	long n;

	if (sig_len > (ES_SIG_LEN * 4 + 2) / 3 + 4)
		return GW_JWT_SIGNATURE; /* too long for r || s: DER, or P-384's 96 bytes */
	n = gw_base64url_decode(sig, sig_len, got, sizeof(got));
	if (n < 0)
		return GW_JWT_FORM;
	if (n != ES_SIG_LEN)
		return GW_JWT_SIGNATURE;
	r = BN_bin2bn(got, ES_SIG_LEN / 2, NULL);
	s = BN_bin2bn(got + ES_SIG_LEN / 2, ES_SIG_LEN / 2, NULL);
	es = ECDSA_SIG_new();
	if (!r || !s || !es || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return GW_JWT_SIGNATURE;
	}
	der_len = i2d_ECDSA_SIG(es, &der);
	md = EVP_MD_CTX_new();
	if (der_len > 0 && md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1)
		ok = EVP_DigestVerify(md, der, (size_t)der_len, (const unsigned char *)token, signed_len) == 1;
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return ok ? GW_JWT_OK : GW_JWT_SIGNATURE;
}

static int verify(const char *token, size_t len, const struct gw_jwt_keys *k, const char *audience,
		  int64_t now, int64_t leeway, struct gw_jwt_claims *out)
{
	unsigned char part[GW_JWT_MAX];
	struct header_seen h = { ALG_OTHER, 0, 0 };
	struct claims_seen s;
	const char *d1, *d2;
	long n;
	int rc;

	if (len > GW_JWT_MAX)
		return GW_JWT_TOO_LONG;
	d1 = memchr(token, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) || d1 == token || d2 == d1 + 1)
		return GW_JWT_FORM;

	n = gw_base64url_decode(token, (size_t)(d1 - token), part, sizeof(part));
	if (n < 0)
		return GW_JWT_FORM;
	rc = gw_jr_object((const char *)part, (size_t)n, header_member, &h);
	if (rc > 0)
		return -rc;
	if (rc < 0)
		return GW_JWT_JSON;
	/* The key decides the algorithm: a token may only name one that a
	 * configured key has (no HS256 over a public key's text). */
	if (h.crit || (h.alg == ALG_HS256 && !k->hs256) || (h.alg == ALG_ES256 && !k->es256) ||
	    h.alg == ALG_OTHER)
		return GW_JWT_ALG;

	if (h.alg == ALG_HS256)
		rc = check_signature(token, (size_t)(d2 - token), d2 + 1, len - (size_t)(d2 + 1 - token),
				     k->hs256, k->hs256_len);
	else
		rc = check_es256(token, (size_t)(d2 - token), d2 + 1, len - (size_t)(d2 + 1 - token),
				 k->es256);
	if (rc != GW_JWT_OK)
		return rc;

	n = gw_base64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), part, sizeof(part));
	if (n < 0)
		return GW_JWT_FORM;
	memset(&s, 0, sizeof(s));
	s.c = out;
	s.audience = audience;
	rc = gw_jr_object((const char *)part, (size_t)n, claim_member, &s);
	if (rc > 0)
		return -rc;
	if (rc < 0)
		return GW_JWT_JSON;
	return judge_claims(&s, now, leeway);
}

int gw_jwt_verify_keys(const char *token, size_t len, const struct gw_jwt_keys *k, const char *audience,
		       int64_t now, int64_t leeway, struct gw_jwt_claims *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (!token || !k || (!k->es256 && (!k->hs256 || k->hs256_len == 0)) || !audience)
		return GW_JWT_FORM;
	rc = verify(token, len, k, audience, now, leeway, out);
	if (rc != GW_JWT_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

int gw_jwt_verify(const char *token, size_t len, const unsigned char *key, size_t keylen,
		  const char *audience, int64_t now, int64_t leeway, struct gw_jwt_claims *out)
{
	struct gw_jwt_keys k = { key, key && keylen ? keylen : 0, NULL };

	if (!key || keylen == 0) {
		memset(out, 0, sizeof(*out));
		return GW_JWT_FORM;
	}
	return gw_jwt_verify_keys(token, len, &k, audience, now, leeway, out);
}

const char *gw_jwt_es256_key(const char *pem, size_t len, EVP_PKEY **out)
{
	char group[32] = "";
	size_t glen = 0;
	EVP_PKEY *pk;
	BIO *b;

	*out = NULL;
	b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return "out of memory";
	pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!pk)
		return "not a public key in PEM (-----BEGIN PUBLIC KEY-----)";
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC) {
		EVP_PKEY_free(pk);
		return "not an EC key (ES256 needs an EC P-256 public key)";
	}
	if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) != 1 ||
	    strcmp(group, "prime256v1") != 0) {
		EVP_PKEY_free(pk);
		return "an EC key on another curve than P-256 (prime256v1), which ES256 needs";
	}
	*out = pk;
	return NULL;
}
