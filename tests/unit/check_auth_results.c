/*
 * Unit tests for filters/auth_results.c: formatting (RFC 8601) and the
 * removal of Authentication-Results that claim our authserv-id (section 5).
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "filters/auth_results.h"
#include "tests/unit/unit.h"

static char *
take(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

static struct finding
finding(const char *method, const char *result, const char *detail)
{
	return (struct finding){.filter = "f",
	                        .method = (char *)method,
	                        .result = (char *)result,
	                        .detail = (char *)detail,
	                        .score = NAN};
}

START_TEST(test_format)
{
	struct evbuffer *out = evbuffer_new();
	struct finding f[] = {
	        finding("spf", "pass", "smtp.mailfrom=example.org"),
	        finding("spam", "scored", "score 3"),
	        finding("dkim", "fail", "header.d=example.org header.s=s1 header.b=abcdefgh"),
	        finding("dmarc", "none", NULL),
	};
	char *s;

	ck_assert_int_eq(auth_results_format(out, "mx.test", f, 4), 3);
	s = take(out);
	ck_assert_str_eq(s, "Authentication-Results: mx.test;\r\n"
	                    "\tspf=pass smtp.mailfrom=example.org;\r\n"
	                    "\tdkim=fail header.d=example.org header.s=s1 header.b=abcdefgh;\r\n"
	                    "\tdmarc=none\r\n");
	free(s);
	/* No authentication finding: no header. */
	ck_assert_int_eq(auth_results_format(out, "mx.test", f + 1, 1), 0);
	ck_assert_uint_eq(evbuffer_get_length(out), 0);
	evbuffer_free(out);
}
END_TEST

/* Property values: tokens as they are, the rest quoted; what a forger sends cannot break out. */
START_TEST(test_value)
{
	char buf[32];

	auth_results_value(buf, sizeof(buf), "example.org", 0);
	ck_assert_str_eq(buf, "example.org");
	auth_results_value(buf, sizeof(buf), "ab/cd+ef", 0);
	ck_assert_str_eq(buf, "\"ab/cd+ef\"");
	auth_results_value(buf, sizeof(buf), "abcdefghijkl", 8);
	ck_assert_str_eq(buf, "abcdefgh");
	auth_results_value(buf, sizeof(buf), "a;\r\nX-Evil: \"1\"\\", 0);
	ck_assert_str_eq(buf, "\"a;??X-Evil: \\\"1\\\"\\\\\"");
	auth_results_value(buf, sizeof(buf), NULL, 0);
	ck_assert_str_eq(buf, "\"\"");
	auth_results_value(buf, 8, "a very long value", 0);
	ck_assert_uint_le(strlen(buf), 7);
	ck_assert_int_eq(buf[strlen(buf) - 1], '"');
}
END_TEST

START_TEST(test_strip)
{
	const char *hdr = "Received: from x\r\n"
	                  "Authentication-Results: mx.test; spf=pass\r\n"
	                  "\tsmtp.mailfrom=forged.example\r\n"
	                  "authentication-results: (comment) MX.TEST;\r\n"
	                  " dkim=pass\r\n"
	                  "Authentication-Results: mx.test.evil; spf=pass\r\n"
	                  "Authentication-Results: other.example; spf=fail\r\n"
	                  "Subject: hi\r\n";
	struct evbuffer *out = evbuffer_new();
	char *s;

	ck_assert_int_eq(auth_results_strip(hdr, strlen(hdr), "mx.test", out), 2);
	s = take(out);
	ck_assert_str_eq(s, "Received: from x\r\n"
	                    "Authentication-Results: mx.test.evil; spf=pass\r\n"
	                    "Authentication-Results: other.example; spf=fail\r\n"
	                    "Subject: hi\r\n");
	free(s);
	/* Nothing to remove: the block comes out unchanged. */
	ck_assert_int_eq(auth_results_strip(hdr, strlen(hdr), "elsewhere.test", out), 0);
	s = take(out);
	ck_assert_str_eq(s, hdr);
	free(s);
	evbuffer_free(out);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("auth_results");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_strip);
	tcase_add_test(tc, test_value);
	suite_add_tcase(s, tc);

	return unit_run(s);
}
