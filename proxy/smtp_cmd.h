/*
 * NAME
 *	smtp_cmd - parse one SMTP command line (RFC 5321 section 4.1)
 * SYNOPSIS
 *	smtp_cmd_parse(line, len, cmd)
 *	smtp_param_next(cursor, end, param)
 *	smtp_bdat_parse(cmd, size, last)
 * DESCRIPTION
 *	Pure functions over a buffer; nothing is copied, every pointer in the
 *	result points into the caller's line.
 *
 *	smtp_cmd_parse() takes one command line without its line ending. The verb
 *	ends at the first space or at the end of the line and is matched without
 *	regard to case (ASCII only). For MAIL and RCPT it splits "FROM:<path>
 *	params" / "TO:<path> params": path is the address between the angle
 *	brackets (the brackets are not included; "<>" gives an empty path),
 *	params the rest after the spaces that follow ">". Spaces before "FROM:"
 *	and between "FROM:" and "<" are tolerated, as Postfix does. The path
 *	must be well formed: balanced brackets, no control character, and no
 *	space, '<' or backslash outside a quoted string; inside quotes '>' is
 *	part of the local part ("RCPT TO:<\"a>b\"@x>"). Every parameter must
 *	pass smtp_param_next(). Returns SMTP_CMD_OK, or an error code whose text
 *	smtp_cmd_error_reply() gives as a complete SMTP reply ("501 5.5.4 Syntax:
 *	MAIL FROM:<address>\r\n" and so on; NULL for SMTP_CMD_OK). Whatever the
 *	result, cmd->verb is the recognized verb or SMTP_UNKNOWN.
 *
 *	smtp_verb_name() gives the verb in upper case ("UNKNOWN" for
 *	SMTP_UNKNOWN and anything out of range).
 *
 *	smtp_param_next() walks ESMTP parameters "KEY[=VALUE]" separated by
 *	spaces; returns 1 with param filled, 0 at the end, -1 on a malformed
 *	parameter (RFC 5321 section 4.1.2: the keyword is a letter or digit,
 *	then letters, digits and '-'; a value after "=" is not empty and has no
 *	control character and no '='; octets above 127 are allowed, RFC 6531).
 *
 *	smtp_bdat_parse() reads "BDAT <size> [LAST]" arguments (LAST in any
 *	case); returns 0, or -1 when the size is missing, not a number, too
 *	large for size_t, or anything but LAST follows it.
 */
#ifndef POSTERN_SMTP_CMD_H
#define POSTERN_SMTP_CMD_H

#include <stddef.h>

enum smtp_verb {
	SMTP_UNKNOWN,
	SMTP_HELO,
	SMTP_EHLO,
	SMTP_MAIL,
	SMTP_RCPT,
	SMTP_DATA,
	SMTP_BDAT,
	SMTP_RSET,
	SMTP_NOOP,
	SMTP_QUIT,
	SMTP_VRFY,
	SMTP_EXPN,
	SMTP_HELP,
	SMTP_STARTTLS,
	SMTP_AUTH,
	SMTP_XCLIENT,
	SMTP_XFORWARD,
	SMTP_VERB_COUNT
};

enum smtp_cmd_status {
	SMTP_CMD_OK,
	SMTP_CMD_EMPTY,      /* empty line */
	SMTP_CMD_BAD_VERB,   /* not a known command */
	SMTP_CMD_BAD_SYNTAX, /* known verb, arguments do not parse */
	SMTP_CMD_NUL,        /* NUL byte in the line */
};

struct smtp_cmd {
	enum smtp_verb verb;
	const char *verb_text; /* as the client wrote it */
	size_t verb_len;
	const char *args; /* everything after the verb and its separating space */
	size_t args_len;
	const char *path; /* MAIL/RCPT: address inside <>, else NULL */
	size_t path_len;
	const char *params; /* MAIL/RCPT: ESMTP parameters after the path */
	size_t params_len;
};

struct smtp_param {
	const char *key;
	size_t key_len;
	const char *value; /* NULL when the parameter has no "=" */
	size_t value_len;
};

enum smtp_cmd_status smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd);
const char *smtp_cmd_error_reply(enum smtp_cmd_status status, enum smtp_verb verb);
const char *smtp_verb_name(enum smtp_verb verb);
int smtp_param_next(const char **cursor, const char *end, struct smtp_param *param);
int smtp_bdat_parse(const struct smtp_cmd *cmd, size_t *size, int *last);

#endif
