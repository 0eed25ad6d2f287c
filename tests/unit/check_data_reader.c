/*
 * Unit tests for proxy/data_reader.c: where a message ends, dot-unstuffing,
 * bare CR/LF (SMTP smuggling) in both newline policies and both modes, line
 * limits, octet counts, and that every split of the input gives the same
 * result as feeding it whole. A line-at-a-time reference reader, written
 * from RFC 5321 and the header's contract, checks random input.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/data_reader.h"
#include "tests/unit/unit.h"

#define RANDOM_SPLITS 40

/*
 * For the hot helpers: Check records the place of every ck_assert, a system
 * call each, which made this test take a minute; this one costs only when it fails.
 */
#define REQUIRE(cond)                                      \
	do {                                               \
		if (!(cond))                               \
			ck_abort_msg("failed: %s", #cond); \
	} while (0)

struct result {
	char *out; /* room for twice the input: every octet could be a bare newline */
	size_t out_cap;
	size_t out_len;
	size_t consumed;
	enum data_status status;
	int too_long;
	int sink_calls;
};

/* One test input and how the reader is set up for it. */
struct input {
	enum data_mode mode;
	enum data_newline nl;
	size_t max_line;
	const char *in;
	size_t len;
};

static void
sink(void *arg, const char *buf, size_t len)
{
	struct result *r = arg;

	REQUIRE(len > 0);
	REQUIRE(r->out_len + len <= r->out_cap);
	memcpy(r->out + r->out_len, buf, len);
	r->out_len += len;
	r->sink_calls++;
}

static struct result
result_new(size_t in_len)
{
	struct result r = {.out_cap = 2 * in_len + 2, .status = DATA_CONTINUE};

	r.out = malloc(r.out_cap);
	REQUIRE(r.out != NULL);
	return r;
}

static void
result_free(struct result *r)
{
	free(r->out);
}

/*
 * Feed the input in the pieces that cuts[] gives (ascending offsets, ending
 * at len), stopping where the reader settles; in RAW mode finish at the end.
 */
static struct result
run_cuts(const struct input *t, const size_t *cuts, size_t ncuts)
{
	struct result r = result_new(t->len);
	struct data_reader dr;
	size_t from = 0;

	data_reader_init(&dr, t->mode, t->nl, t->max_line);
	for (size_t k = 0; k < ncuts && r.status == DATA_CONTINUE; k++) {
		size_t n = cuts[k] - from;
		size_t used = data_reader_feed(&dr, t->in + from, n, sink, &r, &r.status);

		REQUIRE(used <= n);
		if (r.status == DATA_CONTINUE)
			REQUIRE(used == n);
		r.consumed += used;
		from = cuts[k];
	}
	if (t->mode == DATA_MODE_RAW && r.status == DATA_CONTINUE)
		r.status = data_reader_finish(&dr, sink, &r);
	if (r.status != DATA_CONTINUE) {
		/* Settled: more input changes nothing. */
		enum data_status again;

		REQUIRE(data_reader_feed(&dr, "x\r\n.\r\n", 6, sink, &r, &again) == 0);
		REQUIRE(again == r.status);
		REQUIRE(data_reader_finish(&dr, sink, &r) == r.status);
	}
	REQUIRE(dr.octets == r.out_len);
	r.too_long = dr.line_too_long;
	return r;
}

static struct result
run_whole(const struct input *t)
{
	size_t cut = t->len;

	return run_cuts(t, &cut, 1);
}

static void
assert_same(const struct result *a, const struct result *b)
{
	REQUIRE(a->status == b->status);
	REQUIRE(a->consumed == b->consumed);
	REQUIRE(a->out_len == b->out_len);
	REQUIRE(memcmp(a->out, b->out, a->out_len) == 0);
	REQUIRE(a->too_long == b->too_long);
}

/* Split into pieces of step octets; compare with whole. */
static void
check_step(const struct input *t, const struct result *whole, size_t step)
{
	size_t n = t->len / step + 1, k = 0;
	size_t *cuts = malloc(n * sizeof(*cuts));

	REQUIRE(cuts != NULL);
	for (size_t at = step; at < t->len; at += step)
		cuts[k++] = at;
	cuts[k++] = t->len;

	struct result part = run_cuts(t, cuts, k);

	assert_same(&part, whole);
	result_free(&part);
	free(cuts);
}

static void
check_random_splits(const struct input *t, const struct result *whole, unsigned seed)
{
	size_t *cuts = malloc((t->len + 1) * sizeof(*cuts));

	REQUIRE(cuts != NULL);
	for (int round = 0; round < RANDOM_SPLITS; round++) {
		size_t k = 0;

		for (size_t at = 1; at < t->len; at++)
			if (rand_r(&seed) % 4 == 0)
				cuts[k++] = at;
		cuts[k++] = t->len;

		struct result part = run_cuts(t, cuts, k);

		assert_same(&part, whole);
		result_free(&part);
	}
	free(cuts);
}

/*
 * Whole, byte by byte, every step size, two pieces at every offset, three
 * pieces at every pair of offsets (short inputs), and random splits: all the same.
 */
static struct result
run_all_splits(const struct input *t)
{
	struct result whole = run_whole(t);

	for (size_t step = 1; step <= t->len; step++)
		check_step(t, &whole, step);
	for (size_t a = 0; a <= t->len; a++) {
		for (size_t b = a; b <= t->len && (b == a || t->len <= 64); b++) {
			size_t cuts[] = {a, b, t->len};
			struct result part = run_cuts(t, cuts, 3);

			assert_same(&part, &whole);
			result_free(&part);
		}
	}
	check_random_splits(t, &whole, (unsigned)t->len);
	return whole;
}

static void
assert_out(const struct result *r, const char *expected)
{
	REQUIRE(r->out_len == strlen(expected));
	REQUIRE(memcmp(r->out, expected, r->out_len) == 0);
}

/* Only CRLF line endings reach the sink. */
static void
assert_crlf_only(const struct result *r)
{
	for (size_t i = 0; i < r->out_len; i++) {
		if (r->out[i] == '\r')
			REQUIRE(i + 1 < r->out_len && r->out[i + 1] == '\n');
		if (r->out[i] == '\n')
			REQUIRE(i > 0 && r->out[i - 1] == '\r');
	}
}

#define ALL SIZE_MAX /* consumed: the whole input */

struct expect {
	enum data_mode mode;
	enum data_newline nl;
	const char *in;
	enum data_status status;
	size_t consumed;
	const char *out;
};

#define DOT DATA_MODE_DOT
#define RAW DATA_MODE_RAW
#define REJ DATA_NEWLINE_REJECT
#define NORM DATA_NEWLINE_NORMALIZE
/* What a smuggler hopes the backend reads as the next transaction. */
#define EVIL "MAIL FROM:<evil@x>\r\nRCPT TO:<victim@y>\r\nDATA\r\nforged\r\n"

static const struct expect cases[] = {
        /* The end of data, and what follows it is left alone. */
        {DOT, REJ, "Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<n@x>\r\n", DATA_END, 23,
         "Subject: x\r\n\r\nbody\r\n"},
        {DOT, REJ, ".\r\n", DATA_END, 3, ""},
        {DOT, REJ, ".\r\nQUIT\r\n", DATA_END, 3, ""},
        {DOT, REJ, ".\r\n.\r\n", DATA_END, 3, ""},
        {DOT, REJ, "a\r\n.\r\nb\r\n.\r\n", DATA_END, 6, "a\r\n"},
        {DOT, REJ, "\r\n\r\n.\r\n", DATA_END, 7, "\r\n\r\n"},
        {DOT, REJ, "x\r\n.\r\nRSET\r\nQUIT\r\n", DATA_END, 6, "x\r\n"},
        /* Dot-unstuffing, the first line included. */
        {DOT, REJ, ".foo\r\n.\r\n", DATA_END, 9, "foo\r\n"},
        {DOT, REJ, "..\r\n.\r\n", DATA_END, 7, ".\r\n"},
        {DOT, REJ, "..leading\r\n.\tx\r\n...\r\nmid.dle\r\n. \r\n.\r\n", DATA_END, ALL,
         ".leading\r\n\tx\r\n..\r\nmid.dle\r\n \r\n"},
        {DOT, REJ, "abc.\r\n .\r\n.x.\r\n.\r\n", DATA_END, ALL, "abc.\r\n .\r\nx.\r\n"},
        /* Not yet the end. */
        {DOT, REJ, "", DATA_CONTINUE, ALL, ""},
        {DOT, REJ, "abc\r\n.", DATA_CONTINUE, ALL, "abc\r\n"},
        {DOT, REJ, "abc\r\n.\r", DATA_CONTINUE, ALL, "abc\r\n"},
        {DOT, REJ, "abc\r", DATA_CONTINUE, ALL, "abc"},
        {DOT, REJ, "abc\r\n..", DATA_CONTINUE, ALL, "abc\r\n."},
        {DOT, REJ, "abc.\r\n", DATA_CONTINUE, ALL, "abc.\r\n"},
        /* Smuggling, refused: the reader stops at the first bare CR or LF. */
        {DOT, REJ, "a\n.\n" EVIL ".\r\n", DATA_BARE_NEWLINE, 2, "a"},
        {DOT, REJ, "a\r.\r" EVIL ".\r\n", DATA_BARE_NEWLINE, 2, "a"},
        {DOT, REJ, "a\n.\r\n" EVIL ".\r\n", DATA_BARE_NEWLINE, 2, "a"},
        {DOT, REJ, "a\r\n.\n" EVIL ".\r\n", DATA_BARE_NEWLINE, 5, "a\r\n"},
        {DOT, REJ, "a\r\n.\r" EVIL ".\r\n", DATA_BARE_NEWLINE, 5, "a\r\n"},
        {DOT, REJ, "a\r.\r\n" EVIL ".\r\n", DATA_BARE_NEWLINE, 2, "a"},
        {DOT, REJ, "a\r\n.\r\r\n" EVIL ".\r\n", DATA_BARE_NEWLINE, 5, "a\r\n"},
        {DOT, REJ, "bare\nlf\r\n.\r\n", DATA_BARE_NEWLINE, 5, "bare"},
        {DOT, REJ, "bare\rcr\r\n.\r\n", DATA_BARE_NEWLINE, 5, "bare"},
        {DOT, REJ, "\n.\r\n", DATA_BARE_NEWLINE, 1, ""},
        {DOT, REJ, "\r.\r\n", DATA_BARE_NEWLINE, 1, ""},
        {DOT, REJ, ".\n", DATA_BARE_NEWLINE, 2, ""},
        {DOT, REJ, "a\r\r\n", DATA_BARE_NEWLINE, 2, "a"},
        /* Smuggling, normalized: a "." next to a bare newline is content. */
        {DOT, NORM, "a\n.\n" EVIL ".\r\n", DATA_END, ALL, "a\r\n\r\n" EVIL},
        {DOT, NORM, "a\r.\r" EVIL ".\r\n", DATA_END, ALL, "a\r\n\r\n" EVIL},
        {DOT, NORM, "a\n.\r\n" EVIL ".\r\n", DATA_END, ALL, "a\r\n\r\n" EVIL},
        {DOT, NORM, "a\r\n.\n" EVIL ".\r\n", DATA_END, ALL, "a\r\n\r\n" EVIL},
        {DOT, NORM, "a\r\n.\r" EVIL ".\r\n", DATA_END, ALL, "a\r\n\r\n" EVIL},
        {DOT, NORM, "a\r.\r\n" EVIL ".\r\n", DATA_END, ALL, "a\r\n\r\n" EVIL},
        {DOT, NORM, "a\r\n.\r\r\n" EVIL ".\r\n", DATA_END, ALL, "a\r\n\r\n\r\n" EVIL},
        {DOT, NORM, "bare\nlf\r\n.\r\n", DATA_END, ALL, "bare\r\nlf\r\n"},
        {DOT, NORM, "bare\rcr\r\n.\r\n", DATA_END, ALL, "bare\r\ncr\r\n"},
        {DOT, NORM, "a\nb\rc\r\n.\n.\r\nd\r\n.\r\n", DATA_END, ALL, "a\r\nb\r\nc\r\n\r\n\r\nd\r\n"},
        {DOT, NORM, "\n.\r\n.\r\n", DATA_END, ALL, "\r\n\r\n"},
        {DOT, NORM, ".\n", DATA_CONTINUE, ALL, "\r\n"},
        {DOT, NORM, "..\n.x\r", DATA_CONTINUE, ALL, ".\r\nx"},
        {DOT, NORM, "a\r\rb\n\n", DATA_CONTINUE, ALL, "a\r\n\r\nb\r\n\r\n"},
        {DOT, NORM, "a\n\r\n.\r\n", DATA_END, ALL, "a\r\n\r\n"},
        /* BDAT: dots are content, nothing ends it, finish settles a trailing CR. */
        {RAW, REJ, ".a\r\n.\r\n..\r\n", DATA_CONTINUE, ALL, ".a\r\n.\r\n..\r\n"},
        {RAW, REJ, "", DATA_CONTINUE, ALL, ""},
        {RAW, REJ, "abc", DATA_CONTINUE, ALL, "abc"},
        {RAW, REJ, "abc\r", DATA_BARE_NEWLINE, ALL, "abc"},
        {RAW, NORM, "abc\r", DATA_CONTINUE, ALL, "abc\r\n"},
        {RAW, REJ, "a\n.\nb", DATA_BARE_NEWLINE, 2, "a"},
        {RAW, REJ, "a\r.\r\nb", DATA_BARE_NEWLINE, 2, "a"},
        {RAW, REJ, "a\r\n.\rb", DATA_BARE_NEWLINE, 5, "a\r\n."},
        {RAW, NORM, "a\n.\nb", DATA_CONTINUE, ALL, "a\r\n.\r\nb"},
        /* The smuggling variants in a BDAT chunk: refused, or content with the dot. */
        {RAW, REJ, "a\n.\n" EVIL, DATA_BARE_NEWLINE, 2, "a"},
        {RAW, REJ, "a\r.\r" EVIL, DATA_BARE_NEWLINE, 2, "a"},
        {RAW, REJ, "a\n.\r\n" EVIL, DATA_BARE_NEWLINE, 2, "a"},
        {RAW, REJ, "a\r\n.\n" EVIL, DATA_BARE_NEWLINE, 5, "a\r\n."},
        {RAW, REJ, "a\r\n.\r" EVIL, DATA_BARE_NEWLINE, 5, "a\r\n."},
        {RAW, REJ, "a\r.\r\n" EVIL, DATA_BARE_NEWLINE, 2, "a"},
        {RAW, REJ, "a\r\n.\r\r\n" EVIL, DATA_BARE_NEWLINE, 5, "a\r\n."},
        {RAW, NORM, "a\n.\n" EVIL, DATA_CONTINUE, ALL, "a\r\n.\r\n" EVIL},
        {RAW, NORM, "a\r.\r" EVIL, DATA_CONTINUE, ALL, "a\r\n.\r\n" EVIL},
        {RAW, NORM, "a\n.\r\n" EVIL, DATA_CONTINUE, ALL, "a\r\n.\r\n" EVIL},
        {RAW, NORM, "a\r\n.\n" EVIL, DATA_CONTINUE, ALL, "a\r\n.\r\n" EVIL},
        {RAW, NORM, "a\r\n.\r" EVIL, DATA_CONTINUE, ALL, "a\r\n.\r\n" EVIL},
        {RAW, NORM, "a\r.\r\n" EVIL, DATA_CONTINUE, ALL, "a\r\n.\r\n" EVIL},
        {RAW, NORM, "a\r\n.\r\r\n" EVIL, DATA_CONTINUE, ALL, "a\r\n.\r\n\r\n" EVIL},
        {RAW, NORM, "a\r.\rb\r", DATA_CONTINUE, ALL, "a\r\n.\r\nb\r\n"},
        {RAW, NORM, "a\r\n.\r\r\n", DATA_CONTINUE, ALL, "a\r\n.\r\n\r\n"},
};

START_TEST(test_cases)
{
	const struct expect *e = &cases[_i];
	struct input t = {e->mode, e->nl, 1000, e->in, strlen(e->in)};
	struct result r = run_all_splits(&t);

	ck_assert_int_eq(r.status, e->status);
	ck_assert_uint_eq(r.consumed, e->consumed == ALL ? t.len : e->consumed);
	assert_out(&r, e->out);
	assert_crlf_only(&r);
	ck_assert_int_eq(r.too_long, 0);
	result_free(&r);
}
END_TEST

/* What was refused in REJECT mode must never look like the end in NORMALIZE mode. */
START_TEST(test_smuggled_end_is_never_the_end)
{
	static const char *const ends[] = {"\n.\n",   "\r.\r",   "\n.\r\n",    "\r\n.\n",
	                                   "\r\n.\r", "\r.\r\n", "\r\n.\r\r\n"};
	static const char *const modes[] = {"REJECT", "NORMALIZE"};
	char in[64];

	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		for (int nl = 0; nl < 2; nl++) {
			snprintf(in, sizeof(in), "x%sQUIT\r\n", ends[i]);

			struct input t = {DOT, nl ? NORM : REJ, 0, in, strlen(in)};
			struct result r = run_all_splits(&t);

			ck_assert_msg(r.status != DATA_END, "%zu %s", i, modes[nl]);
			if (nl)
				ck_assert_uint_eq(r.consumed, t.len);
			result_free(&r);
		}
	}
}
END_TEST

/* A bare newline in RAW mode, split over two BDAT chunks, is still bare. */
START_TEST(test_raw_chunks)
{
	struct data_reader dr;
	struct result r = result_new(8);
	enum data_status st;

	data_reader_init(&dr, RAW, REJ, 0);
	ck_assert_uint_eq(data_reader_feed(&dr, "abc\r", 4, sink, &r, &st), 4);
	ck_assert_int_eq(st, DATA_CONTINUE);
	assert_out(&r, "abc");
	ck_assert_uint_eq(data_reader_feed(&dr, "\nd\r", 3, sink, &r, &st), 3);
	ck_assert_int_eq(st, DATA_CONTINUE);
	assert_out(&r, "abc\r\nd");
	ck_assert_uint_eq(data_reader_feed(&dr, "x", 1, sink, &r, &st), 0);
	ck_assert_int_eq(st, DATA_BARE_NEWLINE);
	ck_assert_int_eq(data_reader_finish(&dr, sink, &r), DATA_BARE_NEWLINE);
	ck_assert_uint_eq(dr.octets, 6);

	/* No CR held: finish passes nothing and says nothing. */
	r.out_len = 0;
	data_reader_init(&dr, RAW, REJ, 0);
	data_reader_feed(&dr, "abc\r\n", 5, sink, &r, &st);
	ck_assert_int_eq(data_reader_finish(&dr, sink, &r), DATA_CONTINUE);
	assert_out(&r, "abc\r\n");
	ck_assert_uint_eq(dr.octets, 5);
	result_free(&r);
}
END_TEST

/* The fast path: a whole message with CRLF lines reaches the sink in one call. */
START_TEST(test_one_sink_call)
{
	struct input t = {DOT, REJ, 1000, "a\r\nbb\r\n\r\nccc\r\n.\r\n", 17};
	struct result r = run_whole(&t);

	ck_assert_int_eq(r.status, DATA_END);
	ck_assert_int_eq(r.sink_calls, 1);
	ck_assert_uint_eq(r.out_len, 14);
	result_free(&r);
}
END_TEST

static char *
repeat(char c, size_t n, const char *tail)
{
	size_t tlen = strlen(tail);
	char *s = malloc(n + tlen + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	memcpy(s + n, tail, tlen + 1);
	return s;
}

static int
too_long(enum data_mode mode, enum data_newline nl, size_t max_line, const char *prefix, size_t n,
         const char *tail)
{
	char *body = repeat('a', n, tail);
	size_t plen = strlen(prefix);
	char *in = malloc(plen + strlen(body) + 1);

	ck_assert_ptr_nonnull(in);
	memcpy(in, prefix, plen);
	strcpy(in + plen, body);

	struct input t = {mode, nl, max_line, in, strlen(in)};
	struct result r = t.len < 200 ? run_all_splits(&t) : run_whole(&t);
	int verdict = r.too_long;

	if (t.len >= 200) {
		/* Byte by byte, seven at a time, random: the same verdict. */
		check_step(&t, &r, 1);
		check_step(&t, &r, 7);
		check_random_splits(&t, &r, 3);
	}
	/* The content passes either way. */
	ck_assert_uint_ge(r.out_len, n);
	result_free(&r);
	free(in);
	free(body);
	return verdict;
}

START_TEST(test_line_limit)
{
	/* 998 octets and CRLF: exactly the limit of 1000; one more is over. */
	ck_assert_int_eq(too_long(DOT, REJ, 1000, "", 998, "\r\n.\r\n"), 0);
	ck_assert_int_eq(too_long(DOT, REJ, 1000, "", 999, "\r\n.\r\n"), 1);
	/* The stuffing dot does not count (RFC 5321 section 4.5.3.1.6). */
	ck_assert_int_eq(too_long(DOT, REJ, 1000, ".", 998, "\r\n.\r\n"), 0);
	ck_assert_int_eq(too_long(DOT, REJ, 1000, ".", 999, "\r\n.\r\n"), 1);
	/* In RAW mode the dot is content and counts. */
	ck_assert_int_eq(too_long(RAW, REJ, 1000, ".", 997, "\r\n"), 0);
	ck_assert_int_eq(too_long(RAW, REJ, 1000, ".", 998, "\r\n"), 1);
	/* A later line, after short ones. */
	ck_assert_int_eq(too_long(DOT, REJ, 1000, "a\r\n\r\n", 998, "\r\nb\r\n.\r\n"), 0);
	ck_assert_int_eq(too_long(DOT, REJ, 1000, "a\r\n\r\n", 999, "\r\nb\r\n.\r\n"), 1);
	/* A line still open counts the CRLF it needs, however it is split. */
	ck_assert_int_eq(too_long(DOT, REJ, 1000, "", 998, ""), 0);
	ck_assert_int_eq(too_long(DOT, REJ, 1000, "", 999, ""), 1);
	ck_assert_int_eq(too_long(DOT, REJ, 1000, "", 998, "\r"), 0);
	ck_assert_int_eq(too_long(RAW, REJ, 1000, "", 999, ""), 1);
	/* A normalized bare newline counts as CRLF. */
	ck_assert_int_eq(too_long(DOT, NORM, 10, "", 8, "\n"), 0);
	ck_assert_int_eq(too_long(DOT, NORM, 10, "", 9, "\n"), 1);
	ck_assert_int_eq(too_long(DOT, NORM, 10, "", 8, "\r.\r\n"), 0);
	/* Octets before a refused bare newline count too. */
	ck_assert_int_eq(too_long(DOT, REJ, 10, "", 9, "\n"), 1);
	/* 0: no limit, even for 100000 octets. */
	ck_assert_int_eq(too_long(DOT, REJ, 0, "", 100000, "\r\n.\r\n"), 0);
	ck_assert_int_eq(too_long(DOT, REJ, 1000, "", 100000, "\r\n.\r\n"), 1);
	/* Tiny limits: an empty line is 2 octets. */
	ck_assert_int_eq(too_long(DOT, REJ, 2, "", 0, "\r\n\r\n.\r\n"), 0);
	ck_assert_int_eq(too_long(DOT, REJ, 1, "", 0, "\r\n.\r\n"), 1);
}
END_TEST

START_TEST(test_long_content)
{
	/* 200000 octets in long lines: passed whole, counted, ended right. */
	char *in = malloc(200010);
	size_t n = 0;

	ck_assert_ptr_nonnull(in);
	while (n < 200000) {
		memset(in + n, n % 3 ? 'x' : '.', 998);
		memcpy(in + n + 998, "\r\n", 2);
		n += 1000;
	}
	memcpy(in + n, ".\r\nQUIT\r\n", 9);

	struct input t = {DOT, REJ, 1000, in, n + 9};
	struct result r = run_whole(&t);

	ck_assert_int_eq(r.status, DATA_END);
	ck_assert_uint_eq(r.consumed, n + 3);
	/* Lines starting with a dot lost it: 200 lines, every third one stuffed. */
	ck_assert_uint_eq(r.out_len, n - 67);
	ck_assert_int_eq(r.too_long, 0);
	check_step(&t, &r, 1);
	check_step(&t, &r, 4096);
	check_random_splits(&t, &r, 11);
	result_free(&r);
	free(in);
}
END_TEST

START_TEST(test_all_octets)
{
	char in[300];
	size_t n = 0;

	for (int c = 0; c < 256; c++)
		if (c != '\r' && c != '\n')
			in[n++] = (char)c;
	memcpy(in + n, "\r\n.\r\n", 5);
	n += 5;
	for (int mode = 0; mode < 2; mode++) {
		struct input t = {mode ? RAW : DOT, REJ, 0, in, n};
		struct result r = run_all_splits(&t);

		ck_assert_int_eq(r.status, mode ? DATA_CONTINUE : DATA_END);
		ck_assert_uint_eq(r.out_len, mode ? n : n - 3);
		ck_assert(memcmp(r.out, in, r.out_len) == 0);
		result_free(&r);
	}
}
END_TEST

/*
 * The reference: the contract read literally, one whole line at a time. It
 * sees the whole input, so it needs no held state.
 */
static struct result
reference(const struct input *t)
{
	struct result r = result_new(t->len);
	int prev_crlf = 1;
	size_t i = 0;

	while (i < t->len) {
		size_t j = i;

		while (j < t->len && t->in[j] != '\r' && t->in[j] != '\n')
			j++;

		int dotted = t->mode == DOT && j > i && t->in[i] == '.';
		const char *text = t->in + i + dotted;
		size_t text_len = j - i - (size_t)dotted;
		int terminator = dotted && text_len == 0;
		int crlf = j + 1 < t->len && t->in[j] == '\r' && t->in[j + 1] == '\n';
		int held_cr = j + 1 == t->len && t->in[j] == '\r';

		if (crlf && terminator && prev_crlf) {
			r.status = DATA_END;
			r.consumed = j + 2;
			return r;
		}
		if (text_len > 0 && t->max_line > 0 && text_len + 2 > t->max_line)
			r.too_long = 1;
		memcpy(r.out + r.out_len, text, text_len);
		r.out_len += text_len;
		if (j == t->len || (held_cr && t->mode == DOT)) {
			r.consumed = t->len;
			return r;
		}
		if (!crlf && t->nl == REJ) {
			r.status = DATA_BARE_NEWLINE;
			r.consumed = j + 1;
			return r;
		}
		memcpy(r.out + r.out_len, "\r\n", 2);
		r.out_len += 2;
		prev_crlf = crlf;
		i = j + (crlf ? 2 : 1);
	}
	r.consumed = t->len;
	return r;
}

START_TEST(test_random_against_reference)
{
	static const char alphabet[] = "..\r\r\n\nab";
	unsigned seed = (unsigned)_i + 1;
	char in[48];

	for (int round = 0; round < 4000; round++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(in));

		for (size_t k = 0; k < len; k++)
			in[k] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];

		struct input t = {_i & 1 ? RAW : DOT, _i & 2 ? NORM : REJ, 4, in, len};
		struct result want = reference(&t);
		struct result got = run_whole(&t);

		assert_same(&got, &want);
		check_random_splits(&t, &want, seed);
		if (got.status == DATA_END)
			ck_assert(got.out_len == 0 ||
			          (got.out_len >= 2 &&
			           memcmp(got.out + got.out_len - 2, "\r\n", 2) == 0));
		assert_crlf_only(&got);
		result_free(&want);
		result_free(&got);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("data_reader");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_cases, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_smuggled_end_is_never_the_end);
	tcase_add_test(tc, test_raw_chunks);
	tcase_add_test(tc, test_one_sink_call);
	tcase_add_test(tc, test_line_limit);
	tcase_add_test(tc, test_long_content);
	tcase_add_test(tc, test_all_octets);
	tcase_add_loop_test(tc, test_random_against_reference, 0, 4);
	suite_add_tcase(s, tc);

	return unit_run(s);
}
