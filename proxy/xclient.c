/*
 * NAME
 *	xclient - tell the backend who the real client is (XCLIENT, XFORWARD)
 * SYNOPSIS
 *	See xclient.h.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "proxy/caps.h"
#include "proxy/xclient.h"

#define XCLIENT_LINE_MAX 512

void
xtext_encode(struct evbuffer *out, const char *value)
{
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (*p < 33 || *p > 126 || *p == '+' || *p == '=')
			evbuffer_add_printf(out, "+%02X", *p);
		else
			evbuffer_add(out, p, 1);
	}
}

struct line {
	struct evbuffer *out;
	struct evbuffer *cur;
	const char *verb;
	int lines;
};

static void
line_flush(struct line *l)
{
	if (evbuffer_get_length(l->cur) == 0)
		return;
	evbuffer_add_printf(l->out, "%s", l->verb);
	evbuffer_add_buffer(l->out, l->cur);
	evbuffer_add(l->out, "\r\n", 2);
	l->lines++;
}

/* Add " NAME=value" to the current line, starting a new line when it would not fit. */
static void
line_attr(struct line *l, const char *name, const char *prefix, const char *value)
{
	struct evbuffer *attr = evbuffer_new();

	evbuffer_add_printf(attr, " %s=", name);
	if (prefix != NULL)
		evbuffer_add_printf(attr, "%s", prefix);
	xtext_encode(attr, value);
	size_t need = strlen(l->verb) + evbuffer_get_length(attr) + 2;

	/* An attribute that fits on no line (a huge HELO) is left out, not cut. */
	if (need <= XCLIENT_LINE_MAX) {
		if (need + evbuffer_get_length(l->cur) > XCLIENT_LINE_MAX)
			line_flush(l);
		evbuffer_add_buffer(l->cur, attr);
	}
	evbuffer_free(attr);
}

static void
line_addr(struct line *l, const char *name, const char *addr)
{
	line_attr(l, name, strchr(addr, ':') ? "IPV6:" : NULL, addr);
}

int
xclient_build(struct evbuffer *out, const char *verb, unsigned attrs,
              const struct client_identity *client)
{
	struct line l = {.out = out, .cur = evbuffer_new(), .verb = verb};
	int xforward = strcmp(verb, "XFORWARD") == 0;
	char port[16];

	if (attrs & XATTR_NAME)
		line_attr(&l, "NAME", NULL, client->name ? client->name : "[UNAVAILABLE]");
	if ((attrs & XATTR_ADDR) && client->addr)
		line_addr(&l, "ADDR", client->addr);
	if ((attrs & XATTR_PORT) && client->port > 0) {
		snprintf(port, sizeof(port), "%d", client->port);
		line_attr(&l, "PORT", NULL, port);
	}
	if (attrs & XATTR_PROTO)
		line_attr(&l, "PROTO", NULL, client->esmtp ? "ESMTP" : "SMTP");
	if ((attrs & XATTR_HELO) && client->helo)
		line_attr(&l, "HELO", NULL, client->helo);
	if (!xforward && (attrs & XATTR_LOGIN) && client->login)
		line_attr(&l, "LOGIN", NULL, client->login);
	if (!xforward && (attrs & XATTR_DESTADDR) && client->dest_addr)
		line_addr(&l, "DESTADDR", client->dest_addr);
	if (!xforward && (attrs & XATTR_DESTPORT) && client->dest_port > 0) {
		snprintf(port, sizeof(port), "%d", client->dest_port);
		line_attr(&l, "DESTPORT", NULL, port);
	}
	if (xforward && (attrs & XATTR_SOURCE))
		line_attr(&l, "SOURCE", NULL, "REMOTE");
	line_flush(&l);
	evbuffer_free(l.cur);
	return l.lines;
}
