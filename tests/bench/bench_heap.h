/* SPDX-License-Identifier: MIT */
/*
 * bench_heap.h - every malloc of a benchmark program counted by its
 * usable size (glibc's own allocator underneath): `live` bytes now and
 * their `peak` (heap_measure: one call's peak above what was live before
 * it, and its time). Include it in
 * the one file of a program that measures its heap; it defines malloc,
 * calloc, realloc and free.
 */
#ifndef GW_BENCH_HEAP_H
#define GW_BENCH_HEAP_H

#include <malloc.h>
#include <stddef.h>

#include "bench_util.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static size_t live, peak;

static void *counted(void *p)
{
	if (p) {
		live += malloc_usable_size(p);
		if (live > peak)
			peak = live;
	}
	return p;
}

void *malloc(size_t n)
{
	return counted(__libc_malloc(n));
}

void *calloc(size_t n, size_t k)
{
	return counted(__libc_calloc(n, k));
}

void *realloc(void *p, size_t n)
{
	size_t was = p ? malloc_usable_size(p) : 0;
	void *q = __libc_realloc(p, n);
	if (!q)
		return NULL;
	live -= was;
	return counted(q);
}

void free(void *p)
{
	if (p)
		live -= malloc_usable_size(p);
	__libc_free(p);
}

/* One call of fn(dir, arg): *bytes its heap's peak above what was live
 * before it, *s its time. Returns what fn returns. */
static int heap_measure(int (*fn)(const char *, const void *), const char *dir,
			const void *arg, double *bytes, double *s)
{
	size_t before = live;
	peak = live;
	double t0 = now_s();
	int rc = fn(dir, arg);
	*s = now_s() - t0;
	*bytes = (double)(peak - before);
	return rc;
}

#endif
