/*
 * Unit tests for proxy/smtp_cmd.c: verbs, MAIL/RCPT paths and parameters,
 * BDAT arguments, the error replies, and hostile input.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
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
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(len, strlen(expected));
	ck_assert(memcmp(p, expected, len) == 0);
}

START_TEST(test_verbs)
{
	static const char *const args[] = {"", " x", " ", "  two words"};
	struct smtp_cmd cmd;
	char line[64], spelled[3][16];

	for (int v = SMTP_UNKNOWN + 1; v < SMTP_VERB_COUNT; v++) {
		const char *name = smtp_verb_name((enum smtp_verb)v);
		size_t n = strlen(name);

		if (v == SMTP_MAIL || v == SMTP_RCPT)
			continue; /* they need a path: test_mail_rcpt */
		/* "EHLO", "ehlo", "eHlO" */
		for (size_t i = 0; i <= n; i++) {
			char lower =
			        (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);

			spelled[0][i] = name[i];
			spelled[1][i] = lower;
			spelled[2][i] = i % 2 ? name[i] : lower;
		}
		for (size_t a = 0; a < sizeof(args) / sizeof(args[0]); a++) {
			for (int s = 0; s < 3; s++) {
				snprintf(line, sizeof(line), "%s%s", spelled[s], args[a]);
				ck_assert_msg(parse(line, &cmd) == SMTP_CMD_OK, "%s", line);
				ck_assert_int_eq(cmd.verb, v);
				ck_assert_ptr_eq(cmd.verb_text, line);
				ck_assert_uint_eq(cmd.verb_len, n);
				ck_assert_ptr_null(cmd.path);
			}
		}
	}
	ck_assert_int_eq(parse("EHLO mail.example.org", &cmd), SMTP_CMD_OK);
	assert_span(cmd.args, cmd.args_len, "mail.example.org");
	ck_assert_int_eq(parse("NOOP  x ", &cmd), SMTP_CMD_OK);
	assert_span(cmd.args, cmd.args_len, " x ");
	ck_assert_int_eq(parse("DATA", &cmd), SMTP_CMD_OK);
	ck_assert_uint_eq(cmd.args_len, 0);
	ck_assert_ptr_eq(cmd.args, cmd.verb_text + 4);
}
END_TEST

START_TEST(test_verb_names)
{
	static const char *const names[SMTP_VERB_COUNT] = {
	        "UNKNOWN", "HELO", "EHLO", "MAIL", "RCPT",     "DATA", "BDAT",    "RSET",    "NOOP",
	        "QUIT",    "VRFY", "EXPN", "HELP", "STARTTLS", "AUTH", "XCLIENT", "XFORWARD"};

	for (int v = 0; v < SMTP_VERB_COUNT; v++)
		ck_assert_str_eq(smtp_verb_name((enum smtp_verb)v), names[v]);
	ck_assert_str_eq(smtp_verb_name(SMTP_VERB_COUNT), "UNKNOWN");
	ck_assert_str_eq(smtp_verb_name((enum smtp_verb) - 1), "UNKNOWN");
}
END_TEST

/* The verb ends at a space or the end of the line, nowhere else. */
START_TEST(test_unknown_verbs)
{
	static const char *const bad[] = {
	        "FOO bar", "MAILX FROM:<a@b>", "HEL",    "HELOO x",      "EHL",    "STARTTLSX",
	        "X",       "EHLO\tx",          "NOOP\r", " NOOP",        "\tQUIT", "QUIT\x7f",
	        "UNKNOWN", "MAIL:FROM:<a@b>",  "DATA.",  "\xc3\x89HLO x"};
	struct smtp_cmd cmd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(bad[i], &cmd) == SMTP_CMD_BAD_VERB, "%s", bad[i]);
		ck_assert_int_eq(cmd.verb, SMTP_UNKNOWN);
	}
	ck_assert_int_eq(parse("", &cmd), SMTP_CMD_EMPTY);
	ck_assert_int_eq(cmd.verb, SMTP_UNKNOWN);
}
END_TEST

START_TEST(test_nul)
{
	struct smtp_cmd cmd;

	ck_assert_int_eq(smtp_cmd_parse("NOOP \0x", 7, &cmd), SMTP_CMD_NUL);
	ck_assert_int_eq(cmd.verb, SMTP_NOOP);
	ck_assert_int_eq(smtp_cmd_parse("NOOP\0x", 6, &cmd), SMTP_CMD_NUL);
	ck_assert_int_eq(cmd.verb, SMTP_UNKNOWN);
	ck_assert_int_eq(smtp_cmd_parse("\0", 1, &cmd), SMTP_CMD_NUL);
	ck_assert_int_eq(smtp_cmd_parse("NO\0P", 5, &cmd), SMTP_CMD_NUL);
	ck_assert_int_eq(smtp_cmd_parse("MAIL FROM:<a\0b@x>", 17, &cmd), SMTP_CMD_NUL);
	ck_assert_int_eq(cmd.verb, SMTP_MAIL);
	ck_assert_int_eq(smtp_cmd_parse("RCPT TO:<a@b> X=\0", 17, &cmd), SMTP_CMD_NUL);
	ck_assert_int_eq(smtp_cmd_parse("QUIT\0", 5, &cmd), SMTP_CMD_NUL);
	/* The length is what counts, not a terminating NUL. */
	ck_assert_int_eq(smtp_cmd_parse("QUITxxx", 4, &cmd), SMTP_CMD_OK);
	ck_assert_int_eq(cmd.verb, SMTP_QUIT);
}
END_TEST

START_TEST(test_mail_rcpt)
{
	struct smtp_cmd cmd;

	ck_assert_int_eq(parse("MAIL FROM:<a@example.org> SIZE=10 BODY=8BITMIME", &cmd),
	                 SMTP_CMD_OK);
	ck_assert_int_eq(cmd.verb, SMTP_MAIL);
	assert_span(cmd.args, cmd.args_len, "FROM:<a@example.org> SIZE=10 BODY=8BITMIME");
	assert_span(cmd.path, cmd.path_len, "a@example.org");
	assert_span(cmd.params, cmd.params_len, "SIZE=10 BODY=8BITMIME");

	ck_assert_int_eq(parse("MAIL FROM:<>", &cmd), SMTP_CMD_OK);
	ck_assert_ptr_nonnull(cmd.path);
	ck_assert_uint_eq(cmd.path_len, 0);
	ck_assert_uint_eq(cmd.params_len, 0);

	ck_assert_int_eq(parse("mail from:<> body=7bit", &cmd), SMTP_CMD_OK);
	assert_span(cmd.params, cmd.params_len, "body=7bit");

	/* Tolerated spacing, as Postfix tolerates it. */
	ck_assert_int_eq(parse("MAIL FROM: <a@b>", &cmd), SMTP_CMD_OK);
	assert_span(cmd.path, cmd.path_len, "a@b");
	ck_assert_int_eq(parse("MAIL  FROM:  <a@b>  SIZE=1  ", &cmd), SMTP_CMD_OK);
	assert_span(cmd.path, cmd.path_len, "a@b");
	assert_span(cmd.params, cmd.params_len, "SIZE=1  ");
	ck_assert_int_eq(parse("MAIL FROM:<a@b>   ", &cmd), SMTP_CMD_OK);
	ck_assert_uint_eq(cmd.params_len, 0);

	ck_assert_int_eq(parse("RCPT TO:<a@b> NOTIFY=NEVER", &cmd), SMTP_CMD_OK);
	ck_assert_int_eq(cmd.verb, SMTP_RCPT);
	assert_span(cmd.path, cmd.path_len, "a@b");
	assert_span(cmd.params, cmd.params_len, "NOTIFY=NEVER");
	ck_assert_int_eq(parse("rcpt to:<postmaster>", &cmd), SMTP_CMD_OK);
	assert_span(cmd.path, cmd.path_len, "postmaster");
	ck_assert_int_eq(parse("RCPT TO:<@r1.test,@r2.test:u@d.test>", &cmd), SMTP_CMD_OK);
	assert_span(cmd.path, cmd.path_len, "@r1.test,@r2.test:u@d.test");
	ck_assert_int_eq(parse("RCPT TO:<u@d> ORCPT=rfc822;u+40d NOTIFY=SUCCESS,FAILURE", &cmd),
	                 SMTP_CMD_OK);
	/* SMTPUTF8 (RFC 6531): octets above 127 in the path and in values. */
	ck_assert_int_eq(parse("RCPT TO:<j\xc3\xb6rg@ex\xc3\xa4mple.test>", &cmd), SMTP_CMD_OK);
	assert_span(cmd.path, cmd.path_len, "j\xc3\xb6rg@ex\xc3\xa4mple.test");
	ck_assert_int_eq(parse("MAIL FROM:<a@b> SMTPUTF8 X=\xc3\xa4", &cmd), SMTP_CMD_OK);
}
END_TEST

/* A quoted local part may hold what would otherwise end or break the path. */
START_TEST(test_quoted)
{
	struct smtp_cmd cmd;

	ck_assert_int_eq(parse("RCPT TO:<\"a>b\"@x>", &cmd), SMTP_CMD_OK);
	assert_span(cmd.path, cmd.path_len, "\"a>b\"@x");
	ck_assert_uint_eq(cmd.params_len, 0);
	ck_assert_int_eq(parse("RCPT TO:<\"a>b\"@x> NOTIFY=NEVER", &cmd), SMTP_CMD_OK);
	assert_span(cmd.params, cmd.params_len, "NOTIFY=NEVER");
	ck_assert_int_eq(parse("RCPT TO:<\"a b<c\"@x>", &cmd), SMTP_CMD_OK);
	assert_span(cmd.path, cmd.path_len, "\"a b<c\"@x");
	ck_assert_int_eq(parse("RCPT TO:<\"a\\\"> x\"@x>", &cmd), SMTP_CMD_OK);
	assert_span(cmd.path, cmd.path_len, "\"a\\\"> x\"@x");
	ck_assert_int_eq(parse("RCPT TO:<\"a\\\\\"@x>", &cmd), SMTP_CMD_OK);
	assert_span(cmd.path, cmd.path_len, "\"a\\\\\"@x");
	ck_assert_int_eq(parse("MAIL FROM:<\"\"@x>", &cmd), SMTP_CMD_OK);
}
END_TEST

START_TEST(test_mail_rcpt_bad)
{
	static const char *const bad[] = {
	        /* brackets */
	        "MAIL FROM:a@b", "MAIL FROM:<a@b", "MAIL FROM:a@b>", "MAIL FROM:<<a@b>>",
	        "MAIL FROM:<a@b>>", "MAIL FROM:<a<b>", "MAIL FROM:<a@b>x", "MAIL FROM:<a@b><c@d>",
	        "MAIL FROM:<", "MAIL FROM:>", "MAIL FROM:<>>", "MAIL FROM:<a@b>\t",
	        /* keyword */
	        "MAIL", "MAIL ", "MAIL FROM", "MAIL FROM:", "MAIL FROM: ", "MAIL TO:<a@b>",
	        "MAIL FROM;<a@b>", "MAIL FROM <a@b>", "MAIL FROMX:<a@b>", "MAIL FRO:<a@b>",
	        "MAIL SENDER:<a@b>", "RCPT", "RCPT TO:", "RCPT FROM:<a@b>", "RCPT T:<a@b>",
	        /* the path itself */
	        "MAIL FROM:<a b@c>", "MAIL FROM:<a\\b@c>", "MAIL FROM:<a\\>", "MAIL FROM:<a@b\t>",
	        "MAIL FROM:<a@b\x01>", "MAIL FROM:<a@b\x7f>", "MAIL FROM:<a@b\x1b[0m>",
	        "RCPT TO:<\"a>@b", "RCPT TO:<\"a@b>", "RCPT TO:<\"a\\\"@b>", "RCPT TO:<\"a\\",
	        "RCPT TO:<\"a\x01\"@b>", "RCPT TO:<\"a\\\x01\"@b>", "RCPT TO:<\"a\t\"@b>",
	        /* parameters */
	        "MAIL FROM:<a@b> =x", "MAIL FROM:<a@b> SIZE=", "MAIL FROM:<a@b> SI_ZE=1",
	        "MAIL FROM:<a@b> -X", "MAIL FROM:<a@b> A==b", "MAIL FROM:<a@b> A=b=c",
	        "MAIL FROM:<a@b> A=\x01", "MAIL FROM:<a@b> A=b\x7f",
	        "RCPT TO:<a@b> NOTIFY=NEVER =", "RCPT TO:<a@b> \xc3\xa4=1", "RCPT TO:<a@b> A\t=1"};
	struct smtp_cmd cmd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum smtp_cmd_status st = parse(bad[i], &cmd);

		ck_assert_msg(st == SMTP_CMD_BAD_SYNTAX, "%s: %d", bad[i], st);
		ck_assert(cmd.verb == SMTP_MAIL || cmd.verb == SMTP_RCPT);
		ck_assert_str_eq(smtp_cmd_error_reply(st, cmd.verb),
		                 cmd.verb == SMTP_MAIL ? "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
		                                       : "501 5.5.4 Syntax: RCPT TO:<address>\r\n");
	}
}
END_TEST

/* Every octet inside a path: which ones a path may hold without quotes. */
START_TEST(test_path_octets)
{
	struct smtp_cmd cmd;
	char line[32];

	for (int c = 0; c < 256; c++) {
		int n = snprintf(line, sizeof(line), "MAIL FROM:<a%cb@x>", c == 0 ? '?' : c);

		line[12] = (char)c;

		enum smtp_cmd_status st = smtp_cmd_parse(line, (size_t)n, &cmd);
		enum smtp_cmd_status want = SMTP_CMD_OK;

		if (c == 0)
			want = SMTP_CMD_NUL;
		else if (c < 0x20 || c == 0x7f || c == ' ' || c == '<' || c == '>' || c == '\\' ||
		         c == '"')
			want = SMTP_CMD_BAD_SYNTAX;
		ck_assert_msg(st == want, "octet %d: %d", c, st);
		if (st == SMTP_CMD_OK)
			ck_assert_uint_eq(cmd.path_len, 5);
	}
}
END_TEST

START_TEST(test_error_replies)
{
	static const struct {
		enum smtp_cmd_status st;
		enum smtp_verb verb;
		const char *reply;
	} cases[] = {
	        {SMTP_CMD_BAD_VERB, SMTP_UNKNOWN, "500 5.5.2 Error: command not recognized\r\n"},
	        {SMTP_CMD_EMPTY, SMTP_UNKNOWN, "500 5.5.2 Error: bad syntax\r\n"},
	        {SMTP_CMD_NUL, SMTP_UNKNOWN, "500 5.5.2 Error: NUL character in command\r\n"},
	        {SMTP_CMD_NUL, SMTP_MAIL, "500 5.5.2 Error: NUL character in command\r\n"},
	        {SMTP_CMD_BAD_SYNTAX, SMTP_MAIL, "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"},
	        {SMTP_CMD_BAD_SYNTAX, SMTP_RCPT, "501 5.5.4 Syntax: RCPT TO:<address>\r\n"},
	        {SMTP_CMD_BAD_SYNTAX, SMTP_BDAT, "501 5.5.4 Syntax: BDAT count [LAST]\r\n"},
	        {SMTP_CMD_BAD_SYNTAX, SMTP_EHLO, "501 5.5.4 Error: bad syntax\r\n"},
	        {(enum smtp_cmd_status)99, SMTP_UNKNOWN,
	         "500 5.5.2 Error: command not recognized\r\n"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(smtp_cmd_error_reply(cases[i].st, cases[i].verb), cases[i].reply);
	ck_assert_ptr_null(smtp_cmd_error_reply(SMTP_CMD_OK, SMTP_MAIL));

	/* Every reply: a 5xx code, a matching 5.x.x enhanced code, one CRLF at the very end. */
	for (int st = SMTP_CMD_EMPTY; st <= SMTP_CMD_NUL; st++) {
		for (int v = 0; v < SMTP_VERB_COUNT; v++) {
			const char *r =
			        smtp_cmd_error_reply((enum smtp_cmd_status)st, (enum smtp_verb)v);
			size_t n = strlen(r);

			ck_assert(n > 12 && r[0] == '5' && r[3] == ' ' && r[4] == '5' &&
			          r[5] == '.');
			ck_assert_str_eq(r + n - 2, "\r\n");
			ck_assert_ptr_eq(strchr(r, '\r'), r + n - 2);
			ck_assert_ptr_eq(strchr(r, '\n'), r + n - 1);
		}
	}
}
END_TEST

START_TEST(test_params)
{
	const char *p = "SIZE=100  BODY=8BITMIME SMTPUTF8 X-1=\xc3\xa4 =x";
	const char *end = p + strlen(p);
	struct smtp_param param;

	ck_assert_int_eq(smtp_param_next(&p, end, &param), 1);
	assert_span(param.key, param.key_len, "SIZE");
	assert_span(param.value, param.value_len, "100");
	ck_assert_int_eq(smtp_param_next(&p, end, &param), 1);
	assert_span(param.key, param.key_len, "BODY");
	assert_span(param.value, param.value_len, "8BITMIME");
	ck_assert_int_eq(smtp_param_next(&p, end, &param), 1);
	assert_span(param.key, param.key_len, "SMTPUTF8");
	ck_assert_ptr_null(param.value);
	ck_assert_uint_eq(param.value_len, 0);
	ck_assert_int_eq(smtp_param_next(&p, end, &param), 1);
	assert_span(param.key, param.key_len, "X-1");
	ck_assert_int_eq(smtp_param_next(&p, end, &param), -1);
	ck_assert_int_eq(smtp_param_next(&p, end, &param), 0);
	ck_assert_ptr_eq(p, end);
	ck_assert_int_eq(smtp_param_next(&p, end, &param), 0);

	/* Nothing, or only spaces: the end at once. */
	p = "   ";
	end = p + 3;
	ck_assert_int_eq(smtp_param_next(&p, end, &param), 0);
	ck_assert_ptr_eq(p, end);
	ck_assert_int_eq(smtp_param_next(&p, p, &param), 0);

	static const char *const bad[] = {"=",     "=1",    "A=",   "-A",    "A_B",
	                                  "A=B=C", "A.B=1", "A=\t", "\x80=1"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = bad[i];
		ck_assert_msg(smtp_param_next(&p, p + strlen(p), &param) == -1, "%s", bad[i]);
	}
}
END_TEST

static int
bdat(const char *line, size_t *size, int *last)
{
	struct smtp_cmd cmd;

	ck_assert_int_eq(parse(line, &cmd), SMTP_CMD_OK);
	ck_assert_int_eq(cmd.verb, SMTP_BDAT);
	return smtp_bdat_parse(&cmd, size, last);
}

START_TEST(test_bdat)
{
	size_t size = 7;
	int last = 7;
	char line[64];

	ck_assert_int_eq(bdat("BDAT 1234", &size, &last), 0);
	ck_assert_uint_eq(size, 1234);
	ck_assert_int_eq(last, 0);
	ck_assert_int_eq(bdat("bdat 0 last", &size, &last), 0);
	ck_assert_uint_eq(size, 0);
	ck_assert_int_eq(last, 1);
	ck_assert_int_eq(bdat("BDAT  007  LaSt  ", &size, &last), 0);
	ck_assert_uint_eq(size, 7);
	ck_assert_int_eq(last, 1);
	ck_assert_int_eq(bdat("BDAT 5 ", &size, &last), 0);
	ck_assert_int_eq(last, 0);

	/* The largest size_t, and one more. */
	snprintf(line, sizeof(line), "BDAT %zu LAST", SIZE_MAX);
	ck_assert_int_eq(bdat(line, &size, &last), 0);
	ck_assert_uint_eq(size, SIZE_MAX);
	snprintf(line, sizeof(line), "BDAT %zu1", SIZE_MAX / 10);
	ck_assert_int_eq(bdat(line, &size, &last), SIZE_MAX % 10 >= 1 ? 0 : -1);
	snprintf(line, sizeof(line), "BDAT %zu%zu", SIZE_MAX / 10, SIZE_MAX % 10 + 1);
	ck_assert_int_eq(bdat(line, &size, &last), -1);
	snprintf(line, sizeof(line), "BDAT %zu0", SIZE_MAX);
	ck_assert_int_eq(bdat(line, &size, &last), -1);

	static const char *const bad[] = {"BDAT",
	                                  "BDAT ",
	                                  "BDAT x",
	                                  "BDAT 10x",
	                                  "BDAT 10 LASTX",
	                                  "BDAT 10 LAST x",
	                                  "BDAT -1",
	                                  "BDAT +1",
	                                  "BDAT 0x10",
	                                  "BDAT 10\tLAST",
	                                  "BDAT 1 2",
	                                  "BDAT LAST",
	                                  "BDAT 1 LAS",
	                                  "BDAT 1 LAST LAST",
	                                  "BDAT 99999999999999999999999999999999"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size = 42;
		last = 42;
		ck_assert_msg(bdat(bad[i], &size, &last) == -1, "%s", bad[i]);
		/* Nothing is written on failure. */
		ck_assert_uint_eq(size, 42);
		ck_assert_int_eq(last, 42);
	}
}
END_TEST

/* Every pointer the parser returns lies inside the line it was given. */
static void
assert_inside(const char *line, size_t len, const struct smtp_cmd *cmd)
{
	const char *end = line + len;

	if (cmd->verb_text != NULL)
		ck_assert(cmd->verb_text >= line && cmd->verb_text + cmd->verb_len <= end);
	if (cmd->args != NULL)
		ck_assert(cmd->args >= line && cmd->args + cmd->args_len <= end);
	if (cmd->path != NULL)
		ck_assert(cmd->path >= line && cmd->path + cmd->path_len <= end);
	if (cmd->params != NULL)
		ck_assert(cmd->params >= line && cmd->params + cmd->params_len <= end);
}

START_TEST(test_long_lines)
{
	size_t len = 100000;
	char *line = malloc(len + 16);
	struct smtp_cmd cmd;

	ck_assert_ptr_nonnull(line);
	memset(line, 'A', len);
	ck_assert_int_eq(smtp_cmd_parse(line, len, &cmd), SMTP_CMD_BAD_VERB);
	ck_assert_uint_eq(cmd.verb_len, len);

	/* A huge path, complete and then cut short. */
	memcpy(line, "MAIL FROM:<", 11);
	memcpy(line + len, ">", 1);
	ck_assert_int_eq(smtp_cmd_parse(line, len + 1, &cmd), SMTP_CMD_OK);
	ck_assert_uint_eq(cmd.path_len, len - 11);
	assert_inside(line, len + 1, &cmd);
	ck_assert_int_eq(smtp_cmd_parse(line, len, &cmd), SMTP_CMD_BAD_SYNTAX);

	/* A huge quoted local part that never closes. */
	line[11] = '"';
	memcpy(line + len, "\"@x>", 4);
	ck_assert_int_eq(smtp_cmd_parse(line, len + 4, &cmd), SMTP_CMD_OK);
	ck_assert_int_eq(smtp_cmd_parse(line, len + 3, &cmd), SMTP_CMD_BAD_SYNTAX);
	ck_assert_int_eq(smtp_cmd_parse(line, len, &cmd), SMTP_CMD_BAD_SYNTAX);

	/* Many parameters. */
	size_t n = 13;

	memcpy(line, "RCPT TO:<a@b>", n);
	for (; n + 4 <= len; n += 4)
		memcpy(line + n, " X=1", 4);
	ck_assert_int_eq(smtp_cmd_parse(line, n, &cmd), SMTP_CMD_OK);
	ck_assert_uint_eq(cmd.params_len, n - 14);
	assert_inside(line, n, &cmd);
	free(line);
}
END_TEST

START_TEST(test_random)
{
	static const char *const prefixes[] = {"",      "MAIL FROM:<", "RCPT TO:<",
	                                       "BDAT ", "RCPT TO:<\"", "MAIL FROM:<a@b> "};
	static const char alphabet[] = "<>\"\\ =:@aZ09-\x01\x7f\x80\xff\0";
	struct smtp_cmd cmd;
	unsigned seed = 1;
	char line[80];

	for (int round = 0; round < 50000; round++) {
		const char *prefix = prefixes[round % 6];
		size_t plen = strlen(prefix);
		size_t len = plen + (size_t)(rand_r(&seed) % (sizeof(line) - plen));

		memcpy(line, prefix, plen);
		for (size_t i = plen; i < len; i++)
			line[i] = round % 2 ? (char)(rand_r(&seed) % 256)
			                    : alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];

		enum smtp_cmd_status st = smtp_cmd_parse(line, len, &cmd);

		assert_inside(line, len, &cmd);
		if (st != SMTP_CMD_OK) {
			ck_assert_ptr_nonnull(smtp_cmd_error_reply(st, cmd.verb));
			continue;
		}
		if (cmd.verb == SMTP_MAIL || cmd.verb == SMTP_RCPT) {
			/* What was accepted walks cleanly to the end. */
			const char *p = cmd.params, *end = cmd.params + cmd.params_len;
			struct smtp_param param;
			int more;

			while ((more = smtp_param_next(&p, end, &param)) == 1)
				ck_assert(param.key >= cmd.params &&
				          param.key + param.key_len <= end);
			ck_assert_int_eq(more, 0);
			for (size_t i = 0; i < cmd.path_len; i++)
				ck_assert((unsigned char)cmd.path[i] >= 0x20 &&
				          cmd.path[i] != 0x7f);
		}
		if (cmd.verb == SMTP_BDAT) {
			size_t size;
			int last;

			smtp_bdat_parse(&cmd, &size, &last);
		}
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("smtp_cmd");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_verbs);
	tcase_add_test(tc, test_verb_names);
	tcase_add_test(tc, test_unknown_verbs);
	tcase_add_test(tc, test_nul);
	tcase_add_test(tc, test_mail_rcpt);
	tcase_add_test(tc, test_quoted);
	tcase_add_test(tc, test_mail_rcpt_bad);
	tcase_add_test(tc, test_path_octets);
	tcase_add_test(tc, test_error_replies);
	tcase_add_test(tc, test_params);
	tcase_add_test(tc, test_bdat);
	tcase_add_test(tc, test_long_lines);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);

	return unit_run(s);
}
