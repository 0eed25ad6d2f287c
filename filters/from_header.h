/*
 * NAME
 *	from_header - the domain of a message's From field (RFC 5322 3.6.2)
 * SYNOPSIS
 *	#include "filters/from_header.h"
 *
 *	from_header_domain(value, len, domain, size, why)
 * DESCRIPTION
 *	value holds what follows "From:" in a header field (folded lines
 *	included, len octets). Its mailbox-list is split at the commas outside
 *	quoted strings, comments and angle brackets, and each address is read
 *	by libopendkim's address parser (dkim_mail_parse). When every address
 *	has the same domain, it goes to domain, in lower case, and 0 is
 *	returned; otherwise -1, with why: "an empty From field", "a From
 *	address without a domain", "several From addresses". Used by DMARC
 *	(RFC 7489 6.6.1) and by DKIM signing, which picks the key by it.
 */
#ifndef POSTERN_FROM_HEADER_H
#define POSTERN_FROM_HEADER_H

#include <stddef.h>

int from_header_domain(const char *value, size_t len, char *domain, size_t size, const char **why);

#endif
