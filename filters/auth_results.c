/*
 * NAME
 *	auth_results - the Authentication-Results header (RFC 8601)
 * SYNOPSIS
 *	See auth_results.h.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "filters/auth_results.h"
#include "filters/header_field.h"

static const char *const methods[] = {"spf", "dkim", "dmarc", "arc", "auth", "iprev"};
static const char field[] = "Authentication-Results:";

int
auth_results_method(const char *method)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(method, methods[i]) == 0)
			return 1;
	return 0;
}

void
auth_results_value(char *buf, size_t size, const char *text, size_t max)
{
	static const char tspecials[] = "()<>@,;:\\\"/[]?= ";
	const unsigned char *t = (const unsigned char *)(text ? text : "");
	size_t n = strlen((const char *)t), o = 0;
	int token = n > 0;

	if (max > 0 && n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		if (t[i] < 0x21 || t[i] > 0x7e || strchr(tspecials, t[i]))
			token = 0;
	if (size < 3) {
		buf[0] = '\0';
		return;
	}
	if (!token)
		buf[o++] = '"';
	/* Room is kept for an escape, the closing quote and the NUL. */
	for (size_t i = 0; i < n && o + 4 < size; i++) {
		unsigned char c = t[i] < 0x20 || t[i] > 0x7e ? '?' : t[i];

		if (c == '"' || c == '\\')
			buf[o++] = '\\';
		buf[o++] = (char)c;
	}
	if (!token)
		buf[o++] = '"';
	buf[o] = '\0';
}

int
auth_results_format(struct evbuffer *out, const char *authserv_id, const struct finding *f,
                    size_t n)
{
	int written = 0;

	for (size_t i = 0; i < n; i++) {
		if (!auth_results_method(f[i].method))
			continue;
		if (written++ == 0)
			evbuffer_add_printf(out, "%s %s", field, authserv_id);
		evbuffer_add_printf(out, ";\r\n\t%s=%s", f[i].method, f[i].result);
		if (f[i].detail != NULL && f[i].detail[0] != '\0')
			evbuffer_add_printf(out, " %s", f[i].detail);
	}
	if (written > 0)
		evbuffer_add(out, "\r\n", 2);
	return written;
}

/* Does this field (its first line from after the colon) name our authserv-id? */
static int
claims_us(const char *p, const char *end, const char *authserv_id)
{
	size_t idlen = strlen(authserv_id);

	/* CFWS before the id: white space, folding, and (comments) */
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
			p++;
		if (p < end && *p == '(') {
			int depth = 0;

			for (; p < end; p++) {
				if (*p == '(')
					depth++;
				else if (*p == ')' && --depth == 0) {
					p++;
					break;
				}
			}
			continue;
		}
		break;
	}
	if ((size_t)(end - p) < idlen || strncasecmp(p, authserv_id, idlen) != 0)
		return 0;
	p += idlen;
	return p == end || *p == ';' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '(';
}

int
auth_results_strip(const char *header, size_t len, const char *authserv_id, struct evbuffer *out)
{
	const char *p = header, *end = header + len;
	int removed = 0;

	while (p < end) {
		/* One field: its first line and every continuation line. */
		const char *q = header_field_end(p, end);

		if ((size_t)(q - p) > sizeof(field) - 1 &&
		    strncasecmp(p, field, sizeof(field) - 1) == 0 &&
		    claims_us(p + sizeof(field) - 1, q, authserv_id)) {
			removed++;
		} else {
			evbuffer_add(out, p, (size_t)(q - p));
		}
		p = q;
	}
	return removed;
}
