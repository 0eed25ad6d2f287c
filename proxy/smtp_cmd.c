/*
 * NAME
 *	smtp_cmd - parse one SMTP command line (RFC 5321 section 4.1)
 * SYNOPSIS
 *	See smtp_cmd.h.
 */
#include <string.h>
#include <strings.h>

#include "proxy/smtp_cmd.h"

static const char *const verb_names[SMTP_VERB_COUNT] = {
        [SMTP_UNKNOWN] = "UNKNOWN", [SMTP_HELO] = "HELO",         [SMTP_EHLO] = "EHLO",
        [SMTP_MAIL] = "MAIL",       [SMTP_RCPT] = "RCPT",         [SMTP_DATA] = "DATA",
        [SMTP_BDAT] = "BDAT",       [SMTP_RSET] = "RSET",         [SMTP_NOOP] = "NOOP",
        [SMTP_QUIT] = "QUIT",       [SMTP_VRFY] = "VRFY",         [SMTP_EXPN] = "EXPN",
        [SMTP_HELP] = "HELP",       [SMTP_STARTTLS] = "STARTTLS", [SMTP_AUTH] = "AUTH",
        [SMTP_XCLIENT] = "XCLIENT", [SMTP_XFORWARD] = "XFORWARD",
};

const char *
smtp_verb_name(enum smtp_verb verb)
{
	return verb < SMTP_VERB_COUNT ? verb_names[verb] : verb_names[SMTP_UNKNOWN];
}

/* Find the closing '>' of a path, skipping quoted strings and quoted pairs. */
static const char *
path_end(const char *p, const char *end)
{
	int quoted = 0;

	for (; p < end; p++) {
		if (quoted && *p == '\\' && p + 1 < end)
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '>')
			return p;
		else if (!quoted && *p == '<')
			return NULL;
	}
	return NULL;
}

/* "FROM:<path> params" or "TO:<path> params" */
static enum smtp_cmd_status
parse_path(struct smtp_cmd *cmd, const char *keyword)
{
	size_t klen = strlen(keyword);
	const char *p = cmd->args, *end = cmd->args + cmd->args_len;

	if (cmd->args_len < klen || strncasecmp(p, keyword, klen) != 0)
		return SMTP_CMD_BAD_SYNTAX;
	p += klen;
	while (p < end && *p == ' ')
		p++;
	if (p == end || *p != '<')
		return SMTP_CMD_BAD_SYNTAX;
	const char *close = path_end(p + 1, end);

	if (close == NULL)
		return SMTP_CMD_BAD_SYNTAX;
	cmd->path = p + 1;
	cmd->path_len = (size_t)(close - p - 1);
	p = close + 1;
	if (p < end && *p != ' ')
		return SMTP_CMD_BAD_SYNTAX;
	while (p < end && *p == ' ')
		p++;
	cmd->params = p;
	cmd->params_len = (size_t)(end - p);
	return SMTP_CMD_OK;
}

enum smtp_cmd_status
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->verb = SMTP_UNKNOWN;
	if (memchr(line, '\0', len) != NULL)
		return SMTP_CMD_NUL;
	if (len == 0)
		return SMTP_CMD_EMPTY;

	const char *space = memchr(line, ' ', len);
	size_t vlen = space ? (size_t)(space - line) : len;

	cmd->verb_text = line;
	cmd->verb_len = vlen;
	cmd->args = space ? space + 1 : line + len;
	cmd->args_len = space ? len - vlen - 1 : 0;
	for (int v = SMTP_UNKNOWN + 1; v < SMTP_VERB_COUNT; v++) {
		if (strlen(verb_names[v]) == vlen && strncasecmp(line, verb_names[v], vlen) == 0) {
			cmd->verb = (enum smtp_verb)v;
			break;
		}
	}
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
	case SMTP_CMD_NUL:
		return "500 5.5.2 Error: NUL character in command\r\n";
	case SMTP_CMD_EMPTY:
		return "500 5.5.2 Error: bad syntax\r\n";
	case SMTP_CMD_BAD_SYNTAX:
		if (verb == SMTP_MAIL)
			return "501 5.5.4 Syntax: MAIL FROM:<address>\r\n";
		if (verb == SMTP_RCPT)
			return "501 5.5.4 Syntax: RCPT TO:<address>\r\n";
		return "501 5.5.4 Error: bad syntax\r\n";
	case SMTP_CMD_BAD_VERB:
	default:
		return "500 5.5.2 Error: command not recognized\r\n";
	}
}

int
smtp_param_next(const char **cursor, const char *end, struct smtp_param *param)
{
	const char *p = *cursor;

	while (p < end && *p == ' ')
		p++;
	if (p == end) {
		*cursor = p;
		return 0;
	}
	const char *word = p;

	while (p < end && *p != ' ')
		p++;
	*cursor = p;
	const char *eq = memchr(word, '=', (size_t)(p - word));

	param->key = word;
	param->key_len = eq ? (size_t)(eq - word) : (size_t)(p - word);
	param->value = eq ? eq + 1 : NULL;
	param->value_len = eq ? (size_t)(p - eq - 1) : 0;
	return param->key_len == 0 ? -1 : 1;
}

int
smtp_bdat_parse(const struct smtp_cmd *cmd, size_t *size, int *last)
{
	const char *p = cmd->args, *end = cmd->args + cmd->args_len;
	size_t n = 0;

	if (p == end || *p < '0' || *p > '9')
		return -1;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (n > ((size_t)-1 - 9) / 10)
			return -1;
		n = n * 10 + (size_t)(*p - '0');
	}
	if (p < end && *p != ' ')
		return -1;
	while (p < end && *p == ' ')
		p++;
	*last = 0;
	if (p < end) {
		const char *w = p;

		while (p < end && *p != ' ')
			p++;
		if (p - w != 4 || strncasecmp(w, "LAST", 4) != 0)
			return -1;
		while (p < end && *p == ' ')
			p++;
		if (p != end)
			return -1;
		*last = 1;
	}
	*size = n;
	return 0;
}
