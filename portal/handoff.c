/* SPDX-License-Identifier: MIT */
/*
 * handoff.c - the table of handoff tokens already used; see handoff.h.
 *
 * A pair is kept as the SHA-256 of "account NUL jti" (32 bytes, whatever
 * the jti's length) and the second it may be forgotten. Open addressing
 * with a bounded window: a pair is only ever in the GW_HANDOFF_PROBES
 * slots from its hash, so a lookup reads at most that many, and an
 * expired slot is reused in place (no tombstones, no rehash).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>


#include "handoff.h"
#include "jwt.h"

struct slot {
	unsigned char id[32];
	int64_t until; /* 0: never used; <= now: free again */
};

struct gw_handoff {
	pthread_mutex_t lock;
	unsigned n;
	struct slot *slots;
	unsigned char seal_key[32]; /* drawn at start; seals the session cookies */
};

struct gw_handoff *gw_handoff_new(unsigned slots)
{
	struct gw_handoff *h;

	if (slots < GW_HANDOFF_PROBES)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->slots = calloc(slots, sizeof(*h->slots));
	if (!h->slots) {
		free(h);
		return NULL;
	}
	h->n = slots;
	if (RAND_bytes(h->seal_key, sizeof(h->seal_key)) != 1) {
		free(h->slots);
		free(h);
		return NULL;
	}
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

void gw_handoff_free(struct gw_handoff *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->lock);
	OPENSSL_cleanse(h->seal_key, sizeof(h->seal_key));
	free(h->slots);
	free(h);
}

static int pair_id(const char *account, const char *jti, unsigned char id[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	int ok;

	ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, account, strlen(account) + 1) == 1 &&
	     EVP_DigestUpdate(md, jti, strlen(jti)) == 1 && EVP_DigestFinal_ex(md, id, &len) == 1 && len == 32;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

enum gw_handoff_result gw_handoff_take(struct gw_handoff *h, const char *account, const char *jti,
				       int64_t until, int64_t now)
{
	unsigned char id[32];
	uint64_t start = 0;
	struct slot *free_slot = NULL;
	unsigned i;
	int k;

	if (pair_id(account, jti, id) < 0)
		return GW_HANDOFF_FULL; /* cannot tell: refuse rather than accept twice */
	for (k = 0; k < 8; k++)
		start = start << 8 | id[k];
	pthread_mutex_lock(&h->lock);
	for (i = 0; i < GW_HANDOFF_PROBES; i++) {
		struct slot *s = &h->slots[(start + i) % h->n];
		if (s->until > now && memcmp(s->id, id, sizeof(id)) == 0) {
			pthread_mutex_unlock(&h->lock);
			return GW_HANDOFF_USED;
		}
		if (s->until <= now && !free_slot)
			free_slot = s;
	}
	if (free_slot) {
		memcpy(free_slot->id, id, sizeof(id));
		free_slot->until = until > now ? until : now + 1;
	}
	pthread_mutex_unlock(&h->lock);
	return free_slot ? GW_HANDOFF_FIRST : GW_HANDOFF_FULL;
}

/* The 43 base64url characters of the token's HMAC under the seal key. */
static int seal_of(const struct gw_handoff *h, const char *token, size_t n, char out[44])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!HMAC(EVP_sha256(), h->seal_key, (int)sizeof(h->seal_key), (const unsigned char *)token, n, mac, &len) ||
	    len != 32)
		return -1;
	return gw_base64url_encode(mac, 32, out) == 43 ? 0 : -1;
}

int gw_handoff_seal(struct gw_handoff *h, const char *token, char *out, size_t cap)
{
	size_t n = strlen(token);
	char s[44];

	if (n + GW_HANDOFF_SEAL + 1 > cap || seal_of(h, token, n, s) < 0)
		return -1;
	memcpy(out, token, n);
	out[n] = '~';
	memcpy(out + n + 1, s, 44);
	return 0;
}

int gw_handoff_open(struct gw_handoff *h, char *cookie)
{
	char *t = strrchr(cookie, '~');
	char s[44];

	if (!t || strlen(t + 1) != 43 || seal_of(h, cookie, (size_t)(t - cookie), s) < 0 ||
	    CRYPTO_memcmp(s, t + 1, 43) != 0)
		return -1;
	*t = '\0';
	return 0;
}

size_t gw_handoff_count(struct gw_handoff *h, int64_t now)
{
	size_t n = 0;
	unsigned i;

	pthread_mutex_lock(&h->lock);
	for (i = 0; i < h->n; i++)
		n += h->slots[i].until > now;
	pthread_mutex_unlock(&h->lock);
	return n;
}
