/*
 * NAME
 *	caps - SMTP service extensions: the backend's, and what postern offers
 * SYNOPSIS
 *	See caps.h.
 * DESCRIPTION
 *	Keywords and XCLIENT/XFORWARD attribute names are matched whole and
 *	case-insensitively (RFC 5321 section 2.4), so PIPE_CONNECT is not
 *	PIPELINING. A keyword ends at a space, or at "=" for the old
 *	"AUTH=LOGIN" form that Exchange and Postfix's broken_sasl_auth_clients
 *	still send. A SIZE parameter that is not a number counts as no limit.
 */
#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "proxy/caps.h"

struct caps_word {
	const char *name;
	unsigned bit;
};

static const struct caps_word keywords[] = {
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

static const struct caps_word attributes[] = {
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

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static unsigned caps_word_bit(const struct caps_word *table, size_t n, const char *word,
                              size_t len);
static unsigned caps_attributes(const char *p, const char *end);
static unsigned long long caps_size(const char *p, const char *end);
static void caps_auth_mechs(struct smtp_caps *caps, const char *p, const char *end);

/* The bit of the word in table, or 0. */
static unsigned
caps_word_bit(const struct caps_word *table, size_t n, const char *word, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(table[i].name) == len && strncasecmp(word, table[i].name, len) == 0)
			return table[i].bit;
	return 0;
}

/* The attribute names after XCLIENT or XFORWARD; unknown ones are skipped. */
static unsigned
caps_attributes(const char *p, const char *end)
{
	unsigned attrs = 0;

	while (p < end) {
		const char *word;

		while (p < end && *p == ' ')
			p++;
		for (word = p; p < end && *p != ' '; p++)
			;
		if (p > word)
			attrs |= caps_word_bit(attributes, NELEM(attributes), word,
			                       (size_t)(p - word));
	}
	return attrs;
}

/* The argument of SIZE: 0 when absent or not a number, saturated when too big. */
static unsigned long long
caps_size(const char *p, const char *end)
{
	unsigned long long size = 0;

	while (p < end && *p == ' ')
		p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		unsigned digit = (unsigned)(*p - '0');

		size = size > (ULLONG_MAX - digit) / 10 ? ULLONG_MAX : size * 10 + digit;
	}
	while (p < end && *p == ' ')
		p++;
	return p == end ? size : 0;
}

/*
 * AUTH's mechanism names, as the client will see them in our EHLO: only
 * letters, digits, "-" and "_" (RFC 4422 3.1), upper case, single spaces;
 * a name that does not fit is left out.
 */
static void
caps_auth_mechs(struct smtp_caps *caps, const char *p, const char *end)
{
	int old_form = p < end && *p == '=';
	size_t n = 0;

	/* "AUTH=" is the pre-RFC form: it only counts when the real one is absent. */
	if (old_form && caps->auth_mechs[0] != '\0')
		return;
	while (p < end) {
		const char *word;

		while (p < end && (*p == ' ' || *p == '='))
			p++;
		for (word = p; p < end && *p != ' '; p++)
			;
		size_t len = (size_t)(p - word);

		size_t ok = 0;

		while (ok < len &&
		       (isalnum((unsigned char)word[ok]) || word[ok] == '-' || word[ok] == '_'))
			ok++;
		if (len == 0 || len > 20 || ok < len || n + len + 2 > sizeof(caps->auth_mechs))
			continue;
		if (n > 0)
			caps->auth_mechs[n++] = ' ';
		for (size_t i = 0; i < len; i++)
			caps->auth_mechs[n++] = (char)toupper((unsigned char)word[i]);
	}
	caps->auth_mechs[n] = '\0';
}

void
caps_parse_line(struct smtp_caps *caps, const char *text, size_t len)
{
	const char *end = text + len;
	const char *p = text;

	while (p < end && *p != ' ' && *p != '=')
		p++;
	if (p == text)
		return;
	unsigned flag = caps_word_bit(keywords, NELEM(keywords), text, (size_t)(p - text));

	caps->flags |= flag;
	if (flag == CAP_SIZE)
		caps->size = caps_size(p, end);
	else if (flag == CAP_XCLIENT)
		caps->xclient_attrs = caps_attributes(p, end);
	else if (flag == CAP_XFORWARD)
		caps->xforward_attrs = caps_attributes(p, end);
	else if (flag == CAP_AUTH)
		caps_auth_mechs(caps, p, end);
}

void
caps_front_ehlo(const struct smtp_caps *backend, unsigned long long size_limit,
                const char *hostname, const struct caps_front *front, struct evbuffer *out)
{
	unsigned long long size = size_limit;

	/* Either side's 0 means "no limit"; the smaller real limit wins. */
	if (backend->size > 0 && (size == 0 || backend->size < size))
		size = backend->size;
	evbuffer_add_printf(out, "250-%s\r\n250-PIPELINING\r\n", hostname);
	if (size > 0)
		evbuffer_add_printf(out, "250-SIZE %llu\r\n", size);
	if (backend->flags & CAP_8BITMIME)
		evbuffer_add_printf(out, "250-8BITMIME\r\n");
	evbuffer_add_printf(out, "250-ENHANCEDSTATUSCODES\r\n");
	/* SMTPUTF8 mail is 8-bit: relaying it needs 8BITMIME at the backend too. */
	if ((backend->flags & (CAP_SMTPUTF8 | CAP_8BITMIME)) == (CAP_SMTPUTF8 | CAP_8BITMIME))
		evbuffer_add_printf(out, "250-SMTPUTF8\r\n");
	if (backend->flags & CAP_DSN)
		evbuffer_add_printf(out, "250-DSN\r\n");
	if (front != NULL && front->starttls)
		evbuffer_add_printf(out, "250-STARTTLS\r\n");
	if (front != NULL && front->auth_mechs != NULL && front->auth_mechs[0] != '\0')
		evbuffer_add_printf(out, "250-AUTH %s\r\n", front->auth_mechs);
	/* postern takes BDAT itself and sends the backend DATA when it lacks CHUNKING. */
	evbuffer_add_printf(out, "250 CHUNKING\r\n");
}
