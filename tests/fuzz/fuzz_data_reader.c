/*
 * libFuzzer target: the DATA/BDAT reader. The first input byte picks the mode,
 * the newline policy and a split point. Checked: what reaches the sink has
 * CRLF line endings only; in DOT mode, re-stuffing the output and reading it
 * again gives the same content and the same end; split feeding gives the same
 * result as feeding whole.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/data_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct buf {
	char *p;
	size_t len, cap;
};

static void
sink(void *arg, const char *in, size_t len)
{
	struct buf *b = arg;

	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	memcpy(b->p + b->len, in, len);
	b->len += len;
}

static enum data_status
run(enum data_mode mode, enum data_newline nl, const char *in, size_t len, size_t split,
    struct buf *out, size_t *consumed)
{
	struct data_reader r;
	enum data_status st = DATA_CONTINUE;
	size_t used = 0;

	data_reader_init(&r, mode, nl, 1000);
	if (split > len)
		split = len;
	used = data_reader_feed(&r, in, split, sink, out, &st);
	if (st == DATA_CONTINUE && used != split)
		abort();
	if (st == DATA_CONTINUE) {
		used += data_reader_feed(&r, in + split, len - split, sink, out, &st);
		if (st == DATA_CONTINUE && used != len)
			abort();
	}
	if (mode == DATA_MODE_RAW && st == DATA_CONTINUE)
		st = data_reader_finish(&r, sink, out);
	if (r.octets != out->len)
		abort();
	*consumed = used;
	return st;
}

static void
check_crlf(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		if (b->p[i] == '\r' && (i + 1 == b->len || b->p[i + 1] != '\n'))
			abort();
		if (b->p[i] == '\n' && (i == 0 || b->p[i - 1] != '\r'))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	enum data_mode mode = data[0] & 1 ? DATA_MODE_RAW : DATA_MODE_DOT;
	enum data_newline nl = data[0] & 2 ? DATA_NEWLINE_NORMALIZE : DATA_NEWLINE_REJECT;
	size_t split = data[1];
	const char *in = (const char *)data + 2;
	size_t len = size - 2, used_whole, used_split;
	struct buf whole = {0}, parts = {0};
	enum data_status st_whole = run(mode, nl, in, len, len, &whole, &used_whole);
	enum data_status st_split = run(mode, nl, in, len, split, &parts, &used_split);

	if (st_whole != st_split || used_whole != used_split || whole.len != parts.len ||
	    (whole.len && memcmp(whole.p, parts.p, whole.len) != 0))
		abort();
	check_crlf(&whole);
	if (mode == DATA_MODE_DOT && st_whole == DATA_END) {
		/* What postern would send: stuffed, terminated; it must read back the same. */
		struct buf wire = {0}, again = {0};
		size_t used;

		for (size_t i = 0; i < whole.len; i++) {
			if (whole.p[i] == '.' && (i == 0 || whole.p[i - 1] == '\n'))
				sink(&wire, ".", 1);
			sink(&wire, whole.p + i, 1);
		}
		sink(&wire, ".\r\n", 3);
		if (run(DATA_MODE_DOT, DATA_NEWLINE_REJECT, wire.p, wire.len, wire.len, &again,
		        &used) != DATA_END ||
		    used != wire.len || again.len != whole.len ||
		    (whole.len && memcmp(again.p, whole.p, whole.len) != 0))
			abort();
		free(wire.p);
		free(again.p);
	}
	free(whole.p);
	free(parts.p);
	return 0;
}
