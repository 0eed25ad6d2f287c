/*
 * Unit tests for proxy/data_reader.c: where a message ends, dot-unstuffing,
 * bare CR/LF (SMTP smuggling) in both modes, line limits, and that every
 * split of the input gives the same result as feeding it whole.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/data_reader.h"
#include "tests/unit/unit.h"

struct result {
	char out[8192];
	size_t out_len;
	size_t consumed;
	enum data_status status;
	int too_long;
};

static void
sink(void *arg, const char *buf, size_t len)
{
	struct result *r = arg;

	ck_assert_uint_le(r->out_len + len, sizeof(r->out));
	memcpy(r->out + r->out_len, buf, len);
	r->out_len += len;
}

/* Feed in pieces of at most step octets (0: whole), stopping at END or a bare newline. */
static struct result
run(enum data_mode mode, enum data_newline nl, size_t max_line, const char *in, size_t len,
    size_t step)
{
	struct result r = {.status = DATA_CONTINUE};
	struct data_reader dr;

	data_reader_init(&dr, mode, nl, max_line);
	while (r.consumed < len && r.status == DATA_CONTINUE) {
		size_t n = step == 0 || len - r.consumed < step ? len - r.consumed : step;
		size_t used = data_reader_feed(&dr, in + r.consumed, n, sink, &r, &r.status);

		ck_assert_uint_le(used, n);
		if (r.status == DATA_CONTINUE)
			ck_assert_uint_eq(used, n);
		r.consumed += used;
	}
	if (mode == DATA_MODE_RAW && r.status == DATA_CONTINUE)
		r.status = data_reader_finish(&dr, sink, &r);
	ck_assert_uint_eq(dr.octets, r.out_len);
	r.too_long = dr.line_too_long;
	return r;
}

/* The same input must give the same result however it is split. */
static struct result
run_all_splits(enum data_mode mode, enum data_newline nl, size_t max_line, const char *in)
{
	size_t len = strlen(in);
	struct result whole = run(mode, nl, max_line, in, len, 0);

	for (size_t step = 1; step <= len; step++) {
		struct result part = run(mode, nl, max_line, in, len, step);

		ck_assert_int_eq(part.status, whole.status);
		ck_assert_uint_eq(part.consumed, whole.consumed);
		ck_assert_uint_eq(part.out_len, whole.out_len);
		ck_assert(memcmp(part.out, whole.out, whole.out_len) == 0);
		ck_assert_int_eq(part.too_long, whole.too_long);
	}
	return whole;
}

static void
assert_out(const struct result *r, const char *expected)
{
	ck_assert_uint_eq(r->out_len, strlen(expected));
	ck_assert(memcmp(r->out, expected, r->out_len) == 0);
}

START_TEST(test_simple_end)
{
	const char *in = "Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<next@x>\r\n";
	struct result r = run_all_splits(DATA_MODE_DOT, DATA_NEWLINE_REJECT, 1000, in);

	ck_assert_int_eq(r.status, DATA_END);
	ck_assert_uint_eq(r.consumed, strlen("Subject: x\r\n\r\nbody\r\n.\r\n"));
	assert_out(&r, "Subject: x\r\n\r\nbody\r\n");
}
END_TEST

START_TEST(test_empty_message)
{
	struct result r = run_all_splits(DATA_MODE_DOT, DATA_NEWLINE_REJECT, 1000, ".\r\n");

	ck_assert_int_eq(r.status, DATA_END);
	ck_assert_uint_eq(r.out_len, 0);
}
END_TEST

START_TEST(test_unstuffing)
{
	const char *in = "..leading\r\n.\tx\r\n...\r\nmid.dle\r\n. \r\n.\r\n";
	struct result r = run_all_splits(DATA_MODE_DOT, DATA_NEWLINE_REJECT, 1000, in);

	ck_assert_int_eq(r.status, DATA_END);
	assert_out(&r, ".leading\r\n\tx\r\n..\r\nmid.dle\r\n \r\n");
}
END_TEST

START_TEST(test_incomplete)
{
	struct result r = run_all_splits(DATA_MODE_DOT, DATA_NEWLINE_REJECT, 1000, "abc\r\n.\r");

	ck_assert_int_eq(r.status, DATA_CONTINUE);
	assert_out(&r, "abc\r\n");
}
END_TEST

/* Each smuggling variant: in reject mode it stops; it never ends the data. */
static const char *const smuggling[] = {
        "a\n.\nMAIL FROM:<evil@x>\r\n",
        "a\r.\rMAIL FROM:<evil@x>\r\n",
        "a\n.\r\nMAIL FROM:<evil@x>\r\n",
        "a\r\n.\nMAIL FROM:<evil@x>\r\n",
        "a\r\n.\rMAIL FROM:<evil@x>\r\n",
        "a\r.\r\nMAIL FROM:<evil@x>\r\n",
        "a\r\n.\r\r\nMAIL FROM:<evil@x>\r\n",
        "bare\nlf\r\n",
        "bare\rcr\r\n",
};

START_TEST(test_smuggling_reject)
{
	const char *in = smuggling[_i];
	struct result r = run_all_splits(DATA_MODE_DOT, DATA_NEWLINE_REJECT, 1000, in);

	ck_assert_int_eq(r.status, DATA_BARE_NEWLINE);
	ck_assert(memmem(r.out, r.out_len, "MAIL", 4) == NULL);
}
END_TEST

START_TEST(test_smuggling_normalize)
{
	const char *in = smuggling[_i];
	struct result r = run_all_splits(DATA_MODE_DOT, DATA_NEWLINE_NORMALIZE, 1000, in);

	/* Never the end: everything is content, with CRLF line endings only. */
	ck_assert_int_eq(r.status, DATA_CONTINUE);
	ck_assert_uint_eq(r.consumed, strlen(in));
	for (size_t i = 0; i < r.out_len; i++) {
		if (r.out[i] == '\r')
			ck_assert(i + 1 < r.out_len && r.out[i + 1] == '\n');
		if (r.out[i] == '\n')
			ck_assert(i > 0 && r.out[i - 1] == '\r');
	}
}
END_TEST

START_TEST(test_normalize_then_real_end)
{
	const char *in = "a\nb\rc\r\n.\n.\r\nd\r\n.\r\n";
	struct result r = run_all_splits(DATA_MODE_DOT, DATA_NEWLINE_NORMALIZE, 1000, in);

	ck_assert_int_eq(r.status, DATA_END);
	ck_assert_uint_eq(r.consumed, strlen(in));
	/* ".\n" is content (unstuffed to an empty line); ".\r\n" after a bare LF too. */
	assert_out(&r, "a\r\nb\r\nc\r\n\r\n\r\nd\r\n");
}
END_TEST

START_TEST(test_line_limit)
{
	char in[2100];
	struct result r;

	/* 998 octets and CRLF: exactly the limit. */
	memset(in, 'a', 998);
	strcpy(in + 998, "\r\n.\r\n");
	r = run(DATA_MODE_DOT, DATA_NEWLINE_REJECT, 1000, in, strlen(in), 0);
	ck_assert_int_eq(r.status, DATA_END);
	ck_assert_int_eq(r.too_long, 0);
	/* The stuffing dot does not count (RFC 5321 4.5.3.1.6). */
	in[0] = '.';
	memset(in + 1, 'a', 998);
	strcpy(in + 999, "\r\n.\r\n");
	r = run(DATA_MODE_DOT, DATA_NEWLINE_REJECT, 1000, in, strlen(in), 0);
	ck_assert_int_eq(r.too_long, 0);
	/* One more is too long, and the content still passes. */
	memset(in, 'a', 999);
	strcpy(in + 999, "\r\n.\r\n");
	r = run(DATA_MODE_DOT, DATA_NEWLINE_REJECT, 1000, in, strlen(in), 7);
	ck_assert_int_eq(r.status, DATA_END);
	ck_assert_int_eq(r.too_long, 1);
	ck_assert_uint_eq(r.out_len, 1001);
	/* A line that never ends is too long as soon as it passes the limit. */
	memset(in, 'a', 2000);
	r = run(DATA_MODE_DOT, DATA_NEWLINE_REJECT, 1000, in, 2000, 0);
	ck_assert_int_eq(r.too_long, 1);
	/* 0: no limit. */
	r = run(DATA_MODE_DOT, DATA_NEWLINE_REJECT, 0, in, 2000, 0);
	ck_assert_int_eq(r.too_long, 0);
}
END_TEST

START_TEST(test_raw_mode)
{
	struct result r;

	/* BDAT content: dots are content, nothing ends it. */
	r = run_all_splits(DATA_MODE_RAW, DATA_NEWLINE_REJECT, 1000, ".a\r\n.\r\n..\r\n");
	ck_assert_int_eq(r.status, DATA_CONTINUE);
	assert_out(&r, ".a\r\n.\r\n..\r\n");
	/* No final CRLF is fine. */
	r = run_all_splits(DATA_MODE_RAW, DATA_NEWLINE_REJECT, 1000, "abc");
	ck_assert_int_eq(r.status, DATA_CONTINUE);
	assert_out(&r, "abc");
	/* A trailing CR is bare once the content is finished. */
	r = run(DATA_MODE_RAW, DATA_NEWLINE_REJECT, 1000, "abc\r", 4, 0);
	ck_assert_int_eq(r.status, DATA_BARE_NEWLINE);
	r = run(DATA_MODE_RAW, DATA_NEWLINE_NORMALIZE, 1000, "abc\r", 4, 0);
	ck_assert_int_eq(r.status, DATA_CONTINUE);
	assert_out(&r, "abc\r\n");
	r = run_all_splits(DATA_MODE_RAW, DATA_NEWLINE_REJECT, 1000, "a\n.\nb");
	ck_assert_int_eq(r.status, DATA_BARE_NEWLINE);
}
END_TEST

START_TEST(test_all_octets)
{
	char in[300];
	size_t n = 0;
	struct result r;

	for (int c = 0; c < 256; c++)
		if (c != '\r' && c != '\n')
			in[n++] = (char)c;
	memcpy(in + n, "\r\n.\r\n", 5);
	n += 5;
	r = run(DATA_MODE_DOT, DATA_NEWLINE_REJECT, 0, in, n, 3);
	ck_assert_int_eq(r.status, DATA_END);
	ck_assert_uint_eq(r.out_len, n - 3);
	ck_assert(memcmp(r.out, in, n - 3) == 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("data_reader");
	TCase *tc = tcase_create("core");
	int nsmuggling = (int)(sizeof(smuggling) / sizeof(smuggling[0]));

	tcase_add_test(tc, test_simple_end);
	tcase_add_test(tc, test_empty_message);
	tcase_add_test(tc, test_unstuffing);
	tcase_add_test(tc, test_incomplete);
	tcase_add_loop_test(tc, test_smuggling_reject, 0, nsmuggling);
	tcase_add_loop_test(tc, test_smuggling_normalize, 0, nsmuggling);
	tcase_add_test(tc, test_normalize_then_real_end);
	tcase_add_test(tc, test_line_limit);
	tcase_add_test(tc, test_raw_mode);
	tcase_add_test(tc, test_all_octets);
	suite_add_tcase(s, tc);

	return unit_run(s);
}
