/*
 * NAME
 *	caps - SMTP service extensions: the backend's, and what postern offers
 * SYNOPSIS
 *	See caps.h.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "proxy/caps.h"

static const struct {
	const char *name;
	unsigned flag;
} keywords[] = {
        {"PIPELINING", CAP_PIPELINING},
        {"8BITMIME", CAP_8BITMIME},
        {"SIZE", CAP_SIZE},
        {"ENHANCEDSTATUSCODES", CAP_ENHANCEDSTATUSCODES},
        {"SMTPUTF8", CAP_SMTPUTF8},
        {"DSN", CAP_DSN},
        {"CHUNKING", CAP_CHUNKING},
        {"BINARYMIME", CAP_BINARYMIME},
        {"STARTTLS", CAP_STARTTLS},
        {"AUTH", CAP_AUTH},
        {"XCLIENT", CAP_XCLIENT},
        {"XFORWARD", CAP_XFORWARD},
};

static const struct {
	const char *name;
	unsigned attr;
} attributes[] = {
        {"NAME", XATTR_NAME},
        {"ADDR", XATTR_ADDR},
        {"PORT", XATTR_PORT},
        {"PROTO", XATTR_PROTO},
        {"HELO", XATTR_HELO},
        {"LOGIN", XATTR_LOGIN},
        {"DESTADDR", XATTR_DESTADDR},
        {"DESTPORT", XATTR_DESTPORT},
        {"REVERSE_NAME", XATTR_REVERSE_NAME},
        {"SOURCE", XATTR_SOURCE},
        {"IDENT", XATTR_IDENT},
};

/* The attribute words after XCLIENT / XFORWARD. */
static unsigned
parse_attributes(const char *p, const char *end)
{
	unsigned attrs = 0;

	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		const char *w = p;

		while (p < end && *p != ' ')
			p++;
		for (size_t i = 0; i < sizeof(attributes) / sizeof(attributes[0]); i++)
			if (strlen(attributes[i].name) == (size_t)(p - w) &&
			    strncasecmp(w, attributes[i].name, (size_t)(p - w)) == 0)
				attrs |= attributes[i].attr;
	}
	return attrs;
}

void
caps_parse_line(struct smtp_caps *caps, const char *text, size_t len)
{
	const char *end = text + len;
	size_t wlen = 0;

	/* "AUTH=LOGIN" (old Exchange style) counts as AUTH. */
	while (wlen < len && text[wlen] != ' ' && text[wlen] != '=')
		wlen++;
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		if (strlen(keywords[i].name) != wlen || strncasecmp(text, keywords[i].name, wlen))
			continue;
		caps->flags |= keywords[i].flag;
		if (keywords[i].flag == CAP_SIZE) {
			char digits[24];
			size_t n = 0;

			for (const char *p = text + wlen; p < end && n + 1 < sizeof(digits); p++)
				if (*p >= '0' && *p <= '9')
					digits[n++] = *p;
				else if (*p != ' ')
					break;
			digits[n] = '\0';
			caps->size = strtoull(digits, NULL, 10);
		} else if (keywords[i].flag == CAP_XCLIENT) {
			caps->xclient_attrs = parse_attributes(text + wlen, end);
		} else if (keywords[i].flag == CAP_XFORWARD) {
			caps->xforward_attrs = parse_attributes(text + wlen, end);
		}
		return;
	}
}

void
caps_front_ehlo(const struct smtp_caps *backend, unsigned long long size_limit,
                const char *hostname, struct evbuffer *out)
{
	unsigned long long size = size_limit;

	if (backend->size > 0 && (size == 0 || backend->size < size))
		size = backend->size;
	evbuffer_add_printf(out, "250-%s\r\n250-PIPELINING\r\n", hostname);
	if (size > 0)
		evbuffer_add_printf(out, "250-SIZE %llu\r\n", size);
	if (backend->flags & CAP_8BITMIME)
		evbuffer_add_printf(out, "250-8BITMIME\r\n");
	evbuffer_add_printf(out, "250-ENHANCEDSTATUSCODES\r\n");
	if ((backend->flags & (CAP_SMTPUTF8 | CAP_8BITMIME)) == (CAP_SMTPUTF8 | CAP_8BITMIME))
		evbuffer_add_printf(out, "250-SMTPUTF8\r\n");
	if (backend->flags & CAP_DSN)
		evbuffer_add_printf(out, "250-DSN\r\n");
	evbuffer_add_printf(out, "250 CHUNKING\r\n");
}
