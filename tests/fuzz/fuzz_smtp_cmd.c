/*
 * libFuzzer target: the SMTP command parser, and the parameter and BDAT
 * readers on whatever it accepts. Every pointer returned must stay inside
 * the input.
 */
#include <stdint.h>
#include <stdlib.h>

#include "proxy/smtp_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct smtp_cmd cmd;
	enum smtp_cmd_status st = smtp_cmd_parse(line, size, &cmd);

	if (smtp_cmd_error_reply(st, cmd.verb) == NULL)
		abort();
	if (st != SMTP_CMD_OK)
		return 0;
	if (cmd.args < line || cmd.args + cmd.args_len > line + size)
		abort();
	if (cmd.path != NULL) {
		const char *p = cmd.params, *end = cmd.params + cmd.params_len;
		struct smtp_param param;

		if (cmd.path < line || cmd.path + cmd.path_len > line + size || end > line + size)
			abort();
		while (smtp_param_next(&p, end, &param) == 1)
			if (param.key + param.key_len > end ||
			    (param.value && param.value + param.value_len > end))
				abort();
	}
	if (cmd.verb == SMTP_BDAT) {
		size_t chunk;
		int last;

		smtp_bdat_parse(&cmd, &chunk, &last);
	}
	return 0;
}
