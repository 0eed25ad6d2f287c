/*
 * Unit tests for proxy/smtp_reply.c: single and multi-line replies, and
 * what a broken or hostile server may send.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/smtp_reply.h"
#include "tests/unit/unit.h"

static enum smtp_reply_status
feed(struct smtp_reply_reader *r, const char *line)
{
	return smtp_reply_feed(r, line, strlen(line));
}

START_TEST(test_single)
{
	struct smtp_reply_reader r;

	smtp_reply_reset(&r);
	ck_assert_int_eq(feed(&r, "250 2.1.0 Ok"), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.code, 250);
	smtp_reply_reset(&r);
	ck_assert_int_eq(feed(&r, "354"), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.code, 354);
	smtp_reply_reset(&r);
	ck_assert_int_eq(feed(&r, "550 5.1.1 <x@y>: Recipient address rejected"), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.code, 550);
}
END_TEST

START_TEST(test_multi)
{
	struct smtp_reply_reader r;

	smtp_reply_reset(&r);
	ck_assert_int_eq(feed(&r, "250-mx.example.org"), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&r, "250-PIPELINING"), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&r, "250 CHUNKING"), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.code, 250);
	ck_assert_int_eq(r.lines, 3);
}
END_TEST

START_TEST(test_bad)
{
	static const char *const bad[] = {"",      "25",   "099 x", "600 x", "abc",
	                                  "2x0 x", "250x", "199 x", "250_x", " 250 x"};
	struct smtp_reply_reader r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		smtp_reply_reset(&r);
		ck_assert_int_eq(feed(&r, bad[i]), SMTP_REPLY_BAD);
	}
	/* Codes must agree across the lines of one reply. */
	smtp_reply_reset(&r);
	ck_assert_int_eq(feed(&r, "250-first"), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&r, "251 second"), SMTP_REPLY_BAD);
}
END_TEST

START_TEST(test_too_many_lines)
{
	struct smtp_reply_reader r;
	int i;

	smtp_reply_reset(&r);
	for (i = 0; i < SMTP_REPLY_MAX_LINES; i++)
		ck_assert_int_eq(feed(&r, "250-x"), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&r, "250-x"), SMTP_REPLY_BAD);
}
END_TEST

START_TEST(test_random)
{
	struct smtp_reply_reader r;
	unsigned seed = 7;
	char line[16];

	for (int round = 0; round < 50000; round++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(line));

		for (size_t i = 0; i < len; i++)
			line[i] = (char)(rand_r(&seed) % 256);
		smtp_reply_reset(&r);
		enum smtp_reply_status st = smtp_reply_feed(&r, line, len);

		if (st != SMTP_REPLY_BAD)
			ck_assert(r.code >= 200 && r.code <= 599);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("smtp_reply");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_single);
	tcase_add_test(tc, test_multi);
	tcase_add_test(tc, test_bad);
	tcase_add_test(tc, test_too_many_lines);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);

	return unit_run(s);
}
