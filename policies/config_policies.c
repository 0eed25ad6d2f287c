/*
 * NAME
 *	config_policies - the filters: and policies: sections
 * DESCRIPTION
 *	filters: maps an instance name to its settings: type (default: the
 *	name itself, or milter when the settings have a milter: key), timeout (30s), on_error
 *(continue or accept | tempfail | reject), and the type's own keys, which the type reads (filter.h,
 *configure).
 *
 *	policies: is a list; each policy has name, match (rcpt, rcpt_domain,
 *	sender, sender_domain, client, authenticated), mode (enforce |
 *	monitor), chain (filter names, in order), spam: { tag: N, reject: N },
 *	reject_reply, tempfail_reply, and per-method rules written as the
 *	method's name: { RESULT: ACTION, ... } (spf: { fail: reject }).
 *
 *	Some filter types bring default rules for a method of theirs, which a
 *	policy whose chain has such a filter gets unless it writes rules for
 *	that method itself: dmarc's dmarc_policy: { reject: reject,
 *	quarantine: quarantine } (what the From domain's DMARC record asks
 *	for when DMARC fails).
 * DIAGNOSTICS
 *	Unknown filters in a chain, unknown types, bad CIDRs, thresholds that
 *	cannot both apply, replies of the wrong class: each at its node.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "policies/config_int.h"

#define FILTER_DEFAULT_TIMEOUT_MS 30000

/* Methods a rule may name: what the filters report. */
static const char *const methods[] = {"spf",    "dkim", "dkim_sign", "dmarc", "dmarc_policy",
                                      "arc",    "spam", "dnsbl",     "rules", "helo",
                                      "milter", "test", "error",     NULL};

static const char *const filter_keys[] = {"type", "timeout", "on_error"};
static const char *const policy_keys[] = {
        "name",  "match", "mode",      "chain", "spam",         "reject_reply", "tempfail_reply",
        "spf",   "dkim",  "dkim_sign", "dmarc", "dmarc_policy", "arc",          "dnsbl",
        "rules", "helo",  "milter",    "test",  "error"};
static const char *const match_keys[] = {"rcpt",          "rcpt_domain", "sender",
                                         "sender_domain", "client",      "authenticated"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static yaml_node_t *
node_at(struct loader *l, int index)
{
	return yaml_document_get_node(l->doc, index);
}

static int
in_list(const char *word, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] != NULL && strcmp(word, list[i]) == 0)
			return 1;
	return 0;
}

static void
load_filter(struct loader *l, struct filter *f, yaml_node_t *name, yaml_node_t *node)
{
	const char *type = scalar(name);
	yaml_node_t *type_node = name;

	f->name = xstrdup(scalar(name));
	f->timeout_ms = FILTER_DEFAULT_TIMEOUT_MS;
	f->on_error = ON_ERROR_CONTINUE;
	if (expect(l, node, YAML_MAPPING_NODE, f->name) < 0)
		return;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = node_at(l, p->key), *value = node_at(l, p->value);
		unsigned long long ms;

		if (key->type != YAML_SCALAR_NODE)
			continue;
		if (strcmp(scalar(key), "type") == 0 &&
		    expect(l, value, YAML_SCALAR_NODE, "type") == 0) {
			type = scalar(value);
			type_node = value;
		} else if (strcmp(scalar(key), "milter") == 0 && type == scalar(name)) {
			/* "opendkim: { milter: inet:... }" names an external milter (DESIGN.md). */
			type = "milter";
		} else if (strcmp(scalar(key), "timeout") == 0 &&
		           expect(l, value, YAML_SCALAR_NODE, "timeout") == 0) {
			if (parse_duration(scalar(value), &ms) < 0 || ms == 0 || ms > 0xffffffffULL)
				node_error(l, value, "filters.%s.timeout: \"%s\" is not a duration",
				           f->name, scalar(value));
			else
				f->timeout_ms = (unsigned)ms;
		} else if (strcmp(scalar(key), "on_error") == 0 &&
		           expect(l, value, YAML_SCALAR_NODE, "on_error") == 0) {
			/* "accept" as milter users write it (Postfix's milter_default_action). */
			static const char *const names[] = {"continue", "tempfail", "reject",
			                                    "accept"};
			size_t i;

			for (i = 0; i < NELEM(names) && strcmp(names[i], scalar(value)); i++)
				;
			if (i == NELEM(names))
				node_error(l, value,
				           "filters.%s.on_error: \"%s\" is not one of continue "
				           "(or accept), tempfail, reject",
				           f->name, scalar(value));
			else
				f->on_error = i == 3 ? ON_ERROR_CONTINUE : (enum filter_on_error)i;
		}
	}
	f->type = filter_type_find(type);
	if (f->type == NULL) {
		node_error(l, type_node, "filters.%s: unknown filter type \"%s\"", f->name, type);
		return;
	}
	if (f->type->configure != NULL) {
		f->type->configure(f, l->doc, node, l->file, l->diag);
		return;
	}
	/* A type without settings of its own: only the common keys. */
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = node_at(l, p->key);

		if (key->type == YAML_SCALAR_NODE && !in_list(scalar(key), filter_keys, 3))
			unknown_key(l, key, f->name, filter_keys, NELEM(filter_keys));
	}
}

void
config_load_filters(struct loader *l, yaml_node_t *node)
{
	struct policy_set *set = &l->cfg->policies;

	if (expect(l, node, YAML_MAPPING_NODE, "filters") < 0)
		return;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = node_at(l, p->key);

		if (expect(l, key, YAML_SCALAR_NODE, "filter name") < 0)
			continue;
		for (size_t i = 0; i < set->nfilters; i++)
			if (strcmp(set->filters[i]->name, scalar(key)) == 0)
				node_error(l, key, "filter \"%s\" is defined twice", scalar(key));
		set->filters = xrealloc(set->filters, (set->nfilters + 1) * sizeof(*set->filters));
		set->filters[set->nfilters] = xcalloc(1, sizeof(**set->filters));
		load_filter(l, set->filters[set->nfilters++], key, node_at(l, p->value));
	}
}

/* A scalar or a list of scalars, into a string list. */
static void
load_strings(struct loader *l, yaml_node_t *node, const char *what, char ***out, size_t *n)
{
	if (node->type == YAML_SCALAR_NODE) {
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = xstrdup(scalar(node));
		return;
	}
	if (expect(l, node, YAML_SEQUENCE_NODE, what) < 0)
		return;
	for (yaml_node_item_t *i = node->data.sequence.items.start;
	     i < node->data.sequence.items.top; i++)
		load_strings(l, node_at(l, *i), what, out, n);
}

static void
load_match(struct loader *l, struct policy *p, yaml_node_t *node)
{
	struct policy_match *m = &p->match;

	if (expect(l, node, YAML_MAPPING_NODE, "match") < 0)
		return;
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = node_at(l, pair->key), *value = node_at(l, pair->value);
		const char *k = key->type == YAML_SCALAR_NODE ? scalar(key) : "";

		if (strcmp(k, "rcpt") == 0)
			load_strings(l, value, k, &m->rcpt, &m->nrcpt);
		else if (strcmp(k, "rcpt_domain") == 0)
			load_strings(l, value, k, &m->rcpt_domain, &m->nrcpt_domain);
		else if (strcmp(k, "sender") == 0)
			load_strings(l, value, k, &m->sender, &m->nsender);
		else if (strcmp(k, "sender_domain") == 0)
			load_strings(l, value, k, &m->sender_domain, &m->nsender_domain);
		else if (strcmp(k, "authenticated") == 0 &&
		         expect(l, value, YAML_SCALAR_NODE, k) == 0) {
			if (strcmp(scalar(value), "true") == 0 || strcmp(scalar(value), "yes") == 0)
				m->authenticated = 1;
			else if (strcmp(scalar(value), "false") == 0 ||
			         strcmp(scalar(value), "no") == 0)
				m->authenticated = 0;
			else
				node_error(l, value, "match.authenticated: expected true or false");
		} else if (strcmp(k, "client") == 0) {
			yaml_node_t *items[256];
			size_t n = 0;

			if (value->type == YAML_SCALAR_NODE)
				items[n++] = value;
			else if (expect(l, value, YAML_SEQUENCE_NODE, k) == 0)
				for (yaml_node_item_t *i = value->data.sequence.items.start;
				     i < value->data.sequence.items.top && n < NELEM(items); i++)
					items[n++] = node_at(l, *i);
			for (size_t i = 0; i < n; i++) {
				struct cidr c;

				if (items[i]->type != YAML_SCALAR_NODE ||
				    cidr_parse(scalar(items[i]), &c) < 0) {
					node_error(l, items[i],
					           "match.client: \"%s\" is not a network (e.g. "
					           "192.0.2.0/24, 2001:db8::/32, 192.0.2.1)",
					           items[i]->type == YAML_SCALAR_NODE
					                   ? scalar(items[i])
					                   : "?");
					continue;
				}
				m->client = xrealloc(m->client, (m->nclient + 1) * sizeof(c));
				m->client[m->nclient++] = c;
			}
		} else if (key->type == YAML_SCALAR_NODE) {
			unknown_key(l, key, "match", match_keys, NELEM(match_keys));
		}
	}
}

static void
load_chain(struct loader *l, struct policy *p, yaml_node_t *node)
{
	struct policy_set *set = &l->cfg->policies;

	if (expect(l, node, YAML_SEQUENCE_NODE, "chain") < 0)
		return;
	for (yaml_node_item_t *i = node->data.sequence.items.start;
	     i < node->data.sequence.items.top; i++) {
		yaml_node_t *item = node_at(l, *i);
		size_t f;

		if (expect(l, item, YAML_SCALAR_NODE, "chain entry") < 0)
			continue;
		if (p->nchain == FILTER_CHAIN_MAX) {
			node_error(l, item, "policy %s: a chain has at most %d filters",
			           p->name ? p->name : "?", FILTER_CHAIN_MAX);
			break;
		}
		for (f = 0; f < set->nfilters && strcmp(set->filters[f]->name, scalar(item)); f++)
			;
		if (f == set->nfilters) {
			node_error(l, item,
			           "policy %s: chain names \"%s\", which is not in filters:",
			           p->name ? p->name : "?", scalar(item));
			continue;
		}
		p->chain = xrealloc(p->chain, (p->nchain + 1) * sizeof(*p->chain));
		p->chain[p->nchain++] = set->filters[f];
	}
}

static void
load_threshold(struct loader *l, yaml_node_t *node, double *out)
{
	char *end;

	if (expect(l, node, YAML_SCALAR_NODE, "threshold") < 0)
		return;
	*out = strtod(scalar(node), &end);
	if (*end != '\0' || end == scalar(node) || isnan(*out)) {
		node_error(l, node, "spam: \"%s\" is not a number", scalar(node));
		*out = NAN;
	}
}

static void
load_spam(struct loader *l, struct policy *p, yaml_node_t *node)
{
	static const char *const keys[] = {"tag", "reject"};
	yaml_node_t *reject_node = NULL;

	if (expect(l, node, YAML_MAPPING_NODE, "spam") < 0)
		return;
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = node_at(l, pair->key), *value = node_at(l, pair->value);
		const char *k = key->type == YAML_SCALAR_NODE ? scalar(key) : "";

		if (strcmp(k, "tag") == 0)
			load_threshold(l, value, &p->spam_tag);
		else if (strcmp(k, "reject") == 0) {
			load_threshold(l, value, &p->spam_reject);
			reject_node = value;
		} else if (key->type == YAML_SCALAR_NODE)
			unknown_key(l, key, "spam", keys, NELEM(keys));
	}
	if (reject_node && !isnan(p->spam_tag) && !isnan(p->spam_reject) &&
	    p->spam_reject <= p->spam_tag)
		node_error(l, reject_node,
		           "spam: reject (%g) must be above tag (%g), or nothing is ever tagged",
		           p->spam_reject, p->spam_tag);
}

static void
load_rules(struct loader *l, struct policy *p, const char *method, yaml_node_t *node)
{
	if (expect(l, node, YAML_MAPPING_NODE, method) < 0)
		return;
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = node_at(l, pair->key), *value = node_at(l, pair->value);
		enum action action;

		if (expect(l, key, YAML_SCALAR_NODE, "result") < 0 ||
		    expect(l, value, YAML_SCALAR_NODE, "action") < 0)
			continue;
		if (action_parse(scalar(value), &action) < 0) {
			node_error(l, value,
			           "%s.%s: \"%s\" is not an action (accept, tag, quarantine, "
			           "discard, tempfail, reject)",
			           method, scalar(key), scalar(value));
			continue;
		}
		p->rules = xrealloc(p->rules, (p->nrules + 1) * sizeof(*p->rules));
		p->rules[p->nrules++] = (struct policy_rule){.method = xstrdup(method),
		                                             .result = xstrdup(scalar(key)),
		                                             .action = action};
	}
}

static void
load_reply(struct loader *l, yaml_node_t *node, char digit, char **out)
{
	const char *r;

	if (expect(l, node, YAML_SCALAR_NODE, "reply") < 0)
		return;
	r = scalar(node);
	if (r[0] != digit || r[1] < '0' || r[1] > '9' || r[2] < '0' || r[2] > '9' ||
	    (r[3] != ' ' && r[3] != '\0') || strpbrk(r, "\r\n")) {
		node_error(l, node, "reply \"%s\": expected one line starting with a %cxx code", r,
		           digit);
		return;
	}
	*out = xstrdup(r);
}

/* The rules a filter type brings for the policies that chain it (see the top). */
static const struct {
	const char *type, *method, *result;
	enum action action;
} default_rules[] = {
        {"dmarc", "dmarc_policy", "reject", ACTION_REJECT},
        {"dmarc", "dmarc_policy", "quarantine", ACTION_QUARANTINE},
};

static void
add_default_rules(struct policy *p)
{
	size_t written = p->nrules;

	for (size_t d = 0; d < NELEM(default_rules); d++) {
		int chained = 0, own = 0;

		for (size_t c = 0; c < p->nchain; c++)
			chained |= p->chain[c]->type != NULL &&
			           strcmp(p->chain[c]->type->name, default_rules[d].type) == 0;
		for (size_t r = 0; r < written; r++)
			own |= strcmp(p->rules[r].method, default_rules[d].method) == 0;
		if (!chained || own)
			continue;
		p->rules = xrealloc(p->rules, (p->nrules + 1) * sizeof(*p->rules));
		p->rules[p->nrules++] =
		        (struct policy_rule){.method = xstrdup(default_rules[d].method),
		                             .result = xstrdup(default_rules[d].result),
		                             .action = default_rules[d].action};
	}
}

static void
load_policy(struct loader *l, struct policy *p, yaml_node_t *node)
{
	yaml_node_t *chain = NULL;

	p->match.authenticated = -1;
	p->spam_tag = p->spam_reject = NAN;
	if (expect(l, node, YAML_MAPPING_NODE, "policy") < 0)
		return;
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = node_at(l, pair->key), *value = node_at(l, pair->value);

		if (expect(l, key, YAML_SCALAR_NODE, "key") < 0)
			continue;
		const char *k = scalar(key);

		if (strcmp(k, "name") == 0 && expect(l, value, YAML_SCALAR_NODE, k) == 0) {
			free(p->name);
			p->name = xstrdup(scalar(value));
		} else if (strcmp(k, "match") == 0)
			load_match(l, p, value);
		else if (strcmp(k, "mode") == 0 && expect(l, value, YAML_SCALAR_NODE, k) == 0) {
			if (strcmp(scalar(value), "monitor") == 0)
				p->monitor = 1;
			else if (strcmp(scalar(value), "enforce") != 0)
				node_error(l, value, "mode: \"%s\" is not enforce or monitor",
				           scalar(value));
		} else if (strcmp(k, "chain") == 0)
			chain = value;
		else if (strcmp(k, "spam") == 0)
			load_spam(l, p, value);
		else if (strcmp(k, "reject_reply") == 0)
			load_reply(l, value, '5', &p->reject_reply);
		else if (strcmp(k, "tempfail_reply") == 0)
			load_reply(l, value, '4', &p->tempfail_reply);
		else if (in_list(k, methods, NELEM(methods)))
			load_rules(l, p, k, value);
		else
			unknown_key(l, key, "policy", policy_keys, NELEM(policy_keys));
	}
	if (p->name == NULL)
		node_error(l, node, "policy without a name");
	if (chain != NULL)
		load_chain(l, p, chain);
	add_default_rules(p);
}

void
config_load_policies(struct loader *l, yaml_node_t *node)
{
	struct policy_set *set = &l->cfg->policies;

	if (expect(l, node, YAML_SEQUENCE_NODE, "policies") < 0)
		return;
	for (yaml_node_item_t *i = node->data.sequence.items.start;
	     i < node->data.sequence.items.top; i++) {
		set->policies =
		        xrealloc(set->policies, (set->npolicies + 1) * sizeof(*set->policies));
		memset(&set->policies[set->npolicies], 0, sizeof(*set->policies));
		load_policy(l, &set->policies[set->npolicies], node_at(l, *i));
		struct policy *p = &set->policies[set->npolicies++];

		for (size_t j = 0; p->name && j + 1 < set->npolicies; j++)
			if (set->policies[j].name && strcmp(set->policies[j].name, p->name) == 0)
				node_error(l, node_at(l, *i), "policy name \"%s\" is used twice",
				           p->name);
	}
}
