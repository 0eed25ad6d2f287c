/*
 * NAME
 *	spf_record - SPF records and explanations checked before libspf2 sees them
 * SYNOPSIS
 *	#include "filters/spf_record.h"
 *
 *	spf_is_record(text)
 *	spf_record_prepare(text, family, out, size, why, whylen)
 *	spf_explanation_prepare(text, out, size)
 *	spf_domain_ok(domain)
 * DESCRIPTION
 *	The sending domain's owner writes the records we parse, and libspf2
 *	has had memory-safety bugs in macro expansion; it is also more lenient
 *	than RFC 7208 in places. So every record is checked against the
 *	grammar of RFC 7208 section 12 here first, and only a record that
 *	passes reaches libspf2, in a normalised form.
 *
 *	spf_is_record() says whether a TXT string is an SPF record: "v=spf1"
 *	(any case) followed by a space or the end (section 4.5).
 *
 *	spf_record_prepare() checks a whole record: every term a known
 *	mechanism with its arguments or a modifier (name=macro-string);
 *	domain-specs ending in a top label that is not all digits; macros of
 *	the letters s l o d i p h v only, with at most 3 digits and the
 *	delimiters .-+,/_=; ip4 and ip6 networks and CIDR lengths in range;
 *	redirect and exp at most once; at most SPF_RECORD_MAX octets, each
 *	term at most SPF_TERM_MAX. It
 *	writes to out the record as libspf2 is to see it for a client of
 *	family (AF_INET, AF_INET6): terms separated by one space, redirect=
 *	last (it applies after every mechanism, section 6.1, wherever it is
 *	written) or dropped when the record has an "all" mechanism, unknown
 *	modifiers left out (section 6: ignored), CIDR lengths of 0 (which
 *	libspf2 refuses) written another way: see spf_record.c. Returns 0,
 *	or -1 with the reason in why (the result is then permerror).
 *
 *	spf_explanation_prepare() checks the TXT string an exp= names (the
 *	letters c r t allowed too, no word longer than SPF_TERM_MAX) and
 *	writes it with %_ and %- spelled out as
 *	the space and "%20" they stand for. Returns 0, or -1 when it is not a
 *	valid explanation (section 6.2: then there is none).
 *
 *	spf_domain_ok() checks the domain of an identity before anything is
 *	looked up (section 4.3): a name we would ask for (dns_name_ok) with
 *	at least two labels, not an address or address literal. Returns 1 or
 *	0 (the result is then none).
 */
#ifndef POSTERN_SPF_RECORD_H
#define POSTERN_SPF_RECORD_H

#include <stddef.h>

#define SPF_RECORD_MAX 4096
/*
 * libspf2 compiles a term into 511 octets of a fixed buffer and has
 * miscounted what is left near its end (CVE-2023-42118, not fixed in
 * Debian's 1.2.10): a term no longer than this cannot reach past it.
 */
#define SPF_TERM_MAX 512
/* A label our DNS layer reads as "any address of the client's family" (CIDR /0). */
#define SPF_ANY_LABEL "x-postern-cidr0"

int spf_is_record(const char *text);
int spf_record_prepare(const char *text, int family, char *out, size_t size, char *why,
                       size_t whylen);
int spf_explanation_prepare(const char *text, char *out, size_t size);
int spf_domain_ok(const char *domain);

#endif
