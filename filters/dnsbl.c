/*
 * NAME
 *	dnsbl - DNS block and allow lists for the client, HELO, sender and From
 * SYNOPSIS
 *	filters:
 *	  dnsbl:
 *	    type: dnsbl
 *	    lists:
 *	      - { zone: zen.example, check: client, weight: 5 }
 *	      - { zone: wl.example, check: client, weight: -3 }
 *	      - { zone: multi.example, check: client,
 *	          codes: { 127.0.0.2: 4, 127.0.0.10: 1 } }
 *	      - { zone: bits.example, check: client, mask: 4, weight: 2 }
 *	      - { name: dbl, zone: dbl.example, check: [ helo, sender, from ], weight: 3 }
 * DESCRIPTION
 *	Each list is a DNS zone asked for an A record: for the client the
 *	address reversed (192.0.2.1 -> 1.2.0.192.ZONE; IPv6 by nibbles), for
 *	helo, sender and from (the domain of the From: header field) the
 *	domain itself (RHSBL: example.com.ZONE). Answers outside 127.0.0.0/8
 *	are not listings (a hijacked or wildcarded zone) and are ignored.
 *
 *	A list counts an answer when it is in codes (each code its own
 *	weight), or when no codes are given: when mask is set, an answer whose
 *	last octet has one of the mask's bits; otherwise any answer. Each
 *	list that counts something is one finding: method "dnsbl", result
 *	the list's name (default: its zone), score the weights of what it
 *	counted (a negative weight makes an allow list: DNSWL), and the names
 *	and answers as detail. A policy can act on a list by name: dnsbl: {
 *	zen.example: reject }.
 *
 *	All lookups go through the shared resolver (filters/dns.h), all lists
 *	at once. The client is asked at CONNECT, without holding the greeting
 *	back: the answers are kept for the session and become findings at
 *	each MAIL, which waits only for those still missing (without a
 *	session, in postern --explain, the client is asked at MAIL). HELO and
 *	sender are asked at MAIL, the From domain at the end of the message;
 *	a name asked once in a transaction is not asked again for the same
 *	list. A lookup that fails (timeout, SERVFAIL) is filter_error
 *	"dns-tempfail" (on_error applies; with continue the list just does
 *	not count).
 * DIAGNOSTICS
 *	event=dnsbl_tempfail filter= zone= name= (info); event=dnsbl_bad_answer
 *	filter= zone= answer= (info) for answers outside 127.0.0.0/8.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unbound.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "filters/dns.h"
#include "filters/filter.h"
#include "filters/filter_config.h"

#define DNS_TYPE_A 1

enum dnsbl_check { CHECK_CLIENT, CHECK_HELO, CHECK_SENDER, CHECK_FROM, CHECKS };

static const char *const check_names[] = {"client", "helo", "sender", "from"};

struct dnsbl_code {
	uint32_t addr;
	double weight;
};

struct dnsbl_list {
	char *name, *zone;
	unsigned checks; /* 1 << enum dnsbl_check */
	double weight;
	struct dnsbl_code *codes;
	size_t ncodes;
	unsigned mask;
};

struct dnsbl_conf {
	struct dnsbl_list *lists;
	size_t n;
};

/* Per transaction: "ZONE NAME" for each name asked, so none is asked (or counted) twice. */
struct dnsbl_seen {
	char **names;
	size_t n;
};

struct dnsbl_lookup {
	const struct filter *filter;
	struct dnsbl_job *job;     /* the stage that waits for it, or NULL */
	struct dnsbl_early *early; /* or the session that keeps its answer */
	const struct dnsbl_list *list;
	struct dns_query *q; /* NULL once answered */
	int tempfail;
	double score; /* NAN: nothing counted */
	char codes[128];
	char name[300];
};

/* Per session: the client's lookups, started at CONNECT so that MAIL finds them answered. */
struct dnsbl_early {
	struct dnsbl_lookup *lookups;
	size_t n, pending;
	struct dnsbl_job *waiting; /* a MAIL stage waiting for the last answers */
};

struct dnsbl_job {
	struct filter_call *call;
	struct dnsbl_early *early; /* whose answers it still waits for, or NULL */
	struct dnsbl_lookup *lookups;
	size_t n, pending; /* running lookups, and one more while it waits for early */
};

static const char *const dnsbl_keys[] = {"lists", NULL};
static const char *const list_keys[] = {"name", "zone", "check", "weight", "codes", "mask", NULL};

static void
load_codes(struct fconf *c, yaml_node_t *node, struct dnsbl_list *l)
{
	if (node->type != YAML_MAPPING_NODE) {
		fconf_error(c, node, "expected a mapping of answers to weights (127.0.0.2: 5)");
		return;
	}
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = fconf_node(c, p->key), *v = fconf_node(c, p->value);
		struct in_addr a;
		double w;

		if (k->type != YAML_SCALAR_NODE ||
		    inet_pton(AF_INET, (const char *)k->data.scalar.value, &a) != 1 ||
		    (ntohl(a.s_addr) >> 24) != 127) {
			fconf_error(c, k, "an answer is an address in 127.0.0.0/8");
			continue;
		}
		if (fconf_number(c, v, &w) < 0)
			continue;
		l->codes = xrealloc(l->codes, (l->ncodes + 1) * sizeof(*l->codes));
		l->codes[l->ncodes++] = (struct dnsbl_code){ntohl(a.s_addr), w};
	}
}

static void
load_list(struct fconf *c, yaml_node_t *node, struct dnsbl_list *l, size_t index)
{
	char key[64];

	l->weight = 1;
	snprintf(key, sizeof(key), "lists[%zu]", index);
	c->key = key;
	if (node->type != YAML_MAPPING_NODE) {
		fconf_error(c, node, "expected a mapping (zone, check, weight ...)");
		return;
	}
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = fconf_node(c, p->key), *v = fconf_node(c, p->value);
		const char *name =
		        k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";

		snprintf(key, sizeof(key), "lists[%zu].%s", index, name);
		if (strcmp(name, "name") == 0) {
			fconf_string(c, v, &l->name);
		} else if (strcmp(name, "zone") == 0) {
			if (fconf_string(c, v, &l->zone) == 0 && !dns_name_ok(l->zone))
				fconf_error(c, v, "\"%s\" is not a DNS zone", l->zone);
		} else if (strcmp(name, "weight") == 0) {
			fconf_number(c, v, &l->weight);
		} else if (strcmp(name, "codes") == 0) {
			load_codes(c, v, l);
		} else if (strcmp(name, "mask") == 0) {
			double m;

			if (fconf_number(c, v, &m) == 0 && (m < 1 || m > 255 || m != floor(m)))
				fconf_error(c, v,
				            "a mask is 1 to 255, the bits of the answer's "
				            "last octet");
			else
				l->mask = (unsigned)m;
		} else if (strcmp(name, "check") == 0) {
			char **words = NULL;
			size_t n = 0;

			fconf_strings(c, v, &words, &n);
			for (size_t i = 0; i < n; i++) {
				size_t w;

				for (w = 0; w < CHECKS && strcmp(words[i], check_names[w]); w++)
					;
				if (w == CHECKS)
					fconf_error(c, v,
					            "\"%s\" is not client, helo, sender or from",
					            words[i]);
				else
					l->checks |= 1u << w;
				free(words[i]);
			}
			free(words);
		} else {
			fconf_unknown(c, k, list_keys);
		}
	}
	snprintf(key, sizeof(key), "lists[%zu]", index);
	if (l->zone == NULL)
		fconf_error(c, node, "a list needs a zone");
	if (l->checks == 0)
		fconf_error(c, node, "a list needs check: client, helo, sender or from");
	if (l->name == NULL && l->zone != NULL)
		l->name = xstrdup(l->zone);
	c->key = NULL;
}

static int
dnsbl_key(struct fconf *c, const char *key, yaml_node_t *value, void *arg)
{
	struct dnsbl_conf *dc = arg;

	if (strcmp(key, "lists") != 0)
		return -1;
	if (value->type != YAML_SEQUENCE_NODE) {
		fconf_error(c, value, "expected a list of lists");
		return 0;
	}
	for (yaml_node_item_t *i = value->data.sequence.items.start;
	     i < value->data.sequence.items.top; i++) {
		dc->lists = xrealloc(dc->lists, (dc->n + 1) * sizeof(*dc->lists));
		memset(&dc->lists[dc->n], 0, sizeof(*dc->lists));
		load_list(c, fconf_node(c, *i), &dc->lists[dc->n], dc->n);
		dc->n++;
	}
	return 0;
}

static int
dnsbl_configure(struct filter *filter, yaml_document_t *doc, yaml_node_t *node, const char *file,
                struct config_diag *diag)
{
	struct dnsbl_conf *dc = xcalloc(1, sizeof(*dc));
	struct fconf c;

	filter->state = dc;
	fconf_init(&c, filter, doc, file, diag);
	return fconf_walk(&c, node, dnsbl_keys, dnsbl_key, dc);
}

static void
dnsbl_destroy(struct filter *filter)
{
	struct dnsbl_conf *dc = filter->state;

	if (dc == NULL)
		return;
	for (size_t i = 0; i < dc->n; i++) {
		free(dc->lists[i].name);
		free(dc->lists[i].zone);
		free(dc->lists[i].codes);
	}
	free(dc->lists);
	free(dc);
}

static void
dnsbl_txn_end(const struct filter *filter, void *state)
{
	struct dnsbl_seen *seen = state;

	for (size_t i = 0; i < seen->n; i++)
		free(seen->names[i]);
	free(seen->names);
	free(seen);
}

/* The client's address as a list asks for it: reversed octets, or nibbles. */
static int
reversed_address(const char *ip, char *out, size_t size)
{
	unsigned char a[16];
	size_t o = 0;

	if (strncasecmp(ip, "::ffff:", 7) == 0 && inet_pton(AF_INET, ip + 7, a) == 1)
		ip += 7;
	if (inet_pton(AF_INET, ip, a) == 1) {
		snprintf(out, size, "%u.%u.%u.%u", a[3], a[2], a[1], a[0]);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, a) != 1 || size < 64)
		return -1;
	for (int i = 15; i >= 0; i--)
		o += (size_t)snprintf(out + o, size - o, "%x.%x%s", a[i] & 0xf, a[i] >> 4,
		                      i ? "." : "");
	return 0;
}

static const char *
domain_of(const char *address)
{
	const char *at = address ? strrchr(address, '@') : NULL;

	return at ? at + 1 : NULL;
}

/* The domain of the first From: field's address, into buf; NULL if there is none. */
static const char *
from_domain(const struct filter_txn *txn, char *buf, size_t size)
{
	const char *p = txn->header_block, *end = p ? p + txn->header_len : NULL;

	while (p != NULL && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;

		if (line_end - p > 5 && strncasecmp(p, "From:", 5) == 0) {
			const char *lt = memchr(p, '<', (size_t)(line_end - p));
			const char *start = lt ? lt + 1 : p + 5;
			const char *stop =
			        lt ? memchr(start, '>', (size_t)(line_end - start)) : NULL;
			const char *at = NULL;

			if (stop == NULL)
				stop = line_end;
			for (const char *q = start; q < stop; q++)
				if (*q == '@')
					at = q;
			if (at == NULL)
				return NULL;
			size_t n = 0;

			for (const char *q = at + 1;
			     q < stop && n + 1 < size &&
			     (isalnum((unsigned char)*q) || *q == '.' || *q == '-' || *q == '_');
			     q++)
				buf[n++] = (char)tolower((unsigned char)*q);
			buf[n] = '\0';
			return n > 0 ? buf : NULL;
		}
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

/* Whether "ZONE NAME" was asked before in this transaction; remembers it if not. */
static int
seen_before(struct filter_call *call, const char *zone, const char *name)
{
	struct dnsbl_seen *seen = *call->state;
	char key[600];

	if (seen == NULL)
		seen = *call->state = xcalloc(1, sizeof(*seen));
	snprintf(key, sizeof(key), "%s %s", zone, name);
	for (size_t i = 0; i < seen->n; i++)
		if (strcasecmp(seen->names[i], key) == 0)
			return 1;
	seen->names = xrealloc(seen->names, (seen->n + 1) * sizeof(*seen->names));
	seen->names[seen->n++] = xstrdup(key);
	return 0;
}

static void
job_free(struct dnsbl_job *job)
{
	job->call->scratch = NULL;
	free(job->lookups);
	free(job);
}

/* What a list counts in an answer: the weights summed; NAN when nothing counts. */
static double
count_answer(const struct filter *f, const struct dnsbl_list *l, const struct ub_result *ub,
             char *seen, size_t size)
{
	double score = NAN;
	size_t o = 0;

	seen[0] = '\0';
	for (int i = 0; ub->data != NULL && ub->data[i] != NULL; i++) {
		const unsigned char *d = (const unsigned char *)ub->data[i];
		uint32_t a;
		double w = NAN;

		if (ub->len[i] != 4)
			continue;
		a = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
		if (d[0] != 127) {
			log_info("event=dnsbl_bad_answer filter=%s zone=%s answer=%u.%u.%u.%u",
			         f->name, l->zone, d[0], d[1], d[2], d[3]);
			continue;
		}
		if (l->ncodes > 0) {
			for (size_t c = 0; c < l->ncodes; c++)
				if (l->codes[c].addr == a)
					w = l->codes[c].weight;
		} else if (l->mask == 0 || (d[3] & l->mask) != 0) {
			w = l->weight;
		}
		if (isnan(w))
			continue;
		score = (isnan(score) ? 0 : score) + w;
		if (o < size)
			o += (size_t)snprintf(seen + o, size - o, "%s%u.%u.%u.%u", o ? "," : "",
			                      d[0], d[1], d[2], d[3]);
	}
	return score;
}

/* Keep what an answer says in the lookup: a temporary failure, or what the list counts. */
static void
answer_into(struct dnsbl_lookup *lk, const struct dns_answer *answer)
{
	lk->q = NULL;
	lk->score = NAN;
	lk->codes[0] = '\0';
	if (answer->status == DNS_TEMPFAIL) {
		lk->tempfail = 1;
		log_info("event=dnsbl_tempfail filter=%s zone=%s name=%s", lk->filter->name,
		         lk->list->zone, lk->name);
	} else if (answer->status == DNS_OK && answer->ub != NULL) {
		lk->score = count_answer(lk->filter, lk->list, answer->ub, lk->codes,
		                         sizeof(lk->codes));
	}
}

/* The lookup's answer as the stage's finding. */
static void
report(struct filter_call *call, const struct dnsbl_lookup *lk)
{
	if (lk->tempfail)
		filter_error(call, "dns-tempfail");
	else if (!isnan(lk->score))
		filter_finding(call, "dnsbl", lk->list->name, lk->score, "%s=%s", lk->name,
		               lk->codes);
}

/* One of the job's waits is over; the last one ends the stage. */
static void
job_step(struct dnsbl_job *job)
{
	struct filter_call *call = job->call;

	if (--job->pending > 0)
		return;
	job_free(job);
	filter_done(call);
}

static void
early_answered(struct dnsbl_early *e)
{
	struct dnsbl_job *job = e->waiting;

	if (--e->pending > 0 || job == NULL)
		return;
	e->waiting = NULL;
	job->early = NULL;
	for (size_t i = 0; i < e->n; i++)
		report(job->call, &e->lookups[i]);
	job_step(job);
}

static void
lookup_done(void *arg, const struct dns_answer *answer)
{
	struct dnsbl_lookup *lk = arg;

	answer_into(lk, answer);
	if (lk->early != NULL) {
		early_answered(lk->early);
		return;
	}
	report(lk->job->call, lk);
	job_step(lk->job);
}

/* Start every lookup (none can answer before all are asked); how many are running. */
static size_t
start(struct dnsbl_lookup *lookups, size_t n)
{
	size_t running = 0;

	for (size_t i = 0; i < n; i++) {
		lookups[i].q = dns_query(lookups[i].name, DNS_TYPE_A, lookup_done, &lookups[i]);
		if (lookups[i].q != NULL)
			running++;
		else
			lookups[i].tempfail = 1;
	}
	return running;
}

/* At CONNECT: the client's lookups, kept for the session; the greeting does not wait. */
static enum filter_rc
connect_lookups(struct filter_call *call)
{
	const struct dnsbl_conf *dc = call->filter->state;
	struct dnsbl_early *e;
	char rev[80];

	if (call->session_state == NULL || *call->session_state != NULL ||
	    call->txn->client_addr == NULL ||
	    reversed_address(call->txn->client_addr, rev, sizeof(rev)) < 0)
		return FILTER_DONE;
	e = xcalloc(1, sizeof(*e));
	e->lookups = xcalloc(dc->n + 1, sizeof(*e->lookups));
	for (size_t i = 0; i < dc->n; i++) {
		struct dnsbl_lookup *lk = &e->lookups[e->n];
		char name[sizeof(lk->name)];

		snprintf(name, sizeof(name), "%s.%s", rev, dc->lists[i].zone);
		if (!(dc->lists[i].checks & (1u << CHECK_CLIENT)) || !dns_name_ok(name))
			continue;
		*lk = (struct dnsbl_lookup){
		        .filter = call->filter, .early = e, .list = &dc->lists[i], .score = NAN};
		memcpy(lk->name, name, sizeof(name));
		e->n++;
	}
	e->pending = start(e->lookups, e->n);
	*call->session_state = e;
	return FILTER_DONE;
}

static void
dnsbl_session_end(const struct filter *filter, void *state)
{
	struct dnsbl_early *e = state;

	for (size_t i = 0; i < e->n; i++)
		if (e->lookups[i].q != NULL)
			dns_cancel(e->lookups[i].q);
	free(e->lookups);
	free(e);
}

static void
add_lookup(struct dnsbl_job *job, const struct dnsbl_list *l, const char *prefix)
{
	struct dnsbl_lookup *lk = &job->lookups[job->n];

	snprintf(lk->name, sizeof(lk->name), "%s.%s", prefix, l->zone);
	if (!dns_name_ok(lk->name) || seen_before(job->call, l->zone, prefix))
		return;
	lk->filter = job->call->filter;
	lk->job = job;
	lk->list = l;
	lk->score = NAN;
	job->n++;
}

static enum filter_rc
dnsbl_run(struct filter_call *call)
{
	const struct dnsbl_conf *dc = call->filter->state;
	const struct filter_txn *txn = call->txn;
	const char *subject[CHECKS] = {NULL};
	char rev[80], from[256];
	struct dnsbl_early *early;
	struct dnsbl_job *job;

	if (call->stage == FILTER_CONNECT)
		return connect_lookups(call);
	early = call->session_state ? *call->session_state : NULL;
	if (call->stage == FILTER_MAIL) {
		/* Without a session (postern --explain) the client is asked now. */
		if (early == NULL && txn->client_addr &&
		    reversed_address(txn->client_addr, rev, sizeof(rev)) == 0)
			subject[CHECK_CLIENT] = rev;
		/* An address literal or a name we would not ask for is not a domain. */
		if (txn->helo != NULL && txn->helo[0] != '[' && dns_name_ok(txn->helo))
			subject[CHECK_HELO] = txn->helo;
		subject[CHECK_SENDER] = domain_of(txn->mail_from);
	} else if (call->stage == FILTER_EOM) {
		subject[CHECK_FROM] = from_domain(txn, from, sizeof(from));
		early = NULL;
	} else {
		return FILTER_DONE;
	}
	job = xcalloc(1, sizeof(*job));
	job->call = call;
	job->lookups = xcalloc(dc->n * CHECKS + 1, sizeof(*job->lookups));
	for (size_t i = 0; i < dc->n; i++)
		for (size_t w = 0; w < CHECKS; w++)
			if ((dc->lists[i].checks & (1u << w)) && subject[w] != NULL)
				add_lookup(job, &dc->lists[i], subject[w]);
	/* The client's answers, from CONNECT: now, or when the last one comes. */
	if (early != NULL && early->pending > 0) {
		early->waiting = job;
		job->early = early;
		job->pending++;
	} else if (early != NULL) {
		for (size_t i = 0; i < early->n; i++)
			report(call, &early->lookups[i]);
	}
	size_t running = start(job->lookups, job->n);

	job->pending += running;
	for (size_t i = 0; running < job->n && i < job->n; i++)
		if (job->lookups[i].q == NULL)
			report(call, &job->lookups[i]);
	if (job->pending == 0) {
		job_free(job);
		return FILTER_DONE;
	}
	call->scratch = job;
	return FILTER_PENDING;
}

static void
dnsbl_cancel(struct filter_call *call)
{
	struct dnsbl_job *job = call->scratch;

	if (job == NULL)
		return;
	if (job->early != NULL)
		job->early->waiting = NULL;
	for (size_t i = 0; i < job->n; i++)
		if (job->lookups[i].q != NULL)
			dns_cancel(job->lookups[i].q);
	job_free(job);
}

const struct filter_type dnsbl_filter_type = {
        .name = "dnsbl",
        .stages =
                FILTER_STAGE(FILTER_CONNECT) | FILTER_STAGE(FILTER_MAIL) | FILTER_STAGE(FILTER_EOM),
        .configure = dnsbl_configure,
        .destroy = dnsbl_destroy,
        .run = dnsbl_run,
        .cancel = dnsbl_cancel,
        .txn_end = dnsbl_txn_end,
        .session_end = dnsbl_session_end,
};
