/*
 * NAME
 *	quarantine - keep a message in a directory instead of delivering it
 * SYNOPSIS
 *	quarantine_store(dir, envelope, headers, spool, name, size)
 * DESCRIPTION
 *	quarantine_store() writes the envelope lines (X-Postern-Envelope-From,
 *	-To, the client), the header fields postern adds, and the message to a
 *	new file in dir, flushes it to disk (fsync) and only then gives it its
 *	final name, "<time>.<pid>.<random>.eml", so a crash never leaves half a
 *	message under that name. Returns 0 with the file name in name, or -1
 *	with errno set.
 */
#ifndef POSTERN_QUARANTINE_H
#define POSTERN_QUARANTINE_H

#include <stddef.h>

struct evbuffer;
struct spool;

int quarantine_store(const char *dir, struct evbuffer *envelope, struct evbuffer *headers,
                     struct spool *spool, char *name, size_t size);

#endif
