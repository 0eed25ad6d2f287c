/*
 * Unit tests for proxy/caps.c (the backend's EHLO, postern's own EHLO) and
 * proxy/xclient.c (XCLIENT/XFORWARD lines, xtext).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "proxy/caps.h"
#include "proxy/xclient.h"

static char *
take(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

static void
parse(struct smtp_caps *caps, const char *line)
{
	caps_parse_line(caps, line, strlen(line));
}

START_TEST(test_parse_postfix)
{
	struct smtp_caps caps = {0};

	parse(&caps, "PIPELINING");
	parse(&caps, "SIZE 10240000");
	parse(&caps, "VRFY");
	parse(&caps, "ETRN");
	parse(&caps, "enhancedstatuscodes");
	parse(&caps, "8BITMIME");
	parse(&caps, "DSN");
	parse(&caps, "SMTPUTF8");
	parse(&caps, "CHUNKING");
	parse(&caps, "XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT");
	parse(&caps, "AUTH=LOGIN");
	ck_assert_uint_eq(caps.flags, CAP_PIPELINING | CAP_SIZE | CAP_ENHANCEDSTATUSCODES |
	                                      CAP_8BITMIME | CAP_DSN | CAP_SMTPUTF8 | CAP_CHUNKING |
	                                      CAP_XCLIENT | CAP_AUTH);
	ck_assert_uint_eq(caps.size, 10240000);
	ck_assert_uint_eq(caps.xclient_attrs,
	                  XATTR_NAME | XATTR_ADDR | XATTR_PROTO | XATTR_HELO | XATTR_REVERSE_NAME |
	                          XATTR_PORT | XATTR_LOGIN | XATTR_DESTADDR | XATTR_DESTPORT);
	parse(&caps, "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT");
	ck_assert_uint_eq(caps.xforward_attrs, XATTR_NAME | XATTR_ADDR | XATTR_PROTO | XATTR_HELO |
	                                               XATTR_SOURCE | XATTR_PORT | XATTR_IDENT);
}
END_TEST

START_TEST(test_front_ehlo)
{
	struct smtp_caps backend = {.flags = CAP_8BITMIME | CAP_SMTPUTF8 | CAP_DSN | CAP_SIZE |
	                                     CAP_STARTTLS | CAP_AUTH | CAP_XCLIENT,
	                            .size = 1000};
	struct evbuffer *out = evbuffer_new();
	char *s;

	caps_front_ehlo(&backend, 5000, "mx.test", out);
	s = take(out);
	ck_assert_str_eq(s, "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n"
	                    "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250-DSN\r\n"
	                    "250 CHUNKING\r\n");
	free(s);
	/* A backend with nothing: what postern does itself, and its own limit. */
	struct smtp_caps none = {0};

	caps_front_ehlo(&none, 5000, "mx.test", out);
	s = take(out);
	ck_assert_str_eq(s, "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 5000\r\n"
	                    "250-ENHANCEDSTATUSCODES\r\n250 CHUNKING\r\n");
	free(s);
	/* No limit on either side: no SIZE. */
	caps_front_ehlo(&none, 0, "mx.test", out);
	s = take(out);
	ck_assert_ptr_null(strstr(s, "SIZE"));
	free(s);
	evbuffer_free(out);
}
END_TEST

START_TEST(test_xclient)
{
	struct evbuffer *out = evbuffer_new();
	struct client_identity c = {
	        .addr = "192.0.2.1", .port = 4321, .helo = "bad helo=+x", .esmtp = 1};
	char *s;

	ck_assert_int_eq(xclient_build(out, "XCLIENT",
	                               XATTR_NAME | XATTR_ADDR | XATTR_PORT | XATTR_PROTO |
	                                       XATTR_HELO | XATTR_LOGIN,
	                               &c),
	                 1);
	s = take(out);
	ck_assert_str_eq(s, "XCLIENT NAME=[UNAVAILABLE] ADDR=192.0.2.1 PORT=4321 PROTO=ESMTP "
	                    "HELO=bad+20helo+3D+2Bx\r\n");
	free(s);
	c.addr = "2001:db8::1";
	c.esmtp = 0;
	xclient_build(out, "XFORWARD", XATTR_ADDR | XATTR_PROTO | XATTR_SOURCE, &c);
	s = take(out);
	ck_assert_str_eq(s, "XFORWARD ADDR=IPV6:2001:db8::1 PROTO=SMTP SOURCE=REMOTE\r\n");
	free(s);
	evbuffer_free(out);
}
END_TEST

START_TEST(test_xclient_long)
{
	struct evbuffer *out = evbuffer_new();
	char helo[400];
	struct client_identity c = {.addr = "192.0.2.1", .port = 1, .helo = helo, .esmtp = 1};

	memset(helo, '=', 160); /* 3 octets each, encoded */
	helo[160] = '\0';
	int lines = xclient_build(out, "XCLIENT", XATTR_ADDR | XATTR_HELO | XATTR_PORT, &c);
	char *s = take(out);

	ck_assert_int_eq(lines, 2);
	ck_assert_ptr_nonnull(strstr(s, "\r\nXCLIENT HELO=+3D+3D"));
	free(s);
	/* Too long for any line: left out. */
	memset(helo, '=', sizeof(helo) - 1);
	helo[sizeof(helo) - 1] = '\0';
	ck_assert_int_eq(xclient_build(out, "XCLIENT", XATTR_ADDR | XATTR_HELO, &c), 1);
	s = take(out);
	ck_assert_ptr_null(strstr(s, "HELO="));
	for (char *line = s, *end; (end = strstr(line, "\r\n")) != NULL; line = end + 2) {
		ck_assert_uint_le((size_t)(end - line) + 2, 512);
		ck_assert(strncmp(line, "XCLIENT ", 8) == 0);
	}
	free(s);
	evbuffer_free(out);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("caps_xclient");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_parse_postfix);
	tcase_add_test(tc, test_front_ehlo);
	tcase_add_test(tc, test_xclient);
	tcase_add_test(tc, test_xclient_long);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);

	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);

	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
