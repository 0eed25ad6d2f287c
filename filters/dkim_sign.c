/*
 * NAME
 *	dkim_sign - DKIM signing (RFC 6376, RFC 8463) of outgoing mail with libopendkim
 * SYNOPSIS
 *	filters:
 *	  sign:
 *	    type: dkim_sign
 *	    outgoing: { authenticated: true, clients: [ 10.0.0.0/8 ],
 *	                sender_domains: [ example.org ] }
 *	    keys:
 *	      - { domain: example.org, selector: s1, key_file: /etc/postern/s1.key,
 *	          algorithm: rsa-sha256, headers: [ from, to, subject, date ],
 *	          oversign_from: true, canonicalization: relaxed/relaxed }
 * DESCRIPTION
 *	A message is outgoing when its session is authenticated (the backend
 *	said 235 to the client's AUTH) and outgoing.authenticated is true (the
 *	default: authenticated submission is signed), when its client is in
 *	outgoing.clients, or when its envelope sender's domain is in
 *	outgoing.sender_domains. Outgoing mail is signed
 *	with the key of its From domain (or of the nearest parent domain that
 *	has one): the header fields as they stream are kept, and at the end of
 *	the header, once From is known, they go to libopendkim, then each body
 *	chunk; at the end of the message the DKIM-Signature field is inserted
 *	as the first field of what the backend receives (filter_header_insert).
 *	Signing does no DNS and takes a millisecond: it runs on the loop.
 *
 *	headers names the fields to sign (default: RFC 6376 5.4.1's list);
 *	oversign_from (default true) signs From once more than it occurs, so
 *	no From can be added; algorithm rsa-sha256 (default) or ed25519-sha256;
 *	canonicalization header/body, relaxed or simple (default
 *	relaxed/relaxed). key_file holds the private key as PEM (rsa:
 *	"openssl genrsa"; ed25519: "openssl genpkey -algorithm ed25519").
 *
 *	Findings: dkim_sign=signed (header.d=D header.s=S), or dkim_sign=none
 *	with why (no key for the From domain) for outgoing mail; nothing for
 *	mail that is not outgoing. A signature that cannot be made is
 *	dkim_sign=error; the message goes on unsigned and policy decides
 *	(dkim_sign: { error: tempfail }).
 *	Put dkim_sign last in a chain: a later filter's header edits would
 *	change what was signed.
 * DIAGNOSTICS
 *	A key file that is missing, unreadable or not a key, and every other
 *	bad key, fails the configuration (postern -t) at its node.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <dkim.h>
#include <yaml.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "common/xalloc.h"
#include "filters/filter.h"
#include "filters/filter_config.h"
#include "filters/from_header.h"
#include "policies/config_int.h"
#include "policies/policy.h"

#define SIGN_HEADER "DKIM-Signature"

/* RFC 6376 5.4.1: the fields a signature should cover. */
static const char *const default_headers[] = {
        "from",
        "reply-to",
        "subject",
        "date",
        "to",
        "cc",
        "resent-date",
        "resent-from",
        "resent-to",
        "resent-cc",
        "in-reply-to",
        "references",
        "list-id",
        "list-help",
        "list-unsubscribe",
        "list-subscribe",
        "list-post",
        "list-owner",
        "list-archive",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
};

struct sign_key {
	char *domain, *selector, *key;
	dkim_alg_t alg;
	dkim_canon_t hcanon, bcanon;
	DKIM_LIB *lib; /* its own: headers to sign and oversigning are library options */
	const char **headers;
	size_t nheaders;
};

struct sign_conf {
	int authenticated; /* an authenticated session is outgoing */
	struct cidr *clients;
	size_t nclients;
	char **sender_domains;
	size_t nsender_domains;
	struct sign_key *keys;
	size_t nkeys;
};

/* Per transaction: the fields until the end of the header, then the handle. */
struct sign_state {
	char **fields;
	size_t nfields;
	DKIM *dkim;
	const struct sign_key *key;
	int outgoing;
	const char *why; /* not signed: why */
};

static void
state_free(struct sign_state *st)
{
	for (size_t i = 0; i < st->nfields; i++)
		free(st->fields[i]);
	free(st->fields);
	if (st->dkim != NULL)
		dkim_free(st->dkim);
	free(st);
}

static int
domain_listed(const char *domain, char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(domain, list[i]) == 0)
			return 1;
	return 0;
}

/*
 * Is this transaction's mail outgoing? Its session is authenticated (when
 * that counts), its client is trusted, or its sender domain is listed.
 */
static int
outgoing(const struct sign_conf *conf, const struct filter_txn *txn)
{
	struct sockaddr_storage ss;
	const char *at = txn->mail_from ? strrchr(txn->mail_from, '@') : NULL;

	if (conf->authenticated && txn->authenticated)
		return 1;
	if (txn->client_addr != NULL && netaddr_from_ip(txn->client_addr, &ss) == 0)
		for (size_t i = 0; i < conf->nclients; i++)
			if (cidr_match(&conf->clients[i], (struct sockaddr *)&ss))
				return 1;
	return at != NULL && domain_listed(at + 1, conf->sender_domains, conf->nsender_domains);
}

/* The From domain of the kept fields, into out; -1 with why when there is none. */
static int
from_domain(struct sign_state *st, char *out, size_t size)
{
	for (size_t i = 0; i < st->nfields; i++)
		if (strncasecmp(st->fields[i], "From:", 5) == 0)
			return from_header_domain(st->fields[i] + 5, strlen(st->fields[i] + 5), out,
			                          size, &st->why);
	st->why = "no From field";
	return -1;
}

/* The key of domain, or of its nearest parent that has one. */
static const struct sign_key *
key_for(const struct sign_conf *conf, const char *domain)
{
	for (const char *d = domain; d != NULL; d = strchr(d, '.') ? strchr(d, '.') + 1 : NULL)
		for (size_t i = 0; i < conf->nkeys; i++)
			if (strcasecmp(conf->keys[i].domain, d) == 0)
				return &conf->keys[i];
	return NULL;
}

/* At the end of the header: the handle, and the kept fields fed to it. */
static void
start_signing(struct filter_call *call, struct sign_state *st)
{
	const struct sign_conf *conf = call->filter->state;
	char domain[256];
	DKIM_STAT status;

	if (from_domain(st, domain, sizeof(domain)) < 0)
		return;
	st->key = key_for(conf, domain);
	if (st->key == NULL) {
		st->why = "no key for the From domain";
		return;
	}
	st->dkim = dkim_sign(st->key->lib, (const unsigned char *)call->filter->name, NULL,
	                     (dkim_sigkey_t)st->key->key, (const unsigned char *)st->key->selector,
	                     (const unsigned char *)st->key->domain, st->key->hcanon,
	                     st->key->bcanon, st->key->alg, -1, &status);
	if (st->dkim == NULL) {
		st->why = dkim_getresultstr(status);
		return;
	}
	for (size_t i = 0; i < st->nfields; i++) {
		size_t len = strlen(st->fields[i]);

		while (len > 0 &&
		       (st->fields[i][len - 1] == '\n' || st->fields[i][len - 1] == '\r'))
			len--;
		dkim_header(st->dkim, (unsigned char *)st->fields[i], len);
	}
	if (dkim_eoh(st->dkim) != DKIM_STAT_OK) {
		st->why = dkim_geterror(st->dkim);
		dkim_free(st->dkim);
		st->dkim = NULL;
	}
}

/* libopendkim folds with LF; a header field here is CRLF lines. */
static char *
crlf_folded(const unsigned char *value, size_t len)
{
	char *out = xmalloc(2 * len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (value[i] == '\r')
			continue;
		if (value[i] == '\n')
			*o++ = '\r';
		*o++ = (char)value[i];
	}
	*o = '\0';
	return out;
}

static void
finish_signing(struct filter_call *call, struct sign_state *st)
{
	unsigned char *value = NULL;
	size_t len = 0;

	if (st->dkim == NULL) {
		filter_finding(call, "dkim_sign", st->key ? "error" : "none", NAN, "(%s)",
		               st->why ? st->why : "not signed");
		return;
	}
	if (dkim_eom(st->dkim, NULL) != DKIM_STAT_OK ||
	    dkim_getsighdr_d(st->dkim, sizeof(SIGN_HEADER ": ") - 1, &value, &len) !=
	            DKIM_STAT_OK) {
		log_err("event=dkim_sign_failed filter=%s domain=%s reason=\"%s\"",
		        call->filter->name, st->key->domain,
		        dkim_geterror(st->dkim) ? dkim_geterror(st->dkim) : "?");
		filter_finding(call, "dkim_sign", "error", NAN, "(signing failed) header.d=%s",
		               st->key->domain);
		return;
	}
	char *folded = crlf_folded(value, len);

	filter_header_insert(call, 0, SIGN_HEADER, folded);
	free(folded);
	filter_finding(call, "dkim_sign", "signed", NAN, "header.d=%s header.s=%s", st->key->domain,
	               st->key->selector);
}

static enum filter_rc
sign_run(struct filter_call *call)
{
	struct sign_state *st = *call->state;

	if (st == NULL) {
		st = xcalloc(1, sizeof(*st));
		st->outgoing = outgoing(call->filter->state, call->txn);
		*call->state = st;
	}
	if (!st->outgoing)
		return FILTER_DONE;
	switch (call->stage) {
	case FILTER_HEADER:
		st->fields = xrealloc(st->fields, (st->nfields + 1) * sizeof(*st->fields));
		st->fields[st->nfields++] = xstrndup(call->data, call->len);
		break;
	case FILTER_EOH:
		start_signing(call, st);
		break;
	case FILTER_BODY:
		if (st->dkim != NULL)
			dkim_body(st->dkim, (unsigned char *)call->data, call->len);
		break;
	case FILTER_EOM:
		finish_signing(call, st);
		break;
	default:
		break;
	}
	return FILTER_DONE;
}

static void
sign_txn_end(const struct filter *filter, void *state)
{
	state_free(state);
}

/*
 * One of keys: a mapping, each problem reported (the probe below only when
 * there was none). Its unknown keys are "in keys", as they always were.
 */
static void
load_key(struct fconf *c, yaml_node_t *node, struct sign_key *k)
{
	static const char *const keys[] = {"domain",           "selector", "key_file",
	                                   "algorithm",        "headers",  "oversign_from",
	                                   "canonicalization", NULL};
	char *file = NULL, *alg = NULL, *canon = NULL, **headers = NULL, path[64];
	const char *section = c->section;
	size_t nheaders = 0;
	int oversign = 1, rc = 0;
	yaml_node_t *file_node = node, *alg_node = node, *canon_node = node;

	if (fconf_expect(c, node, YAML_MAPPING_NODE, "keys entry") < 0)
		return;
	c->section = "keys";
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = fconf_node(c, p->key), *value = fconf_node(c, p->value);
		const char *name = key->type == YAML_SCALAR_NODE ? scalar(key) : "";

		snprintf(path, sizeof(path), "keys.%s", name);
		c->key = path;
		if (strcmp(name, "domain") == 0)
			rc |= fconf_string(c, value, &k->domain);
		else if (strcmp(name, "selector") == 0)
			rc |= fconf_string(c, value, &k->selector);
		else if (strcmp(name, "key_file") == 0) {
			file_node = value;
			rc |= fconf_string(c, value, &file);
		} else if (strcmp(name, "algorithm") == 0) {
			alg_node = value;
			rc |= fconf_string(c, value, &alg);
		} else if (strcmp(name, "canonicalization") == 0) {
			canon_node = value;
			rc |= fconf_string(c, value, &canon);
		} else if (strcmp(name, "headers") == 0)
			rc |= fconf_strings(c, value, &headers, &nheaders);
		else if (strcmp(name, "oversign_from") == 0)
			rc |= fconf_bool(c, value, &oversign);
		else if (key->type == YAML_SCALAR_NODE) {
			fconf_unknown(c, key, keys);
			rc = -1;
		}
	}
	c->section = section;
	c->key = "keys";
	if (k->domain == NULL || k->selector == NULL || file == NULL) {
		fconf_error(c, node, "each key needs domain, selector and key_file");
		rc = -1;
	}
	k->alg = DKIM_SIGN_RSASHA256;
	if (alg != NULL && strcmp(alg, "ed25519-sha256") == 0)
		k->alg = DKIM_SIGN_ED25519SHA256;
	else if (alg != NULL && strcmp(alg, "rsa-sha256") != 0) {
		c->key = "keys.algorithm";
		fconf_error(c, alg_node, "\"%s\" is not rsa-sha256 or ed25519-sha256", alg);
		rc = -1;
	}
	k->hcanon = k->bcanon = DKIM_CANON_RELAXED;
	if (canon != NULL) {
		char *slash = strchr(canon, '/');
		const char *h = canon, *b = slash ? slash + 1 : "simple";

		if (slash != NULL)
			*slash = '\0';
		if ((strcmp(h, "relaxed") != 0 && strcmp(h, "simple") != 0) ||
		    (strcmp(b, "relaxed") != 0 && strcmp(b, "simple") != 0)) {
			c->key = "keys.canonicalization";
			fconf_error(c, canon_node,
			            "expected relaxed or simple, header/body (relaxed/relaxed)");
			rc = -1;
		}
		k->hcanon = strcmp(h, "simple") == 0 ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED;
		k->bcanon = strcmp(b, "simple") == 0 ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED;
	}
	if (file != NULL) {
		size_t len;

		int unread = config_read_file(file, &k->key, &len) < 0;

		if (unread || len == 0) {
			c->key = "keys.key_file";
			fconf_error(c, file_node, "cannot read \"%s\": %s", file,
			            unread ? strerror(errno) : "empty file");
			rc = -1;
		} else {
			/* libopendkim reads the key as a string */
			k->key = xrealloc(k->key, len + 1);
			k->key[len] = '\0';
		}
	}
	if (headers == NULL) {
		for (size_t i = 0; i < sizeof(default_headers) / sizeof(default_headers[0]); i++) {
			headers = xrealloc(headers, (nheaders + 1) * sizeof(*headers));
			headers[nheaders++] = xstrdup(default_headers[i]);
		}
	}
	k->headers = xcalloc(nheaders + 1, sizeof(*k->headers));
	for (size_t i = 0; i < nheaders; i++)
		k->headers[i] = headers[i];
	k->nheaders = nheaders;
	free(headers);
	k->lib = dkim_init(NULL, NULL);
	if (k->lib != NULL) {
		const char *from[] = {"from", NULL};

		dkim_options(k->lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, k->headers,
		             sizeof(k->headers));
		if (oversign)
			dkim_options(k->lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, from,
			             sizeof(char **));
	}
	/*
	 * A key libopendkim cannot use fails here, not on the first message: a
	 * whole signature is made (only that path frees what loading the key took).
	 */
	if (rc == 0 && k->key != NULL && k->lib != NULL) {
		static unsigned char from[] = "From: <probe@probe.invalid>", body[] = "\r\n";
		DKIM_STAT status;
		DKIM *probe = dkim_sign(k->lib, (const unsigned char *)"probe", NULL,
		                        (dkim_sigkey_t)k->key, (const unsigned char *)k->selector,
		                        (const unsigned char *)k->domain, k->hcanon, k->bcanon,
		                        k->alg, -1, &status);

		if (probe == NULL || dkim_header(probe, from, sizeof(from) - 1) != DKIM_STAT_OK ||
		    dkim_eoh(probe) != DKIM_STAT_OK ||
		    dkim_body(probe, body, sizeof(body) - 1) != DKIM_STAT_OK ||
		    dkim_eom(probe, NULL) != DKIM_STAT_OK) {
			c->key = "keys.key_file";
			fconf_error(c, file_node, "\"%s\" is not a PEM private key for %s", file,
			            alg ? alg : "rsa-sha256");
			rc = -1;
		}
		if (probe != NULL)
			dkim_free(probe);
	}
	free(file);
	free(alg);
	free(canon);
}

/* outgoing.clients: a network or a list of them, each error at its item. */
static void
load_clients(struct fconf *c, yaml_node_t *node, struct sign_conf *conf)
{
	yaml_node_t *single[1] = {node}, **items = single;
	size_t n = 1;

	if (node->type == YAML_SEQUENCE_NODE) {
		items = xcalloc(
		        (size_t)(node->data.sequence.items.top - node->data.sequence.items.start) +
		                1,
		        sizeof(*items));
		n = 0;
		for (yaml_node_item_t *i = node->data.sequence.items.start;
		     i < node->data.sequence.items.top; i++)
			items[n++] = fconf_node(c, *i);
	}
	for (size_t i = 0; i < n; i++) {
		struct cidr net;

		if (items[i]->type != YAML_SCALAR_NODE || cidr_parse(scalar(items[i]), &net) < 0) {
			fconf_error(c, items[i], "\"%s\" is not a network (e.g. 192.0.2.0/24)",
			            items[i]->type == YAML_SCALAR_NODE ? scalar(items[i]) : "?");
			continue;
		}
		conf->clients =
		        xrealloc(conf->clients, (conf->nclients + 1) * sizeof(*conf->clients));
		conf->clients[conf->nclients++] = net;
	}
	if (items != single)
		free(items);
}

/* outgoing: a mapping; its unknown keys are "in outgoing", as they always were. */
static void
load_outgoing(struct fconf *c, yaml_node_t *node, struct sign_conf *conf)
{
	static const char *const keys[] = {"authenticated", "clients", "sender_domains", NULL};
	const char *section = c->section;
	char path[64];

	c->section = "outgoing";
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = fconf_node(c, p->key), *value = fconf_node(c, p->value);
		const char *name = key->type == YAML_SCALAR_NODE ? scalar(key) : "";

		snprintf(path, sizeof(path), "outgoing.%s", name);
		c->key = path;
		if (strcmp(name, "sender_domains") == 0)
			fconf_strings(c, value, &conf->sender_domains, &conf->nsender_domains);
		else if (strcmp(name, "clients") == 0)
			load_clients(c, value, conf);
		else if (strcmp(name, "authenticated") == 0)
			fconf_bool(c, value, &conf->authenticated);
		else if (key->type == YAML_SCALAR_NODE)
			fconf_unknown(c, key, keys);
	}
	c->section = section;
}

static int
sign_key(struct fconf *c, const char *key, yaml_node_t *value, void *arg)
{
	struct sign_conf *conf = arg;

	if (strcmp(key, "keys") == 0) {
		if (fconf_expect(c, value, YAML_SEQUENCE_NODE, "keys") < 0)
			return 0;
		for (yaml_node_item_t *i = value->data.sequence.items.start;
		     i < value->data.sequence.items.top; i++) {
			conf->keys = xrealloc(conf->keys, (conf->nkeys + 1) * sizeof(*conf->keys));
			memset(&conf->keys[conf->nkeys], 0, sizeof(*conf->keys));
			load_key(c, fconf_node(c, *i), &conf->keys[conf->nkeys++]);
		}
	} else if (strcmp(key, "outgoing") == 0) {
		if (fconf_expect(c, value, YAML_MAPPING_NODE, "outgoing") == 0)
			load_outgoing(c, value, conf);
	} else {
		return -1;
	}
	return 0;
}

static int
sign_configure(struct filter *f, yaml_document_t *doc, yaml_node_t *node, const char *file,
               struct config_diag *diag)
{
	static const char *const keys[] = {"type", "timeout", "on_error", "outgoing", "keys", NULL};
	struct sign_conf *conf = xcalloc(1, sizeof(*conf));
	struct fconf c;
	int rc;

	conf->authenticated = 1;
	f->state = conf;
	fconf_init(&c, f, doc, file, diag);
	c.section = f->name; /* "unknown key ... in NAME", as it always said */
	rc = fconf_walk(&c, node, keys, sign_key, conf);
	if (conf->nkeys == 0) {
		fconf_error(&c, node, "dkim_sign needs keys:");
		rc = -1;
	}
	return rc;
}

static void
sign_destroy(struct filter *f)
{
	struct sign_conf *conf = f->state;

	if (conf == NULL)
		return;
	for (size_t i = 0; i < conf->nkeys; i++) {
		struct sign_key *k = &conf->keys[i];

		free(k->domain);
		free(k->selector);
		free(k->key);
		for (size_t h = 0; h < k->nheaders; h++)
			free((char *)k->headers[h]);
		free(k->headers);
		if (k->lib != NULL)
			dkim_close(k->lib);
	}
	free(conf->keys);
	for (size_t i = 0; i < conf->nsender_domains; i++)
		free(conf->sender_domains[i]);
	free(conf->sender_domains);
	free(conf->clients);
	free(conf);
	f->state = NULL;
}

const struct filter_type dkim_sign_filter_type = {
        .name = "dkim_sign",
        .stages = FILTER_STAGE(FILTER_HEADER) | FILTER_STAGE(FILTER_EOH) |
                  FILTER_STAGE(FILTER_BODY) | FILTER_STAGE(FILTER_EOM),
        .configure = sign_configure,
        .destroy = sign_destroy,
        .run = sign_run,
        .txn_end = sign_txn_end,
};
