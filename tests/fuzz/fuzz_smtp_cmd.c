/*
 * libFuzzer target: the SMTP command parser, and the parameter and BDAT
 * readers on whatever it accepts. Checked: every pointer returned stays
 * inside the input; an error always has a complete reply and success none;
 * a NUL anywhere is always refused; an accepted path sits between '<' and
 * '>' and holds no control character; accepted parameters walk cleanly to
 * the end; a BDAT size read back prints as the digits it was read from.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/smtp_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_inside(const char *line, size_t len, const char *p, size_t n)
{
	if (p != NULL && (p < line || n > len || p - line > (ptrdiff_t)(len - n)))
		abort();
}

static void
check_path(const struct smtp_cmd *cmd, const char *line, size_t len)
{
	const char *p = cmd->params, *end = cmd->params + cmd->params_len;
	struct smtp_param param;
	int more;

	if (cmd->path == NULL || cmd->params == NULL || cmd->path == line || cmd->path[-1] != '<' ||
	    cmd->path + cmd->path_len == line + len || cmd->path[cmd->path_len] != '>')
		abort();
	for (size_t i = 0; i < cmd->path_len; i++)
		if ((unsigned char)cmd->path[i] < 0x20 || cmd->path[i] == 0x7f)
			abort();
	while ((more = smtp_param_next(&p, end, &param)) == 1) {
		check_inside(cmd->params, cmd->params_len, param.key, param.key_len);
		check_inside(cmd->params, cmd->params_len, param.value, param.value_len);
		if (param.key_len == 0 || (param.value != NULL && param.value_len == 0))
			abort();
	}
	if (more != 0 || p != end)
		abort();
}

static void
check_bdat(const struct smtp_cmd *cmd)
{
	size_t chunk;
	int last;
	char digits[32];

	if (smtp_bdat_parse(cmd, &chunk, &last) != 0)
		return;

	int n = snprintf(digits, sizeof(digits), "%zu", chunk);
	const char *p = cmd->args, *end = cmd->args + cmd->args_len;

	while (p < end && *p == ' ')
		p++;
	while (end - p > 1 && *p == '0' && p[1] >= '0' && p[1] <= '9')
		p++;
	if (n <= 0 || end - p < n || memcmp(p, digits, (size_t)n) != 0 ||
	    (end - p > n && p[n] != ' ') || (last != 0 && last != 1))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct smtp_cmd cmd;
	enum smtp_cmd_status st = smtp_cmd_parse(line, size, &cmd);
	const char *reply = smtp_cmd_error_reply(st, cmd.verb);

	check_inside(line, size, cmd.verb_text, cmd.verb_len);
	check_inside(line, size, cmd.args, cmd.args_len);
	check_inside(line, size, cmd.path, cmd.path_len);
	check_inside(line, size, cmd.params, cmd.params_len);
	if ((st == SMTP_CMD_OK) != (reply == NULL))
		abort();
	if (reply != NULL && (strlen(reply) < 5 || strcmp(reply + strlen(reply) - 2, "\r\n") != 0))
		abort();
	if ((memchr(line, '\0', size) != NULL) != (st == SMTP_CMD_NUL))
		abort();
	if (cmd.verb != SMTP_UNKNOWN && (cmd.verb_len != strlen(smtp_verb_name(cmd.verb))))
		abort();
	if (st != SMTP_CMD_OK)
		return 0;
	if (cmd.verb == SMTP_MAIL || cmd.verb == SMTP_RCPT)
		check_path(&cmd, line, size);
	else if (cmd.path != NULL || cmd.params != NULL)
		abort();
	if (cmd.verb == SMTP_BDAT)
		check_bdat(&cmd);
	return 0;
}
