/*
 * Unit tests for filters/from_header.c: the domain of a From field, for DMARC
 * (RFC 7489 6.6.1) and for choosing a DKIM signing key.
 */
#include <check.h>
#include <string.h>

#include "filters/from_header.h"
#include "tests/unit/unit.h"

static const char *
domain_of(const char *value, const char **why)
{
	static char domain[256];

	*why = NULL;
	if (from_header_domain(value, strlen(value), domain, sizeof(domain), why) < 0)
		return NULL;
	return domain;
}

START_TEST(test_one_domain)
{
	const char *why;

	ck_assert_str_eq(domain_of(" alice@Example.ORG\r\n", &why), "example.org");
	ck_assert_str_eq(domain_of(" Alice <alice@example.org>\r\n", &why), "example.org");
	ck_assert_str_eq(domain_of(" \"Doe, Alice\" <alice@example.org> (work, mostly)\r\n", &why),
	                 "example.org");
	ck_assert_str_eq(domain_of(" Alice\r\n\t<alice@example.org>\r\n", &why), "example.org");
	/* Several addresses of one domain count as one. */
	ck_assert_str_eq(domain_of(" a@example.org, B <b@EXAMPLE.org>\r\n", &why), "example.org");
}
END_TEST

START_TEST(test_refused)
{
	const char *why;

	ck_assert_ptr_null(domain_of(" a@example.org, b@example.net\r\n", &why));
	ck_assert_str_eq(why, "several From addresses");
	ck_assert_ptr_null(domain_of(" \r\n", &why));
	ck_assert_str_eq(why, "an empty From field");
	ck_assert_ptr_null(domain_of(" undisclosed\r\n", &why));
	ck_assert_str_eq(why, "a From address without a domain");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("from_header");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_one_domain);
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
