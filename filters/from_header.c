/*
 * NAME
 *	from_header - the domain of a message's From field (RFC 5322 3.6.2)
 * SYNOPSIS
 *	See from_header.h.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <dkim.h>

#include "filters/from_header.h"

#define ADDRESSES_MAX 64

/* RFC 5322 mailbox-list: split at commas outside quotes, comments and <>. */
static size_t
split_addresses(char *list, char **out, size_t max)
{
	size_t n = 0;
	int quoted = 0, comment = 0, angle = 0;
	char *start = list;

	for (char *p = list;; p++) {
		if (*p == '\\' && (quoted || comment) && p[1] != '\0') {
			p++;
			continue;
		}
		if (*p == '"' && !comment)
			quoted = !quoted;
		else if (!quoted && *p == '(')
			comment++;
		else if (!quoted && *p == ')' && comment > 0)
			comment--;
		else if (!quoted && !comment && *p == '<')
			angle = 1;
		else if (!quoted && !comment && *p == '>')
			angle = 0;
		if (*p == '\0' || (*p == ',' && !quoted && !comment && !angle)) {
			int end = *p == '\0';

			*p = '\0';
			if (strspn(start, " \t") != strlen(start) && n < max)
				out[n++] = start;
			if (end)
				return n;
			start = p + 1;
		}
	}
}

int
from_header_domain(const char *value, size_t len, char *domain, size_t size, const char **why)
{
	char text[2048], *addrs[ADDRESSES_MAX];
	size_t n = 0, count;

	*domain = '\0';
	/* Unfolded: folding is CRLF followed by white space, which stays. */
	for (size_t i = 0; i < len && n + 1 < sizeof(text); i++)
		if (value[i] != '\r' && value[i] != '\n')
			text[n++] = value[i];
	text[n] = '\0';
	count = split_addresses(text, addrs, ADDRESSES_MAX);
	if (count == 0) {
		*why = "an empty From field";
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		unsigned char *user = NULL, *dom = NULL;

		if (dkim_mail_parse((unsigned char *)addrs[i], &user, &dom) != 0 || dom == NULL ||
		    *dom == '\0') {
			*why = "a From address without a domain";
			return -1;
		}
		if (*domain != '\0' && strcasecmp(domain, (char *)dom) != 0) {
			*why = "several From addresses";
			return -1;
		}
		snprintf(domain, size, "%s", (char *)dom);
	}
	for (char *c = domain; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return 0;
}
