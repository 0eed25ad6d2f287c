/*
 * NAME
 *	header_edit - apply filters' header edits to a header block
 * SYNOPSIS
 *	header_edits_apply(block, len, edits, n, out)
 * DESCRIPTION
 *	Pure. block holds header fields (CRLF lines, continuation lines
 *	included, no empty line). The edits, in the order filters made them,
 *	work as milter's do: HEADER_ADD appends a field at the end;
 *	HEADER_INSERT puts one before the index-th field (0: first; past the
 *	end: last); HEADER_CHANGE replaces the index-th (1-based) field of that
 *	name (case-insensitive), or deletes it when value is NULL, and does
 *	nothing when there is no such field. The result goes to out.
 */
#ifndef POSTERN_HEADER_EDIT_H
#define POSTERN_HEADER_EDIT_H

#include <stddef.h>

#include "filters/filter.h"

struct evbuffer;

void header_edits_apply(const char *block, size_t len, const struct header_edit *edits, size_t n,
                        struct evbuffer *out);

#endif
