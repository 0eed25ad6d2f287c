/*
 * NAME
 *	header_field - walking the fields of a message header block
 * SYNOPSIS
 *	See header_field.h.
 */
#include <string.h>

#include "filters/header_field.h"

const char *
header_field_end(const char *p, const char *end)
{
	do {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		p = nl ? nl + 1 : end;
	} while (p < end && (*p == ' ' || *p == '\t'));
	return p;
}
