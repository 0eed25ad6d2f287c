/*
 * NAME
 *	smtp_reply - read a server's (possibly multi-line) reply
 * SYNOPSIS
 *	See smtp_reply.h.
 */
#include "proxy/smtp_reply.h"

void
smtp_reply_reset(struct smtp_reply_reader *r)
{
	r->code = 0;
	r->lines = 0;
}

enum smtp_reply_status
smtp_reply_feed(struct smtp_reply_reader *r, const char *line, size_t len)
{
	int code;

	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9')
		return SMTP_REPLY_BAD;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return SMTP_REPLY_BAD;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->lines > 0 && code != r->code)
		return SMTP_REPLY_BAD;
	if (++r->lines > SMTP_REPLY_MAX_LINES)
		return SMTP_REPLY_BAD;
	r->code = code;
	return len > 3 && line[3] == '-' ? SMTP_REPLY_MORE : SMTP_REPLY_DONE;
}
