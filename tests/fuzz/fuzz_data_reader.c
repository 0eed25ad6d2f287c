/*
 * libFuzzer target: the DATA/BDAT reader. The first input byte picks the
 * mode, the newline policy and the line limit, the second where to split.
 * Checked, for what reaches the sink: CRLF line endings only; consumed <= len,
 * and all of it unless the reader settled; the octet count; the same result
 * however the input is split (whole, in two or three pieces, byte by byte).
 * In DOT mode the end is exactly the first CRLF "." CRLF of the input, and
 * the output re-stuffed and terminated reads back as the same content and
 * end; in RAW mode the output reads back unchanged. Without bare newlines,
 * NORMALIZE and REJECT agree.
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

struct result {
	struct buf out;
	size_t consumed;
	enum data_status status;
	int too_long;
};

static void
sink(void *arg, const char *in, size_t len)
{
	struct buf *b = arg;

	if (len == 0)
		abort();
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	memcpy(b->p + b->len, in, len);
	b->len += len;
}

/* Feed in[0..len) in pieces that end at cuts[] (ascending, the last one len). */
static struct result
run(enum data_mode mode, enum data_newline nl, size_t max_line, const char *in, const size_t *cuts,
    size_t ncuts)
{
	struct result res = {.status = DATA_CONTINUE};
	struct data_reader r;
	size_t from = 0;

	data_reader_init(&r, mode, nl, max_line);
	for (size_t k = 0; k < ncuts && res.status == DATA_CONTINUE; k++) {
		size_t n = cuts[k] - from;
		size_t used = data_reader_feed(&r, in + from, n, sink, &res.out, &res.status);

		if (used > n || (res.status == DATA_CONTINUE && used != n))
			abort();
		res.consumed += used;
		from = cuts[k];
	}
	if (mode == DATA_MODE_RAW && res.status == DATA_CONTINUE)
		res.status = data_reader_finish(&r, sink, &res.out);
	if (res.status != DATA_CONTINUE) {
		enum data_status again;

		if (data_reader_feed(&r, "\r\n.\r\n", 5, sink, &res.out, &again) != 0 ||
		    again != res.status)
			abort();
	}
	if (r.octets != res.out.len)
		abort();
	res.too_long = r.line_too_long;
	return res;
}

static void
same(const struct result *a, const struct result *b)
{
	if (a->status != b->status || a->consumed != b->consumed || a->out.len != b->out.len ||
	    a->too_long != b->too_long ||
	    (a->out.len > 0 && memcmp(a->out.p, b->out.p, a->out.len) != 0))
		abort();
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

/* What postern sends on: the content stuffed and terminated; it must read back the same. */
static void
check_restuffed(const struct result *whole)
{
	struct buf wire = {0};
	const struct buf *out = &whole->out;

	for (size_t i = 0; i < out->len; i++) {
		if (out->p[i] == '.' && (i == 0 || out->p[i - 1] == '\n'))
			sink(&wire, ".", 1);
		sink(&wire, out->p + i, 1);
	}
	sink(&wire, ".\r\nQUIT\r\n", 9);

	size_t cut = wire.len;
	struct result again = run(DATA_MODE_DOT, DATA_NEWLINE_REJECT, 0, wire.p, &cut, 1);

	if (again.status != DATA_END || again.consumed != wire.len - 6 ||
	    again.out.len != out->len ||
	    (out->len > 0 && memcmp(again.out.p, out->p, out->len) != 0))
		abort();
	free(wire.p);
	free(again.out.p);
}

/*
 * In the raw input the DATA terminator can only be the first CRLF "." CRLF
 * (or "." CRLF at the very start): a CR before a LF always makes a real
 * CRLF. Returns the offset just after it, or 0 when there is none.
 */
static size_t
first_terminator(const char *in, size_t len)
{
	if (len >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 3;
	for (size_t i = 0; i + 5 <= len; i++)
		if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	return 0;
}

/* DOT mode ends there and nowhere else, unless a refused bare newline came first. */
static void
check_end(const struct result *whole, enum data_newline nl, const char *in, size_t len)
{
	size_t end = first_terminator(in, len);

	switch (whole->status) {
	case DATA_END:
		if (whole->consumed != end)
			abort();
		break;
	case DATA_CONTINUE:
		if (end != 0)
			abort();
		break;
	case DATA_BARE_NEWLINE:
		if (nl != DATA_NEWLINE_REJECT || (end != 0 && whole->consumed >= end))
			abort();
		break;
	}
}

/* BDAT content as postern passes it on needs no change when read again. */
static void
check_raw_again(const struct result *whole)
{
	size_t cut = whole->out.len;
	const char *content = cut > 0 ? whole->out.p : "";
	struct result again = run(DATA_MODE_RAW, DATA_NEWLINE_REJECT, 0, content, &cut, 1);

	if (again.status != DATA_CONTINUE || again.out.len != whole->out.len ||
	    (cut > 0 && memcmp(again.out.p, whole->out.p, cut) != 0))
		abort();
	free(again.out.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t max_lines[] = {0, 4, 78, 1000};

	if (size < 2)
		return 0;

	enum data_mode mode = data[0] & 1 ? DATA_MODE_RAW : DATA_MODE_DOT;
	enum data_newline nl = data[0] & 2 ? DATA_NEWLINE_NORMALIZE : DATA_NEWLINE_REJECT;
	size_t max_line = max_lines[(data[0] >> 2) & 3];
	const char *in = (const char *)data + 2;
	size_t len = size - 2;
	size_t a = data[1] % (len + 1), b = (data[1] * 7u + data[0]) % (len + 1);
	size_t two[] = {a, len}, three[] = {a < b ? a : b, a < b ? b : a, len};
	struct result whole = run(mode, nl, max_line, in, &len, 1);
	struct result parts;

	if (whole.consumed > len || (whole.status == DATA_CONTINUE && whole.consumed != len))
		abort();
	check_crlf(&whole.out);
	parts = run(mode, nl, max_line, in, two, 2);
	same(&whole, &parts);
	free(parts.out.p);
	parts = run(mode, nl, max_line, in, three, 3);
	same(&whole, &parts);
	free(parts.out.p);
	if (len <= 256) {
		size_t bytes[256];

		for (size_t i = 0; i < len; i++)
			bytes[i] = i + 1;
		parts = run(mode, nl, max_line, in, bytes, len);
		same(&whole, &parts);
		free(parts.out.p);
	}
	if (mode == DATA_MODE_DOT)
		check_end(&whole, nl, in, len);
	if (mode == DATA_MODE_DOT && whole.status == DATA_END) {
		/* The content ends with a line ending, or is empty. */
		if (whole.out.len == 1 ||
		    (whole.out.len >= 2 && memcmp(whole.out.p + whole.out.len - 2, "\r\n", 2) != 0))
			abort();
		check_restuffed(&whole);
	}
	if (mode == DATA_MODE_RAW && whole.status == DATA_CONTINUE)
		check_raw_again(&whole);
	if (nl == DATA_NEWLINE_REJECT && whole.status != DATA_BARE_NEWLINE) {
		parts = run(mode, DATA_NEWLINE_NORMALIZE, max_line, in, &len, 1);
		same(&whole, &parts);
		free(parts.out.p);
	}
	free(whole.out.p);
	return 0;
}
