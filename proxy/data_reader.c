/*
 * NAME
 *	data_reader - message content from DATA or BDAT, with the line endings checked
 * SYNOPSIS
 *	See data_reader.h.
 * DESCRIPTION
 *	One byte at a time through five states. A CR is never passed on by
 *	itself: it is held until the next byte says whether it ends a line
 *	(CRLF) or is bare. A leading dot is held the same way until the line
 *	shows whether it is the terminator.
 */
#include <string.h>

#include "proxy/data_reader.h"

enum {
	ST_START,  /* at the start of a line */
	ST_MID,    /* inside a line */
	ST_CR,     /* a CR was read, the LF may follow */
	ST_DOT,    /* DOT mode: the line so far is "." */
	ST_DOT_CR, /* DOT mode: the line so far is ".\r" */
};

#define OUT_SIZE 4096

struct out {
	char buf[OUT_SIZE];
	size_t len;
	data_sink_fn *sink;
	void *arg;
	struct data_reader *r;
};

static void
out_flush(struct out *o)
{
	if (o->len > 0) {
		o->sink(o->arg, o->buf, o->len);
		o->r->octets += o->len;
		o->len = 0;
	}
}

static void
out_put(struct out *o, const char *p, size_t n)
{
	if (o->len + n > OUT_SIZE)
		out_flush(o);
	if (n > OUT_SIZE) {
		o->sink(o->arg, p, n);
		o->r->octets += n;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void
line_end(struct data_reader *r, struct out *o, int real_crlf)
{
	out_put(o, "\r\n", 2);
	if (r->max_line > 0 && r->line_len + 2 > r->max_line)
		r->line_too_long = 1;
	r->line_len = 0;
	r->prev_crlf = real_crlf;
	r->state = ST_START;
}

void
data_reader_init(struct data_reader *r, enum data_mode mode, enum data_newline newline,
                 size_t max_line)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->newline = newline;
	r->max_line = max_line;
	r->state = ST_START;
	r->prev_crlf = 1; /* the DATA command's own CRLF precedes the first line */
}

size_t
data_reader_feed(struct data_reader *r, const char *in, size_t len, data_sink_fn *sink, void *arg,
                 enum data_status *status)
{
	struct out o = {.sink = sink, .arg = arg, .r = r};
	int reject = r->newline == DATA_NEWLINE_REJECT;
	size_t i = 0;

	*status = DATA_CONTINUE;
	while (i < len) {
		char c = in[i];

		switch (r->state) {
		case ST_START:
			if (c == '.' && r->mode == DATA_MODE_DOT) {
				/* Not counted: RFC 5321 4.5.3.1.6 excludes the stuffing dot. */
				r->state = ST_DOT;
				i++;
				continue;
			}
			r->state = ST_MID;
			continue; /* the same byte, as inside a line */
		case ST_MID:
			if (c == '\r') {
				r->state = ST_CR;
			} else if (c == '\n') {
				if (reject)
					goto bare;
				line_end(r, &o, 0);
			} else {
				/* The common case: a run of ordinary bytes, passed on whole. */
				size_t j = i + 1;

				while (j < len && in[j] != '\r' && in[j] != '\n')
					j++;
				out_put(&o, in + i, j - i);
				r->line_len += j - i;
				i = j;
				continue;
			}
			i++;
			continue;
		case ST_CR:
			if (c == '\n') {
				line_end(r, &o, 1);
				i++;
				continue;
			}
			if (reject)
				goto bare;
			line_end(r, &o, 0); /* the bare CR ends the line; c starts the next */
			continue;
		case ST_DOT:
			if (c == '\r') {
				r->state = ST_DOT_CR;
				i++;
				continue;
			}
			if (c == '\n') {
				if (reject)
					goto bare;
				line_end(r, &o, 0); /* "." with a bare LF: content, unstuffed */
				i++;
				continue;
			}
			r->state = ST_MID; /* a stuffed dot: dropped */
			continue;
		case ST_DOT_CR:
			if (c == '\n') {
				i++;
				if (r->prev_crlf) {
					out_flush(&o);
					r->state = ST_START;
					*status = DATA_END;
					return i;
				}
				line_end(r, &o, 1); /* "." after a bare newline is never the end */
				continue;
			}
			if (reject)
				goto bare;
			line_end(r, &o, 0);
			continue;
		}
	}
	out_flush(&o);
	if (r->max_line > 0 && r->line_len + 2 > r->max_line)
		r->line_too_long = 1;
	return i;
bare:
	out_flush(&o);
	*status = DATA_BARE_NEWLINE;
	return i;
}

enum data_status
data_reader_finish(struct data_reader *r, data_sink_fn *sink, void *arg)
{
	struct out o = {.sink = sink, .arg = arg, .r = r};

	if (r->state != ST_CR)
		return DATA_CONTINUE;
	if (r->newline == DATA_NEWLINE_REJECT)
		return DATA_BARE_NEWLINE;
	line_end(r, &o, 0);
	out_flush(&o);
	return DATA_CONTINUE;
}
