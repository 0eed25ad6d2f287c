/*
 * NAME
 *	spf_eval - one SPF check (RFC 7208) by libspf2, over a DNS lookup of ours
 * SYNOPSIS
 *	#include "filters/spf_eval.h"
 *
 *	spf_evaluate(lookup, ctx, query, verdict)
 *	spf_result_name(result)
 *	spf_lookup_resolver(ctx, name, rrtype, out)
 * DESCRIPTION
 *	spf_evaluate() checks one identity: the MAIL FROM (query->sender
 *	not NULL; the null sender "" is postmaster@helo, section 2.4) or the
 *	HELO name (query->sender NULL), for query->client_ip. It blocks
 *	while it looks things up, so it runs on a worker thread. Every DNS
 *	question goes to lookup(ctx, ...), which answers as
 *	dns_query_sync() does (filters/dns.h): spf_lookup_resolver() is the
 *	shared resolver itself; the conformance tests and the fuzz target
 *	answer from zone data.
 *
 *	libspf2 evaluates, with a DNS layer of ours around it
 *	(SPF_dns_server_t): it fetches and selects the records itself
 *	(get_spf), checks each against RFC 7208's grammar before libspf2
 *	compiles it (filters/spf_record.h), checks explanations likewise,
 *	counts void lookups (section 4.6.4: more than 2 is permerror), terms
 *	that look things up across include: (more than 10 is permerror) and
 *	all lookups (at most SPF_LOOKUPS_MAX per check, whatever libspf2's
 *	limits), and refuses (permerror) a record libspf2 compiled only in
 *	part (it drops what passes 511 octets without a word). libspf2's own
 *	free pass for loopback clients is not used: its evaluation is called
 *	directly.
 *
 *	verdict gets the result, the domain checked, the explanation for a
 *	fail (the record's exp=, else a default), and for temperror and
 *	permerror a short reason.
 * DIAGNOSTICS
 *	libspf2's own messages are logged at debug level; an internal error
 *	of libspf2 (its assertions) is logged and aborts, as libspf2 does.
 */
#ifndef POSTERN_SPF_EVAL_H
#define POSTERN_SPF_EVAL_H

#include "filters/dns.h"

#define SPF_LOOKUPS_MAX 200
#define SPF_VOID_MAX 2

enum spf_res {
	SPF_RES_NONE,
	SPF_RES_NEUTRAL,
	SPF_RES_PASS,
	SPF_RES_FAIL,
	SPF_RES_SOFTFAIL,
	SPF_RES_TEMPERROR,
	SPF_RES_PERMERROR,
};

typedef enum dns_status spf_lookup_fn(void *ctx, const char *name, int rrtype,
                                      struct dns_answer **out);

struct spf_query {
	const char *client_ip;
	const char *helo;
	const char *sender;   /* MAIL FROM without <>, "" for the null sender; NULL: HELO */
	const char *receiver; /* %{r}: our host name */
};

struct spf_verdict {
	enum spf_res result;
	char domain[256];      /* the domain whose record decided, as given */
	char sender[320];      /* the identity checked: local@domain, postmaster@helo */
	char explanation[512]; /* for fail */
	char problem[160];     /* for temperror and permerror */
};

void spf_evaluate(spf_lookup_fn *lookup, void *ctx, const struct spf_query *q,
                  struct spf_verdict *v);
const char *spf_result_name(enum spf_res result);
enum dns_status spf_lookup_resolver(void *ctx, const char *name, int rrtype,
                                    struct dns_answer **out);

#endif
