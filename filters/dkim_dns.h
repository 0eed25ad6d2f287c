/*
 * NAME
 *	dkim_dns - libopendkim's key lookups through the shared resolver
 * SYNOPSIS
 *	#include "filters/dkim_dns.h"
 *
 *	dkim_dns_attach(lib)
 * DESCRIPTION
 *	dkim_dns_attach() replaces libopendkim's own resolver (res_query, or
 *	its private libunbound context) with the process's one resolver
 *	(filters/dns.h), through libopendkim's DNS hooks: a key lookup asks
 *	dns_query_sync() and hands libopendkim the wire answer it parses
 *	itself. Lookups happen inside dkim_eom(), which runs on a worker-pool
 *	thread, never the event loop's.
 *
 *	What libopendkim then makes of the answer: a timeout, SERVFAIL or
 *	network error is a failed key query (DKIM_SIGERROR_KEYFAIL: temperror);
 *	NXDOMAIN or no TXT record is no key (DKIM_SIGERROR_NOKEY); a name the
 *	resolver will not ask for is answered as NXDOMAIN.
 * DIAGNOSTICS
 *	None; libopendkim reports per signature.
 */
#ifndef POSTERN_DKIM_DNS_H
#define POSTERN_DKIM_DNS_H

#include <dkim.h>

void dkim_dns_attach(DKIM_LIB *lib);

#endif
