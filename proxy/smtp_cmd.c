/*
 * NAME
 *	smtp_cmd - parse one SMTP command line (RFC 5321 section 4.1)
 * SYNOPSIS
 *	See smtp_cmd.h.
 * DESCRIPTION
 *	Everything is ASCII: no <ctype.h> and no strcasecmp, whose answers
 *	depend on the locale. The path check is strict where a lenient one would
 *	let postern and the backend read a different address from the same
 *	line: a backslash outside quotes, which some parsers take as an escape
 *	and RFC 5321 does not allow, is refused rather than guessed at.
 */
#include <stdint.h>
#include <string.h>

#include "proxy/smtp_cmd.h"

static const char *const verb_names[SMTP_VERB_COUNT] = {
        [SMTP_UNKNOWN] = "UNKNOWN", [SMTP_HELO] = "HELO",         [SMTP_EHLO] = "EHLO",
        [SMTP_MAIL] = "MAIL",       [SMTP_RCPT] = "RCPT",         [SMTP_DATA] = "DATA",
        [SMTP_BDAT] = "BDAT",       [SMTP_RSET] = "RSET",         [SMTP_NOOP] = "NOOP",
        [SMTP_QUIT] = "QUIT",       [SMTP_VRFY] = "VRFY",         [SMTP_EXPN] = "EXPN",
        [SMTP_HELP] = "HELP",       [SMTP_STARTTLS] = "STARTTLS", [SMTP_AUTH] = "AUTH",
        [SMTP_XCLIENT] = "XCLIENT", [SMTP_XFORWARD] = "XFORWARD",
};

static int
is_ctl(char c)
{
	return (unsigned char)c < 0x20 || c == 0x7f;
}

static int
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char
ascii_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Does p[0..len) spell upper, an upper-case word, in any case? */
static int
word_is(const char *p, size_t len, const char *upper)
{
	size_t i;

	for (i = 0; i < len && upper[i] != '\0'; i++)
		if (ascii_upper(p[i]) != upper[i])
			return 0;
	return i == len && upper[i] == '\0';
}

static const char *
skip_spaces(const char *p, const char *end)
{
	while (p < end && *p == ' ')
		p++;
	return p;
}

const char *
smtp_verb_name(enum smtp_verb verb)
{
	return verb > SMTP_UNKNOWN && verb < SMTP_VERB_COUNT ? verb_names[verb]
	                                                     : verb_names[SMTP_UNKNOWN];
}

/*
 * The closing '>' of a path whose text starts at p, or NULL when the path is
 * not well formed (see smtp_cmd.h). Inside quotes a backslash escapes the
 * next octet and '<', '>' and spaces are the local part's.
 */
static const char *
path_end(const char *p, const char *end)
{
	int quoted = 0;

	for (; p < end; p++) {
		if (is_ctl(*p))
			return NULL;
		if (quoted) {
			if (*p == '"')
				quoted = 0;
			else if (*p == '\\' && (++p == end || is_ctl(*p)))
				return NULL;
		} else if (*p == '>') {
			return p;
		} else if (*p == '"') {
			quoted = 1;
		} else if (*p == '<' || *p == ' ' || *p == '\\') {
			return NULL;
		}
	}
	return NULL;
}

/* MAIL and RCPT: "FROM:<path> params" or "TO:<path> params". */
static enum smtp_cmd_status
parse_path(struct smtp_cmd *cmd, const char *keyword)
{
	const char *end = cmd->args + cmd->args_len;
	const char *p = skip_spaces(cmd->args, end);
	size_t klen = strlen(keyword);
	struct smtp_param param;
	int more;

	if ((size_t)(end - p) < klen || !word_is(p, klen, keyword))
		return SMTP_CMD_BAD_SYNTAX;
	p = skip_spaces(p + klen, end);
	if (p == end || *p != '<')
		return SMTP_CMD_BAD_SYNTAX;

	const char *close = path_end(p + 1, end);

	if (close == NULL)
		return SMTP_CMD_BAD_SYNTAX;
	cmd->path = p + 1;
	cmd->path_len = (size_t)(close - cmd->path);
	p = close + 1;
	if (p < end && *p != ' ')
		return SMTP_CMD_BAD_SYNTAX;
	p = skip_spaces(p, end);
	cmd->params = p;
	cmd->params_len = (size_t)(end - p);
	while ((more = smtp_param_next(&p, end, &param)) == 1)
		continue;
	return more == 0 ? SMTP_CMD_OK : SMTP_CMD_BAD_SYNTAX;
}

enum smtp_cmd_status
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->verb = SMTP_UNKNOWN;
	if (len == 0)
		return SMTP_CMD_EMPTY;

	const char *space = memchr(line, ' ', len);
	size_t vlen = space != NULL ? (size_t)(space - line) : len;

	cmd->verb_text = line;
	cmd->verb_len = vlen;
	cmd->args = space != NULL ? space + 1 : line + len;
	cmd->args_len = space != NULL ? len - vlen - 1 : 0;
	for (int v = SMTP_UNKNOWN + 1; v < SMTP_VERB_COUNT; v++) {
		if (word_is(line, vlen, verb_names[v])) {
			cmd->verb = (enum smtp_verb)v;
			break;
		}
	}
	/* Checked for the whole line: a NUL would cut it short for a C-string reader. */
	if (memchr(line, '\0', len) != NULL)
		return SMTP_CMD_NUL;
	switch (cmd->verb) {
	case SMTP_UNKNOWN:
		return SMTP_CMD_BAD_VERB;
	case SMTP_MAIL:
		return parse_path(cmd, "FROM:");
	case SMTP_RCPT:
		return parse_path(cmd, "TO:");
	default:
		return SMTP_CMD_OK;
	}
}

const char *
smtp_cmd_error_reply(enum smtp_cmd_status status, enum smtp_verb verb)
{
	switch (status) {
	case SMTP_CMD_OK:
		return NULL;
	case SMTP_CMD_EMPTY:
		return "500 5.5.2 Error: bad syntax\r\n";
	case SMTP_CMD_NUL:
		return "500 5.5.2 Error: NUL character in command\r\n";
	case SMTP_CMD_BAD_SYNTAX:
		if (verb == SMTP_MAIL)
			return "501 5.5.4 Syntax: MAIL FROM:<address>\r\n";
		if (verb == SMTP_RCPT)
			return "501 5.5.4 Syntax: RCPT TO:<address>\r\n";
		if (verb == SMTP_BDAT)
			return "501 5.5.4 Syntax: BDAT count [LAST]\r\n";
		return "501 5.5.4 Error: bad syntax\r\n";
	case SMTP_CMD_BAD_VERB:
		break;
	}
	return "500 5.5.2 Error: command not recognized\r\n";
}

/* An esmtp-keyword: (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"). */
static int
keyword_ok(const char *p, size_t len)
{
	if (len == 0 || !is_alnum(p[0]))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!is_alnum(p[i]) && p[i] != '-')
			return 0;
	return 1;
}

/* An esmtp-value: one or more octets, no '=', no space or control character. */
static int
value_ok(const char *p, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (p[i] == '=' || p[i] == ' ' || is_ctl(p[i]))
			return 0;
	return 1;
}

int
smtp_param_next(const char **cursor, const char *end, struct smtp_param *param)
{
	const char *p = skip_spaces(*cursor, end);
	const char *word = p;

	while (p < end && *p != ' ')
		p++;
	*cursor = p;
	if (word == p)
		return 0;

	const char *eq = memchr(word, '=', (size_t)(p - word));

	param->key = word;
	param->key_len = eq != NULL ? (size_t)(eq - word) : (size_t)(p - word);
	param->value = eq != NULL ? eq + 1 : NULL;
	param->value_len = eq != NULL ? (size_t)(p - eq - 1) : 0;
	if (!keyword_ok(param->key, param->key_len) ||
	    (eq != NULL && !value_ok(param->value, param->value_len)))
		return -1;
	return 1;
}

int
smtp_bdat_parse(const struct smtp_cmd *cmd, size_t *size, int *last)
{
	const char *end = cmd->args + cmd->args_len;
	const char *p = skip_spaces(cmd->args, end);
	size_t n = 0;

	if (p == end || *p < '0' || *p > '9')
		return -1;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		size_t digit = (size_t)(*p - '0');

		if (n > (SIZE_MAX - digit) / 10)
			return -1;
		n = n * 10 + digit;
	}
	if (p < end && *p != ' ')
		return -1;
	p = skip_spaces(p, end);

	const char *word = p;

	while (p < end && *p != ' ')
		p++;
	if (word != p && !word_is(word, (size_t)(p - word), "LAST"))
		return -1;
	if (skip_spaces(p, end) != end)
		return -1;
	*size = n;
	*last = word != p;
	return 0;
}
