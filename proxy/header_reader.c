/*
 * NAME
 *	header_reader - split a message into header fields and body, as it streams
 * SYNOPSIS
 *	See header_reader.h.
 */
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "proxy/header_reader.h"

void
header_reader_init(struct header_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
}

void
header_reader_free(struct header_reader *r)
{
	free(r->block);
	r->block = NULL;
}

static void
append(struct header_reader *r, const char *data, size_t len)
{
	if (r->block_len + len > r->cap) {
		r->cap = (r->block_len + len) * 2 + 256;
		r->block = xrealloc(r->block, r->cap);
	}
	memcpy(r->block + r->block_len, data, len);
	r->block_len += len;
}

/* The pending field, if any, ends where the line at end begins. */
static void
flush_field(struct header_reader *r, size_t end, const struct header_reader_callbacks *cb,
            void *arg)
{
	if (end > r->field_start && cb->field)
		cb->field(arg, r->block + r->field_start, end - r->field_start);
	r->field_start = end;
}

static void
to_body(struct header_reader *r, const struct header_reader_callbacks *cb, void *arg)
{
	r->in_body = 1;
	if (cb->end_of_header)
		cb->end_of_header(arg);
}

void
header_reader_feed(struct header_reader *r, const char *data, size_t len,
                   const struct header_reader_callbacks *cb, void *arg)
{
	while (len > 0 && !r->in_body) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) + 1 : len;

		if (r->block_len + take > r->max) {
			/* Too long to be a header: the complete lines stay the header, the rest is
			 * body. */
			flush_field(r, r->line_start, cb, arg);
			to_body(r, cb, arg);
			if (r->block_len > r->line_start && cb->body)
				cb->body(arg, r->block + r->line_start,
				         r->block_len - r->line_start);
			r->block_len = r->line_start;
			break;
		}
		append(r, data, take);
		data += take;
		len -= take;
		if (nl == NULL)
			break;
		const char *line = r->block + r->line_start;
		size_t line_len = r->block_len - r->line_start;

		if (line_len == 2 && line[0] == '\r') {
			flush_field(r, r->line_start, cb, arg);
			r->block_len = r->line_start; /* the empty line is not part of the block */
			r->complete = 1;
			to_body(r, cb, arg);
			break;
		}
		/* A line that does not start with white space begins a new field. */
		if (line[0] != ' ' && line[0] != '\t')
			flush_field(r, r->line_start, cb, arg);
		r->line_start = r->block_len;
	}
	if (r->in_body && len > 0 && cb->body)
		cb->body(arg, data, len);
}

void
header_reader_finish(struct header_reader *r, const struct header_reader_callbacks *cb, void *arg)
{
	if (r->in_body)
		return;
	flush_field(r, r->block_len, cb, arg);
	r->line_start = r->block_len;
	to_body(r, cb, arg);
}
