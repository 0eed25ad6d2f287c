/*
 * Unit tests for filters/spamd_reply.c: spamd's answers as spamd writes
 * them (SYMBOLS, REPORT, errors), cut anywhere, and hostile input.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/spamd_reply.h"
#include "tests/unit/unit.h"

static const char gtube[] = "SPAMD/1.1 0 EX_OK\r\n"
                            "Content-length: 27\r\n"
                            "Spam: True ; 1000.0 / 5.0\r\n"
                            "\r\n"
                            "GTUBE,NO_RECEIVED,NO_RELAYS";

static const char report[] = "SPAMD/1.1 0 EX_OK\r\n"
                             "Content-length: 285\r\n"
                             "Spam: False ; -0.2 / 5.0\r\n"
                             "\r\n"
                             "Content analysis details:   (-0.2 points, 5.0 required)\n"
                             "\n"
                             " pts rule name              description\n"
                             "---- ---------------------- ------------------------------\n"
                             "-0.2 NO_RELAYS     Informational: message was not relayed\n"
                             " 0.0 MISSING_DATE  Missing Date: header\n"
                             "                   (continued)\n";

static enum spamd_parse
parse(const char *text, size_t len, int eof, int rep, struct spamd_reply *r)
{
	/* A copy of exactly len octets: the parser must not read past it. */
	char *copy = malloc(len ? len : 1);
	enum spamd_parse rc;

	memcpy(copy, text, len);
	rc = spamd_reply_parse(copy, len, eof, rep, r);
	free(copy);
	return rc;
}

START_TEST(test_symbols)
{
	struct spamd_reply r;

	ck_assert_int_eq(parse(gtube, strlen(gtube), 0, 0, &r), SPAMD_DONE);
	ck_assert_int_eq(r.code, 0);
	ck_assert_int_eq(r.spam, 1);
	ck_assert(r.score == 1000.0 && r.required == 5.0);
	ck_assert_str_eq(r.tests, "GTUBE,NO_RECEIVED,NO_RELAYS");
}
END_TEST

START_TEST(test_report)
{
	struct spamd_reply r;
	size_t len = strlen(report);

	ck_assert_int_eq(parse(report, len, 0, 1, &r), SPAMD_DONE);
	ck_assert_int_eq(r.spam, 0);
	ck_assert(r.score == -0.2);
	ck_assert_str_eq(r.tests, "NO_RELAYS,MISSING_DATE");
}
END_TEST

/* Every prefix of a reply is incomplete, never wrong, until eof says it ended. */
START_TEST(test_prefixes)
{
	struct spamd_reply r;
	size_t len = strlen(gtube);

	for (size_t n = 0; n < len; n++) {
		ck_assert_int_eq(parse(gtube, n, 0, 0, &r), SPAMD_MORE);
		ck_assert_int_eq(parse(gtube, n, 1, 0, &r), SPAMD_BAD);
	}
}
END_TEST

START_TEST(test_error_code)
{
	struct spamd_reply r;
	const char *e = "SPAMD/1.0 76 Bad header line: (EOF)\r\n\r\n";

	ck_assert_int_eq(parse(e, strlen(e), 1, 0, &r), SPAMD_DONE);
	ck_assert_int_eq(r.code, 76);
	ck_assert_str_eq(r.message, "Bad header line: (EOF)");
}
END_TEST

START_TEST(test_hostile)
{
	static const char *const bad[] = {
	        "HTTP/1.1 200 OK\r\n\r\n",
	        "SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n", /* no Spam: */
	        "SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 1 / 5\r\nContent-length: 0\r\n\r\n",
	        "SPAMD/1.1 0 EX_OK\r\nSpam: True ; nan / 5\r\nContent-length: 0\r\n\r\n",
	        "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1e999 / 5\r\nContent-length: 0\r\n\r\n",
	        "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5 junk\r\nContent-length: 0\r\n\r\n",
	        "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\nContent-length: -1\r\n\r\n",
	        "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\nContent-length: 99999999999\r\n\r\n",
	        "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\nContent-length: 4\r\n\r\nA B,",
	        "SPAMD/1.1 99999 X\r\n\r\n",
	        "SPAMD/x\r\n\r\n",
	        "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\nContent-length: 5\r\n\r\nAB",
	};
	struct spamd_reply r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i], strlen(bad[i]), 1, 0, &r) == SPAMD_BAD, "case %zu", i);
	/* No status line within 256 octets: not spamd, even before eof. */
	char junk[300];

	memset(junk, 'S', sizeof(junk));
	ck_assert_int_eq(parse(junk, sizeof(junk), 0, 0, &r), SPAMD_BAD);
}
END_TEST

/* Thousands of names are cut at a name boundary, with "..." and a NUL. */
START_TEST(test_many_tests)
{
	size_t n = 5000 * 11;
	char *body = malloc(n + 200);
	int o = snprintf(body, 200,
	                 "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9 / 5\r\n"
	                 "Content-length: %zu\r\n\r\n",
	                 n - 1);
	struct spamd_reply r;

	for (int i = 0; i < 5000; i++)
		o += snprintf(body + o, 12, "%sRULE_%05d", i ? "," : "", i);
	ck_assert_int_eq(parse(body, (size_t)o, 0, 0, &r), SPAMD_DONE);
	ck_assert(strlen(r.tests) < sizeof(r.tests));
	ck_assert(strncmp(r.tests, "RULE_00000,RULE_00001", 21) == 0);
	ck_assert_str_eq(r.tests + strlen(r.tests) - 3, "...");
	free(body);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spamd_reply");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_symbols);
	tcase_add_test(tc, test_report);
	tcase_add_test(tc, test_prefixes);
	tcase_add_test(tc, test_error_code);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_many_tests);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
