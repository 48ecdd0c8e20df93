/* SPDX-License-Identifier: MIT */
/*
 * bench_heap.h - every malloc of a benchmark program counted by its
 * usable size (glibc's own allocator underneath): `live` bytes now and
 * their `peak` (set peak = live before what is measured). Include it in
 * the one file of a program that measures its heap; it defines malloc,
 * calloc, realloc and free.
 */
#ifndef GW_BENCH_HEAP_H
#define GW_BENCH_HEAP_H

#include <malloc.h>
#include <stddef.h>

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

#endif
