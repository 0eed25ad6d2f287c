/*
 * NAME
 *	sasl - who a client says it is, from its first SASL response
 * SYNOPSIS
 *	sasl_user(mech, response, len, user, size)
 * DESCRIPTION
 *	postern relays AUTH to the backend and never checks a password; but
 *	filters and the log may want the name a session authenticated as.
 *	sasl_user() decodes the first client response of mechanism mech
 *	(the initial response on the AUTH line, or the answer to the first 334)
 *	and copies the authentication identity into user: PLAIN's authcid
 *	(RFC 4616), LOGIN's user name. Returns 0, or -1 for other mechanisms,
 *	an empty or undecodable response, or a name that is not printable or
 *	does not fit. The decoded octets (PLAIN's password among them) are
 *	wiped before it returns; nothing is logged.
 * DIAGNOSTICS
 *	None: the caller logs the name only after the backend said 235.
 */
#ifndef POSTERN_SASL_H
#define POSTERN_SASL_H

#include <stddef.h>

int sasl_user(const char *mech, const char *response, size_t len, char *user, size_t size);

#endif
