/* SPDX-License-Identifier: MIT */
/*
 * jwt.h - verifies the bearer tokens the utility's app backend signs for
 * the portal: JSON Web Tokens (RFC 7519) in compact form, HS256 (a shared
 * secret) or ES256 (ECDSA over P-256 with SHA-256, a public key).
 *
 * A token is accepted only if all of these hold:
 *   - three base64url parts (no padding, no other characters, the unused
 *     bits of the last character zero), at most GW_JWT_MAX bytes in all;
 *   - the header is a JSON object whose "alg" is exactly "HS256" or
 *     "ES256" and names an algorithm of a configured key ("none",
 *     "HS512", "RS256", "ES384" ... are refused, and so is "HS256" when
 *     only an ES256 public key is configured: nobody can use the public
 *     key's text as an HMAC secret), and that has no "crit"; "kid",
 *     "typ", "jwk", "x5u" ... are ignored (keys come from the
 *     configuration only);
 *   - HS256: the HMAC-SHA256 of "header.payload" under the secret equals
 *     the signature (compared in constant time, CRYPTO_memcmp);
 *   - ES256: the signature is exactly 64 bytes, r || s big-endian (not
 *     DER), with 0 < r, s < n, and verifies under the public key. Both
 *     (r, s) and (r, n - s) verify (ECDSA's own malleability): a high s
 *     is accepted, because the usual signers (OpenSSL, Go, Java, Node)
 *     do not make s low, and nothing here is keyed on the signature's
 *     bytes (the one-time handoff is keyed on "jti");
 *   - the payload is a JSON object with "sub" (the customer account, a
 *     string of 1-64 of A-Z a-z 0-9 . _ : -), "exp" (a number: seconds
 *     since 1970) later than now - leeway, "nbf" (optional) not later
 *     than now + leeway, and "aud" (a string, or an array of strings)
 *     naming the configured audience;
 *   - no claim this module reads appears twice.
 * The caller refuses every failure alike; gw_jwt_strerror() names the
 * reason for the log only.
 */
#ifndef GW_PORTAL_JWT_H
#define GW_PORTAL_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define GW_JWT_MAX 4096       /* the longest token looked at */
#define GW_JWT_ACCOUNT_MAX 65 /* a customer account, with its NUL */
#define GW_JWT_JTI_MAX 129    /* a "jti" kept, with its NUL (1-128 bytes) */

enum gw_jwt_result {
	GW_JWT_OK = 0,
	GW_JWT_TOO_LONG = -1,   /* longer than GW_JWT_MAX */
	GW_JWT_FORM = -2,       /* not three parts, or bad base64url */
	GW_JWT_JSON = -3,       /* header or payload not a JSON object */
	GW_JWT_ALG = -4,        /* alg missing, not HS256/ES256, without its key; or crit */
	GW_JWT_SIGNATURE = -5,  /* the signature does not match */
	GW_JWT_EXPIRED = -6,    /* exp missing or passed */
	GW_JWT_NOT_YET = -7,    /* nbf in the future */
	GW_JWT_AUDIENCE = -8,   /* aud missing or not ours */
	GW_JWT_ACCOUNT = -9,    /* sub missing or not an account name */
	GW_JWT_DUPLICATE = -10, /* a claim or header field given twice */
};

struct gw_jwt_claims {
	char account[GW_JWT_ACCOUNT_MAX]; /* "sub" */
	int64_t exp;
	int64_t nbf; /* 0 when absent */
	char jti[GW_JWT_JTI_MAX]; /* "jti" if a string of 1-128 bytes, else "" */
};

/* The configured keys: an HS256 secret, an ES256 public key, or both. A
 * token's alg chooses among these only. */
struct gw_jwt_keys {
	const unsigned char *hs256; /* NULL: no HS256 */
	size_t hs256_len;
	EVP_PKEY *es256;            /* NULL: no ES256 */
};

/* Verifies token (len bytes, need not be NUL-terminated) with the keys
 * at time now (seconds since 1970), allowing `leeway` seconds of clock
 * difference, for `audience`. Returns GW_JWT_OK and fills *out, or a
 * negative enum gw_jwt_result (*out then zeroed). */
int gw_jwt_verify_keys(const char *token, size_t len, const struct gw_jwt_keys *k, const char *audience,
		       int64_t now, int64_t leeway, struct gw_jwt_claims *out);

/* Reads an ES256 public key from PEM text ("-----BEGIN PUBLIC KEY-----",
 * SubjectPublicKeyInfo). Returns NULL and the key in *out (EVP_PKEY_free
 * it), or why it is refused: not PEM, not EC, not P-256. */
const char *gw_jwt_es256_key(const char *pem, size_t len, EVP_PKEY **out);

/* gw_jwt_verify_keys with one HS256 key (keylen bytes) only: verifies
 * token at time now (seconds since 1970), allowing `leeway` seconds of
 * clock difference, for `audience`. Returns GW_JWT_OK and fills *out, or
 * a negative enum gw_jwt_result (*out then zeroed). */
int gw_jwt_verify(const char *token, size_t len, const unsigned char *key, size_t keylen,
		  const char *audience, int64_t now, int64_t leeway, struct gw_jwt_claims *out);

/* A static name of a gw_jwt_result, for the log. */
const char *gw_jwt_strerror(int r);

/* Whether s is a customer account name as the portal accepts one: 1-64
 * bytes of A-Z a-z 0-9 . _ : - (in a URL and in "sub" alike). */
int gw_account_valid(const char *s);

/* Decodes unpadded base64url (RFC 4648 section 5) of n characters into
 * out (capacity cap). Returns the number of bytes, or -1 for a character
 * outside the alphabet, padding, a length that cannot be (n % 4 == 1),
 * non-zero unused bits, or an output that does not fit. */
long gw_base64url_decode(const char *in, size_t n, unsigned char *out, size_t cap);

/* Encodes n bytes as unpadded base64url into out, which has room for
 * (4 * n + 2) / 3 characters and the '\0'. Returns the characters written. */
size_t gw_base64url_encode(const unsigned char *in, size_t n, char *out);

#endif
