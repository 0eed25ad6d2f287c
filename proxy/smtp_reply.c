/*
 * NAME
 *	smtp_reply - read a server's (possibly multi-line) reply
 * SYNOPSIS
 *	See smtp_reply.h.
 */
#include <string.h>

#include "proxy/smtp_reply.h"

void
smtp_reply_reset(struct smtp_reply_reader *r)
{
	r->code = 0;
	r->lines = 0;
}

/* Reply-code = %x32-35 %x30-35 %x30-39; returns the code, or -1. */
static int
reply_code(const char *line, size_t len)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
	    line[2] < '0' || line[2] > '9')
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

enum smtp_reply_status
smtp_reply_feed(struct smtp_reply_reader *r, const char *line, size_t len)
{
	int code = reply_code(line, len);

	if (code < 0 || (len > 3 && line[3] != ' ' && line[3] != '-'))
		return SMTP_REPLY_BAD;
	if (memchr(line, '\0', len) || memchr(line, '\r', len) || memchr(line, '\n', len))
		return SMTP_REPLY_BAD;
	if (r->lines > 0 && code != r->code)
		return SMTP_REPLY_BAD;
	if (r->lines >= SMTP_REPLY_MAX_LINES)
		return SMTP_REPLY_BAD;
	r->lines++;
	r->code = code;
	return len > 3 && line[3] == '-' ? SMTP_REPLY_MORE : SMTP_REPLY_DONE;
}
