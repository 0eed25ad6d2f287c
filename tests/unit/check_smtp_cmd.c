/*
 * Unit tests for proxy/smtp_cmd.c: verbs, MAIL/RCPT paths and parameters,
 * BDAT arguments, and hostile input.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/smtp_cmd.h"
#include "tests/unit/unit.h"

static enum smtp_cmd_status
parse(const char *line, struct smtp_cmd *cmd)
{
	return smtp_cmd_parse(line, strlen(line), cmd);
}

static void
assert_span(const char *p, size_t len, const char *expected)
{
	ck_assert_uint_eq(len, strlen(expected));
	ck_assert(memcmp(p, expected, len) == 0);
}

START_TEST(test_verbs)
{
	static const struct {
		const char *line;
		enum smtp_verb verb;
	} cases[] = {
	        {"HELO x", SMTP_HELO},
	        {"ehlo x", SMTP_EHLO},
	        {"DATA", SMTP_DATA},
	        {"BDAT 1", SMTP_BDAT},
	        {"rset", SMTP_RSET},
	        {"NOOP", SMTP_NOOP},
	        {"NOOP arg", SMTP_NOOP},
	        {"QuIt", SMTP_QUIT},
	        {"VRFY u", SMTP_VRFY},
	        {"EXPN l", SMTP_EXPN},
	        {"HELP", SMTP_HELP},
	        {"STARTTLS", SMTP_STARTTLS},
	        {"AUTH PLAIN", SMTP_AUTH},
	        {"XCLIENT A=1", SMTP_XCLIENT},
	        {"XFORWARD A=1", SMTP_XFORWARD},
	};
	struct smtp_cmd cmd;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(parse(cases[i].line, &cmd), SMTP_CMD_OK);
		ck_assert_int_eq(cmd.verb, cases[i].verb);
	}
	ck_assert_int_eq(parse("EHLO mail.example.org", &cmd), SMTP_CMD_OK);
	assert_span(cmd.args, cmd.args_len, "mail.example.org");
	ck_assert_str_eq(smtp_verb_name(SMTP_STARTTLS), "STARTTLS");
}
END_TEST

START_TEST(test_unknown_and_empty)
{
	struct smtp_cmd cmd;

	ck_assert_int_eq(parse("FOO bar", &cmd), SMTP_CMD_BAD_VERB);
	ck_assert_int_eq(parse("MAILX FROM:<a@b>", &cmd), SMTP_CMD_BAD_VERB);
	ck_assert_int_eq(parse("HEL", &cmd), SMTP_CMD_BAD_VERB);
	ck_assert_int_eq(parse("", &cmd), SMTP_CMD_EMPTY);
	ck_assert_int_eq(smtp_cmd_parse("NOOP\0x", 6, &cmd), SMTP_CMD_NUL);
	ck_assert_str_eq(smtp_cmd_error_reply(SMTP_CMD_BAD_VERB, SMTP_UNKNOWN),
	                 "500 5.5.2 Error: command not recognized\r\n");
	ck_assert_str_eq(smtp_cmd_error_reply(SMTP_CMD_NUL, SMTP_UNKNOWN),
	                 "500 5.5.2 Error: NUL character in command\r\n");
}
END_TEST

START_TEST(test_mail_rcpt)
{
	struct smtp_cmd cmd;

	ck_assert_int_eq(parse("MAIL FROM:<a@example.org> SIZE=10 BODY=8BITMIME", &cmd),
	                 SMTP_CMD_OK);
	ck_assert_int_eq(cmd.verb, SMTP_MAIL);
	assert_span(cmd.path, cmd.path_len, "a@example.org");
	assert_span(cmd.params, cmd.params_len, "SIZE=10 BODY=8BITMIME");

	ck_assert_int_eq(parse("mail from:<>", &cmd), SMTP_CMD_OK);
	ck_assert_uint_eq(cmd.path_len, 0);
	ck_assert_uint_eq(cmd.params_len, 0);

	ck_assert_int_eq(parse("MAIL FROM: <a@b>", &cmd), SMTP_CMD_OK);
	assert_span(cmd.path, cmd.path_len, "a@b");

	ck_assert_int_eq(parse("RCPT TO:<\"a>b\"@x> NOTIFY=NEVER", &cmd), SMTP_CMD_OK);
	assert_span(cmd.path, cmd.path_len, "\"a>b\"@x");
	assert_span(cmd.params, cmd.params_len, "NOTIFY=NEVER");

	ck_assert_int_eq(parse("RCPT TO:<j\xc3\xb6rg@ex\xc3\xa4mple.test>", &cmd), SMTP_CMD_OK);
}
END_TEST

START_TEST(test_mail_rcpt_bad)
{
	static const char *const bad[] = {
	        "MAIL FROM:a@b", "MAIL FROM:<a@b",  "MAIL TO:<a@b>",
	        "MAIL",          "MAIL FROM:<a<b>", "MAIL FROM:<a@b>x",
	        "RCPT TO:",      "RCPT TO:<\"a>@b", "RCPT FROM:<a@b>",
	};
	struct smtp_cmd cmd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(parse(bad[i], &cmd), SMTP_CMD_BAD_SYNTAX);
	parse("MAIL FROM:a@b", &cmd);
	ck_assert_str_eq(smtp_cmd_error_reply(SMTP_CMD_BAD_SYNTAX, cmd.verb),
	                 "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
	parse("RCPT TO:", &cmd);
	ck_assert_str_eq(smtp_cmd_error_reply(SMTP_CMD_BAD_SYNTAX, cmd.verb),
	                 "501 5.5.4 Syntax: RCPT TO:<address>\r\n");
}
END_TEST

START_TEST(test_params)
{
	const char *p = "SIZE=100  BODY=8BITMIME SMTPUTF8 =x";
	const char *end = p + strlen(p);
	struct smtp_param param;

	ck_assert_int_eq(smtp_param_next(&p, end, &param), 1);
	assert_span(param.key, param.key_len, "SIZE");
	assert_span(param.value, param.value_len, "100");
	ck_assert_int_eq(smtp_param_next(&p, end, &param), 1);
	assert_span(param.key, param.key_len, "BODY");
	ck_assert_int_eq(smtp_param_next(&p, end, &param), 1);
	assert_span(param.key, param.key_len, "SMTPUTF8");
	ck_assert_ptr_null(param.value);
	ck_assert_int_eq(smtp_param_next(&p, end, &param), -1);
	ck_assert_int_eq(smtp_param_next(&p, end, &param), 0);
}
END_TEST

START_TEST(test_bdat)
{
	struct smtp_cmd cmd;
	size_t size;
	int last;

	parse("BDAT 1234", &cmd);
	ck_assert_int_eq(smtp_bdat_parse(&cmd, &size, &last), 0);
	ck_assert_uint_eq(size, 1234);
	ck_assert_int_eq(last, 0);
	parse("BDAT 0 last", &cmd);
	ck_assert_int_eq(smtp_bdat_parse(&cmd, &size, &last), 0);
	ck_assert_uint_eq(size, 0);
	ck_assert_int_eq(last, 1);
	static const char *const bad[] = {"BDAT",
	                                  "BDAT x",
	                                  "BDAT 10x",
	                                  "BDAT 10 LASTX",
	                                  "BDAT 10 LAST x",
	                                  "BDAT -1",
	                                  "BDAT 99999999999999999999999"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse(bad[i], &cmd);
		ck_assert_int_eq(smtp_bdat_parse(&cmd, &size, &last), -1);
	}
}
END_TEST

START_TEST(test_hostile)
{
	struct smtp_cmd cmd;
	char *line = malloc(100000);
	unsigned seed = 1;

	/* Long and random lines: the parser must return something sane, never overrun. */
	memset(line, 'A', 99999);
	line[99999] = '\0';
	ck_assert_int_eq(parse(line, &cmd), SMTP_CMD_BAD_VERB);
	memcpy(line, "MAIL FROM:<", 11);
	ck_assert_int_eq(parse(line, &cmd), SMTP_CMD_BAD_SYNTAX);
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(rand_r(&seed) % 64);

		for (size_t i = 0; i < len; i++)
			line[i] = (char)(rand_r(&seed) % 256);
		if (round % 2)
			memcpy(line, "RCPT TO:<", len < 9 ? len : 9);
		enum smtp_cmd_status st = smtp_cmd_parse(line, len, &cmd);

		if (st == SMTP_CMD_OK && cmd.path != NULL) {
			ck_assert(cmd.path >= line && cmd.path + cmd.path_len <= line + len);
			ck_assert(cmd.params >= line && cmd.params + cmd.params_len <= line + len);
		}
		ck_assert_ptr_nonnull(smtp_cmd_error_reply(st, cmd.verb));
	}
	free(line);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("smtp_cmd");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_verbs);
	tcase_add_test(tc, test_unknown_and_empty);
	tcase_add_test(tc, test_mail_rcpt);
	tcase_add_test(tc, test_mail_rcpt_bad);
	tcase_add_test(tc, test_params);
	tcase_add_test(tc, test_bdat);
	tcase_add_test(tc, test_hostile);
	suite_add_tcase(s, tc);

	return unit_run(s);
}
