/*
 * NAME
 *	spamd_reply - parse spamd's answer to SYMBOLS or REPORT (SPAMC/1.5)
 * SYNOPSIS
 *	See spamd_reply.h.
 * DESCRIPTION
 *	Every read is bounded by the buffer's end; nothing here assumes a NUL.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filters/engine.h"
#include "filters/spamd_reply.h"

struct span {
	const char *p, *end;
};

/* The next CRLF- (or LF-) ended line of s, without its end; 0 when there is none. */
static int
next_line(struct span *s, struct span *line)
{
	const char *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));

	if (nl == NULL)
		return 0;
	line->p = s->p;
	line->end = nl > s->p && nl[-1] == '\r' ? nl - 1 : nl;
	s->p = nl + 1;
	return 1;
}

static void
skip_spaces(struct span *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t'))
		s->p++;
}

/* A decimal number at s->p, as strtod reads it but bounded by s->end. */
static int
number(struct span *s, double *out)
{
	char buf[32];
	size_t n = 0;
	char *end;

	while (s->p + n < s->end && n < sizeof(buf) - 1 &&
	       (isdigit((unsigned char)s->p[n]) || s->p[n] == '.' || s->p[n] == '-' ||
	        s->p[n] == '+'))
		n++;
	if (n == 0)
		return -1;
	memcpy(buf, s->p, n);
	buf[n] = '\0';
	*out = strtod(buf, &end);
	if (end != buf + n || !isfinite(*out))
		return -1;
	s->p += n;
	return 0;
}

static int
starts(const struct span *s, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(s->end - s->p) >= n && strncasecmp(s->p, word, n) == 0;
}

/* "True ; 7.3 / 5.0" */
static int
spam_header(struct span v, struct spamd_reply *r)
{
	skip_spaces(&v);
	if (starts(&v, "True") || starts(&v, "Yes"))
		r->spam = 1;
	else if (!starts(&v, "False") && !starts(&v, "No"))
		return -1;
	while (v.p < v.end && isalpha((unsigned char)*v.p))
		v.p++;
	skip_spaces(&v);
	if (v.p == v.end || *v.p++ != ';')
		return -1;
	skip_spaces(&v);
	if (number(&v, &r->score) < 0)
		return -1;
	skip_spaces(&v);
	if (v.p == v.end || *v.p++ != '/')
		return -1;
	skip_spaces(&v);
	if (number(&v, &r->required) < 0)
		return -1;
	skip_spaces(&v);
	return v.p == v.end ? 0 : -1;
}

static int
rule_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

static int
symbols(struct span body, struct spamd_reply *r)
{
	while (body.p < body.end) {
		const char *start = body.p;

		while (body.p < body.end && rule_char(*body.p))
			body.p++;
		engine_list_add(r->tests, sizeof(r->tests), start, (size_t)(body.p - start));
		if (body.p < body.end && *body.p != ',' && *body.p != '\r' && *body.p != '\n')
			return -1;
		if (body.p < body.end)
			body.p++;
	}
	return 0;
}

/* The table after the "----" line: " 1.2 RULE_NAME  description", continuations indented. */
static int
report(struct span body, struct spamd_reply *r)
{
	struct span line;
	int table = 0;

	while (body.p < body.end) {
		double pts;

		if (!next_line(&body, &line)) { /* the last line, without its end */
			line = body;
			body.p = body.end;
		}

		if (!table) {
			table = starts(&line, "----");
			continue;
		}
		skip_spaces(&line);
		if (number(&line, &pts) < 0)
			continue;
		skip_spaces(&line);
		const char *start = line.p;

		while (line.p < line.end && rule_char(*line.p))
			line.p++;
		engine_list_add(r->tests, sizeof(r->tests), start, (size_t)(line.p - start));
	}
	return 0;
}

enum spamd_parse
spamd_reply_parse(const char *buf, size_t len, int eof, int want_report, struct spamd_reply *r)
{
	struct span s = {buf, buf + len}, line;
	long long content_length = -1;
	int have_spam = 0;

	memset(r, 0, sizeof(*r));
	/* A status line is short; a long run without one is not spamd. */
	if (!next_line(&s, &line))
		return eof || len > 256 ? SPAMD_BAD : SPAMD_MORE;
	if (!starts(&line, "SPAMD/"))
		return SPAMD_BAD;
	line.p += 6;
	while (line.p < line.end && (isdigit((unsigned char)*line.p) || *line.p == '.'))
		line.p++;
	if (line.p == line.end || *line.p != ' ')
		return SPAMD_BAD;
	skip_spaces(&line);
	r->code = 0;
	if (line.p == line.end || !isdigit((unsigned char)*line.p))
		return SPAMD_BAD;
	while (line.p < line.end && isdigit((unsigned char)*line.p) && r->code < 1000)
		r->code = r->code * 10 + (*line.p++ - '0');
	if (r->code >= 1000)
		return SPAMD_BAD;
	skip_spaces(&line);
	snprintf(r->message, sizeof(r->message), "%.*s", (int)(line.end - line.p), line.p);
	for (;;) {
		if (!next_line(&s, &line))
			return eof ? SPAMD_BAD : SPAMD_MORE;
		if (line.p == line.end)
			break;
		if (starts(&line, "Spam:")) {
			if (spam_header((struct span){line.p + 5, line.end}, r) < 0)
				return SPAMD_BAD;
			have_spam = 1;
		} else if (starts(&line, "Content-length:")) {
			struct span v = {line.p + 15, line.end};
			double n;

			skip_spaces(&v);
			if (number(&v, &n) < 0 || v.p != v.end || n < 0 || n > 1e9 || n != floor(n))
				return SPAMD_BAD;
			content_length = (long long)n;
		}
	}
	if (r->code != 0)
		return SPAMD_DONE;
	if (!have_spam)
		return SPAMD_BAD;
	if (content_length >= 0) {
		if ((long long)(s.end - s.p) < content_length)
			return eof ? SPAMD_BAD : SPAMD_MORE;
		s.end = s.p + content_length;
	} else if (!eof) {
		return SPAMD_MORE;
	}
	if ((want_report ? report(s, r) : symbols(s, r)) < 0)
		return SPAMD_BAD;
	return SPAMD_DONE;
}
