/*
 * NAME
 *	rfc7208 - the OpenSPF RFC 7208 test suite through postern's SPF code
 * SYNOPSIS
 *	rfc7208 [FILE]
 * DESCRIPTION
 *	Loads rfc7208-tests.yml as it is (default:
 *	$top_srcdir/../shared/testdata/spf/rfc7208-tests.yml, or one level
 *	further up for a git worktree under the repository's parent) and runs every
 *	test through spf_evaluate() (filters/spf_eval.h), the function the
 *	spf filter runs, with the DNS answered from the scenario's zonedata
 *	(tests/spf/zone.h): so the record checks, void-lookup counting and
 *	the libspf2 layer postern uses are what is tested.
 *
 *	The suite's conventions (its header): a name's SPF-type records are
 *	served as TXT records when it has no TXT entry at all ("TXT: NONE" is
 *	one); TIMEOUT makes the name's other questions time out; a test
 *	passes when the result is one of those listed and, where an
 *	explanation is given other than DEFAULT, the explanation is that.
 *
 *	Prints one line per test and last "N passed, N failed". Exits 0 when
 *	every failure is a known deviation (the table below, each with its
 *	reason), 1 otherwise, 77 when the file is not there.
 */
#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/xalloc.h"
#include "filters/spf_eval.h"
#include "tests/spf/zone.h"

/* Tests whose failure is understood; each says why. */
static const struct {
	const char *name, *reason;
} deviations[] = {
        {"v-macro-ip6",
         "libspf2 writes the nibbles of an IPv6 %{i} in lower case, as RFC 7208's own example "
         "(section 7.4) does; the suite expects upper case in this explanation text. Names "
         "looked up compare without regard to case, so only the text differs."},
        {NULL, NULL},
};

static yaml_document_t doc;

static yaml_node_t *
node(int id)
{
	return yaml_document_get_node(&doc, id);
}

static const char *
text(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *
get(const yaml_node_t *map, const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = text(node(p->key));

		if (k != NULL && strcmp(k, key) == 0)
			return node(p->value);
	}
	return NULL;
}

/* A TXT record of one or more strings (a scalar, or a list of them). */
static void
add_txt(struct zone *z, const char *name, const yaml_node_t *value)
{
	unsigned char rdata[8192];
	size_t o = 0;

	/* A scalar is one string (it may hold a NUL: "\0" in the suite). */
	const yaml_node_item_t one = 0, *start = &one, *top = &one + 1;

	if (value->type == YAML_SEQUENCE_NODE) {
		start = value->data.sequence.items.start;
		top = value->data.sequence.items.top;
	}
	for (const yaml_node_item_t *i = start; i < top; i++) {
		const yaml_node_t *item = i == &one ? value : node(*i);
		const char *s = text(item);
		size_t l = s ? item->data.scalar.length : 0;

		if (l > 255 || o + l + 1 > sizeof(rdata))
			return;
		rdata[o++] = (unsigned char)l;
		memcpy(rdata + o, s, l);
		o += l;
	}
	zone_add(z, name, ns_t_txt, rdata, o);
}

static void
load_zone(struct zone *z, const yaml_node_t *zonedata)
{
	static const struct {
		const char *name;
		int type;
	} types[] = {{"A", ns_t_a}, {"AAAA", ns_t_aaaa}, {"PTR", ns_t_ptr}, {"CNAME", ns_t_cname}};

	for (yaml_node_pair_t *p = zonedata->data.mapping.pairs.start;
	     p < zonedata->data.mapping.pairs.top; p++) {
		const char *name = text(node(p->key));
		yaml_node_t *list = node(p->value);
		int has_txt = 0;

		zone_add_name(z, name);
		if (list->type != YAML_SEQUENCE_NODE)
			continue;
		for (yaml_node_item_t *i = list->data.sequence.items.start;
		     i < list->data.sequence.items.top; i++) {
			yaml_node_t *rr = node(*i);

			if (text(rr) != NULL && strcmp(text(rr), "TIMEOUT") == 0) {
				zone_add_timeout(z, name);
				continue;
			}
			if (rr->type != YAML_MAPPING_NODE)
				continue;
			const char *type = text(node(rr->data.mapping.pairs.start->key));
			yaml_node_t *value = node(rr->data.mapping.pairs.start->value);

			if (strcmp(type, "TXT") == 0) {
				has_txt = 1;
				if (text(value) == NULL || strcmp(text(value), "NONE") != 0)
					add_txt(z, name, value);
			} else if (strcmp(type, "MX") == 0 && value->type == YAML_SEQUENCE_NODE) {
				char mx[300];

				snprintf(mx, sizeof(mx), "%s %s",
				         text(node(value->data.sequence.items.start[0])),
				         text(node(value->data.sequence.items.start[1])));
				zone_add_text(z, name, ns_t_mx, mx);
			}
			for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
				if (strcmp(type, types[t].name) == 0 && text(value) != NULL)
					zone_add_text(z, name, types[t].type, text(value));
		}
		/* The suite's SPF-type records stand for TXT where no TXT is given. */
		for (yaml_node_item_t *i = list->data.sequence.items.start;
		     !has_txt && i < list->data.sequence.items.top; i++) {
			yaml_node_t *rr = node(*i);

			if (rr->type == YAML_MAPPING_NODE &&
			    strcmp(text(node(rr->data.mapping.pairs.start->key)), "SPF") == 0)
				add_txt(z, name, node(rr->data.mapping.pairs.start->value));
		}
	}
}

static int
result_expected(const yaml_node_t *expected, const char *seen)
{
	if (text(expected) != NULL)
		return strcmp(text(expected), seen) == 0;
	if (expected == NULL || expected->type != YAML_SEQUENCE_NODE)
		return 0;
	for (yaml_node_item_t *i = expected->data.sequence.items.start;
	     i < expected->data.sequence.items.top; i++)
		if (text(node(*i)) && strcmp(text(node(*i)), seen) == 0)
			return 1;
	return 0;
}

static const char *
deviation(const char *name)
{
	for (size_t i = 0; deviations[i].name != NULL; i++)
		if (strcmp(deviations[i].name, name) == 0)
			return deviations[i].reason;
	return NULL;
}

struct tally {
	int passed, failed, unexpected;
};

static void
run_test(const struct zone *z, const char *name, const yaml_node_t *t, struct tally *tally)
{
	const char *helo = text(get(t, "helo")), *exp = text(get(t, "explanation"));
	struct spf_query q = {.client_ip = text(get(t, "host")),
	                      .helo = helo,
	                      .sender = text(get(t, "mailfrom")),
	                      .receiver = "receiver.example"};
	struct spf_verdict v;
	const char *seen, *why;
	int ok;

	spf_evaluate(zone_lookup, (void *)z, &q, &v);
	seen = spf_result_name(v.result);
	ok = result_expected(get(t, "result"), seen);
	if (ok && exp != NULL && strcmp(exp, "DEFAULT") != 0 && strcmp(exp, v.explanation) != 0)
		ok = 0;
	if (ok) {
		tally->passed++;
		printf("pass %s: %s\n", name, seen);
		return;
	}
	tally->failed++;
	why = deviation(name);
	if (why == NULL)
		tally->unexpected++;
	printf("FAIL %s: %s, expected %s%s%s%s%s (%s)%s%s\n", name, seen,
	       text(get(t, "result")) ? text(get(t, "result")) : "one of a list",
	       exp ? " explanation \"" : "", exp ? exp : "", exp ? "\" seen \"" : "",
	       exp ? v.explanation : "", v.problem, why ? " known deviation: " : "",
	       why ? why : "");
	if (exp)
		printf("      (explanation check above)\n");
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	struct tally tally = {0};
	yaml_parser_t parser;
	FILE *f;

	if (argc > 1)
		snprintf(path, sizeof(path), "%s", argv[1]);
	else
		snprintf(path, sizeof(path), "%s/../shared/testdata/spf/rfc7208-tests.yml",
		         top ? top : ".");
	f = fopen(path, "rb");
	if (f == NULL && argc <= 1) {
		snprintf(path, sizeof(path), "%s/../../shared/testdata/spf/rfc7208-tests.yml",
		         top ? top : ".");
		f = fopen(path, "rb");
	}
	if (f == NULL) {
		printf("SKIP: %s is not there\n", path);
		return 77;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	for (;;) {
		if (!yaml_parser_load(&parser, &doc)) {
			printf("%s: YAML error: %s\n", path, parser.problem);
			return 1;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);

		if (root == NULL) {
			yaml_document_delete(&doc);
			break;
		}
		struct zone z = {0};
		yaml_node_t *zonedata = get(root, "zonedata"), *tests = get(root, "tests");

		if (zonedata != NULL && zonedata->type == YAML_MAPPING_NODE)
			load_zone(&z, zonedata);
		printf("# %s\n", text(get(root, "description")));
		for (yaml_node_pair_t *p = tests ? tests->data.mapping.pairs.start : NULL;
		     p && p < tests->data.mapping.pairs.top; p++)
			run_test(&z, text(node(p->key)), node(p->value), &tally);
		zone_free(&z);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	printf("%d passed, %d failed\n", tally.passed, tally.failed);
	return tally.unexpected > 0;
}
