/*
 * Unit tests for proxy/header_reader.c: fields with continuation lines, the
 * end of the header, the body, a header too long, and every split.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/header_reader.h"
#include "tests/unit/unit.h"

struct seen {
	char log[8192];
	size_t len;
	int eoh;
};

static void
add(struct seen *s, const char *tag, const char *data, size_t len)
{
	size_t n = strlen(tag);

	ck_assert_uint_lt(s->len + n + len + 1, sizeof(s->log));
	memcpy(s->log + s->len, tag, n);
	s->len += n;
	memcpy(s->log + s->len, data, len);
	s->len += len;
	s->log[s->len] = '\0';
}

static void
on_field(void *arg, const char *f, size_t len)
{
	add(arg, "[F]", f, len);
}

static void
on_eoh(void *arg)
{
	struct seen *s = arg;

	s->eoh++;
	add(arg, "[E]", "", 0);
}

/* Body chunks are joined: how they are cut does not matter. */
static void
on_body(void *arg, const char *d, size_t len)
{
	struct seen *s = arg;

	if (s->len < 3 || strncmp(s->log + s->len - 3, "[B]", 3) != 0) {
		const char *last = strrchr(s->log, '[');

		if (last == NULL || strncmp(last, "[B]", 3) != 0)
			add(arg, "[B]", "", 0);
	}
	add(arg, "", d, len);
}

static const struct header_reader_callbacks cbs = {on_field, on_eoh, on_body};

static struct seen
run(const char *msg, size_t step, size_t max, struct header_reader *keep)
{
	struct header_reader r;
	struct seen s = {.len = 0};
	size_t len = strlen(msg);

	header_reader_init(&r, max);
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;

		header_reader_feed(&r, msg + off, n, &cbs, &s);
	}
	header_reader_finish(&r, &cbs, &s);
	ck_assert_int_eq(s.eoh, 1);
	if (keep)
		*keep = r;
	else
		header_reader_free(&r);
	return s;
}

START_TEST(test_fields_and_body)
{
	const char *msg = "From: a@b\r\nSubject: one\r\n two\r\n\tthree\r\nTo: c@d\r\n\r\nbody\r\n"
	                  "Not: a header\r\n";
	const char *want = "[F]From: a@b\r\n[F]Subject: one\r\n two\r\n\tthree\r\n[F]To: c@d\r\n[E]"
	                   "[B]body\r\nNot: a header\r\n";
	struct header_reader r;

	for (size_t step = 1; step <= strlen(msg); step++) {
		struct seen s = run(msg, step, 1000, NULL);

		ck_assert_str_eq(s.log, want);
	}
	run(msg, 7, 1000, &r);
	ck_assert_int_eq(r.complete, 1);
	ck_assert_uint_eq(r.block_len,
	                  strlen("From: a@b\r\nSubject: one\r\n two\r\n\tthree\r\nTo: c@d\r\n"));
	ck_assert(memcmp(r.block, msg, r.block_len) == 0);
	header_reader_free(&r);
}
END_TEST

START_TEST(test_no_body)
{
	struct seen s = run("Subject: x\r\nTo: y\r\n", 3, 1000, NULL);

	ck_assert_str_eq(s.log, "[F]Subject: x\r\n[F]To: y\r\n[E]");
	s = run("", 1, 1000, NULL);
	ck_assert_str_eq(s.log, "[E]");
	s = run("\r\nbody only\r\n", 2, 1000, NULL);
	ck_assert_str_eq(s.log, "[E][B]body only\r\n");
}
END_TEST

START_TEST(test_too_long)
{
	struct header_reader r;
	const char *msg = "A: 1\r\nB: 22222222222222222222\r\n\r\nbody\r\n";

	for (size_t step = 1; step <= strlen(msg); step++) {
		struct seen s = run(msg, step, 10, NULL);

		ck_assert_str_eq(s.log, "[F]A: 1\r\n[E][B]B: 22222222222222222222\r\n\r\nbody\r\n");
	}
	run(msg, 4, 10, &r);
	ck_assert_int_eq(r.complete, 0);
	ck_assert_uint_eq(r.block_len, 6);
	header_reader_free(&r);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("header_reader");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_fields_and_body);
	tcase_add_test(tc, test_no_body);
	tcase_add_test(tc, test_too_long);
	suite_add_tcase(s, tc);

	return unit_run(s);
}
