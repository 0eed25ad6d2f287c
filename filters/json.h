/*
 * NAME
 *	json - a small, strict JSON parser (RFC 8259) for engines' replies
 * SYNOPSIS
 *	#include "filters/json.h"
 *
 *	json_parse(buf, len, err, errlen)
 *	json_get(object, key)
 *	json_free(value)
 * DESCRIPTION
 *	A pure function over a buffer (no NUL needed) that builds a tree:
 *	objects keep their keys in order (a repeated key is an error), strings
 *	are decoded to UTF-8 with their escapes (\u0000 is refused, so every
 *	string is also a C string), numbers are doubles (finite). It accepts
 *	exactly one value with white space around it and nothing else: no
 *	comments, no trailing commas, no leading zeros, no control characters
 *	or invalid UTF-8 in strings, no lone surrogates, at most JSON_DEPTH
 *	levels of nesting. It exists because rspamd answers in JSON and no
 *	JSON library is among postern's; it reads what an engine sends and
 *	nothing more general is promised.
 *
 *	json_parse() returns the value, or NULL with a message (and the
 *	offset) in err. json_get() is an object's member, or NULL.
 */
#ifndef POSTERN_JSON_H
#define POSTERN_JSON_H

#include <stddef.h>

#define JSON_DEPTH 32

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type type;
	int boolean;
	double number;
	char *string; /* JSON_STRING, NUL-terminated */
	size_t len;
	struct json *items; /* JSON_ARRAY, JSON_OBJECT: n values */
	char **keys;        /* JSON_OBJECT: n keys */
	size_t n;
};

struct json *json_parse(const char *buf, size_t len, char *err, size_t errlen);
const struct json *json_get(const struct json *object, const char *key);
void json_free(struct json *value);

#endif
