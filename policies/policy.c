/*
 * NAME
 *	policy - decisions: which policy applies, and what the findings mean
 * SYNOPSIS
 *	See policy.h.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "filters/auth_results.h"
#include "policies/policy.h"

/* Specificity of each kind of criterion; a client network adds its prefix length. */
enum {
	SPEC_DEFAULT = 0,
	SPEC_AUTH = 1,
	SPEC_CLIENT = 2, /* + prefix, up to 128 */
	SPEC_SENDER_DOMAIN = 200,
	SPEC_SENDER = 300,
	SPEC_RCPT_DOMAIN = 400,
	SPEC_RCPT = 500,
};

static char builtin_name[] = "builtin-default";
static const struct policy builtin_default = {
        .name = builtin_name,
        .match = {.authenticated = -1},
        .spam_tag = NAN,
        .spam_reject = NAN,
};

int
cidr_parse(const char *text, struct cidr *out)
{
	char addr[64];
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);

	if (len == 0 || len >= sizeof(addr))
		return -1;
	memcpy(addr, text, len);
	addr[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, out->addr) == 1)
		out->family = AF_INET6;
	else
		return -1;
	unsigned max = out->family == AF_INET ? 32 : 128;

	out->prefix = max;
	if (slash != NULL) {
		char *end;
		unsigned long p = strtoul(slash + 1, &end, 10);

		if (slash[1] == '\0' || *end != '\0' || p > max)
			return -1;
		out->prefix = (unsigned)p;
	}
	/* Host bits set ("192.0.2.1/24") are almost always a typo. */
	for (unsigned bit = out->prefix; bit < max; bit++)
		if (out->addr[bit / 8] & (0x80 >> (bit % 8)))
			return -1;
	return 0;
}

int
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const unsigned char *a;
	unsigned char mapped[16];

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		/* An IPv4 client seen through a v6 socket is matched as IPv4. */
		if (c->family == AF_INET && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
			memcpy(mapped, a + 12, 4);
			a = mapped;
		} else if (c->family != AF_INET6) {
			return 0;
		}
	} else if (sa->sa_family == AF_INET && c->family == AF_INET) {
		a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else {
		return 0;
	}
	for (unsigned bit = 0; bit < c->prefix; bit++) {
		unsigned char m = (unsigned char)(0x80 >> (bit % 8));

		if ((a[bit / 8] & m) != (c->addr[bit / 8] & m))
			return 0;
	}
	return 1;
}

static const char *
domain_of(const char *address)
{
	const char *at = strrchr(address, '@');

	return at ? at + 1 : "";
}

/* "example.com" matches itself; ".example.com" its subdomains as well. */
static int
domain_matches(const char *pattern, const char *domain)
{
	if (pattern[0] != '.')
		return strcasecmp(pattern, domain) == 0;
	size_t pl = strlen(pattern), dl = strlen(domain);

	if (strcasecmp(pattern + 1, domain) == 0)
		return 1;
	return dl > pl && strcasecmp(domain + dl - pl, pattern) == 0;
}

static int
any_address(char **list, size_t n, const char *address)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(list[i], address) == 0)
			return 1;
	return 0;
}

static int
any_domain(char **list, size_t n, const char *address)
{
	for (size_t i = 0; i < n; i++)
		if (domain_matches(list[i], domain_of(address)))
			return 1;
	return 0;
}

/* Specificity of p for s, or -1 when it does not match. */
static int
specificity(const struct policy *p, const struct policy_subject *s)
{
	const struct policy_match *m = &p->match;
	int spec = SPEC_DEFAULT;

	if (m->nrcpt > 0) {
		if (s->rcpt == NULL || !any_address(m->rcpt, m->nrcpt, s->rcpt))
			return -1;
		spec = SPEC_RCPT;
	}
	if (m->nrcpt_domain > 0) {
		if (s->rcpt == NULL || !any_domain(m->rcpt_domain, m->nrcpt_domain, s->rcpt))
			return -1;
		spec = spec > SPEC_RCPT_DOMAIN ? spec : SPEC_RCPT_DOMAIN;
	}
	if (m->nsender > 0) {
		if (s->sender == NULL || !any_address(m->sender, m->nsender, s->sender))
			return -1;
		spec = spec > SPEC_SENDER ? spec : SPEC_SENDER;
	}
	if (m->nsender_domain > 0) {
		if (s->sender == NULL ||
		    !any_domain(m->sender_domain, m->nsender_domain, s->sender))
			return -1;
		spec = spec > SPEC_SENDER_DOMAIN ? spec : SPEC_SENDER_DOMAIN;
	}
	if (m->nclient > 0) {
		int best = -1;

		for (size_t i = 0; i < m->nclient; i++)
			if (cidr_match(&m->client[i], s->client) && (int)m->client[i].prefix > best)
				best = (int)m->client[i].prefix;
		if (best < 0)
			return -1;
		spec = spec > SPEC_CLIENT + best ? spec : SPEC_CLIENT + best;
	}
	if (m->authenticated >= 0) {
		if (m->authenticated != (s->authenticated != 0))
			return -1;
		spec = spec > SPEC_AUTH ? spec : SPEC_AUTH;
	}
	return spec;
}

const struct policy *
policy_select(const struct policy_set *set, const struct policy_subject *s)
{
	const struct policy *best = &builtin_default;
	int best_spec = -1;

	for (size_t i = 0; set != NULL && i < set->npolicies; i++) {
		int spec = specificity(&set->policies[i], s);

		if (spec > best_spec) {
			best = &set->policies[i];
			best_spec = spec;
		}
	}
	return best;
}

static void
consider(struct policy_decision *d, enum action action, const char *reply, const char *why)
{
	if (action <= d->action)
		return;
	d->action = action;
	d->reply = reply;
	snprintf(d->reason, sizeof(d->reason), "%s", why);
}

/*
 * Findings a filter later in the chain may still overrule: SPF's, which a
 * DMARC pass (SPF or DKIM aligned with From) overrules, as RFC 7489 (10.1)
 * asks: an SPF fail is not rejected at MAIL when DMARC will be applied.
 */
static const struct {
	const char *method;                /* of the finding held back */
	const char *by_type;               /* the filter type that may overrule it */
	const char *by_method, *by_result; /* its finding that does */
} overrules[] = {{"spf", "dmarc", "dmarc", "pass"}};

/*
 * Does finding x decide nothing (yet)? While an overruling filter of the
 * chain has not reported (MAIL, RCPT), x waits; once it has (end of data),
 * its overruling finding sets x aside and anything else lets x decide.
 */
static int
held_back(const struct policy *p, const struct finding *f, size_t n, const struct finding *x)
{
	for (size_t o = 0; o < sizeof(overrules) / sizeof(overrules[0]); o++) {
		if (strcmp(x->method, overrules[o].method) != 0)
			continue;
		for (size_t c = 0; c < p->nchain; c++) {
			int reported = 0, overruled = 0;

			if (p->chain[c]->type == NULL ||
			    strcmp(p->chain[c]->type->name, overrules[o].by_type) != 0)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (strcmp(f[i].filter, p->chain[c]->name) != 0)
					continue;
				reported = 1;
				overruled |= strcmp(f[i].method, overrules[o].by_method) == 0 &&
				             strcmp(f[i].result, overrules[o].by_result) == 0;
			}
			if (!reported || overruled)
				return 1;
		}
	}
	return 0;
}

/* A filter's reply for a rule's action on its finding, when the class fits. */
static const char *
rule_reply(const struct finding *f, enum action action)
{
	if (f->action != ACTION_NONE || f->reply == NULL)
		return NULL;
	if ((action == ACTION_REJECT && f->reply[0] == '5') ||
	    (action == ACTION_TEMPFAIL && f->reply[0] == '4'))
		return f->reply;
	return NULL;
}

void
policy_evaluate(const struct policy *p, const struct finding *f, size_t n,
                struct policy_decision *d)
{
	char why[200];

	memset(d, 0, sizeof(*d));
	d->action = ACTION_NONE;
	d->score = NAN;
	d->spam_tag = p->spam_tag;
	d->spam_reject = p->spam_reject;
	for (size_t i = 0; i < n; i++) {
		if (held_back(p, f, n, &f[i]))
			continue;
		if (!isnan(f[i].score))
			d->score = (isnan(d->score) ? 0 : d->score) + f[i].score;
		if (f[i].action != ACTION_NONE) {
			snprintf(why, sizeof(why), "%s=%s", f[i].filter, f[i].result);
			consider(d, f[i].action, f[i].reply, why);
		}
		for (size_t r = 0; r < p->nrules; r++) {
			if (strcmp(p->rules[r].method, f[i].method) != 0 ||
			    strcmp(p->rules[r].result, f[i].result) != 0)
				continue;
			snprintf(why, sizeof(why), "%s=%s", f[i].method, f[i].result);
			consider(d, p->rules[r].action, rule_reply(&f[i], p->rules[r].action), why);
		}
	}
	if (!isnan(d->score)) {
		snprintf(why, sizeof(why), "score=%.1f", d->score);
		if (!isnan(p->spam_reject) && d->score >= p->spam_reject)
			consider(d, ACTION_REJECT, NULL, why);
		else if (!isnan(p->spam_tag) && d->score >= p->spam_tag)
			consider(d, ACTION_TAG, NULL, why);
	}
	if (d->action == ACTION_NONE) {
		d->action = ACTION_ACCEPT;
		snprintf(d->reason, sizeof(d->reason), "no finding decided");
	}
	if (d->reply == NULL && d->action == ACTION_REJECT)
		d->reply =
		        p->reject_reply ? p->reject_reply : "550 5.7.1 Message rejected by policy";
	if (d->reply == NULL && d->action == ACTION_TEMPFAIL)
		d->reply = p->tempfail_reply
		                   ? p->tempfail_reply
		                   : "451 4.7.1 Message deferred by policy, try again later";
	d->enforce = !p->monitor;
}

/* "X-Spam-Status: No, score=0.3 tag=5.0 reject=10.0 tests=rules.A(0.3),...", folded. */
static void
spam_headers(const struct policy_decision *d, const struct finding *f, size_t n,
             struct evbuffer *out)
{
	char item[200];
	size_t col;

	evbuffer_add_printf(out, "X-Spam-Score: %.1f\r\n", d->score);
	col = (size_t)evbuffer_get_length(out);
	evbuffer_add_printf(out, "X-Spam-Status: %s, score=%.1f",
	                    !isnan(d->spam_tag) && d->score >= d->spam_tag ? "Yes" : "No",
	                    d->score);
	if (!isnan(d->spam_tag))
		evbuffer_add_printf(out, " tag=%.1f", d->spam_tag);
	if (!isnan(d->spam_reject))
		evbuffer_add_printf(out, " reject=%.1f", d->spam_reject);
	evbuffer_add_printf(out, " tests=");
	col = evbuffer_get_length(out) - col;
	for (size_t i = 0, first = 1; i < n; i++) {
		if (isnan(f[i].score))
			continue;
		int len = snprintf(item, sizeof(item), "%s%s.%s(%.1f)", first ? "" : ",",
		                   f[i].filter, f[i].result, f[i].score);

		if (len < 0)
			continue;
		if (!first && col + (size_t)len > 78) {
			evbuffer_add(out, ",\r\n\t", 4);
			evbuffer_add(out, item + 1, (size_t)len - 1);
			col = 8 + (size_t)len - 1;
		} else {
			evbuffer_add(out, item, (size_t)len);
			col += (size_t)len;
		}
		first = 0;
	}
	evbuffer_add(out, "\r\n", 2);
}

void
policy_headers(const struct policy_decision *d, const char *authserv_id,
               const struct finding *findings, size_t n, struct evbuffer *out)
{
	auth_results_format(out, authserv_id, findings, n);
	if (d->enforce && !isnan(d->score))
		spam_headers(d, findings, n, out);
	if (!d->enforce || (d->action != ACTION_TAG && d->action != ACTION_QUARANTINE))
		return;
	evbuffer_add_printf(out, "X-Postern-Action: %s (%s)\r\n", action_name(d->action),
	                    d->reason);
	if (!isnan(d->score))
		evbuffer_add_printf(out, "X-Postern-Score: %.1f\r\n", d->score);
}

static void
free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void
policy_set_free(struct policy_set *set)
{
	for (size_t i = 0; i < set->npolicies; i++) {
		struct policy *p = &set->policies[i];

		free(p->name);
		free_list(p->match.rcpt, p->match.nrcpt);
		free_list(p->match.rcpt_domain, p->match.nrcpt_domain);
		free_list(p->match.sender, p->match.nsender);
		free_list(p->match.sender_domain, p->match.nsender_domain);
		free(p->match.client);
		free(p->chain);
		for (size_t r = 0; r < p->nrules; r++) {
			free(p->rules[r].method);
			free(p->rules[r].result);
		}
		free(p->rules);
		free(p->reject_reply);
		free(p->tempfail_reply);
	}
	free(set->policies);
	for (size_t i = 0; i < set->nfilters; i++) {
		if (set->filters[i]->type && set->filters[i]->type->destroy)
			set->filters[i]->type->destroy(set->filters[i]);
		free(set->filters[i]->name);
		free(set->filters[i]);
	}
	free(set->filters);
	memset(set, 0, sizeof(*set));
}

size_t
policy_log(const struct policy *p, enum action action, const struct finding *findings, size_t n,
           char *buf, size_t size)
{
	size_t o = 0;

	if (p == NULL || (p->nchain == 0 && n == 0))
		return 0;
	o += (size_t)snprintf(buf + o, size - o, " policy=%s%s action=%s findings=", p->name,
	                      p->monitor ? "(monitor)" : "",
	                      action_name(action ? action : ACTION_ACCEPT));
	for (size_t i = 0; i < n && o < size; i++) {
		const struct finding *f = &findings[i];

		o += (size_t)snprintf(buf + o, size - o, "%s%s.%s=%s", i ? "," : "", f->filter,
		                      f->method, f->result);
		if (!isnan(f->score) && o < size)
			o += (size_t)snprintf(buf + o, size - o, "(%.1f)", f->score);
	}
	if (n == 0 && o < size)
		o += (size_t)snprintf(buf + o, size - o, "-");
	return o < size ? o : size - 1;
}
