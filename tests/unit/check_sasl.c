/*
 * Unit tests for proxy/sasl.c: the user name from PLAIN's and LOGIN's first
 * response, and nothing from anything else.
 */
#include <string.h>

#include "proxy/sasl.h"
#include "tests/unit/unit.h"

static int
user_of(const char *mech, const char *response, char *user, size_t size)
{
	return sasl_user(mech, response, strlen(response), user, size);
}

START_TEST(test_plain)
{
	char user[64];

	/* "\0alice\0secret" */
	ck_assert_int_eq(user_of("PLAIN", "AGFsaWNlAHNlY3JldA==", user, sizeof(user)), 0);
	ck_assert_str_eq(user, "alice");
	/* "admin\0bob\0pw": the authcid, not the authzid */
	ck_assert_int_eq(user_of("plain", "YWRtaW4AYm9iAHB3", user, sizeof(user)), 0);
	ck_assert_str_eq(user, "bob");
	/* "alice\0secret": one NUL only */
	ck_assert_int_eq(user_of("PLAIN", "YWxpY2UAc2VjcmV0", user, sizeof(user)), -1);
	/* "\0\0pw": an empty authcid */
	ck_assert_int_eq(user_of("PLAIN", "AABwdw==", user, sizeof(user)), -1);
	/* "\0al ice\0pw": not printable without spaces */
	ck_assert_int_eq(user_of("PLAIN", "AGFsIGljZQBwdw==", user, sizeof(user)), -1);
	/* Not base64, the empty response "=", wrong length */
	ck_assert_int_eq(user_of("PLAIN", "!!!!", user, sizeof(user)), -1);
	ck_assert_int_eq(user_of("PLAIN", "=", user, sizeof(user)), -1);
	ck_assert_int_eq(user_of("PLAIN", "AGFsaWNlAHNlY3JldA=", user, sizeof(user)), -1);
	/* Too long for the buffer */
	ck_assert_int_eq(user_of("PLAIN", "AGFsaWNlAHNlY3JldA==", user, 5), -1);
}
END_TEST

START_TEST(test_login_and_others)
{
	char user[64];

	ck_assert_int_eq(user_of("LOGIN", "YWxpY2U=", user, sizeof(user)), 0);
	ck_assert_str_eq(user, "alice");
	ck_assert_int_eq(user_of("LOGIN", "", user, sizeof(user)), -1);
	ck_assert_int_eq(user_of("CRAM-MD5", "YWxpY2U=", user, sizeof(user)), -1);
	ck_assert_int_eq(user_of("XOAUTH2", "YWxpY2U=", user, sizeof(user)), -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sasl");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_login_and_others);
	suite_add_tcase(s, tc);

	return unit_run(s);
}
