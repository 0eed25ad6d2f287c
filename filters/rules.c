/*
 * NAME
 *	rules - local rules: PCRE2 patterns and networks, each a score or an action
 * SYNOPSIS
 *	filters:
 *	  local:
 *	    type: rules
 *	    body_max: 256K
 *	    rules:
 *	      - { name: PILLS, header: Subject, pattern: '(?i)cheap\s+pills', score: 3.5 }
 *	      - { name: BAD_NET, client: [ 192.0.2.0/24 ], action: reject,
 *	          reply: "550 5.7.1 not from there" }
 *	      - { name: FROM_US, sender: '@example\.org$', score: 1 }
 *	      - { name: ABUSE, rcpt: '^abuse@', action: accept }
 *	      - { name: HELO_IP, helo: '^\[', score: 0.5 }
 *	      - { name: BUY, body: '(?i)buy now', score: 2 }
 * DESCRIPTION
 *	Each rule has a name, exactly one thing it looks at, and a score or an
 *	action (or both). What a rule looks at decides when it runs, so that
 *	an action is taken as early as it can be: client (address, networks
 *	as CIDRs), helo and sender (patterns) at MAIL; rcpt (a pattern, the
 *	recipient being checked) at RCPT; header (a field name, with pattern
 *	matched on each such field's unfolded value) and body (a pattern
 *	matched on the first body_max octets of the body, as received) at the
 *	end of the message.
 *
 *	Patterns are PCRE2, compiled once when the configuration loads and
 *	matched on octets (write (*UTF) to match characters), CR LF, CR and
 *	LF all ending a line for ^ and $ under (?m), with a match
 *	limit so that no pattern can hold the event loop. A bad pattern fails
 *	the load (postern -t) with its file:line:column and PCRE2's message.
 *
 *	A rule that matches is a finding: method "rules", result its name, its
 *	score (summed by the policy with every other score) and, with action,
 *	that action with reply (filter_act): "action: reject" at MAIL rejects
 *	the MAIL command.
 * DIAGNOSTICS
 *	event=rules_error filter= rule= reason= (warning) when PCRE2 gives up
 *	on a subject (match limit): the rule does not match.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <pcre2.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "common/xalloc.h"
#include "filters/filter.h"
#include "filters/filter_config.h"
#include "policies/config.h"
#include "policies/policy.h"

#define RULES_MATCH_LIMIT 1000000
#define RULES_DEPTH_LIMIT 10000

enum rule_kind {
	RULE_NONE,
	RULE_CLIENT,
	RULE_HELO,
	RULE_SENDER,
	RULE_RCPT,
	RULE_HEADER,
	RULE_BODY
};

static const char *const kind_names[] = {"", "client", "helo", "sender", "rcpt", "header", "body"};

struct rule {
	char *name;
	enum rule_kind kind;
	char *field; /* RULE_HEADER */
	pcre2_code *re;
	struct cidr *nets; /* RULE_CLIENT */
	size_t nnets;
	double score;       /* NAN: none */
	enum action action; /* ACTION_NONE: none */
	char *reply;
};

struct rules_conf {
	struct rule *rules;
	size_t n;
	unsigned long long body_max;
	pcre2_compile_context *cc; /* mail has CRLF lines: ^ and $ under (?m) at CR LF too */
	pcre2_match_context *mctx;
	pcre2_match_data *md; /* the event loop is one thread: one is enough */
};

static const char *const rules_keys[] = {"rules", "body_max", NULL};
static const char *const rule_keys[] = {"name", "header", "pattern", "client", "helo",  "sender",
                                        "rcpt", "body",   "score",   "action", "reply", NULL};

/* Compile node's pattern; a PCRE2 error points at the pattern's octet where it can. */
static pcre2_code *
compile(const struct fconf *c, yaml_node_t *node, pcre2_compile_context *cc)
{
	const char *pattern;
	int code;
	PCRE2_SIZE offset;
	pcre2_code *re;

	if (node->type != YAML_SCALAR_NODE) {
		fconf_error(c, node, "expected a pattern");
		return NULL;
	}
	pattern = (const char *)node->data.scalar.value;
	re = pcre2_compile((PCRE2_SPTR)pattern, node->data.scalar.length, 0, &code, &offset, cc);
	if (re == NULL) {
		PCRE2_UCHAR msg[256];
		int column = (int)node->start_mark.column + 1;

		pcre2_get_error_message(code, msg, sizeof(msg));
		/* Plain and single-quoted one-line scalars: the octet is where PCRE2 says. */
		if (node->start_mark.line == node->end_mark.line &&
		    node->data.scalar.style != YAML_DOUBLE_QUOTED_SCALAR_STYLE)
			column += (int)offset +
			          (node->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE);
		config_diag_add(c->diag, c->file, (int)node->start_mark.line + 1, column,
		                "filters.%s.%s: bad pattern \"%s\": %s (at offset %zu)", c->name,
		                c->key, pattern, (const char *)msg, (size_t)offset);
		return NULL;
	}
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* where JIT is not there, the interpreter */
	return re;
}

static void
load_nets(const struct fconf *c, yaml_node_t *node, struct rule *r)
{
	char **list = NULL;
	size_t n = 0;

	/* Items that are not scalars were reported; the others are still checked. */
	fconf_strings(c, node, &list, &n);
	r->nets = xcalloc(n ? n : 1, sizeof(*r->nets));
	for (size_t i = 0; i < n; i++) {
		if (cidr_parse(list[i], &r->nets[r->nnets]) == 0)
			r->nnets++;
		else
			fconf_error(c, node,
			            "\"%s\" is not a network (192.0.2.0/24, 2001:db8::/32)",
			            list[i]);
		free(list[i]);
	}
	free(list);
}

static void
set_kind(const struct fconf *c, yaml_node_t *node, struct rule *r, enum rule_kind kind)
{
	if (r->kind != RULE_NONE)
		fconf_error(c, node, "a rule looks at one thing; this one has %s and %s",
		            kind_names[r->kind], kind_names[kind]);
	r->kind = kind;
}

static void
load_rule(struct fconf *c, const struct rules_conf *rc, yaml_node_t *node, struct rule *r,
          size_t index)
{
	char key[64];
	yaml_node_t *pattern = NULL, *where = node;
	char *word = NULL;

	r->score = NAN;
	r->action = ACTION_NONE;
	if (node->type != YAML_MAPPING_NODE) {
		snprintf(key, sizeof(key), "rules[%zu]", index);
		c->key = key;
		fconf_error(c, node,
		            "expected a mapping (name, what it looks at, score or action)");
		return;
	}
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = fconf_node(c, p->key), *v = fconf_node(c, p->value);
		const char *name =
		        k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
		enum rule_kind kind = RULE_NONE;

		snprintf(key, sizeof(key), "rules[%zu].%s", index, name);
		c->key = key;
		for (size_t i = RULE_CLIENT; i <= RULE_BODY; i++)
			if (strcmp(name, kind_names[i]) == 0)
				kind = (enum rule_kind)i;
		if (strcmp(name, "name") == 0) {
			fconf_string(c, v, &r->name);
		} else if (kind == RULE_HEADER) {
			set_kind(c, k, r, kind);
			if (fconf_string(c, v, &r->field) == 0 &&
			    (r->field[0] == '\0' || strpbrk(r->field, ": \t\r\n")))
				fconf_error(c, v, "\"%s\" is not a header field name", r->field);
			where = v;
		} else if (kind == RULE_CLIENT) {
			set_kind(c, k, r, kind);
			load_nets(c, v, r);
		} else if (kind != RULE_NONE) {
			set_kind(c, k, r, kind);
			pcre2_code_free(r->re); /* a rule with two kinds: reported above */
			r->re = compile(c, v, rc->cc);
		} else if (strcmp(name, "pattern") == 0) {
			pattern = v;
		} else if (strcmp(name, "score") == 0) {
			fconf_number(c, v, &r->score);
		} else if (strcmp(name, "action") == 0) {
			if (fconf_string(c, v, &word) == 0 && action_parse(word, &r->action) < 0)
				fconf_error(c, v,
				            "\"%s\" is not an action (accept, tag, quarantine, "
				            "discard, tempfail, reject)",
				            word);
		} else if (strcmp(name, "reply") == 0) {
			if (fconf_string(c, v, &r->reply) == 0 &&
			    (strlen(r->reply) < 4 || (r->reply[0] != '4' && r->reply[0] != '5') ||
			     strpbrk(r->reply, "\r\n")))
				fconf_error(c, v, "\"%s\" is not one reply line (550 5.7.1 text)",
				            r->reply);
		} else {
			fconf_unknown(c, k, rule_keys);
		}
	}
	if (r->kind == RULE_HEADER && pattern != NULL) {
		snprintf(key, sizeof(key), "rules[%zu].pattern", index);
		c->key = key;
		pcre2_code_free(r->re);
		r->re = compile(c, pattern, rc->cc);
	} else if (pattern != NULL) {
		snprintf(key, sizeof(key), "rules[%zu].pattern", index);
		c->key = key;
		fconf_error(c, pattern, "only a header rule has a pattern: of its own");
	}
	snprintf(key, sizeof(key), "rules[%zu]", index);
	c->key = key;
	if (r->kind == RULE_HEADER && pattern == NULL)
		fconf_error(c, where, "a header rule needs a pattern");
	if (r->name == NULL)
		fconf_error(c, node, "a rule needs a name");
	if (r->kind == RULE_NONE)
		fconf_error(c, node,
		            "a rule needs one of client, helo, sender, rcpt, header, body");
	if (isnan(r->score) && r->action == ACTION_NONE)
		fconf_error(c, node, "a rule needs a score or an action");
	free(word);
	c->key = NULL;
}

static int
rules_key(struct fconf *c, const char *key, yaml_node_t *value, void *arg)
{
	struct rules_conf *rc = arg;

	if (strcmp(key, "body_max") == 0) {
		fconf_size(c, value, &rc->body_max);
		return 0;
	}
	if (strcmp(key, "rules") != 0)
		return -1;
	if (value->type != YAML_SEQUENCE_NODE) {
		fconf_error(c, value, "expected a list of rules");
		return 0;
	}
	for (yaml_node_item_t *i = value->data.sequence.items.start;
	     i < value->data.sequence.items.top; i++) {
		rc->rules = xrealloc(rc->rules, (rc->n + 1) * sizeof(*rc->rules));
		memset(&rc->rules[rc->n], 0, sizeof(*rc->rules));
		load_rule(c, rc, fconf_node(c, *i), &rc->rules[rc->n], rc->n);
		rc->n++;
	}
	return 0;
}

static int
rules_configure(struct filter *filter, yaml_document_t *doc, yaml_node_t *node, const char *file,
                struct config_diag *diag)
{
	struct rules_conf *rc = xcalloc(1, sizeof(*rc));
	struct fconf c;

	rc->body_max = 256 * 1024;
	rc->cc = pcre2_compile_context_create(NULL);
	pcre2_set_newline(rc->cc, PCRE2_NEWLINE_ANYCRLF);
	rc->mctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(rc->mctx, RULES_MATCH_LIMIT);
	pcre2_set_depth_limit(rc->mctx, RULES_DEPTH_LIMIT);
	rc->md = pcre2_match_data_create(1, NULL);
	filter->state = rc;
	fconf_init(&c, filter, doc, file, diag);
	return fconf_walk(&c, node, rules_keys, rules_key, rc);
}

static void
rules_destroy(struct filter *filter)
{
	struct rules_conf *rc = filter->state;

	if (rc == NULL)
		return;
	for (size_t i = 0; i < rc->n; i++) {
		free(rc->rules[i].name);
		free(rc->rules[i].field);
		free(rc->rules[i].nets);
		free(rc->rules[i].reply);
		pcre2_code_free(rc->rules[i].re);
	}
	free(rc->rules);
	pcre2_match_data_free(rc->md);
	pcre2_match_context_free(rc->mctx);
	pcre2_compile_context_free(rc->cc);
	free(rc);
}

/* 1 when r's pattern matches subject; a subject PCRE2 gives up on does not match. */
static int
matches(const struct filter *f, const struct rule *r, const char *subject, size_t len)
{
	const struct rules_conf *rc = f->state;
	int n = pcre2_match(r->re, (PCRE2_SPTR)subject, len, 0, 0, rc->md, rc->mctx);

	if (n >= 0)
		return 1;
	if (n != PCRE2_ERROR_NOMATCH)
		log_warn("event=rules_error filter=%s rule=%s reason=pcre2:%d", f->name, r->name,
		         n);
	return 0;
}

static int
client_matches(const struct rule *r, const char *addr)
{
	struct sockaddr_storage ss;

	if (addr == NULL || netaddr_from_ip(addr, &ss) < 0)
		return 0;
	for (size_t i = 0; i < r->nnets; i++)
		if (cidr_match(&r->nets[i], (struct sockaddr *)&ss))
			return 1;
	return 0;
}

static int
string_matches(const struct filter *f, const struct rule *r, const char *s)
{
	return s != NULL && matches(f, r, s, strlen(s));
}

/* Each field named r->field, its value unfolded (CRLF before white space removed). */
static int
header_matches(const struct filter *f, const struct rule *r, const struct filter_txn *txn)
{
	const char *p = txn->header_block, *end = p ? p + txn->header_len : NULL;
	size_t nlen = strlen(r->field);
	char *value = NULL;
	int hit = 0;

	while (p != NULL && p < end && !hit) {
		const char *field = p, *fend = p;

		/* A field runs to the CRLF not followed by white space. */
		for (;;) {
			const char *nl = memchr(fend, '\n', (size_t)(end - fend));

			fend = nl ? nl + 1 : end;
			if (fend >= end || (*fend != ' ' && *fend != '\t'))
				break;
		}
		p = fend;
		if ((size_t)(fend - field) <= nlen || field[nlen] != ':' ||
		    strncasecmp(field, r->field, nlen) != 0)
			continue;
		size_t n = 0;

		value = xrealloc(value, (size_t)(fend - field));
		for (const char *q = field + nlen + 1; q < fend; q++)
			if (*q != '\r' && *q != '\n')
				value[n++] = *q;
		size_t start = 0;

		while (start < n && (value[start] == ' ' || value[start] == '\t'))
			start++;
		hit = matches(f, r, value + start, n - start);
	}
	free(value);
	return hit;
}

/* The body's first body_max octets from the spool: after the header and its empty line. */
static int
body_matches(const struct filter *f, const struct rule *r, const struct filter_txn *txn,
             char **body, ssize_t *len)
{
	const struct rules_conf *rc = f->state;

	if (*body == NULL) {
		size_t want = (size_t)rc->body_max, off = txn->header_len, got = 0;
		char crlf[2];

		if (filter_read_message(txn, off, crlf, 2) == 2 && crlf[0] == '\r' &&
		    crlf[1] == '\n')
			off += 2;
		*body = xmalloc(want + 1);
		while (got < want) {
			ssize_t n = filter_read_message(txn, off + got, *body + got, want - got);

			if (n <= 0)
				break;
			got += (size_t)n;
		}
		*len = (ssize_t)got;
	}
	return matches(f, r, *body, (size_t)*len);
}

static int
rule_matches(struct filter_call *call, const struct rule *r, char **body, ssize_t *body_len)
{
	const struct filter_txn *txn = call->txn;

	switch (r->kind) {
	case RULE_CLIENT:
		return call->stage == FILTER_MAIL && client_matches(r, txn->client_addr);
	case RULE_HELO:
		return call->stage == FILTER_MAIL && string_matches(call->filter, r, txn->helo);
	case RULE_SENDER:
		return call->stage == FILTER_MAIL &&
		       string_matches(call->filter, r, txn->mail_from);
	case RULE_RCPT:
		return call->stage == FILTER_RCPT && string_matches(call->filter, r, txn->rcpt);
	case RULE_HEADER:
		return call->stage == FILTER_EOM && header_matches(call->filter, r, txn);
	case RULE_BODY:
		return call->stage == FILTER_EOM &&
		       body_matches(call->filter, r, txn, body, body_len);
	default:
		return 0;
	}
}

static enum filter_rc
rules_run(struct filter_call *call)
{
	const struct rules_conf *rc = call->filter->state;
	char *body = NULL;
	ssize_t body_len = 0;

	for (size_t i = 0; i < rc->n; i++) {
		const struct rule *r = &rc->rules[i];

		if (!rule_matches(call, r, &body, &body_len))
			continue;
		filter_finding(call, "rules", r->name, r->score, "%s matched", kind_names[r->kind]);
		if (r->action != ACTION_NONE)
			filter_act(call, r->action, r->reply);
	}
	free(body);
	return FILTER_DONE;
}

const struct filter_type rules_filter_type = {
        .name = "rules",
        .stages = FILTER_STAGE(FILTER_MAIL) | FILTER_STAGE(FILTER_RCPT) | FILTER_STAGE(FILTER_EOM),
        .configure = rules_configure,
        .destroy = rules_destroy,
        .run = rules_run,
};
