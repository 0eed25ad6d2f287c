/*
 * NAME
 *	dmarc - DMARC (RFC 7489) with libopendmarc, on the SPF and DKIM findings
 * SYNOPSIS
 *	filters: { dmarc: { public_suffix_list: /usr/share/publicsuffix/public_suffix_list.dat } }
 * DESCRIPTION
 *	At the end of the message, after the spf and dkim filters of the same
 *	chain: the RFC5322.From domain (exactly one; several addresses of one
 *	domain count as one), its policy record fetched through the shared
 *	resolver (filters/dns.h): _dmarc.FROM, else _dmarc.ORGANIZATIONAL
 *	(the public suffix list decides, through libopendmarc; under a suffix
 *	the list does not name, the last two labels), handed to
 *	libopendmarc with opendmarc_policy_store_dmarc() so that libopendmarc
 *	does no DNS of its own. libopendmarc then checks identifier alignment
 *	(adkim/aspf, relaxed or strict) of the SPF finding (detail
 *	"smtp.mailfrom=D" or "smtp.helo=H") and each passing DKIM finding
 *	("header.d=D"), and names the policy: p=, or sp= for a subdomain.
 *	pct= is applied here (libopendmarc does not): a message outside the
 *	sample gets the next milder policy (RFC 7489 6.6.4).
 *
 *	Findings: "dmarc" with an RFC 8601 result (pass, fail, none,
 *	temperror, permerror) and "(p=P dis=D) header.from=DOMAIN", for
 *	Authentication-Results; and when DMARC fails, "dmarc_policy" with what
 *	the domain asks for after pct (reject, quarantine, none), for policy
 *	rules, with the reply "550 5.7.1 DMARC policy of D: reject" for a
 *	rule that rejects: the built-in default rejects on reject and
 *	quarantines on quarantine (policies/config_policies.c), a policy's
 *	own dmarc_policy: { ... } replaces that. No From address, or several of
 *	different domains, is dmarc=permerror (RFC 7489 6.6.1).
 * DIAGNOSTICS
 *	A public suffix list that cannot be read is a configuration error.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <opendmarc/dmarc.h>
#include <unbound.h>
#include <yaml.h>

#include "common/xalloc.h"
#include "filters/auth_results.h"
#include "filters/dns.h"
#include "filters/filter.h"
#include "filters/filter_config.h"
#include "filters/from_header.h"
#include "filters/header_field.h"

#define DMARC_DEFAULT_PSL "/usr/share/publicsuffix/public_suffix_list.dat"
#define DOMAIN_MAX 256
#define RECORD_MAX 4096

/* Exported by libopendmarc 1.4 but not declared in its dmarc.h: the organizational domain. */
int opendmarc_get_tld(u_char *domain, u_char *tld, size_t tld_len);

struct dmarc_conf {
	char *psl;
};

/* One EOM call while its DNS queries run (call->scratch). */
struct dmarc_lookup {
	struct filter_call *call;
	struct dns_query *query;
	char from[DOMAIN_MAX];
	char org[DOMAIN_MAX];
	int asked_org; /* the second query, for the organizational domain */
};

/*
 * The one From domain of the header block into domain; returns 0, or -1 with
 * why (no From, several, no domain).
 */
static int
from_domain(const char *block, size_t len, char *domain, size_t size, const char **why)
{
	const char *p = block, *end = block + len;
	int fields = 0;

	*domain = '\0';
	*why = "no From field";
	while (p < end) {
		const char *q = header_field_end(p, end);

		if ((size_t)(q - p) > 5 && strncasecmp(p, "From:", 5) == 0) {
			if (++fields > 1) {
				*why = "several From fields";
				return -1;
			}
			if (from_header_domain(p + 5, (size_t)(q - p - 5), domain, size, why) < 0)
				return -1;
		}
		p = q;
	}
	return fields == 1 ? 0 : -1;
}

/*
 * The one "v=DMARC1" record among the TXT records of a; 1 when found, 0 when
 * there is none or more than one (RFC 7489 6.6.3: no policy then).
 */
static int
pick_record(const struct dns_answer *a, char *out, size_t size)
{
	int found = 0;

	for (int i = 0; a->ub != NULL && a->ub->data != NULL && a->ub->data[i] != NULL; i++) {
		const unsigned char *r = (const unsigned char *)a->ub->data[i];
		size_t len = (size_t)a->ub->len[i], o = 0;
		char text[RECORD_MAX];

		/* rdata: strings of <length><octets>, read as one text */
		for (size_t k = 0; k < len;) {
			size_t n = r[k++];

			for (; n > 0 && k < len; n--, k++)
				if (o + 1 < sizeof(text))
					text[o++] = (char)r[k];
		}
		text[o] = '\0';
		if (strncasecmp(text, "v=DMARC1", 8) != 0 ||
		    (text[8] != ';' && text[8] != ' ' && text[8] != '\t' && text[8] != '\0'))
			continue;
		if (found++ == 0)
			snprintf(out, size, "%s", text);
	}
	return found == 1;
}

static const char *
policy_word(int p)
{
	switch (p) {
	case DMARC_RECORD_P_REJECT:
		return "reject";
	case DMARC_RECORD_P_QUARANTINE:
		return "quarantine";
	default:
		return "none";
	}
}

/* "header.d=D" and the like: the value of key in a finding's detail. */
static int
detail_value(const char *detail, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);

	for (const char *p = detail; p != NULL && *p; p++) {
		if ((p == detail || p[-1] == ' ') && strncmp(p, key, klen) == 0) {
			size_t n = strcspn(p + klen, " ;");

			if (p[klen] == '"' || n == 0 || n >= size)
				return -1;
			memcpy(out, p + klen, n);
			out[n] = '\0';
			return 0;
		}
	}
	return -1;
}

static int
spf_outcome(const char *result)
{
	if (strcmp(result, "pass") == 0)
		return DMARC_POLICY_SPF_OUTCOME_PASS;
	if (strcmp(result, "temperror") == 0)
		return DMARC_POLICY_SPF_OUTCOME_TMPFAIL;
	if (strcmp(result, "none") == 0)
		return DMARC_POLICY_SPF_OUTCOME_NONE;
	return DMARC_POLICY_SPF_OUTCOME_FAIL;
}

/*
 * What the spf and dkim filters found, for libopendmarc. SPF's identifier is
 * the MAIL FROM domain; the HELO name only when there is none (the null
 * sender), RFC 7489 3.1.2: libopendmarc keeps the last one it is given.
 */
static void
store_findings(DMARC_POLICY_T *pctx, const struct filter_txn *txn)
{
	const struct finding *spf = NULL;
	char d[DOMAIN_MAX], s[DOMAIN_MAX], spf_domain[DOMAIN_MAX];
	int origin = DMARC_POLICY_SPF_ORIGIN_HELO;

	for (size_t i = 0; i < txn->nfindings; i++) {
		const struct finding *f = &txn->findings[i];

		if (strcmp(f->method, "spf") != 0)
			continue;
		if (detail_value(f->detail, "smtp.mailfrom=", d, sizeof(d)) == 0) {
			spf = f;
			origin = DMARC_POLICY_SPF_ORIGIN_MAILFROM;
			snprintf(spf_domain, sizeof(spf_domain), "%s", d);
		} else if (spf == NULL &&
		           detail_value(f->detail, "smtp.helo=", d, sizeof(d)) == 0) {
			spf = f;
			snprintf(spf_domain, sizeof(spf_domain), "%s", d);
		}
	}
	if (spf != NULL)
		opendmarc_policy_store_spf(pctx, (u_char *)spf_domain, spf_outcome(spf->result),
		                           origin, NULL);
	for (size_t i = 0; i < txn->nfindings; i++) {
		const struct finding *f = &txn->findings[i];
		int outcome;

		if (strcmp(f->method, "dkim") != 0 ||
		    detail_value(f->detail, "header.d=", d, sizeof(d)) < 0)
			continue;
		outcome = strcmp(f->result, "pass") == 0        ? DMARC_POLICY_DKIM_OUTCOME_PASS
		          : strcmp(f->result, "temperror") == 0 ? DMARC_POLICY_DKIM_OUTCOME_TMPFAIL
		                                                : DMARC_POLICY_DKIM_OUTCOME_FAIL;
		if (detail_value(f->detail, "header.s=", s, sizeof(s)) < 0)
			s[0] = '\0';
		opendmarc_policy_store_dkim(pctx, (u_char *)d, (u_char *)s, outcome, NULL);
	}
}

/* pct=: a message outside the sample gets the next milder policy (RFC 7489 6.6.4). */
static int
sampled(int policy, int pct)
{
	if (pct >= 100 || (pct > 0 && (int)arc4random_uniform(100) < pct))
		return policy;
	return policy == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
}

static void
evaluate(struct filter_call *call, const char *from, const char *record, const char *org)
{
	const struct filter_txn *txn = call->txn;
	int v6 = txn->client_addr != NULL && strchr(txn->client_addr, ':') != NULL;
	DMARC_POLICY_T *pctx = opendmarc_policy_connect_init(
	        (u_char *)(txn->client_addr ? txn->client_addr : ""), v6);
	char hfrom[DOMAIN_MAX + 2];
	int p = 0, sp = 0, pct = 100, policy;
	const char *dis;

	auth_results_value(hfrom, sizeof(hfrom), from, 0);
	if (pctx == NULL || opendmarc_policy_store_dmarc(pctx, (u_char *)record, (u_char *)from,
	                                                 (u_char *)org) != DMARC_PARSE_OKAY) {
		filter_finding(call, "dmarc", "permerror", NAN,
		               "(bad policy record) header.from=%s", hfrom);
		opendmarc_policy_connect_shutdown(pctx);
		return;
	}
	store_findings(pctx, txn);
	policy = opendmarc_get_policy_to_enforce(pctx);
	opendmarc_policy_fetch_p(pctx, &p);
	opendmarc_policy_fetch_sp(pctx, &sp);
	opendmarc_policy_fetch_pct(pctx, &pct);
	if (policy == DMARC_POLICY_PASS) {
		filter_finding(call, "dmarc", "pass", NAN, "(p=%s dis=none) header.from=%s",
		               policy_word(p), hfrom);
	} else {
		policy = sampled(policy, pct);
		dis = policy == DMARC_POLICY_REJECT       ? "reject"
		      : policy == DMARC_POLICY_QUARANTINE ? "quarantine"
		                                          : "none";
		filter_finding(call, "dmarc", "fail", NAN, "(p=%s%s%s dis=%s) header.from=%s",
		               policy_word(p), org ? " sp=" : "",
		               org ? policy_word(sp ? sp : p) : "", dis, hfrom);
		filter_finding(call, "dmarc_policy", dis, NAN, "header.from=%s", hfrom);
		if (policy == DMARC_POLICY_REJECT) {
			char reply[DOMAIN_MAX + 64];

			/* What a rule that rejects on it answers (filter_finding_reply). */
			snprintf(reply, sizeof(reply), "550 5.7.1 DMARC policy of %s: reject",
			         hfrom);
			filter_finding_reply(call, reply);
		}
	}
	opendmarc_policy_connect_shutdown(pctx);
}

static void record_done(void *arg, const struct dns_answer *a);

static int
ask(struct dmarc_lookup *l, const char *domain)
{
	char name[DOMAIN_MAX + 8];

	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	l->query = dns_query(name, 16, record_done, l);
	return l->query != NULL ? 0 : -1;
}

static void
finish(struct dmarc_lookup *l)
{
	struct filter_call *call = l->call;

	call->scratch = NULL;
	free(l);
	filter_done(call);
}

static void
record_done(void *arg, const struct dns_answer *a)
{
	struct dmarc_lookup *l = arg;
	char record[RECORD_MAX], hfrom[DOMAIN_MAX + 2];

	l->query = NULL;
	auth_results_value(hfrom, sizeof(hfrom), l->from, 0);
	if (a->status == DNS_TEMPFAIL) {
		filter_finding(l->call, "dmarc", "temperror", NAN,
		               "(policy record lookup failed) header.from=%s", hfrom);
	} else if (a->status == DNS_OK && pick_record(a, record, sizeof(record))) {
		evaluate(l->call, l->from, record, l->asked_org ? l->org : NULL);
	} else if (!l->asked_org && l->org[0] != '\0' && strcmp(l->org, l->from) != 0) {
		l->asked_org = 1;
		if (ask(l, l->org) == 0)
			return;
		filter_finding(l->call, "dmarc", "temperror", NAN, "(no resolver) header.from=%s",
		               hfrom);
	} else {
		filter_finding(l->call, "dmarc", "none", NAN, "header.from=%s", hfrom);
	}
	finish(l);
}

/*
 * The organizational domain (RFC 7489 3.2) from the public suffix list, by
 * libopendmarc. A name under no listed suffix gets the list's default rule,
 * "*" (the last label is the suffix), which libopendmarc leaves out.
 */
static void
organizational_domain(const char *domain, char *org, size_t size)
{
	const char *last, *p;

	if (opendmarc_get_tld((u_char *)domain, (u_char *)org, size) == 0 && org[0] != '\0')
		return;
	last = strrchr(domain, '.');
	for (p = last; p != NULL && p > domain && p[-1] != '.'; p--)
		;
	snprintf(org, size, "%s", last == NULL || p == NULL ? domain : p);
}

static enum filter_rc
dmarc_run(struct filter_call *call)
{
	struct dmarc_lookup *l;
	const char *why;
	char from[DOMAIN_MAX];

	if (call->stage != FILTER_EOM)
		return FILTER_DONE;
	if (from_domain(call->txn->header_block, call->txn->header_len, from, sizeof(from), &why) <
	    0) {
		filter_finding(call, "dmarc", "permerror", NAN, "(%s)", why);
		return FILTER_DONE;
	}
	l = xcalloc(1, sizeof(*l));
	l->call = call;
	snprintf(l->from, sizeof(l->from), "%s", from);
	organizational_domain(from, l->org, sizeof(l->org));
	if (ask(l, from) < 0) {
		free(l);
		filter_finding(call, "dmarc", "temperror", NAN, "(no resolver)");
		return FILTER_DONE;
	}
	call->scratch = l;
	return FILTER_PENDING;
}

static void
dmarc_cancel(struct filter_call *call)
{
	struct dmarc_lookup *l = call->scratch;

	if (l == NULL)
		return;
	if (l->query != NULL)
		dns_cancel(l->query);
	free(l);
	call->scratch = NULL;
}

/* What dmarc_key() read, and the list's node for the message. */
struct dmarc_read {
	struct dmarc_conf *conf;
	yaml_node_t *psl_node;
};

static int
dmarc_key(struct fconf *c, const char *key, yaml_node_t *value, void *arg)
{
	struct dmarc_read *r = arg;

	if (strcmp(key, "public_suffix_list") != 0)
		return -1;
	r->psl_node = value;
	fconf_string(c, value, &r->conf->psl);
	return 0;
}

static int
dmarc_configure(struct filter *f, yaml_document_t *doc, yaml_node_t *node, const char *file,
                struct config_diag *diag)
{
	static const char *const keys[] = {"type", "timeout", "on_error", "public_suffix_list",
	                                   NULL};
	struct dmarc_conf *conf = xcalloc(1, sizeof(*conf));
	struct dmarc_read r = {.conf = conf, .psl_node = node};
	OPENDMARC_LIB_T lib = {.tld_type = OPENDMARC_TLD_TYPE_MOZILLA};
	struct fconf c;
	int rc;

	conf->psl = xstrdup(DMARC_DEFAULT_PSL);
	f->state = conf;
	fconf_init(&c, f, doc, file, diag);
	c.section = f->name; /* "unknown key ... in NAME", as it always said */
	rc = fconf_walk(&c, node, keys, dmarc_key, &r);
	/* The list is libopendmarc's, one for the process: the last one loaded counts. */
	snprintf((char *)lib.tld_source_file, sizeof(lib.tld_source_file), "%s", conf->psl);
	if (rc == 0 && (access(conf->psl, R_OK) != 0 ||
	                opendmarc_policy_library_init(&lib) != DMARC_PARSE_OKAY)) {
		c.key = "public_suffix_list";
		fconf_error(&c, r.psl_node, "cannot read \"%s\"", conf->psl);
		rc = -1;
	}
	return rc;
}

static void
dmarc_destroy(struct filter *f)
{
	struct dmarc_conf *conf = f->state;

	if (conf == NULL)
		return;
	free(conf->psl);
	free(conf);
	f->state = NULL;
}

const struct filter_type dmarc_filter_type = {
        .name = "dmarc",
        .stages = FILTER_STAGE(FILTER_EOM),
        .configure = dmarc_configure,
        .destroy = dmarc_destroy,
        .run = dmarc_run,
        .cancel = dmarc_cancel,
};
