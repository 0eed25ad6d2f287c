/*
 * NAME
 *	spool - one message's content, in memory up to a limit, then in a file
 * SYNOPSIS
 *	See spool.h.
 * DESCRIPTION
 *	In memory the content sits in fixed-size blocks, allocated as it grows,
 *	so a spool never holds more than mem_limit plus one block of heap (an
 *	evbuffer or a doubling buffer would round up to twice that). The write
 *	that would pass mem_limit first moves everything to an unlinked file
 *	(O_TMPFILE, or mkostemp and unlink) and frees the blocks; from then on
 *	writes go straight to the file at their offset, with pwrite, so a
 *	failed write (ENOSPC, EFBIG) leaves the spool as it was before it.
 *
 *	spool_add_to() copies the memory part into the evbuffer (it is at most
 *	mem_limit) and hands over the file part as an evbuffer file segment on
 *	a duplicate descriptor that the segment closes when the evbuffer is
 *	done with it: the spool and the evbuffer can be freed in either order,
 *	and each closes only its own descriptor.
 * DIAGNOSTICS
 *	None; running out of memory is fatal (xalloc).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "common/xalloc.h"
#include "proxy/spool.h"

#define SPOOL_BLOCK 16384

struct spool {
	char **blocks;  /* the content while it is in memory, SPOOL_BLOCK octets each */
	size_t nblocks; /* blocks allocated */
	int fd;         /* once the content outgrew memory: all of it, and no blocks */
	size_t size;
	size_t mem_limit;
	char *dir;
};

static int spool_open_file(const char *dir);
static int spool_to_file(struct spool *sp);
static size_t spool_span(const struct spool *sp, size_t offset, const char **p);
static void spool_free_blocks(struct spool *sp);
static int pwrite_all(int fd, const char *p, size_t n, size_t offset);

struct spool *
spool_new(size_t mem_limit, const char *dir)
{
	struct spool *sp = xcalloc(1, sizeof(*sp));

	sp->fd = -1;
	sp->mem_limit = mem_limit;
	sp->dir = xstrdup(dir);
	return sp;
}

static int
pwrite_all(int fd, const char *p, size_t n, size_t offset)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t)offset);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		offset += (size_t)w;
	}
	return 0;
}

/* An anonymous file in dir: nothing is left behind by a crash. */
static int
spool_open_file(const char *dir)
{
	int fd;

#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
		/* Not every file system has O_TMPFILE (EOPNOTSUPP): fall back to a named file. */
#endif
	size_t n = strlen(dir) + sizeof("/postern.XXXXXX");
	char *path = xmalloc(n);

	snprintf(path, n, "%s/postern.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	free(path);
	return fd;
}

/* The contiguous memory at offset (which is < size): where it is and how long. */
static size_t
spool_span(const struct spool *sp, size_t offset, const char **p)
{
	size_t at = offset % SPOOL_BLOCK;
	size_t n = SPOOL_BLOCK - at;

	*p = sp->blocks[offset / SPOOL_BLOCK] + at;
	return n < sp->size - offset ? n : sp->size - offset;
}

static void
spool_free_blocks(struct spool *sp)
{
	for (size_t i = 0; i < sp->nblocks; i++)
		free(sp->blocks[i]);
	free(sp->blocks);
	sp->blocks = NULL;
	sp->nblocks = 0;
}

/* Move the memory part to a file; on failure nothing changes. */
static int
spool_to_file(struct spool *sp)
{
	int fd = spool_open_file(sp->dir);

	if (fd < 0)
		return -1;
	for (size_t off = 0, n; off < sp->size; off += n) {
		const char *p;

		n = spool_span(sp, off, &p);
		if (pwrite_all(fd, p, n, off) < 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			return -1;
		}
	}
	spool_free_blocks(sp);
	sp->fd = fd;
	return 0;
}

int
spool_write(struct spool *sp, const void *buf, size_t len)
{
	const char *p = buf;

	if (sp->fd < 0 && len > sp->mem_limit - sp->size && spool_to_file(sp) < 0)
		return -1;
	if (sp->fd >= 0) {
		if (pwrite_all(sp->fd, p, len, sp->size) < 0)
			return -1;
		sp->size += len;
		return 0;
	}
	while (len > 0) {
		size_t at = sp->size % SPOOL_BLOCK;
		size_t n = SPOOL_BLOCK - at < len ? SPOOL_BLOCK - at : len;

		if (sp->size / SPOOL_BLOCK == sp->nblocks) {
			sp->blocks = xrealloc(sp->blocks, (sp->nblocks + 1) * sizeof(*sp->blocks));
			sp->blocks[sp->nblocks++] = xmalloc(SPOOL_BLOCK);
		}
		memcpy(sp->blocks[sp->size / SPOOL_BLOCK] + at, p, n);
		sp->size += n;
		p += n;
		len -= n;
	}
	return 0;
}

size_t
spool_size(const struct spool *sp)
{
	return sp->size;
}

ssize_t
spool_read(struct spool *sp, size_t offset, void *buf, size_t len)
{
	if (offset >= sp->size)
		return 0;
	if (len > sp->size - offset)
		len = sp->size - offset;
	if (sp->fd >= 0) {
		ssize_t n;

		while ((n = pread(sp->fd, buf, len, (off_t)offset)) < 0 && errno == EINTR)
			;
		return n;
	}
	char *out = buf;

	for (size_t done = 0, n; done < len; done += n) {
		const char *p;

		n = spool_span(sp, offset + done, &p);
		if (n > len - done)
			n = len - done;
		memcpy(out + done, p, n);
	}
	return (ssize_t)len;
}

int
spool_add_to(struct spool *sp, size_t offset, struct evbuffer *out)
{
	if (offset >= sp->size)
		return 0;
	if (sp->fd < 0) {
		for (size_t n; offset < sp->size; offset += n) {
			const char *p;

			n = spool_span(sp, offset, &p);
			if (evbuffer_add(out, p, n) < 0)
				return -1;
		}
		return 0;
	}
	int fd = fcntl(sp->fd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	struct evbuffer_file_segment *seg = evbuffer_file_segment_new(
	        fd, (ev_off_t)offset, (ev_off_t)(sp->size - offset), EVBUF_FS_CLOSE_ON_FREE);

	/* A segment that was not made does not own the descriptor yet. */
	if (seg == NULL) {
		close(fd);
		return -1;
	}
	int rc = evbuffer_add_file_segment(out, seg, 0, (ev_off_t)(sp->size - offset));

	/* Drop our reference: out holds its own, or (on failure) this closes fd. */
	evbuffer_file_segment_free(seg);
	return rc;
}

void
spool_free(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	spool_free_blocks(sp);
	free(sp->dir);
	free(sp);
}
