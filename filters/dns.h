/*
 * NAME
 *	dns - the process's one DNS resolver (libunbound), shared by every filter
 * SYNOPSIS
 *	#include "filters/dns.h"
 *
 *	dns_init(base, cfg, err, errlen), dns_shutdown()
 *	dns_query(name, rrtype, done, arg), dns_cancel(query)
 *	dns_query_sync(name, rrtype, out), dns_answer_free(answer)
 *	dns_name_ok(name), dns_server_parse(text, out, size)
 *	dns_status_name(status)
 * DESCRIPTION
 *	One ub_ctx and its cache serve SPF, DKIM, DMARC and DNSBL alike. Its
 *	resolving runs in libunbound's own thread (ub_ctx_async); answers
 *	come back through a descriptor on the event loop, where ub_process()
 *	runs the callbacks.
 *
 *	dns_init() is called by main before the loop runs (once; a reload
 *	does not change the resolver). With no servers it uses
 *	/etc/resolv.conf; otherwise it forwards to each "IP:PORT". Returns 0,
 *	or -1 with a message in err.
 *
 *	dns_query() is for the event loop's thread: done(arg, answer) is
 *	called later from the loop, exactly once, unless dns_cancel() is
 *	called first; never from inside dns_query(). The answer (and its ub)
 *	is valid during done() only. Returns NULL only when dns_init() has
 *	not been called (done is then not called).
 *
 *	dns_query_sync() is for worker-pool threads (filters/worker.h), never
 *	the loop's: it blocks at most timeout_ms, while the loop completes the
 *	query. On DNS_OK, DNS_NODATA and DNS_NXDOMAIN, *out (when out is not
 *	NULL) is an answer to free with dns_answer_free(); otherwise *out is
 *	NULL.
 *
 *	Each query gets dns.timeout in all, split evenly over dns.attempts: an
 *	attempt that times out or ends in SERVFAIL or REFUSED is asked again
 *	while attempts and time remain; what remains then is DNS_TEMPFAIL.
 *
 *	dns_name_ok() says whether a name is one we ask for: at most 253
 *	octets without a final dot, labels of 1 to 63 printable octets (a
 *	space is one: SPF macros make such names) other than a backslash
 *	(which libunbound would read as an escape).
 *
 *	dns_server_parse() turns a server as the configuration writes it,
 *	"IPv4:PORT" or "[IPv6]:PORT" (an address: the resolver cannot look up
 *	its own server), into libunbound's "IP@PORT". Returns 0, or -1 when
 *	text is not written so or out is too small.
 *	dns_status_name() is "ok", "nodata", "nxdomain", "tempfail", "badname".
 * DIAGNOSTICS
 *	dns_query_sync() called on the loop's thread is a bug: logged, and it
 *	returns DNS_TEMPFAIL rather than wait for itself. Timeouts are logged
 *	at debug level.
 */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <stddef.h>

struct event_base;
struct ub_result; /* libunbound's, <unbound.h> */

/* YAML dns: { servers: [127.0.0.1:5353, ...], timeout: 5s, attempts: 2 } */
struct config_dns {
	char **servers; /* "IP:PORT" as written; NULL/0: resolv.conf */
	size_t nservers;
	unsigned timeout_ms; /* per query, all attempts included; default 5000 */
	unsigned attempts;   /* default 2 */
};

enum dns_status {
	DNS_OK,       /* at least one record of the type */
	DNS_NODATA,   /* the name exists, no record of that type */
	DNS_NXDOMAIN, /* the name does not exist */
	DNS_TEMPFAIL, /* timeout, SERVFAIL, REFUSED, network: try again later */
	DNS_BADNAME,  /* not a name we will ask for (too long, bad label) */
};

struct dns_answer {
	enum dns_status status;
	int rcode;
	const struct ub_result *ub; /* the whole libunbound result, NULL unless an answer
	                               came (ub->data/len are the rdata of each record;
	                               ub->answer_packet/answer_len the wire packet) */
};

int dns_init(struct event_base *base, const struct config_dns *cfg, char *err, size_t errlen);
void dns_shutdown(void);

typedef void dns_done_fn(void *arg, const struct dns_answer *answer);
struct dns_query *dns_query(const char *name, int rrtype, dns_done_fn *done, void *arg);
void dns_cancel(struct dns_query *q);

enum dns_status dns_query_sync(const char *name, int rrtype, struct dns_answer **out);
void dns_answer_free(struct dns_answer *a);

int dns_name_ok(const char *name);
int dns_server_parse(const char *text, char *out, size_t size);
const char *dns_status_name(enum dns_status status);

#endif
