/*
 * NAME
 *	zone - DNS answers from zone data in memory, shaped as libunbound's
 * SYNOPSIS
 *	#include "tests/spf/zone.h"
 *
 *	zone_add(zone, name, type, rdata, len), zone_add_text(zone, name, type, value)
 *	zone_add_timeout(zone, name), zone_add_name(zone, name)
 *	zone_lookup(zone, name, rrtype, out)
 *	zone_free(zone)
 * DESCRIPTION
 *	For the SPF conformance runner and fuzz target: zone_lookup() is an
 *	spf_lookup_fn (filters/spf_eval.h) that answers as dns_query_sync()
 *	does, with a struct ub_result built as libunbound builds it (so
 *	dns_answer_free() frees it), so everything after the resolver is the
 *	code postern runs.
 *
 *	zone_add() adds a record in wire form; zone_add_text() one written as
 *	in a zone file ("192.0.2.1", "10 mx.example.org" for MX, a name for
 *	PTR and CNAME, one string for TXT, split into 255-octet strings).
 *	Returns 0, or -1 when the value cannot be written so.
 *	zone_add_timeout() makes questions the name has no records for time
 *	out (DNS_TEMPFAIL); zone_add_name() makes a name exist without
 *	records (DNS_NODATA rather than DNS_NXDOMAIN).
 *
 *	Names compare without regard to case or a final dot. CNAMEs are
 *	followed, 8 at most; a loop is DNS_TEMPFAIL, as a SERVFAIL is.
 */
#ifndef POSTERN_TESTS_ZONE_H
#define POSTERN_TESTS_ZONE_H

#include <stddef.h>

#include "filters/dns.h"

#define ZONE_TIMEOUT (-1)
#define ZONE_EXISTS (-2)

struct zone_rr {
	char *name;
	int type; /* or ZONE_TIMEOUT, ZONE_EXISTS */
	unsigned char *rdata;
	size_t len;
};

struct zone {
	struct zone_rr *rr;
	size_t n;
};

void zone_add(struct zone *z, const char *name, int type, const void *rdata, size_t len);
int zone_add_text(struct zone *z, const char *name, int type, const char *value);
void zone_add_timeout(struct zone *z, const char *name);
void zone_add_name(struct zone *z, const char *name);
int zone_has(const struct zone *z, const char *name, int type);
enum dns_status zone_lookup(void *zone, const char *name, int rrtype, struct dns_answer **out);
void zone_free(struct zone *z);
int zone_wire_name(const char *name, unsigned char *out, size_t size);

#endif
