/*
 * NAME
 *	quarantine - keep a message in a directory instead of delivering it
 * SYNOPSIS
 *	See quarantine.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "proxy/quarantine.h"
#include "proxy/spool.h"

static int
write_buffer(int fd, struct evbuffer *b)
{
	while (evbuffer_get_length(b) > 0)
		if (evbuffer_write(b, fd) < 0)
			return -1;
	return 0;
}

int
quarantine_store(const char *dir, struct evbuffer *envelope, struct evbuffer *headers,
                 struct spool *spool, char *name, size_t size)
{
	char tmp[4096], final[4096];
	char block[65536];
	int fd, saved;

	snprintf(tmp, sizeof(tmp), "%s/.incoming.XXXXXX", dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write_buffer(fd, envelope) < 0 || write_buffer(fd, headers) < 0)
		goto fail;
	for (size_t off = 0; off < spool_size(spool);) {
		ssize_t n = spool_read(spool, off, block, sizeof(block));

		if (n <= 0 || write(fd, block, (size_t)n) != n) {
			if (n == 0)
				errno = EIO;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	snprintf(name, size, "%ld.%ld.%s.eml", (long)time(NULL), (long)getpid(),
	         strrchr(tmp, '.') + 1);
	snprintf(final, sizeof(final), "%s/%s", dir, name);
	if (rename(tmp, final) < 0)
		goto fail;
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}
