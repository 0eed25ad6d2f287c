/*
 * NAME
 *	explain - run the configured chain offline on a message: "why?"
 * SYNOPSIS
 *	explain_run(cfg, request, out)
 * DESCRIPTION
 *	explain_run() plays one transaction through the chain and the policies
 *	as postern would (MAIL, each RCPT, end of message), with the message
 *	read from request->file (LF or CRLF lines), and prints to out every
 *	finding, the policy chosen, each decision, the reply a client would
 *	get, and the header fields that would be added. Nothing is sent
 *	anywhere; filters that ask the network do so as in the daemon.
 *	Returns 0, or -1 after printing why the message could not be read.
 */
#ifndef POSTERN_EXPLAIN_H
#define POSTERN_EXPLAIN_H

#include <stdio.h>

struct config;

struct explain_request {
	const char *file;
	const char *client_ip;
	const char *helo;
	const char *from;
	const char **rcpts;
	size_t nrcpt;
};

int explain_run(struct config *cfg, const struct explain_request *req, FILE *out);

#endif
