/*
 * NAME
 *	policy - decisions: which policy applies, and what the findings mean
 * SYNOPSIS
 *	#include "policies/policy.h"
 *
 *	policy_select(set, subject)
 *	policy_evaluate(policy, findings, n, decision)
 *	policy_headers(decision, authserv_id, findings, n, out)
 *	policy_log(policy, action, findings, n, buf, size)
 *	policy_set_free(set)
 * DESCRIPTION
 *	A policy maps findings to one action for a transaction. It has a
 *	chain (filter instances, in order), per-method rules ("spf: { fail:
 *	reject }"), spam score thresholds, and a mode: enforce, or monitor
 *	(everything evaluated and logged, nothing enforced).
 *
 *	policy_select() returns the most specific policy whose match fits the
 *	subject; all criteria of one match must fit. Specificity, highest
 *	first: a recipient address, a recipient domain, a sender address, a
 *	sender domain, a client network (longer prefixes first), authenticated
 *	or not, no match at all (the default). A domain "example.com" matches
 *	itself only; ".example.com" matches its subdomains too. On a tie the
 *	policy written first wins. With no policy at all, the built-in default
 *	(no filters, accept) is returned.
 *
 *	policy_evaluate() fills decision: the most severe of the actions the
 *	rules give for the findings, the actions filters asked for themselves
 *	(filter_verdict), and the spam thresholds applied to the sum of the
 *	scores; the reply to give (the filter's own: its verdict's, or for a
 *	rule's reject or tempfail the reply it attached to the finding,
 *	filter_finding_reply(), when the class fits; else the policy's); and a
 *	reason naming what decided. In monitor mode the decision records that
 *	action but enforce is 0.
 *
 *	A finding a filter later in the chain may overrule decides nothing
 *	until that filter has reported: an SPF finding waits for the chain's
 *	dmarc filter (so an SPF fail is decided at the end of data, not at
 *	MAIL), and a dmarc=pass sets it aside (an aligned DKIM signature
 *	forgives an SPF fail, RFC 7489 10.1); any other DMARC result, or a
 *	dmarc filter that failed, lets it decide as its rules say.
 *
 *	policy_headers() appends the header fields postern adds to a message it
 *	passes on: Authentication-Results for the authentication findings; for
 *	an enforced tag (or quarantine) X-Postern-Action and X-Postern-Score;
 *	and, in enforce mode whenever a finding had a score, X-Spam-Score (the
 *	sum) and X-Spam-Status ("Yes" at or above the tag threshold, the
 *	thresholds, and each scored finding as FILTER.RESULT(SCORE)), as
 *	SpamAssassin writes them, for the mail store's filters.
 *
 *	policy_log() formats the decision for a transaction's log line, the
 *	same in postern and postern-milter: " policy=NAME action=ACTION
 *	findings=FILTER.METHOD=RESULT(SCORE),..."; nothing for a policy
 *	without filters and findings. Returns the length written.
 */
#ifndef POSTERN_POLICY_H
#define POSTERN_POLICY_H

#include <stddef.h>
#include <sys/socket.h>

#include "filters/filter.h"

struct cidr {
	int family;
	unsigned char addr[16];
	unsigned prefix;
};

struct policy_match {
	char **rcpt, **rcpt_domain, **sender, **sender_domain;
	size_t nrcpt, nrcpt_domain, nsender, nsender_domain;
	struct cidr *client;
	size_t nclient;
	int authenticated; /* -1: either */
};

struct policy_rule {
	char *method;
	char *result;
	enum action action;
};

struct policy {
	char *name;
	struct policy_match match;
	int monitor;
	struct filter **chain; /* pointers into the set's filters */
	size_t nchain;
	double spam_tag, spam_reject; /* NAN: not set */
	struct policy_rule *rules;
	size_t nrules;
	char *reject_reply;   /* "550 5.7.1 ..." */
	char *tempfail_reply; /* "451 4.7.1 ..." */
};

struct policy_set {
	struct filter **filters; /* each allocated alone: policies point at them */
	size_t nfilters;
	struct policy *policies;
	size_t npolicies;
};

struct policy_subject {
	const char *rcpt;   /* NULL: not known yet */
	const char *sender; /* NULL: not known yet */
	const struct sockaddr *client;
	int authenticated;
};

struct policy_decision {
	enum action action;
	int enforce;
	double score;                 /* NAN: no scores */
	double spam_tag, spam_reject; /* the policy's thresholds, NAN: not set */
	const char *reply;            /* complete reply line without CRLF, for reject/tempfail */
	char reason[200];
};

const struct policy *policy_select(const struct policy_set *set, const struct policy_subject *s);
void policy_evaluate(const struct policy *p, const struct finding *findings, size_t n,
                     struct policy_decision *d);
struct evbuffer;
void policy_headers(const struct policy_decision *d, const char *authserv_id,
                    const struct finding *findings, size_t n, struct evbuffer *out);
size_t policy_log(const struct policy *p, enum action action, const struct finding *findings,
                  size_t n, char *buf, size_t size);
int cidr_parse(const char *text, struct cidr *out);
int cidr_match(const struct cidr *c, const struct sockaddr *sa);
void policy_set_free(struct policy_set *set);

#endif
