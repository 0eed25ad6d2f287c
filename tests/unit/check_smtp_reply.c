/*
 * Unit tests for proxy/smtp_reply.c: single and multi-line replies, and
 * what a broken or hostile server may send.
 */
#include <check.h>
#include <stdio.h>
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
	static const struct {
		const char *line;
		int code;
	} cases[] = {
	        {"250 2.1.0 Ok", 250},
	        {"354", 354},
	        {"354 ", 354},
	        {"550 5.1.1 <x@y>: Recipient address rejected", 550},
	        {"220 mx.example.org ESMTP \xc3\xa4", 220},
	        {"421 4.3.2 Service not available\t", 421},
	        {"200 x", 200},
	        {"559 x", 559},
	};
	struct smtp_reply_reader r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		smtp_reply_reset(&r);
		ck_assert_int_eq(r.code, 0);
		ck_assert_int_eq(r.lines, 0);
		ck_assert_int_eq(feed(&r, cases[i].line), SMTP_REPLY_DONE);
		ck_assert_int_eq(r.code, cases[i].code);
		ck_assert_int_eq(r.lines, 1);
	}
}
END_TEST

START_TEST(test_multi)
{
	struct smtp_reply_reader r;

	smtp_reply_reset(&r);
	ck_assert_int_eq(feed(&r, "250-mx.example.org"), SMTP_REPLY_MORE);
	ck_assert_int_eq(r.code, 250);
	ck_assert_int_eq(feed(&r, "250-PIPELINING"), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&r, "250-"), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&r, "250 CHUNKING"), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.code, 250);
	ck_assert_int_eq(r.lines, 4);

	/* The reader is reused for the next reply after a reset. */
	smtp_reply_reset(&r);
	ck_assert_int_eq(feed(&r, "550-5.1.1 first"), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&r, "550"), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.code, 550);
	ck_assert_int_eq(r.lines, 2);
}
END_TEST

/* Every code from 000 to 999: RFC 5321 section 4.2 allows [2-5][0-5][0-9]. */
START_TEST(test_all_codes)
{
	struct smtp_reply_reader r;
	char line[24];

	for (int code = 0; code < 1000; code++) {
		int valid = code / 100 >= 2 && code / 100 <= 5 && code / 10 % 10 <= 5;

		snprintf(line, sizeof(line), "%03d text", code);
		smtp_reply_reset(&r);
		ck_assert_int_eq(feed(&r, line), valid ? SMTP_REPLY_DONE : SMTP_REPLY_BAD);
		if (valid)
			ck_assert_int_eq(r.code, code);
	}
}
END_TEST

START_TEST(test_bad)
{
	static const char *const bad[] = {
	        "",      "2",     "25",   "099 x",    "199 x",    "260 x",    "600 x",
	        "abc",   "2x0 x", "250x", "250_x",    " 250 x",   "2500",     "250\t",
	        "+50 x", "-50 x", "25 0", "\26250 x", "250 a\rb", "250 a\nb", "250-\r"};
	struct smtp_reply_reader r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		smtp_reply_reset(&r);
		ck_assert_msg(feed(&r, bad[i]) == SMTP_REPLY_BAD, "%s", bad[i]);
		ck_assert_int_eq(r.lines, 0);
	}
	smtp_reply_reset(&r);
	ck_assert_int_eq(smtp_reply_feed(&r, "250 a\0b", 7), SMTP_REPLY_BAD);
	ck_assert_int_eq(smtp_reply_feed(&r, "250\0", 4), SMTP_REPLY_BAD);
	ck_assert_int_eq(smtp_reply_feed(&r, "25", 3), SMTP_REPLY_BAD);
	/* The length counts, not a NUL: "250 ok" cut to "25" is truncated. */
	ck_assert_int_eq(smtp_reply_feed(&r, "250 ok", 2), SMTP_REPLY_BAD);
	ck_assert_int_eq(smtp_reply_feed(&r, "250 ok", 3), SMTP_REPLY_DONE);
}
END_TEST

/* Every octet after the code: only a space or a hyphen may follow it. */
START_TEST(test_separator_octets)
{
	struct smtp_reply_reader r;
	char line[] = "250?x";

	for (int c = 0; c < 256; c++) {
		line[3] = (char)c;
		smtp_reply_reset(&r);

		enum smtp_reply_status want = c == ' '   ? SMTP_REPLY_DONE
		                              : c == '-' ? SMTP_REPLY_MORE
		                                         : SMTP_REPLY_BAD;

		ck_assert_msg(smtp_reply_feed(&r, line, 5) == want, "octet %d", c);
	}
}
END_TEST

START_TEST(test_code_mismatch)
{
	struct smtp_reply_reader r;

	/* Codes must agree across the lines of one reply. */
	smtp_reply_reset(&r);
	ck_assert_int_eq(feed(&r, "250-"), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&r, "251 "), SMTP_REPLY_BAD);
	ck_assert_int_eq(r.code, 250);
	ck_assert_int_eq(r.lines, 1);

	smtp_reply_reset(&r);
	ck_assert_int_eq(feed(&r, "250-first"), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&r, "250-second"), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&r, "550 third"), SMTP_REPLY_BAD);

	/* A malformed line in the middle of a reply. */
	smtp_reply_reset(&r);
	ck_assert_int_eq(feed(&r, "250-first"), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&r, "second"), SMTP_REPLY_BAD);
}
END_TEST

START_TEST(test_too_many_lines)
{
	struct smtp_reply_reader r;
	int i;

	/* Exactly SMTP_REPLY_MAX_LINES lines are fine. */
	smtp_reply_reset(&r);
	for (i = 0; i < SMTP_REPLY_MAX_LINES - 1; i++)
		ck_assert_int_eq(feed(&r, "250-x"), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&r, "250 x"), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.lines, SMTP_REPLY_MAX_LINES);

	/* One more is not, and neither is anything after it. */
	smtp_reply_reset(&r);
	for (i = 0; i < SMTP_REPLY_MAX_LINES; i++)
		ck_assert_int_eq(feed(&r, "250-x"), SMTP_REPLY_MORE);
	ck_assert_int_eq(feed(&r, "250-x"), SMTP_REPLY_BAD);
	ck_assert_int_eq(feed(&r, "250 x"), SMTP_REPLY_BAD);
	ck_assert_int_eq(r.lines, SMTP_REPLY_MAX_LINES);
}
END_TEST

START_TEST(test_long_line)
{
	size_t len = 100000;
	char *line = malloc(len);
	struct smtp_reply_reader r;

	ck_assert_ptr_nonnull(line);
	memset(line, 'x', len);
	memcpy(line, "250 ", 4);
	smtp_reply_reset(&r);
	ck_assert_int_eq(smtp_reply_feed(&r, line, len), SMTP_REPLY_DONE);
	line[len - 1] = '\r';
	smtp_reply_reset(&r);
	ck_assert_int_eq(smtp_reply_feed(&r, line, len), SMTP_REPLY_BAD);
	free(line);
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
			line[i] = (char)(rand_r(&seed) % (round % 2 ? 256 : 12) +
			                 (round % 2 ? 0 : '0'));
		smtp_reply_reset(&r);

		enum smtp_reply_status st = smtp_reply_feed(&r, line, len);

		if (st != SMTP_REPLY_BAD) {
			ck_assert(r.code >= 200 && r.code <= 559 && r.code % 100 <= 59);
			ck_assert(memchr(line, '\r', len) == NULL &&
			          memchr(line, '\0', len) == NULL);
		}
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
	tcase_add_test(tc, test_all_codes);
	tcase_add_test(tc, test_bad);
	tcase_add_test(tc, test_separator_octets);
	tcase_add_test(tc, test_code_mismatch);
	tcase_add_test(tc, test_too_many_lines);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);

	return unit_run(s);
}
