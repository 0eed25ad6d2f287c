/*
 * NAME
 *	spool - one message's content, in memory up to a limit, then in a file
 * SYNOPSIS
 *	See spool.h.
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

struct spool {
	struct evbuffer *mem; /* the content while it fits in mem_limit */
	int fd;               /* then all of it is here, and mem is empty */
	size_t size;
	size_t mem_limit;
	char *dir;
};

struct spool *
spool_new(size_t mem_limit, const char *dir)
{
	struct spool *sp = xcalloc(1, sizeof(*sp));

	sp->mem = evbuffer_new();
	if (sp->mem == NULL)
		abort();
	sp->fd = -1;
	sp->mem_limit = mem_limit;
	sp->dir = xstrdup(dir);
	return sp;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Move what is in memory to an unlinked file: nothing is left behind by a crash. */
static int
spool_to_file(struct spool *sp)
{
	int fd = open(sp->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		size_t n = strlen(sp->dir) + sizeof("/postern.XXXXXX");
		char *path = xmalloc(n);

		snprintf(path, n, "%s/postern.XXXXXX", sp->dir);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
		free(path);
		if (fd < 0)
			return -1;
	}
	struct evbuffer_iovec vec[16];
	int chains;

	while ((chains = evbuffer_peek(sp->mem, -1, NULL, vec, 16)) > 0) {
		size_t done = 0;

		for (int i = 0; i < chains && i < 16; i++) {
			if (write_all(fd, vec[i].iov_base, vec[i].iov_len) < 0) {
				int saved = errno;

				close(fd);
				errno = saved;
				return -1;
			}
			done += vec[i].iov_len;
		}
		evbuffer_drain(sp->mem, done);
	}
	sp->fd = fd;
	return 0;
}

int
spool_write(struct spool *sp, const void *buf, size_t len)
{
	if (sp->fd < 0 && sp->size + len > sp->mem_limit && spool_to_file(sp) < 0)
		return -1;
	if (sp->fd >= 0) {
		if (write_all(sp->fd, buf, len) < 0)
			return -1;
	} else if (evbuffer_add(sp->mem, buf, len) < 0) {
		errno = ENOMEM;
		return -1;
	}
	sp->size += len;
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
	if (sp->fd >= 0)
		return pread(sp->fd, buf, len, (off_t)offset);
	struct evbuffer_ptr pos;

	if (evbuffer_ptr_set(sp->mem, &pos, offset, EVBUFFER_PTR_SET) < 0)
		return -1;
	return evbuffer_copyout_from(sp->mem, &pos, buf, len);
}

int
spool_add_to(struct spool *sp, size_t offset, struct evbuffer *out)
{
	if (offset >= sp->size)
		return 0;
	if (sp->fd < 0) {
		if (offset == 0)
			return evbuffer_add_buffer_reference(out, sp->mem);
		struct evbuffer_ptr pos;
		struct evbuffer_iovec vec[16];
		int n;

		/* Headers postern rewrote replace the start: copy the rest (it is small). */
		if (evbuffer_ptr_set(sp->mem, &pos, offset, EVBUFFER_PTR_SET) < 0)
			return -1;
		while ((n = evbuffer_peek(sp->mem, -1, &pos, vec, 16)) > 0) {
			size_t done = 0;

			for (int i = 0; i < n && i < 16; i++) {
				if (evbuffer_add(out, vec[i].iov_base, vec[i].iov_len) < 0)
					return -1;
				done += vec[i].iov_len;
			}
			if (offset + done >= sp->size ||
			    evbuffer_ptr_set(sp->mem, &pos, done, EVBUFFER_PTR_ADD) < 0)
				break;
			offset += done;
		}
		return 0;
	}
	/* The segment owns a duplicate, so the spool and the evbuffer each close their own. */
	int fd = dup(sp->fd);

	if (fd < 0)
		return -1;
	struct evbuffer_file_segment *seg = evbuffer_file_segment_new(
	        fd, (ev_off_t)offset, (ev_off_t)(sp->size - offset), EVBUF_FS_CLOSE_ON_FREE);

	if (seg == NULL) {
		close(fd);
		return -1;
	}
	int rc = evbuffer_add_file_segment(out, seg, 0, (ev_off_t)(sp->size - offset));

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
	evbuffer_free(sp->mem);
	free(sp->dir);
	free(sp);
}
