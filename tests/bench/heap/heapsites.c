// SPDX-License-Identifier: MIT
/* tests/bench/heapsites.c - the live heap of a running gatewayd by the
 * place that asked for it, at native speed (valgrind's massif is 30-50
 * times slower than gatewayd can afford at thousands of meters).
 *
 * Built as a shared object and preloaded (tests/bench/heap_sites.sh):
 * malloc, calloc, realloc and free are wrapped; each live block is kept
 * in a table of its own (address -> size, site; no header in the block,
 * so that glibc's own frees from inside libc stay harmless), a site
 * being the first three return addresses inside the executable (libc's
 * fopen or zlib's deflateInit in between are skipped) and whether the
 * main thread or a bus worker asked (the workers allocate from their own
 * arena). Every HEAPSITES_EVERY seconds (default 20), at exit, and at
 * the largest total of live bytes (the peak, kept as a copy) the site
 * table is written to HEAPSITES_OUT.NNN / .exit / .peak with glibc's
 * mallinfo2 (the heap's size, bytes in use, free bytes kept, mmapped
 * bytes), so that the free-but-kept pages show beside the live ones.
 * The periodic and exit tables also give each site's resident bytes
 * (mincore over its live blocks: a block calloc'd from fresh pages and
 * never written is live but not resident). Addresses are relative to
 * the executable's load address;
 * heap_sites.sh names them with addr2line.
 *
 * Not counted: aligned allocations (posix_memalign and friends) and the
 * blocks libgcc_s's loading takes at start-up. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NSITES 8192
#define DEPTH 3
#define NSLOTS (1u << 22) /* live blocks: 4 M, 64 MB of table */

struct slot {
	uintptr_t p; /* 0: empty */
	uint32_t size, site;
};

static struct slot *table;

struct site {
	uintptr_t pc[DEPTH];
	int worker;
	int used;
	int64_t live, peak_copy;
	uint64_t calls;
};

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);

static struct site sites[NSITES];
static int64_t peak_at[NSITES]; /* live per site at the peak */
static int64_t live_total, peak_total, copied_total;
static struct mallinfo2 peak_mi;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int inside;
static uintptr_t exe_base, exe_end;
static int every = 20;
static pid_t main_pid;
static time_t last_dump;
static int dumps, ready;
static char boot[4096];
static size_t boot_used;

static void init(void)
{
	if (real_malloc)
		return;
	real_malloc = dlsym(RTLD_NEXT, "malloc");
	real_calloc = dlsym(RTLD_NEXT, "calloc");
	real_realloc = dlsym(RTLD_NEXT, "realloc");
	real_free = dlsym(RTLD_NEXT, "free");
}

__attribute__((constructor)) static void start(void)
{
	static char buf[65536];
	int fd = open("/proc/self/maps", O_RDONLY);
	size_t n = 0;
	ssize_t r;

	while (fd >= 0 && n < sizeof(buf) - 1 &&
	       (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	if (fd >= 0)
		close(fd);
	buf[n] = '\0';
	/* the executable: the first mapping's file, to its last mapping */
	char *nl = strchr(buf, '\n'), *path = nl ? memrchr(buf, ' ', (size_t)(nl - buf)) : NULL;
	if (path) {
		exe_base = (uintptr_t)strtoull(buf, NULL, 16);
		size_t plen = (size_t)(nl - path);
		for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			char *e = strchr(l, '\n');
			if (e && (size_t)(e - l) > plen && !memcmp(e - plen, path, plen))
				exe_end = (uintptr_t)strtoull(strchr(l, '-') + 1, NULL, 16);
		}
	}
	main_pid = getpid();
	/* backtrace loads libgcc_s at its first call: done here, its
	 * blocks left without a header (ld.so frees some straight to glibc) */
	void *tmp[2];
	backtrace(tmp, 2);
	table = mmap(NULL, (size_t)NSLOTS * sizeof(*table), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ready = table != MAP_FAILED;
	last_dump = time(NULL);
	if (getenv("HEAPSITES_EVERY"))
		every = atoi(getenv("HEAPSITES_EVERY"));
}

static void put(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* under lock; which: a file suffix; at: live bytes per site */
static int64_t res_at[NSITES];

/* under lock: the resident bytes of each site's live blocks (mincore;
 * a page shared by blocks counted in each for the bytes it holds of it) */
static void resident(void)
{
	static unsigned char vec[4096];
	long pg = sysconf(_SC_PAGESIZE);

	memset(res_at, 0, sizeof(res_at));
	for (uint32_t i = 0; i < NSLOTS; i++) {
		if (!table[i].p || table[i].site >= NSITES)
			continue;
		uintptr_t a = table[i].p, e = a + table[i].size;
		while (a < e) {
			uintptr_t pa = a & ~(uintptr_t)(pg - 1);
			size_t npg = (e - pa + (size_t)pg - 1) / (size_t)pg;
			if (npg > sizeof(vec))
				npg = sizeof(vec);
			if (mincore((void *)pa, npg * (size_t)pg, vec) != 0)
				break;
			for (size_t k = 0; k < npg && a < e; k++) {
				uintptr_t pe = pa + (k + 1) * (size_t)pg;
				uintptr_t to = pe < e ? pe : e;
				if (vec[k] & 1)
					res_at[table[i].site] += (int64_t)(to - a);
				a = to;
			}
		}
	}
}

/* under lock; which: a file suffix; at: live bytes per site; res: with
 * the resident bytes of resident() (else -1 is written) */
static void dump(const char *which, const int64_t *at, int64_t total,
		 const struct mallinfo2 *mi, int res)
{
	const char *out = getenv("HEAPSITES_OUT");
	char path[512], line[512];

	if (!out)
		return;
	snprintf(path, sizeof(path), "%s.%s", out, which);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return;
	snprintf(line, sizeof(line),
		 "# live %lld arena %zu uordblks %zu fordblks %zu keepcost %zu hblkhd %zu exe_base %#lx time %lld\n",
		 (long long)total, mi->arena, mi->uordblks, mi->fordblks,
		 mi->keepcost, mi->hblkhd, (unsigned long)exe_base,
		 (long long)time(NULL));
	put(fd, line);
	if (res)
		resident();
	for (int i = 0; i < NSITES; i++) {
		if (!sites[i].used || at[i] == 0)
			continue;
		snprintf(line, sizeof(line), "%lld %d %llu %#lx %#lx %#lx %lld\n",
			 (long long)at[i], sites[i].worker,
			 (unsigned long long)sites[i].calls,
			 (unsigned long)sites[i].pc[0],
			 (unsigned long)sites[i].pc[1],
			 (unsigned long)sites[i].pc[2],
			 res ? (long long)res_at[i] : -1LL);
		put(fd, line);
	}
	close(fd);
}

static uint32_t site_of(void)
{
	void *bt[24];
	int n = backtrace(bt, 24);
	uintptr_t pc[DEPTH] = {0};
	int worker = syscall(SYS_gettid) != main_pid, k = 0;

	/* the first DEPTH frames in the executable (the wrappers here, libc's
	 * fopen or zlib's deflateInit in between are skipped) */
	for (int i = 0; i < n && k < DEPTH; i++)
		if ((uintptr_t)bt[i] >= exe_base && (uintptr_t)bt[i] < exe_end)
			pc[k++] = (uintptr_t)bt[i] - exe_base;
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)worker;
	for (int i = 0; i < DEPTH; i++)
		h = (h ^ pc[i]) * 1099511628211ULL;
	for (uint32_t t = 0; t < NSITES; t++) {
		uint32_t j = (uint32_t)((h + t) % NSITES);
		struct site *s = &sites[j];
		if (!s->used) {
			s->used = 1;
			memcpy(s->pc, pc, sizeof(pc));
			s->worker = worker;
			return j;
		}
		if (s->worker == worker && !memcmp(s->pc, pc, sizeof(pc)))
			return j;
	}
	return 0;
}

static void account(uint32_t site, int64_t delta)
{
	sites[site].live += delta;
	if (delta > 0)
		sites[site].calls++;
	live_total += delta;
	if (live_total > peak_total) {
		peak_total = live_total;
		/* copy at most once for each 64 kB the peak grows */
		if (peak_total > copied_total + 65536) {
			for (int i = 0; i < NSITES; i++)
				peak_at[i] = sites[i].live;
			copied_total = peak_total;
			peak_mi = mallinfo2();
		}
	}
	time_t now = time(NULL);
	if (now - last_dump >= every) {
		char nm[32];
		int64_t at[NSITES];
		struct mallinfo2 mi = mallinfo2();
		last_dump = now;
		for (int i = 0; i < NSITES; i++)
			at[i] = sites[i].live;
		snprintf(nm, sizeof(nm), "%03d", dumps++);
		dump(nm, at, live_total, &mi, 1);
	}
}

static uint32_t slot_of(uintptr_t p)
{
	return (uint32_t)((p >> 4) * 2654435761u) & (NSLOTS - 1);
}

/* under lock: the block p of n bytes from here */
static void track(void *p, size_t n)
{
	uint32_t i = slot_of((uintptr_t)p);

	while (table[i].p && table[i].p != (uintptr_t)p)
		i = (i + 1) & (NSLOTS - 1);
	if (table[i].p) /* freed inside libc, unseen: forget it */
		account(table[i].site, -(int64_t)table[i].size);
	table[i].p = (uintptr_t)p;
	table[i].size = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	table[i].site = site_of();
	account(table[i].site, (int64_t)table[i].size);
}

/* under lock: p freed (linear probing, deleted by shifting back) */
static void untrack(void *p)
{
	uint32_t i = slot_of((uintptr_t)p);

	while (table[i].p && table[i].p != (uintptr_t)p)
		i = (i + 1) & (NSLOTS - 1);
	if (!table[i].p)
		return;
	account(table[i].site, -(int64_t)table[i].size);
	table[i].p = 0;
	for (uint32_t j = (i + 1) & (NSLOTS - 1); table[j].p; j = (j + 1) & (NSLOTS - 1)) {
		uint32_t h = slot_of(table[j].p);
		/* move j back to i if its home is not in (i, j] */
		if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
			table[i] = table[j];
			table[j].p = 0;
			i = j;
		}
	}
}

static void *seen(void *p, void *old, size_t n)
{
	if (!ready || inside || (!p && !old))
		return p;
	inside++;
	pthread_mutex_lock(&lock);
	if (old)
		untrack(old);
	if (p)
		track(p, n);
	pthread_mutex_unlock(&lock);
	inside--;
	return p;
}

void *malloc(size_t n)
{
	init();
	return seen(real_malloc(n), NULL, n);
}

void *calloc(size_t a, size_t b)
{
	if (!real_calloc) {
		/* dlsym's own calloc, before the real one is known */
		size_t n = (a * b + 15) & ~(size_t)15;
		if (boot_used + n > sizeof(boot))
			return NULL;
		void *p = boot + boot_used;
		boot_used += n;
		return p;
	}
	return seen(real_calloc(a, b), NULL, a * b);
}

void free(void *p)
{
	if (!p || ((char *)p >= boot && (char *)p < boot + sizeof(boot)))
		return;
	init();
	seen(NULL, p, 0);
	real_free(p);
}

void *realloc(void *p, size_t n)
{
	init();
	void *q = real_realloc(p, n);
	/* a realloc is charged to whoever grew it last */
	if (q || n == 0)
		seen(q, p, n);
	return q;
}

__attribute__((destructor)) static void finish(void)
{
	pthread_mutex_lock(&lock);
	dump("peak", peak_at, copied_total, &peak_mi, 0);
	struct mallinfo2 mi = mallinfo2();
	int64_t at[NSITES];
	for (int i = 0; i < NSITES; i++)
		at[i] = sites[i].live;
	dump("exit", at, live_total, &mi, 1);
	pthread_mutex_unlock(&lock);
}

void *reallocarray(void *p, size_t a, size_t b)
{
	if (b && a > SIZE_MAX / b)
		return NULL;
	return realloc(p, a * b);
}
