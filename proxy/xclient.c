/*
 * NAME
 *	xclient - tell the backend who the real client is (XCLIENT, XFORWARD)
 * SYNOPSIS
 *	See xclient.h.
 * DESCRIPTION
 *	The lines follow Postfix's XCLIENT_README and XFORWARD_README.
 *	Attributes come in a fixed order, NAME ADDR PORT PROTO HELO, then
 *	LOGIN DESTADDR DESTPORT for XCLIENT or SOURCE=REMOTE for XFORWARD
 *	(IDENT, the upstream queue id, postern does not have). A line that
 *	would pass 512 octets with its CRLF is ended and the next attribute
 *	starts a new line with the verb again.
 *
 *	Values Postfix would refuse with a 501, failing the whole session, are
 *	not sent: a HELO longer than 255 octets is left out and such a NAME
 *	becomes [UNAVAILABLE]; a port outside 1..65535 is left out. LOGIN is
 *	left out when NULL or empty.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "proxy/caps.h"
#include "proxy/xclient.h"

#define XCLIENT_LINE_MAX 512  /* octets, CRLF included */
#define XCLIENT_VALUE_MAX 255 /* Postfix's limit for NAME and HELO */

struct xline {
	struct evbuffer *out;
	char buf[XCLIENT_LINE_MAX];
	size_t verb_len;
	size_t len; /* the verb and the attributes so far */
	int lines;
};

static size_t xtext_put(char *dst, size_t size, const char *value);
static int xvalue_ok(const char *value);
static void xline_flush(struct xline *l);
static void xline_attr(struct xline *l, const char *name, const char *prefix, const char *value);
static void xline_addr(struct xline *l, const char *name, const char *addr);
static void xline_port(struct xline *l, const char *name, int port);

/*
 * xtext (RFC 3461 section 4): "+", "=" and octets outside 33..126 become "+XX".
 * Writes what fits of the encoding into dst (size octets) and returns its full
 * length, so that xtext_put(NULL, 0, value) measures it.
 */
static size_t
xtext_put(char *dst, size_t size, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (*p >= 33 && *p <= 126 && *p != '+' && *p != '=') {
			if (n + 1 <= size)
				dst[n] = (char)*p;
			n += 1;
		} else {
			if (n + 3 <= size) {
				dst[n] = '+';
				dst[n + 1] = hex[*p >> 4];
				dst[n + 2] = hex[*p & 15];
			}
			n += 3;
		}
	}
	return n;
}

void
xtext_encode(struct evbuffer *out, const char *value)
{
	size_t n = xtext_put(NULL, 0, value);
	struct evbuffer_iovec vec;

	if (n == 0 || evbuffer_reserve_space(out, (ev_ssize_t)n, &vec, 1) < 1)
		return;
	vec.iov_len = xtext_put(vec.iov_base, n, value);
	evbuffer_commit_space(out, &vec, 1);
}

static int
xvalue_ok(const char *value)
{
	return value != NULL && *value != '\0' && strlen(value) <= XCLIENT_VALUE_MAX;
}

static void
xline_flush(struct xline *l)
{
	if (l->len == l->verb_len)
		return;
	memcpy(l->buf + l->len, "\r\n", 2);
	evbuffer_add(l->out, l->buf, l->len + 2);
	l->len = l->verb_len;
	l->lines++;
}

/* Add " name=prefix+xtext(value)"; one too long for a line of its own is left out. */
static void
xline_attr(struct xline *l, const char *name, const char *prefix, const char *value)
{
	char attr[XCLIENT_LINE_MAX];
	size_t room = XCLIENT_LINE_MAX - l->verb_len - 2;
	int head = snprintf(attr, sizeof(attr), " %s=%s", name, prefix);
	size_t n = (size_t)head + xtext_put(attr + head, sizeof(attr) - (size_t)head, value);

	if (n > room)
		return;
	if (l->len + n + 2 > XCLIENT_LINE_MAX)
		xline_flush(l);
	memcpy(l->buf + l->len, attr, n);
	l->len += n;
}

static void
xline_addr(struct xline *l, const char *name, const char *addr)
{
	xline_attr(l, name, strchr(addr, ':') != NULL ? "IPV6:" : "", addr);
}

static void
xline_port(struct xline *l, const char *name, int port)
{
	char value[8];

	if (port < 1 || port > 65535)
		return;
	snprintf(value, sizeof(value), "%d", port);
	xline_attr(l, name, "", value);
}

int
xclient_build(struct evbuffer *out, const char *verb, unsigned attrs,
              const struct client_identity *client)
{
	struct xline l = {.out = out, .verb_len = strlen(verb)};
	int xforward = strcmp(verb, "XFORWARD") == 0;

	memcpy(l.buf, verb, l.verb_len);
	l.len = l.verb_len;
	if (attrs & XATTR_NAME)
		xline_attr(&l, "NAME", "",
		           xvalue_ok(client->name) ? client->name : "[UNAVAILABLE]");
	if ((attrs & XATTR_ADDR) && client->addr != NULL)
		xline_addr(&l, "ADDR", client->addr);
	if (attrs & XATTR_PORT)
		xline_port(&l, "PORT", client->port);
	if (attrs & XATTR_PROTO)
		xline_attr(&l, "PROTO", "", client->esmtp ? "ESMTP" : "SMTP");
	if ((attrs & XATTR_HELO) && xvalue_ok(client->helo))
		xline_attr(&l, "HELO", "", client->helo);
	if (xforward) {
		if (attrs & XATTR_SOURCE)
			xline_attr(&l, "SOURCE", "", "REMOTE");
	} else {
		if ((attrs & XATTR_LOGIN) && client->login != NULL && *client->login != '\0')
			xline_attr(&l, "LOGIN", "", client->login);
		if ((attrs & XATTR_DESTADDR) && client->dest_addr != NULL)
			xline_addr(&l, "DESTADDR", client->dest_addr);
		if (attrs & XATTR_DESTPORT)
			xline_port(&l, "DESTPORT", client->dest_port);
	}
	xline_flush(&l);
	return l.lines;
}
