/*
 * NAME
 *	xclient - tell the backend who the real client is (XCLIENT, XFORWARD)
 * SYNOPSIS
 *	xclient_build(out, verb, attrs, client)
 *	xtext_encode(out, value)
 * DESCRIPTION
 *	xclient_build() appends one or more complete command lines (CRLF
 *	terminated) to out: "XCLIENT NAME=... ADDR=... PORT=..." with only the
 *	attributes in attrs (the XATTR_ bits the backend announced) and that the
 *	client record has. verb is "XCLIENT" or "XFORWARD". Values are xtext
 *	encoded (RFC 1891 section 5: "+", "=" and octets outside 33..126 become
 *	"+XX"). An IPv6 address is written "IPV6:addr", as Postfix expects. A
 *	NULL name becomes "[UNAVAILABLE]". Lines are split so that none exceeds
 *	512 octets; an attribute too long for any line is left out. Returns the
 *	number of lines written.
 */
#ifndef POSTERN_XCLIENT_H
#define POSTERN_XCLIENT_H

struct evbuffer;

struct client_identity {
	const char *addr; /* numeric address, no brackets */
	int port;
	const char *name; /* verified reverse name, or NULL */
	const char *helo; /* HELO/EHLO argument, or NULL */
	int esmtp;        /* EHLO (1) or HELO (0) */
	const char *dest_addr;
	int dest_port;
	const char *login; /* SASL login name, or NULL */
};

int xclient_build(struct evbuffer *out, const char *verb, unsigned attrs,
                  const struct client_identity *client);
void xtext_encode(struct evbuffer *out, const char *value);

#endif
