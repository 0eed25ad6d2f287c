/*
 * NAME
 *	filter_config - reading a filter type's own keys from its YAML mapping
 * SYNOPSIS
 *	See filter_config.h.
 * DESCRIPTION
 *	A thin layer over the loader's own helpers (policies/config_int.h):
 *	the same messages, with the instance and the key being read carried
 *	in struct fconf.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "filters/filter.h"
#include "filters/filter_config.h"
#include "policies/config_int.h"

static struct loader
loader_of(const struct fconf *c)
{
	return (struct loader){.doc = c->doc, .file = c->file, .diag = c->diag};
}

void
fconf_init(struct fconf *c, const struct filter *filter, yaml_document_t *doc, const char *file,
           struct config_diag *diag)
{
	*c = (struct fconf){.doc = doc, .file = file, .diag = diag, .name = filter->name};
}

yaml_node_t *
fconf_node(const struct fconf *c, int index)
{
	return yaml_document_get_node(c->doc, index);
}

void
fconf_error(const struct fconf *c, const yaml_node_t *node, const char *fmt, ...)
{
	struct loader l = loader_of(c);
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	node_error(&l, node, "filters.%s%s%s: %s", c->name, c->key ? "." : "", c->key ? c->key : "",
	           msg);
}

/* The keys the chain reads for every filter (config_policies.c), which a type skips. */
static int
is_common(const char *key)
{
	return strcmp(key, "type") == 0 || strcmp(key, "timeout") == 0 ||
	       strcmp(key, "on_error") == 0;
}

static size_t
count(const char *const *known)
{
	size_t n = 0;

	while (known[n] != NULL)
		n++;
	return n;
}

void
fconf_unknown(const struct fconf *c, yaml_node_t *key, const char *const *known)
{
	struct loader l = loader_of(c);
	char section[160];

	if (c->section != NULL) {
		unknown_key(&l, key, c->section, known, count(known));
		return;
	}
	snprintf(section, sizeof(section), "filters.%s%s%s", c->name, c->key ? "." : "",
	         c->key ? c->key : "");
	/* The section names where the key is, not the key itself. */
	char *dot = strrchr(section, '.');

	if (c->key != NULL && dot != NULL)
		*dot = '\0';
	unknown_key(&l, key, section, known, count(known));
}

int
fconf_walk(struct fconf *c, yaml_node_t *node, const char *const *known, fconf_key_fn *fn,
           void *arg)
{
	struct loader l = loader_of(c);
	char section[128];
	size_t nknown = count(known), reported = c->diag->n;

	snprintf(section, sizeof(section), "filters.%s", c->name);
	if (c->section != NULL)
		snprintf(section, sizeof(section), "%s", c->section);
	if (node->type != YAML_MAPPING_NODE) {
		fconf_error(c, node, "expected a mapping");
		return -1;
	}
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = fconf_node(c, p->key), *value = fconf_node(c, p->value);
		const char *k;

		if (key->type != YAML_SCALAR_NODE)
			continue;
		k = scalar(key);
		if (is_common(k))
			continue;
		c->key = k;
		if (fn(c, k, value, arg) < 0)
			unknown_key(&l, key, section, known, nknown);
		c->key = NULL;
	}
	/* A bad value fails configure() as an unknown key does (filter.h). */
	return c->diag->n > reported ? -1 : 0;
}

static const char *
scalar_of(const struct fconf *c, yaml_node_t *node, const char *what)
{
	if (node->type == YAML_SCALAR_NODE)
		return scalar(node);
	fconf_error(c, node, "expected %s", what);
	return NULL;
}

int
fconf_expect(const struct fconf *c, yaml_node_t *node, yaml_node_type_t type, const char *what)
{
	struct loader l = loader_of(c);

	return expect(&l, node, type, what);
}

/*
 * The loader's "filters.NAME.KEY: expected a scalar, found a mapping", which
 * the string, list, number-range and boolean readers have always said; the
 * duration, size and number readers name what they expected (scalar_of()).
 */
static int
expect_scalar(const struct fconf *c, yaml_node_t *node)
{
	char what[200];

	snprintf(what, sizeof(what), "filters.%s.%s", c->name, c->key ? c->key : "");
	return fconf_expect(c, node, YAML_SCALAR_NODE, what);
}

int
fconf_string(const struct fconf *c, yaml_node_t *node, char **out)
{
	if (expect_scalar(c, node) < 0)
		return -1;
	free(*out);
	*out = xstrdup(scalar(node));
	return 0;
}

int
fconf_strings(const struct fconf *c, yaml_node_t *node, char ***out, size_t *n)
{
	if (node->type == YAML_SCALAR_NODE) {
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = xstrdup(scalar(node));
		return 0;
	}
	if (node->type != YAML_SEQUENCE_NODE) {
		fconf_error(c, node, "expected a scalar or a list");
		return -1;
	}
	for (yaml_node_item_t *i = node->data.sequence.items.start;
	     i < node->data.sequence.items.top; i++) {
		yaml_node_t *item = fconf_node(c, *i);

		if (expect_scalar(c, item) < 0)
			return -1;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = xstrdup(scalar(item));
	}
	return 0;
}

int
fconf_duration(const struct fconf *c, yaml_node_t *node, unsigned *ms)
{
	const char *s = scalar_of(c, node, "a duration");
	unsigned long long v;

	if (s == NULL)
		return -1;
	if (parse_duration(s, &v) < 0 || v == 0 || v > 0xffffffffULL) {
		fconf_error(c, node, "\"%s\" is not a duration (30s, 250ms, 5m)", s);
		return -1;
	}
	*ms = (unsigned)v;
	return 0;
}

int
fconf_size(const struct fconf *c, yaml_node_t *node, unsigned long long *octets)
{
	const char *s = scalar_of(c, node, "a size");

	if (s == NULL)
		return -1;
	if (parse_size(s, octets) < 0) {
		fconf_error(c, node, "\"%s\" is not a size (512, 64K, 10M)", s);
		return -1;
	}
	return 0;
}

int
fconf_number(const struct fconf *c, yaml_node_t *node, double *out)
{
	const char *s = scalar_of(c, node, "a number");
	char *end;
	double v;

	if (s == NULL)
		return -1;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || !isfinite(v)) {
		fconf_error(c, node, "\"%s\" is not a number", s);
		return -1;
	}
	*out = v;
	return 0;
}

int
fconf_uint(const struct fconf *c, yaml_node_t *node, unsigned min, unsigned max, unsigned *out)
{
	const char *s;
	char *end;
	unsigned long v;

	if (expect_scalar(c, node) < 0)
		return -1;
	s = scalar(node);
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || v < min || v > max) {
		fconf_error(c, node, "\"%s\" is not a number from %u to %u", s, min, max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int
fconf_bool(const struct fconf *c, yaml_node_t *node, int *out)
{
	if (expect_scalar(c, node) < 0)
		return -1;
	if (config_bool(scalar(node), out) == 0)
		return 0;
	fconf_error(c, node, "expected true or false, found \"%s\"", scalar(node));
	return -1;
}
