/*
 * NAME
 *	header_reader - split a message into header fields and body, as it streams
 * SYNOPSIS
 *	header_reader_init(reader, max)
 *	header_reader_feed(reader, data, len, cb, arg)
 *	header_reader_finish(reader, cb, arg)
 *	header_reader_free(reader)
 * DESCRIPTION
 *	Pure, no I/O. Takes the message content as data_reader gives it (CRLF
 *	lines, any chunking) and calls back, in order: field() once per
 *	complete header field (its first line and every continuation line,
 *	CRLF included), end_of_header() once, then body() with the body in
 *	chunks. The header block is kept (block, block_len: the fields, without
 *	the empty line) so that it is parsed once per message.
 *
 *	A header block longer than max octets is cut there: what follows is
 *	passed as body and complete stays 0. complete is 1 when the empty line
 *	that ends the header was seen. header_reader_finish() at the end of the
 *	message flushes a last field and calls end_of_header() if the message
 *	had no body.
 */
#ifndef POSTERN_HEADER_READER_H
#define POSTERN_HEADER_READER_H

#include <stddef.h>

struct header_reader_callbacks {
	void (*field)(void *arg, const char *field, size_t len);
	void (*end_of_header)(void *arg);
	void (*body)(void *arg, const char *data, size_t len);
};

struct header_reader {
	char *block; /* the header fields so far */
	size_t block_len, cap, max;
	size_t field_start; /* where the pending field begins in block */
	size_t line_start;  /* where the current, incomplete line begins */
	int in_body;
	int complete;
};

void header_reader_init(struct header_reader *r, size_t max);
void header_reader_feed(struct header_reader *r, const char *data, size_t len,
                        const struct header_reader_callbacks *cb, void *arg);
void header_reader_finish(struct header_reader *r, const struct header_reader_callbacks *cb,
                          void *arg);
void header_reader_free(struct header_reader *r);

#endif
