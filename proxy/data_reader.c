/*
 * NAME
 *	data_reader - message content from DATA or BDAT, with the line endings checked
 * SYNOPSIS
 *	See data_reader.h.
 * DESCRIPTION
 *	Two small layers, one byte at a time.
 *
 *	The first finds line endings. A CR is never passed on by itself: it is
 *	held (cr_held) until the next byte says whether it is half of a CRLF or
 *	a bare CR. A LF without a CR before it is a bare LF. Every other byte is
 *	line text.
 *
 *	The second knows where in a line the reader is (state). In DOT mode a
 *	dot at the start of a line is dropped, whether it stuffs the line or
 *	starts the terminator: either way it is not content, so nothing needs
 *	holding back. The line is the terminator when it ends right after that
 *	dot (state DR_DOT), with a real CRLF, and the line before it also ended
 *	with a real CRLF. All decisions are in line_end().
 *
 *	Output is passed to the sink straight from the input where possible:
 *	runs of input that are adjacent (text and CRLF) go out as one call.
 */
#include <string.h>

#include "proxy/data_reader.h"

enum {
	DR_LINE_START, /* nothing of this line read yet */
	DR_DOT,        /* DOT mode: the line so far is the dot that was dropped */
	DR_TEXT,       /* inside a line */
	DR_ENDED,      /* settled: the terminator was read */
	DR_BARE,       /* settled: stopped at a bare newline */
};

/* The output of one call, as runs of the input that have not yet gone to the sink. */
struct out {
	struct data_reader *r;
	data_sink_fn *sink;
	void *arg;
	const char *run; /* points into the input */
	size_t len;
};

static void
out_flush(struct out *o)
{
	if (o->len > 0) {
		o->sink(o->arg, o->run, o->len);
		o->r->octets += o->len;
		o->len = 0;
	}
}

/* Input octets p[0..n) are output; they join the pending run when they follow it. */
static void
out_input(struct out *o, const char *p, size_t n)
{
	if (o->len > 0 && o->run + o->len == p) {
		o->len += n;
		return;
	}
	out_flush(o);
	o->run = p;
	o->len = n;
}

/* A line ending: from the input when both octets are in it (in_crlf), else made up. */
static void
out_crlf(struct out *o, const char *in_crlf)
{
	if (in_crlf != NULL) {
		out_input(o, in_crlf, 2);
		return;
	}
	out_flush(o);
	o->sink(o->arg, "\r\n", 2);
	o->r->octets += 2;
}

static void
line_grow(struct data_reader *r, size_t n)
{
	r->line_len += n;
	if (r->max_line > 0 && r->line_len + 2 > r->max_line)
		r->line_too_long = 1;
}

static enum data_status
settled(const struct data_reader *r)
{
	if (r->state == DR_ENDED)
		return DATA_END;
	if (r->state == DR_BARE)
		return DATA_BARE_NEWLINE;
	return DATA_CONTINUE;
}

/*
 * The current line ends, with a real CRLF (crlf; in_crlf points to it when
 * it is in this call's input) or with a bare newline. This is where the
 * message ends, and where a bare newline is refused or normalized.
 */
static enum data_status
line_end(struct data_reader *r, struct out *o, int crlf, const char *in_crlf)
{
	if (!crlf && r->newline == DATA_NEWLINE_REJECT) {
		r->state = DR_BARE;
		return DATA_BARE_NEWLINE;
	}
	/* DR_DOT only exists in DOT mode. */
	if (crlf && r->prev_crlf && r->state == DR_DOT) {
		r->state = DR_ENDED;
		return DATA_END;
	}
	line_grow(r, 0);
	out_crlf(o, in_crlf);
	r->prev_crlf = crlf;
	r->line_len = 0;
	r->state = DR_LINE_START;
	return DATA_CONTINUE;
}

void
data_reader_init(struct data_reader *r, enum data_mode mode, enum data_newline newline,
                 size_t max_line)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->newline = newline;
	r->max_line = max_line;
	r->state = DR_LINE_START;
	r->prev_crlf = 1; /* the DATA command's own CRLF precedes the first line */
}

size_t
data_reader_feed(struct data_reader *r, const char *in, size_t len, data_sink_fn *sink, void *arg,
                 enum data_status *status)
{
	struct out o = {.r = r, .sink = sink, .arg = arg};
	size_t i = 0;

	*status = settled(r);
	while (i < len && *status == DATA_CONTINUE) {
		char c = in[i];

		if (r->cr_held) {
			r->cr_held = 0;
			if (c == '\n') {
				/* in[i - 1] is the CR when it came in this call. */
				*status = line_end(r, &o, 1, i > 0 ? in + i - 1 : NULL);
				i++;
			} else {
				/* A bare CR ends the line; c is read again, as the next line's. */
				*status = line_end(r, &o, 0, NULL);
			}
		} else if (c == '\r') {
			r->cr_held = 1;
			i++;
		} else if (c == '\n') {
			*status = line_end(r, &o, 0, NULL);
			i++;
		} else if (c == '.' && r->state == DR_LINE_START && r->mode == DATA_MODE_DOT) {
			/* Not content, and not counted (RFC 5321 section 4.5.3.1.6). */
			r->state = DR_DOT;
			i++;
		} else {
			size_t n = 1;

			while (i + n < len && in[i + n] != '\r' && in[i + n] != '\n')
				n++;
			r->state = DR_TEXT;
			out_input(&o, in + i, n);
			line_grow(r, n);
			i += n;
		}
	}
	out_flush(&o);
	return i;
}

enum data_status
data_reader_finish(struct data_reader *r, data_sink_fn *sink, void *arg)
{
	struct out o = {.r = r, .sink = sink, .arg = arg};
	enum data_status status = settled(r);

	if (status == DATA_CONTINUE && r->cr_held) {
		r->cr_held = 0;
		status = line_end(r, &o, 0, NULL);
		out_flush(&o);
	}
	return status;
}
