/*
 * NAME
 *	dkim_dns - libopendkim's key lookups through the shared resolver
 * SYNOPSIS
 *	See dkim_dns.h.
 * DESCRIPTION
 *	libopendkim's hooks are asynchronous in shape (start, wait, cancel);
 *	on a worker thread the simplest honest fit is to do the whole lookup
 *	in start and let waitreply hand over what came back.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <stdlib.h>
#include <string.h>

#include <unbound.h>

#include "common/xalloc.h"
#include "filters/dkim_dns.h"
#include "filters/dns.h"

struct lookup {
	int status; /* DKIM_DNS_* */
	size_t len; /* octets of the answer written to libopendkim's buffer */
};

/* libopendkim only needs the service handle to be set: one for the process. */
static int service;

/* The wire answer of a, or one that says NXDOMAIN for a name we will not ask. */
static int
answer_packet(int type, enum dns_status st, const struct dns_answer *a, unsigned char *buf,
              size_t buflen, size_t *len)
{
	if (st == DNS_BADNAME) {
		/* A header, one question, no answer: what libopendkim reads as no key. */
		HEADER h = {0};
		int n;

		h.qr = 1;
		h.rcode = NXDOMAIN;
		h.qdcount = htons(1);
		if (buflen < HFIXEDSZ + QFIXEDSZ + 2)
			return -1;
		memcpy(buf, &h, HFIXEDSZ);
		/* The question names the root: the name itself cannot be written. */
		buf[HFIXEDSZ] = 0;
		n = HFIXEDSZ + 1;
		buf[n++] = (unsigned char)(type >> 8);
		buf[n++] = (unsigned char)type;
		buf[n++] = 0;
		buf[n++] = C_IN;
		*len = (size_t)n;
		return 0;
	}
	if (a == NULL || a->ub == NULL || a->ub->answer_packet == NULL ||
	    (size_t)a->ub->answer_len > buflen)
		return -1;
	memcpy(buf, a->ub->answer_packet, (size_t)a->ub->answer_len);
	*len = (size_t)a->ub->answer_len;
	return 0;
}

static int
query_start(void *srv, int type, unsigned char *query, unsigned char *buf, size_t buflen, void **qh)
{
	struct lookup *l = xcalloc(1, sizeof(*l));
	struct dns_answer *a = NULL;
	enum dns_status st = dns_query_sync((const char *)query, type, &a);

	l->status = DKIM_DNS_ERROR;
	if (st != DNS_TEMPFAIL && answer_packet(type, st, a, buf, buflen, &l->len) == 0)
		l->status = DKIM_DNS_SUCCESS;
	if (a != NULL)
		dns_answer_free(a);
	*qh = l;
	return 0;
}

static int
query_waitreply(void *srv, void *qh, struct timeval *timeout, size_t *bytes, int *error,
                int *dnssec)
{
	const struct lookup *l = qh;

	*bytes = l->len;
	if (error != NULL)
		*error = 0;
	if (dnssec != NULL)
		*dnssec = DKIM_DNSSEC_UNKNOWN;
	return l->status;
}

static int
query_cancel(void *srv, void *qh)
{
	free(qh);
	return 0;
}

static int
resolver_init(void **srv)
{
	*srv = &service;
	return 0;
}

static void
resolver_close(void *srv)
{
}

void
dkim_dns_attach(DKIM_LIB *lib)
{
	dkim_dns_set_query_service(lib, &service);
	dkim_dns_set_init(lib, resolver_init);
	dkim_dns_set_close(lib, resolver_close);
	dkim_dns_set_query_start(lib, query_start);
	dkim_dns_set_query_waitreply(lib, query_waitreply);
	dkim_dns_set_query_cancel(lib, query_cancel);
}
