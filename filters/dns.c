/*
 * NAME
 *	dns - the process's one DNS resolver (libunbound), shared by every filter
 * SYNOPSIS
 *	See dns.h.
 * DESCRIPTION
 *	libunbound resolves in a thread of its own (ub_ctx_async(ctx, 1)) and
 *	writes each answer to a pipe; ub_fd() is that pipe, on the event loop,
 *	and ub_process() there runs the callbacks. ub_resolve_async() and
 *	ub_cancel() are safe from any thread, so a worker starts its query
 *	itself and waits on a condition variable that the loop's callback
 *	signals.
 *
 *	A query from the loop owns a timer for its attempt. A worker's query
 *	is shared by the waiting worker and the callback: whichever lets go
 *	last frees it. When a worker gives up, ub_cancel() says whether the
 *	callback can still come (it fails once ub_process() has taken the
 *	answer): if not, the worker frees alone.
 *
 *	libunbound refuses to ask servers on 127.0.0.0/8 by default
 *	(do-not-query-localhost); forwarders on loopback (a local cache, the
 *	test suite's unbound) are the normal case here, so that is turned off.
 *	Likewise libunbound answers "test." itself (NXDOMAIN, RFC 6761); here
 *	that zone is passed on to the servers like any other, so that test
 *	zones served on loopback can be used (section 6.2 allows it).
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <unbound.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "filters/dns.h"

#define DNS_NAME_MAX 253
#define DNS_LABEL_MAX 63

/* A query from the loop. */
struct dns_query {
	dns_done_fn *done;
	void *arg;
	char *name;
	int rrtype;
	int async_id;           /* libunbound's, while asking */
	int asking;             /* an attempt is outstanding */
	unsigned attempts_left; /* after the current one */
	struct event *timer;    /* the attempt's timeout, or the delivery of final */
	enum dns_status final;  /* to deliver from the timer, when no attempt started */
	struct ub_result *result;
};

/* A worker's attempt: see the DESCRIPTION. */
struct sync_attempt {
	int refs;
	int finished;
	int err;
	struct ub_result *result;
};

static struct {
	struct ub_ctx *ctx;
	struct event *ev;
	struct event_base *base;
	pthread_t loop_thread;
	unsigned timeout_ms, attempts;
	pthread_mutex_t lock; /* guards sync attempts; one condition for all waiters */
	pthread_cond_t cond;
} dns = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const char *const status_names[] = {"ok", "nodata", "nxdomain", "tempfail", "badname"};

const char *
dns_status_name(enum dns_status status)
{
	return status_names[status];
}

int
dns_name_ok(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (c < ' ' || c >= 0x7f || c == '\\' || ++label > DNS_LABEL_MAX)
			return 0;
	}
	return 1;
}

/* What an attempt's outcome means: err is libunbound's, result may be NULL. */
static enum dns_status
classify(int err, const struct ub_result *result)
{
	if (err != 0 || result == NULL)
		return DNS_TEMPFAIL;
	if (result->havedata)
		return DNS_OK;
	if (result->nxdomain || result->rcode == ns_r_nxdomain)
		return DNS_NXDOMAIN;
	if (result->rcode == ns_r_noerror)
		return DNS_NODATA;
	return DNS_TEMPFAIL; /* SERVFAIL, REFUSED, FORMERR, NOTIMP ... */
}

static unsigned
attempt_ms(void)
{
	unsigned ms = dns.timeout_ms / dns.attempts;

	return ms > 0 ? ms : 1;
}

static void
ub_readable(evutil_socket_t fd, short what, void *arg)
{
	int rc = ub_process(dns.ctx);

	if (rc != 0)
		log_err("event=dns_error reason=\"ub_process: %s\"", ub_strerror(rc));
}

int
dns_server_parse(const char *text, char *out, size_t size)
{
	const char *colon = strrchr(text, ':');
	const char *host = text;
	unsigned char addr[16];
	char ip[INET6_ADDRSTRLEN];
	char *end;
	size_t hlen;
	unsigned long port;

	if (colon == NULL || colon[1] == '\0')
		return -1;
	hlen = (size_t)(colon - text);
	if (text[0] == '[') {
		if (hlen < 2 || text[hlen - 1] != ']')
			return -1;
		host++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(ip))
		return -1;
	memcpy(ip, host, hlen);
	ip[hlen] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535 || colon[1] < '0' || colon[1] > '9')
		return -1;
	if (inet_pton(text[0] == '[' ? AF_INET6 : AF_INET, ip, addr) != 1)
		return -1;
	return snprintf(out, size, "%s@%lu", ip, port) < (int)size ? 0 : -1;
}

int
dns_init(struct event_base *base, const struct config_dns *cfg, char *err, size_t errlen)
{
	pthread_condattr_t attr;
	int rc;

	if (dns.ctx != NULL)
		return 0;
	snprintf(err, errlen, "libunbound: ub_ctx_create failed");
	dns.ctx = ub_ctx_create();
	if (dns.ctx == NULL)
		return -1;
	/* The waits measure time that a clock change must not stretch. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&dns.cond, &attr);
	pthread_condattr_destroy(&attr);
	dns.base = base;
	dns.loop_thread = pthread_self();
	dns.timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 5000;
	dns.attempts = cfg->attempts ? cfg->attempts : 2;
	rc = ub_ctx_async(dns.ctx, 1);
	if (rc == 0)
		rc = ub_ctx_set_option(dns.ctx, "do-not-query-localhost:", "no");
	if (rc != 0)
		snprintf(err, errlen, "libunbound: %s", ub_strerror(rc));
	if (rc == 0 && cfg->nservers == 0 && (rc = ub_ctx_resolvconf(dns.ctx, NULL)) != 0)
		snprintf(err, errlen, "/etc/resolv.conf: %s", ub_strerror(rc));
	for (size_t i = 0; rc == 0 && i < cfg->nservers; i++) {
		char fwd[128];

		if (dns_server_parse(cfg->servers[i], fwd, sizeof(fwd)) < 0) {
			snprintf(err, errlen, "dns server \"%s\": expected IP:PORT",
			         cfg->servers[i]);
			rc = -1;
		} else if ((rc = ub_ctx_set_fwd(dns.ctx, fwd)) != 0) {
			snprintf(err, errlen, "dns server \"%s\": %s", cfg->servers[i],
			         ub_strerror(rc));
		}
	}
	/* Last: it finalizes the context, after which no setting can change. */
	if (rc == 0 && (rc = ub_ctx_zone_remove(dns.ctx, "test.")) != 0)
		snprintf(err, errlen, "libunbound: %s", ub_strerror(rc));
	if (rc == 0) {
		dns.ev = event_new(base, ub_fd(dns.ctx), EV_READ | EV_PERSIST, ub_readable, NULL);
		if (dns.ev == NULL || event_add(dns.ev, NULL) < 0) {
			snprintf(err, errlen, "cannot watch libunbound's descriptor");
			rc = -1;
		}
	}
	if (rc != 0) {
		dns_shutdown();
		return -1;
	}
	return 0;
}

void
dns_shutdown(void)
{
	if (dns.ev != NULL)
		event_free(dns.ev);
	dns.ev = NULL;
	if (dns.ctx != NULL) {
		ub_ctx_delete(dns.ctx);
		pthread_cond_destroy(&dns.cond);
	}
	dns.ctx = NULL;
}

/* From the loop. */

static void query_answered(void *arg, int err, struct ub_result *result);

static void
deliver(struct dns_query *q, enum dns_status status, struct ub_result *result)
{
	struct dns_answer answer = {.status = status,
	                            .rcode = result ? result->rcode : 0,
	                            .ub = status == DNS_TEMPFAIL ? NULL : result};

	q->done(q->arg, &answer);
	if (result != NULL)
		ub_resolve_free(result);
	event_free(q->timer);
	free(q->name);
	free(q);
}

/* Start an attempt; when none can start, deliver status from the loop. */
static void
attempt(struct dns_query *q, enum dns_status status)
{
	struct timeval tv = {.tv_sec = attempt_ms() / 1000,
	                     .tv_usec = (attempt_ms() % 1000) * 1000};

	q->asking =
	        status == DNS_TEMPFAIL && ub_resolve_async(dns.ctx, q->name, q->rrtype, ns_c_in, q,
	                                                   query_answered, &q->async_id) == 0;
	if (q->asking) {
		evtimer_add(q->timer, &tv);
		return;
	}
	q->final = status;
	event_active(q->timer, EV_TIMEOUT, 1);
}

static void
query_answered(void *arg, int err, struct ub_result *result)
{
	struct dns_query *q = arg;
	enum dns_status status = classify(err, result);

	q->asking = 0;
	evtimer_del(q->timer);
	if (status == DNS_TEMPFAIL && q->attempts_left > 0) {
		q->attempts_left--;
		if (result != NULL)
			ub_resolve_free(result);
		attempt(q, DNS_TEMPFAIL);
		return;
	}
	deliver(q, status, result);
}

static void
query_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;

	if (!q->asking) {
		deliver(q, q->final, NULL);
		return;
	}
	ub_cancel(dns.ctx, q->async_id);
	q->asking = 0;
	char quoted[300];

	log_debug("event=dns_timeout name=%s type=%d attempts_left=%u",
	          log_quote(quoted, sizeof(quoted), q->name, strlen(q->name)), q->rrtype,
	          q->attempts_left);
	if (q->attempts_left > 0) {
		q->attempts_left--;
		attempt(q, DNS_TEMPFAIL);
		return;
	}
	deliver(q, DNS_TEMPFAIL, NULL);
}

struct dns_query *
dns_query(const char *name, int rrtype, dns_done_fn *done, void *arg)
{
	struct dns_query *q;

	if (dns.ctx == NULL)
		return NULL;
	q = xcalloc(1, sizeof(*q));
	q->done = done;
	q->arg = arg;
	q->name = xstrdup(name);
	q->rrtype = rrtype;
	q->attempts_left = dns.attempts - 1;
	q->timer = evtimer_new(dns.base, query_timer, q);
	/* DNS_TEMPFAIL: ask; anything else is the answer already. */
	attempt(q, dns_name_ok(name) ? DNS_TEMPFAIL : DNS_BADNAME);
	return q;
}

void
dns_cancel(struct dns_query *q)
{
	if (q == NULL)
		return;
	if (q->asking)
		ub_cancel(dns.ctx, q->async_id);
	event_free(q->timer);
	free(q->name);
	free(q);
}

/* From a worker. */

static void
sync_release(struct sync_attempt *s)
{
	if (--s->refs > 0)
		return;
	if (s->result != NULL)
		ub_resolve_free(s->result);
	free(s);
}

static void
sync_answered(void *arg, int err, struct ub_result *result)
{
	struct sync_attempt *s = arg;

	pthread_mutex_lock(&dns.lock);
	s->finished = 1;
	s->err = err;
	s->result = result;
	sync_release(s);
	pthread_cond_broadcast(&dns.cond);
	pthread_mutex_unlock(&dns.lock);
}

static void
deadline_after(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/*
 * One attempt from a worker: its status, and the result when there is one
 * (the caller frees it).
 */
static enum dns_status
sync_attempt(const char *name, int rrtype, struct ub_result **result)
{
	struct sync_attempt *s = xcalloc(1, sizeof(*s));
	struct timespec deadline;
	enum dns_status status = DNS_TEMPFAIL;
	int id, rc = 0, finished, cancelled;
	char quoted[300];

	*result = NULL;
	s->refs = 2; /* ours, the callback's */
	if (ub_resolve_async(dns.ctx, name, rrtype, ns_c_in, s, sync_answered, &id) != 0) {
		free(s);
		return DNS_TEMPFAIL;
	}
	deadline_after(&deadline, attempt_ms());
	pthread_mutex_lock(&dns.lock);
	while (!s->finished && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&dns.cond, &dns.lock, &deadline);
	finished = s->finished;
	if (finished) {
		status = classify(s->err, s->result);
		*result = s->result;
		s->result = NULL;
	}
	pthread_mutex_unlock(&dns.lock);
	/* Unlocked: libunbound takes its own lock, which its callbacks may hold. */
	cancelled = !finished && ub_cancel(dns.ctx, id) == 0;
	if (!finished)
		log_debug("event=dns_timeout name=%s type=%d",
		          log_quote(quoted, sizeof(quoted), name, strlen(name)), rrtype);
	pthread_mutex_lock(&dns.lock);
	if (cancelled)
		s->refs--; /* the callback will not come */
	sync_release(s);
	pthread_mutex_unlock(&dns.lock);
	return status;
}

enum dns_status
dns_query_sync(const char *name, int rrtype, struct dns_answer **out)
{
	enum dns_status status = DNS_TEMPFAIL;
	struct ub_result *result = NULL;

	if (out != NULL)
		*out = NULL;
	if (!dns_name_ok(name))
		return DNS_BADNAME;
	if (dns.ctx == NULL)
		return DNS_TEMPFAIL;
	if (pthread_equal(pthread_self(), dns.loop_thread)) {
		char quoted[300];

		log_err("event=dns_bug reason=\"dns_query_sync on the event loop's thread\" "
		        "name=%s",
		        log_quote(quoted, sizeof(quoted), name, strlen(name)));
		return DNS_TEMPFAIL;
	}
	for (unsigned i = 0; i < dns.attempts && status == DNS_TEMPFAIL; i++) {
		if (result != NULL)
			ub_resolve_free(result);
		status = sync_attempt(name, rrtype, &result);
	}
	if (status == DNS_TEMPFAIL || out == NULL) {
		if (result != NULL)
			ub_resolve_free(result);
		return status;
	}
	*out = xcalloc(1, sizeof(**out));
	(*out)->status = status;
	(*out)->rcode = result->rcode;
	(*out)->ub = result;
	return status;
}

void
dns_answer_free(struct dns_answer *a)
{
	if (a == NULL)
		return;
	ub_resolve_free((struct ub_result *)a->ub);
	free(a);
}
