/*
 * NAME
 *	header_field - walking the fields of a message header block
 * SYNOPSIS
 *	#include "filters/header_field.h"
 *
 *	header_field_end(p, end)
 * DESCRIPTION
 *	header_field_end() returns where the header field that starts at p
 *	ends: past the LF of its last line, continuation lines (those that
 *	begin with a space or a tab, RFC 5322 2.2.3) included, or end when the
 *	block ends first. Fields are CRLF lines; the empty line that ends a
 *	header is not part of the block.
 */
#ifndef POSTERN_HEADER_FIELD_H
#define POSTERN_HEADER_FIELD_H

const char *header_field_end(const char *p, const char *end);

#endif
