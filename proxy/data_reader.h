/*
 * NAME
 *	data_reader - message content from DATA or BDAT, with the line endings checked
 * SYNOPSIS
 *	data_reader_init(reader, mode, newline, max_line)
 *	data_reader_feed(reader, in, len, sink, arg, status)
 *	data_reader_finish(reader, sink, arg)
 * DESCRIPTION
 *	The one place where postern decides where a message ends and what its
 *	lines are, so that what it later sends to the backend can never be read
 *	with a different end (SMTP smuggling). Pure: no I/O, no allocation.
 *
 *	In DATA_MODE_DOT the input is the DATA stream: the content ends at the
 *	line "." and only when that line is preceded by CRLF (the DATA command's
 *	own CRLF counts for the first line) and terminated by CRLF. Lines that
 *	start with "." lose that dot (RFC 5321 section 4.5.2). In DATA_MODE_RAW
 *	(BDAT chunks) nothing is unstuffed and the caller decides where the
 *	content ends.
 *
 *	A line ending is CRLF. A bare LF, or a CR not followed by LF, is a bare
 *	newline: with DATA_NEWLINE_REJECT feed stops at it with status
 *	DATA_BARE_NEWLINE; with DATA_NEWLINE_NORMALIZE it is written to the sink
 *	as CRLF, but a "." line next to a bare newline (preceded or terminated
 *	by one) never ends the data: it is content, unstuffed like any other
 *	dot line. Either way the sink only ever receives CRLF line endings, and
 *	postern re-encodes what it sends.
 *
 *	The sink receives the decoded content (CRLF lines, no dot-stuffing, no
 *	terminating ".") in runs of any size. A CR at the very end of the input
 *	is held back until the next byte tells whether it starts a CRLF. How the
 *	input is split between calls never changes the output, the status, the
 *	octets consumed or line_too_long.
 *
 *	data_reader_feed() returns how many input bytes it consumed. With status
 *	DATA_END the terminator was consumed and any remaining input belongs to
 *	the next command. With DATA_CONTINUE all input was consumed. With
 *	DATA_BARE_NEWLINE the input was consumed up to and including the bare
 *	CR or LF. After DATA_END or DATA_BARE_NEWLINE the reader is settled:
 *	feed consumes nothing and gives the same status again.
 *
 *	data_reader_finish() is for DATA_MODE_RAW after the LAST chunk: it settles
 *	a held-back CR (a bare newline) and returns DATA_CONTINUE or
 *	DATA_BARE_NEWLINE.
 *
 *	The reader counts octets written to the sink (octets) and sets
 *	line_too_long when a line, counted with its CRLF but without a stuffing
 *	dot (RFC 5321 section 4.5.3.1.6), was longer than max_line octets (0: no
 *	limit). A line still open counts the CRLF it will need. The content is
 *	still passed on; the caller decides what to answer at the end.
 */
#ifndef POSTERN_DATA_READER_H
#define POSTERN_DATA_READER_H

#include <stddef.h>

enum data_mode { DATA_MODE_DOT, DATA_MODE_RAW };
enum data_newline { DATA_NEWLINE_REJECT, DATA_NEWLINE_NORMALIZE };
enum data_status { DATA_CONTINUE, DATA_END, DATA_BARE_NEWLINE };

typedef void data_sink_fn(void *arg, const char *buf, size_t len);

struct data_reader {
	enum data_mode mode;
	enum data_newline newline;
	size_t max_line;
	size_t octets;     /* octets written to the sink */
	int line_too_long; /* some line exceeded max_line */
	/* internal state */
	int state;       /* where in the line, or settled (data_reader.c) */
	int cr_held;     /* the last byte read was a CR, not yet passed on */
	int prev_crlf;   /* the previous line ended with a real CRLF */
	size_t line_len; /* octets of the current line, without stuffing dot and CRLF */
};

void data_reader_init(struct data_reader *r, enum data_mode mode, enum data_newline newline,
                      size_t max_line);
size_t data_reader_feed(struct data_reader *r, const char *in, size_t len, data_sink_fn *sink,
                        void *arg, enum data_status *status);
enum data_status data_reader_finish(struct data_reader *r, data_sink_fn *sink, void *arg);

#endif
