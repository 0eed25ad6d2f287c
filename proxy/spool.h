/*
 * NAME
 *	spool - one message's content, in memory up to a limit, then in a file
 * SYNOPSIS
 *	spool_new(mem_limit, dir)
 *	spool_write(spool, buf, len)
 *	spool_size(spool)
 *	spool_read(spool, offset, buf, len)
 *	spool_add_to(spool, offset, out)
 *	spool_free(spool)
 * DESCRIPTION
 *	Content is kept in memory until it would exceed mem_limit octets; then
 *	all of it moves to an unlinked temporary file in dir, so a 50 MB message
 *	never costs 50 MB of memory and nothing is left on disk after a crash.
 *
 *	spool_write() returns 0, or -1 with errno set when the file cannot be
 *	created or written (the caller answers 451).
 *	spool_read() copies up to len octets from offset and returns how many.
 *	spool_add_to() appends the content from offset on to an evbuffer, a
 *	file by reference (sendfile), so it never passes through memory whole;
 *	returns 0 or -1.
 */
#ifndef POSTERN_SPOOL_H
#define POSTERN_SPOOL_H

#include <stddef.h>
#include <sys/types.h>

struct evbuffer;
struct spool;

struct spool *spool_new(size_t mem_limit, const char *dir);
int spool_write(struct spool *spool, const void *buf, size_t len);
size_t spool_size(const struct spool *spool);
ssize_t spool_read(struct spool *spool, size_t offset, void *buf, size_t len);
int spool_add_to(struct spool *spool, size_t offset, struct evbuffer *out);
void spool_free(struct spool *spool);

#endif
