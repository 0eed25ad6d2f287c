/*
 * NAME
 *	json - a small, strict JSON parser (RFC 8259) for engines' replies
 * SYNOPSIS
 *	See json.h.
 * DESCRIPTION
 *	Recursive descent, bounded by JSON_DEPTH; every read checks the end of
 *	the buffer. Memory grows with the input only (each value costs a
 *	struct json), and the caller bounds the input.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "filters/json.h"

struct parser {
	const unsigned char *p, *start, *end;
	char *err;
	size_t errlen;
	int failed;
};

static int value(struct parser *ps, struct json *out, int depth);

static int
fail(struct parser *ps, const char *what)
{
	if (!ps->failed)
		snprintf(ps->err, ps->errlen, "%s at offset %zu", what,
		         (size_t)(ps->p - ps->start));
	ps->failed = 1;
	return -1;
}

static void
skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int
literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, "unexpected token");
	ps->p += n;
	return 0;
}

static int
digits(struct parser *ps)
{
	const unsigned char *from = ps->p;

	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
		ps->p++;
	return ps->p > from ? 0 : fail(ps, "digit expected");
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
number(struct parser *ps, struct json *out)
{
	const unsigned char *from = ps->p;
	char buf[64];

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '0')
		ps->p++;
	else if (digits(ps) < 0)
		return -1;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (digits(ps) < 0)
			return -1;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (digits(ps) < 0)
			return -1;
	}
	if ((size_t)(ps->p - from) >= sizeof(buf))
		return fail(ps, "number too long");
	memcpy(buf, from, (size_t)(ps->p - from));
	buf[ps->p - from] = '\0';
	out->type = JSON_NUMBER;
	out->number = strtod(buf, NULL);
	return isfinite(out->number) ? 0 : fail(ps, "number out of range");
}

static int
hex4(struct parser *ps, unsigned *out)
{
	*out = 0;
	if (ps->end - ps->p < 4)
		return fail(ps, "short \\u escape");
	for (int i = 0; i < 4; i++) {
		unsigned char c = *ps->p++;
		unsigned d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return fail(ps, "bad \\u escape");
		*out = *out << 4 | d;
	}
	return 0;
}

static void
put_utf8(char *out, size_t *o, unsigned cp)
{
	if (cp < 0x80) {
		out[(*o)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (char)(0xc0 | cp >> 6);
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[(*o)++] = (char)(0xe0 | cp >> 12);
		out[(*o)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*o)++] = (char)(0xf0 | cp >> 18);
		out[(*o)++] = (char)(0x80 | (cp >> 12 & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* The length of a valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates), or 0. */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t n;
	unsigned cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int
string(struct parser *ps, char **out, size_t *outlen)
{
	/* Decoded, a string is never longer than its encoding. */
	const unsigned char *from = ++ps->p;
	char *s;
	size_t o = 0;

	while (ps->p < ps->end && *ps->p != '"')
		ps->p += *ps->p == '\\' && ps->p + 1 < ps->end ? 2 : 1;
	if (ps->p >= ps->end)
		return fail(ps, "unterminated string");
	s = xmalloc((size_t)(ps->p - from) + 1);
	ps->p = from;
	while (*ps->p != '"') {
		unsigned char c = *ps->p;

		if (c < 0x20) {
			free(s);
			return fail(ps, "control character in a string");
		}
		if (c != '\\') {
			size_t n = utf8_len(ps->p, ps->end);

			if (n == 0) {
				free(s);
				return fail(ps, "invalid UTF-8");
			}
			memcpy(s + o, ps->p, n);
			o += n;
			ps->p += n;
			continue;
		}
		ps->p++;
		c = *ps->p++;
		const char *simple = strchr("\"\\/bfnrt", c);
		unsigned cp, lo;

		if (c != 'u' && simple != NULL && c != '\0') {
			s[o++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
			continue;
		}
		if (c != 'u' || hex4(ps, &cp) < 0) {
			free(s);
			return fail(ps, "bad escape");
		}
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
				free(s);
				return fail(ps, "lone surrogate");
			}
			ps->p += 2;
			if (hex4(ps, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
				free(s);
				return fail(ps, "lone surrogate");
			}
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		} else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
			free(s);
			return fail(ps, cp ? "lone surrogate" : "\\u0000 in a string");
		}
		put_utf8(s, &o, cp);
	}
	ps->p++;
	s[o] = '\0';
	*out = s;
	*outlen = o;
	return 0;
}

/* Room for item n: capacities double, so a long array costs no quadratic copying. */
static void *
grow(void *items, size_t n, size_t size)
{
	if (n == 0 || (n & (n - 1)) == 0)
		return xrealloc(items, (n ? 2 * n : 1) * size);
	return items;
}

static int
array(struct parser *ps, struct json *out, int depth)
{
	out->type = JSON_ARRAY;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return 0;
	}
	for (;;) {
		out->items = grow(out->items, out->n, sizeof(*out->items));
		memset(&out->items[out->n], 0, sizeof(*out->items));
		if (value(ps, &out->items[out->n++], depth + 1) < 0)
			return -1;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return 0;
		}
		return fail(ps, "',' or ']' expected");
	}
}

static int
object(struct parser *ps, struct json *out, int depth)
{
	out->type = JSON_OBJECT;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return 0;
	}
	for (;;) {
		char *key;
		size_t klen;

		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '"')
			return fail(ps, "a key expected");
		if (string(ps, &key, &klen) < 0)
			return -1;
		if (json_get(out, key) != NULL) {
			free(key);
			return fail(ps, "repeated key");
		}
		out->keys = grow(out->keys, out->n, sizeof(*out->keys));
		out->items = grow(out->items, out->n, sizeof(*out->items));
		memset(&out->items[out->n], 0, sizeof(*out->items));
		out->keys[out->n] = key;
		out->n++;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':')
			return fail(ps, "':' expected");
		ps->p++;
		if (value(ps, &out->items[out->n - 1], depth + 1) < 0)
			return -1;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return 0;
		}
		return fail(ps, "',' or '}' expected");
	}
}

static int
value(struct parser *ps, struct json *out, int depth)
{
	if (depth > JSON_DEPTH)
		return fail(ps, "nested too deep");
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "a value expected");
	switch (*ps->p) {
	case '{':
		return object(ps, out, depth);
	case '[':
		return array(ps, out, depth);
	case '"':
		out->type = JSON_STRING;
		return string(ps, &out->string, &out->len);
	case 't':
		out->type = JSON_BOOL;
		out->boolean = 1;
		return literal(ps, "true");
	case 'f':
		out->type = JSON_BOOL;
		return literal(ps, "false");
	case 'n':
		out->type = JSON_NULL;
		return literal(ps, "null");
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return number(ps, out);
		return fail(ps, "unexpected character");
	}
}

static void
clear(struct json *v)
{
	for (size_t i = 0; i < v->n; i++) {
		clear(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->string);
}

struct json *
json_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	struct parser ps = {(const unsigned char *)buf,
	                    (const unsigned char *)buf,
	                    (const unsigned char *)buf + len,
	                    err,
	                    errlen,
	                    0};
	struct json *v = xcalloc(1, sizeof(*v));

	if (value(&ps, v, 0) == 0) {
		skip_ws(&ps);
		if (ps.p == ps.end)
			return v;
		fail(&ps, "text after the value");
	}
	json_free(v);
	return NULL;
}

const struct json *
json_get(const struct json *object, const char *key)
{
	if (object == NULL || object->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < object->n; i++)
		if (object->keys[i] != NULL && strcmp(object->keys[i], key) == 0)
			return &object->items[i];
	return NULL;
}

void
json_free(struct json *value)
{
	if (value == NULL)
		return;
	clear(value);
	free(value);
}
