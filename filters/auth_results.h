/*
 * NAME
 *	auth_results - the Authentication-Results header (RFC 8601)
 * SYNOPSIS
 *	auth_results_format(out, authserv_id, findings, n)
 *	auth_results_strip(header, len, authserv_id, out)
 *	auth_results_method(method)
 *	auth_results_value(buf, size, text, max)
 * DESCRIPTION
 *	auth_results_format() appends one "Authentication-Results:" field,
 *	CRLF-terminated and folded one result per line, for the findings whose
 *	method is an authentication method (spf, dkim, dmarc, arc, auth,
 *	iprev): "method=result" followed by the finding's detail, which such
 *	filters fill with RFC 8601 properties ("smtp.mailfrom=example.org").
 *	Appends nothing when there is no such finding. Returns the number of
 *	results written.
 *
 *	auth_results_strip() copies a header block (CRLF lines, without the
 *	empty line that ends it) to out, leaving out every
 *	Authentication-Results field, folded lines included, whose authserv-id
 *	is ours: a receiver must not trust what it did not write itself (RFC
 *	8601 section 5). Returns how many fields it left out.
 *
 *	auth_results_value() writes text (its first max characters; 0: all of
 *	it) as an RFC 8601 property value into buf: a token as it is, anything
 *	else as a quoted-string. Octets that cannot appear there at all
 *	(controls, non-ASCII: what a forged signature could carry) become
 *	"?". NULL or empty text is written "".
 */
#ifndef POSTERN_AUTH_RESULTS_H
#define POSTERN_AUTH_RESULTS_H

#include <stddef.h>

#include "filters/filter.h"

struct evbuffer;

int auth_results_format(struct evbuffer *out, const char *authserv_id, const struct finding *f,
                        size_t n);
int auth_results_strip(const char *header, size_t len, const char *authserv_id,
                       struct evbuffer *out);
int auth_results_method(const char *method);
void auth_results_value(char *buf, size_t size, const char *text, size_t max);

#endif
