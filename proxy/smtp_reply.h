/*
 * NAME
 *	smtp_reply - read a server's (possibly multi-line) reply
 * SYNOPSIS
 *	smtp_reply_reset(reader)
 *	smtp_reply_feed(reader, line, len)
 * DESCRIPTION
 *	A pure line-at-a-time reader. Each call takes one reply line without its
 *	line ending. A line is "DDD", "DDD text" or "DDD-text" where DDD is a
 *	reply code as RFC 5321 section 4.2 spells it: 2..5, 0..5, 0..9 (so 099,
 *	199, 260 and 600 are not codes); every line of one reply must carry the
 *	same code, and no line may hold a NUL, CR or LF (postern relays the text
 *	to its client). Returns SMTP_REPLY_MORE after a continuation line,
 *	SMTP_REPLY_DONE after the last line (reader->code holds the code), and
 *	SMTP_REPLY_BAD for anything else, including more than
 *	SMTP_REPLY_MAX_LINES lines. After DONE or BAD the reader must be reset
 *	before the next reply.
 */
#ifndef POSTERN_SMTP_REPLY_H
#define POSTERN_SMTP_REPLY_H

#include <stddef.h>

#define SMTP_REPLY_MAX_LINES 100

enum smtp_reply_status { SMTP_REPLY_MORE, SMTP_REPLY_DONE, SMTP_REPLY_BAD };

struct smtp_reply_reader {
	int code;  /* 0 until the first line is read */
	int lines; /* lines read so far */
};

void smtp_reply_reset(struct smtp_reply_reader *r);
enum smtp_reply_status smtp_reply_feed(struct smtp_reply_reader *r, const char *line, size_t len);

#endif
