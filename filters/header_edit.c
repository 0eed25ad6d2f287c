/*
 * NAME
 *	header_edit - apply filters' header edits to a header block
 * SYNOPSIS
 *	See header_edit.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "common/xalloc.h"
#include "filters/header_edit.h"
#include "filters/header_field.h"

/* One field of the result: a run of the original block, or a new text. */
struct item {
	const char *text;
	size_t len;
	char *owned;
};

static size_t
split(const char *block, size_t len, struct item **items)
{
	size_t n = 0, cap = 0;

	*items = NULL;
	for (const char *p = block, *end = block + len; p < end;) {
		const char *q = header_field_end(p, end);

		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			*items = xrealloc(*items, cap * sizeof(**items));
		}
		(*items)[n++] = (struct item){.text = p, .len = (size_t)(q - p)};
		p = q;
	}
	return n;
}

static int
named(const struct item *it, const char *name)
{
	size_t nl = strlen(name);

	return it->len > nl && strncasecmp(it->text, name, nl) == 0 && it->text[nl] == ':';
}

static struct item
new_field(const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 5;
	char *s = xmalloc(n);

	/* A value from a milter may be folded already; a leading space is ours. */
	snprintf(s, n, "%s: %s\r\n", name, value);
	return (struct item){.text = s, .len = strlen(s), .owned = s};
}

void
header_edits_apply(const char *block, size_t len, const struct header_edit *edits, size_t n,
                   struct evbuffer *out)
{
	struct item *items;
	size_t count = split(block, len, &items);

	for (size_t e = 0; e < n; e++) {
		const struct header_edit *ed = &edits[e];
		size_t at = count;

		if (ed->op == HEADER_CHANGE) {
			unsigned seen = 0;

			for (at = 0; at < count; at++)
				if (named(&items[at], ed->name) && ++seen == ed->index)
					break;
			if (at == count)
				continue;
			free(items[at].owned);
			if (ed->value != NULL) {
				items[at] = new_field(ed->name, ed->value);
				continue;
			}
			memmove(items + at, items + at + 1, (count - at - 1) * sizeof(*items));
			count--;
			continue;
		}
		if (ed->op == HEADER_INSERT && ed->index < count)
			at = ed->index;
		items = xrealloc(items, (count + 1) * sizeof(*items));
		memmove(items + at + 1, items + at, (count - at) * sizeof(*items));
		items[at] = new_field(ed->name, ed->value ? ed->value : "");
		count++;
	}
	for (size_t i = 0; i < count; i++) {
		evbuffer_add(out, items[i].text, items[i].len);
		free(items[i].owned);
	}
	free(items);
}
