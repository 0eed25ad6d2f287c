/*
 * NAME
 *	caps - SMTP service extensions: the backend's, and what postern offers
 * SYNOPSIS
 *	caps_parse_line(caps, text, len)
 *	caps_front_ehlo(backend, size_limit, hostname, front, out)
 * DESCRIPTION
 *	caps_parse_line() reads one line of an EHLO reply, the text after
 *	"250-" or "250 " (the first line, the server's name, is not passed), and
 *	records the keywords postern cares about, case-insensitively: PIPELINING,
 *	8BITMIME, SIZE [n], ENHANCEDSTATUSCODES, SMTPUTF8, DSN, CHUNKING,
 *	BINARYMIME, STARTTLS, AUTH mechanisms..., XCLIENT attrs..., XFORWARD
 *	attrs.... Unknown keywords are ignored. AUTH's mechanism names are kept
 *	(auth_mechs, upper case, single spaces; "AUTH PLAIN LOGIN" wins over
 *	the old "AUTH=PLAIN LOGIN" form when a server sends both).
 *
 *	caps_front_ehlo() writes the complete multi-line EHLO reply postern gives
 *	its clients into out (an evbuffer): "250-hostname" and then what postern
 *	handles itself (PIPELINING, CHUNKING, ENHANCEDSTATUSCODES) plus what it
 *	relays and the backend offers (8BITMIME, SMTPUTF8, DSN), and SIZE with
 *	the smaller of the two limits (a backend SIZE of 0 means "no limit").
 *	Never the backend's STARTTLS, XCLIENT or XFORWARD: those are postern's
 *	business with the backend, not the client's. front (may be NULL) adds
 *	what the session itself offers: STARTTLS (its listener has TLS and the
 *	session is not yet using it) and AUTH with the mechanisms to relay.
 */
#ifndef POSTERN_CAPS_H
#define POSTERN_CAPS_H

#include <stddef.h>

struct evbuffer;

enum {
	CAP_PIPELINING = 1 << 0,
	CAP_8BITMIME = 1 << 1,
	CAP_SIZE = 1 << 2,
	CAP_ENHANCEDSTATUSCODES = 1 << 3,
	CAP_SMTPUTF8 = 1 << 4,
	CAP_DSN = 1 << 5,
	CAP_CHUNKING = 1 << 6,
	CAP_BINARYMIME = 1 << 7,
	CAP_STARTTLS = 1 << 8,
	CAP_AUTH = 1 << 9,
	CAP_XCLIENT = 1 << 10,
	CAP_XFORWARD = 1 << 11,
};

/* XCLIENT / XFORWARD attributes the backend says it accepts */
enum {
	XATTR_NAME = 1 << 0,
	XATTR_ADDR = 1 << 1,
	XATTR_PORT = 1 << 2,
	XATTR_PROTO = 1 << 3,
	XATTR_HELO = 1 << 4,
	XATTR_LOGIN = 1 << 5,
	XATTR_DESTADDR = 1 << 6,
	XATTR_DESTPORT = 1 << 7,
	XATTR_REVERSE_NAME = 1 << 8,
	XATTR_SOURCE = 1 << 9,
	XATTR_IDENT = 1 << 10,
};

#define CAPS_AUTH_MECHS_MAX 128

struct smtp_caps {
	unsigned flags;
	char auth_mechs[CAPS_AUTH_MECHS_MAX]; /* "PLAIN LOGIN", or "" */
	unsigned long long size;              /* SIZE argument; 0 when absent or "no limit" */
	unsigned xclient_attrs;
	unsigned xforward_attrs;
};

/* What a session offers its client beyond the backend's relayed extensions. */
struct caps_front {
	int starttls;
	const char *auth_mechs; /* NULL or "": no AUTH */
};

void caps_parse_line(struct smtp_caps *caps, const char *text, size_t len);
void caps_front_ehlo(const struct smtp_caps *backend, unsigned long long size_limit,
                     const char *hostname, const struct caps_front *front, struct evbuffer *out);

#endif
