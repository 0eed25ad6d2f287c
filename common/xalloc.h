/*
 * NAME
 *	xalloc - allocation that cannot fail
 * SYNOPSIS
 *	xmalloc(n), xcalloc(n, size), xrealloc(p, n), xstrdup(s), xstrndup(s, n)
 * DESCRIPTION
 *	The one place where running out of memory is handled: it is fatal.
 */
#ifndef POSTERN_XALLOC_H
#define POSTERN_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
