/*
 * NAME
 *	helo_check - what the HELO name says about the client, at no cost
 * SYNOPSIS
 *	filters:
 *	  helo: { type: helo, invalid: 1.0, literal_mismatch: 2.0, ours: 3.0 }
 * DESCRIPTION
 *	At MAIL, with no lookup at all, three findings of method "helo", each
 *	with its score (0 turns the check off):
 *
 *	invalid: the name is neither a domain name (letters, digits, hyphens;
 *	labels of 1 to 63 octets, not starting or ending with a hyphen; at
 *	most 253 octets) nor an address literal ([192.0.2.1], [IPv6:2001:db8::1]).
 *
 *	literal_mismatch: an address literal that is not the client's address.
 *
 *	ours: the client claims to be us: our hostname (hostname:), or an
 *	address literal of the address it connected to, while it connects
 *	from elsewhere.
 *
 *	A policy can turn a result into an action: helo: { ours: reject }.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"
#include "filters/filter.h"
#include "filters/filter_config.h"

enum helo_check { HELO_INVALID, HELO_LITERAL_MISMATCH, HELO_OURS, HELO_CHECKS };

static const char *const helo_keys[] = {"invalid", "literal_mismatch", "ours", NULL};
static const char *const helo_results[] = {"invalid", "literal-mismatch", "ours"};
static const double helo_defaults[] = {1.0, 2.0, 3.0};

struct helo_conf {
	double score[HELO_CHECKS];
};

static int
helo_key(struct fconf *c, const char *key, yaml_node_t *value, void *arg)
{
	struct helo_conf *hc = arg;

	for (size_t i = 0; i < HELO_CHECKS; i++)
		if (strcmp(key, helo_keys[i]) == 0) {
			fconf_number(c, value, &hc->score[i]);
			return 0;
		}
	return -1;
}

static int
helo_configure(struct filter *filter, yaml_document_t *doc, yaml_node_t *node, const char *file,
               struct config_diag *diag)
{
	struct helo_conf *hc = xcalloc(1, sizeof(*hc));
	struct fconf c;

	memcpy(hc->score, helo_defaults, sizeof(hc->score));
	filter->state = hc;
	fconf_init(&c, filter, doc, file, diag);
	return fconf_walk(&c, node, helo_keys, helo_key, hc);
}

static void
helo_destroy(struct filter *filter)
{
	free(filter->state);
}

static int
is_domain(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		char ch = name[i];

		if (ch == '.' || ch == '\0') {
			/* A trailing dot is a root, allowed; an empty label elsewhere is not. */
			if (label == 0 && !(ch == '\0' && i > 0 && name[i - 1] == '.'))
				return 0;
			if (label > 0 && (name[i - label] == '-' || name[i - 1] == '-'))
				return 0;
			if (label > 63)
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)ch) || ch == '-') {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" into its binary form; the family, 0 if none. */
static int
literal(const char *helo, unsigned char addr[16])
{
	char text[64];
	size_t len = strlen(helo);

	if (len < 3 || helo[0] != '[' || helo[len - 1] != ']' || len - 2 >= sizeof(text))
		return 0;
	memcpy(text, helo + 1, len - 2);
	text[len - 2] = '\0';
	if (strncasecmp(text, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, text + 5, addr) == 1 ? AF_INET6 : 0;
	return inet_pton(AF_INET, text, addr) == 1 ? AF_INET : 0;
}

/* Whether text (as the session writes addresses) is the address family/addr. */
static int
same_address(const char *text, int family, const unsigned char addr[16])
{
	unsigned char other[16];

	if (text == NULL || text[0] == '\0')
		return 0;
	if (inet_pton(family, text, other) == 1)
		return memcmp(addr, other, family == AF_INET ? 4 : 16) == 0;
	/* An IPv4 client seen through a v6 socket: ::ffff:192.0.2.1. */
	if (family == AF_INET && strncasecmp(text, "::ffff:", 7) == 0 &&
	    inet_pton(AF_INET, text + 7, other) == 1)
		return memcmp(addr, other, 4) == 0;
	return 0;
}

static void
report(struct filter_call *call, enum helo_check check, const char *helo)
{
	const struct helo_conf *hc = call->filter->state;

	if (hc->score[check] != 0)
		filter_finding(call, "helo", helo_results[check], hc->score[check], "helo=%.200s",
		               helo);
}

static enum filter_rc
helo_run(struct filter_call *call)
{
	const struct filter_txn *txn = call->txn;
	const char *helo = txn->helo;
	unsigned char addr[16];
	int family;

	if (call->stage != FILTER_MAIL || helo == NULL || helo[0] == '\0')
		return FILTER_DONE;
	family = literal(helo, addr);
	if (family == 0) {
		if (!is_domain(helo))
			report(call, HELO_INVALID, helo);
		else if (txn->local_name != NULL && strcasecmp(helo, txn->local_name) == 0)
			report(call, HELO_OURS, helo);
		return FILTER_DONE;
	}
	if (!same_address(txn->client_addr, family, addr))
		report(call,
		       same_address(txn->local_addr, family, addr) ? HELO_OURS
		                                                   : HELO_LITERAL_MISMATCH,
		       helo);
	return FILTER_DONE;
}

const struct filter_type helo_filter_type = {
        .name = "helo",
        .stages = FILTER_STAGE(FILTER_MAIL),
        .configure = helo_configure,
        .destroy = helo_destroy,
        .run = helo_run,
};
