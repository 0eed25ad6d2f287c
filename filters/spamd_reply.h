/*
 * NAME
 *	spamd_reply - parse spamd's answer to SYMBOLS or REPORT (SPAMC/1.5)
 * SYNOPSIS
 *	#include "filters/spamd_reply.h"
 *
 *	spamd_reply_parse(buf, len, eof, report, reply)
 * DESCRIPTION
 *	A pure function over the octets received so far (buf, len; eof when
 *	the engine has closed the connection): the status line "SPAMD/1.1 0
 *	EX_OK", the headers "Spam: True ; 7.3 / 5.0" and "Content-length: N",
 *	an empty line, and N octets of body: the names of the rules that hit,
 *	comma separated (SYMBOLS), or a report whose table after the "----"
 *	line lists "points NAME description" (report set).
 *
 *	Returns SPAMD_MORE while the reply is incomplete, SPAMD_DONE with
 *	reply filled (code is spamd's exit code, 0 for EX_OK; a non-zero code
 *	needs no Spam header), or SPAMD_BAD for anything not written so. The
 *	rule names go into reply->tests, comma separated, cut at a name with
 *	"..." when they do not fit.
 */
#ifndef POSTERN_SPAMD_REPLY_H
#define POSTERN_SPAMD_REPLY_H

#include <stddef.h>

enum spamd_parse { SPAMD_MORE, SPAMD_DONE, SPAMD_BAD };

struct spamd_reply {
	int code;
	char message[64];
	int spam;
	double score, required;
	char tests[400];
};

enum spamd_parse spamd_reply_parse(const char *buf, size_t len, int eof, int report,
                                   struct spamd_reply *reply);

#endif
