/*
 * NAME
 *	filter_conf - reading a filter type's own YAML keys
 * SYNOPSIS
 *	See filter_conf.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "filters/filter_conf.h"

int
filter_conf_common(const char *key)
{
	return strcmp(key, "type") == 0 || strcmp(key, "timeout") == 0 ||
	       strcmp(key, "on_error") == 0;
}

static int
scalar_of(struct loader *l, yaml_node_t *node, const char *filter, const char *key)
{
	char what[200];

	snprintf(what, sizeof(what), "filters.%s.%s", filter, key);
	return expect(l, node, YAML_SCALAR_NODE, what);
}

int
filter_conf_uint(struct loader *l, yaml_node_t *node, const char *filter, const char *key,
                 unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (scalar_of(l, node, filter, key) < 0)
		return -1;
	v = strtoul(scalar(node), &end, 10);
	if (scalar(node)[0] < '0' || scalar(node)[0] > '9' || *end != '\0' || v < min || v > max) {
		node_error(l, node, "filters.%s.%s: \"%s\" is not a number from %u to %u", filter,
		           key, scalar(node), min, max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int
filter_conf_bool(struct loader *l, yaml_node_t *node, const char *filter, const char *key, int *out)
{
	if (scalar_of(l, node, filter, key) < 0)
		return -1;
	if (config_bool(scalar(node), out) == 0)
		return 0;
	node_error(l, node, "filters.%s.%s: expected true or false, found \"%s\"", filter, key,
	           scalar(node));
	return -1;
}

int
filter_conf_string(struct loader *l, yaml_node_t *node, const char *filter, const char *key,
                   char **out)
{
	if (scalar_of(l, node, filter, key) < 0)
		return -1;
	free(*out);
	*out = xstrdup(scalar(node));
	return 0;
}

int
filter_conf_strings(struct loader *l, yaml_node_t *node, const char *filter, const char *key,
                    char ***out, size_t *n)
{
	if (node->type == YAML_SCALAR_NODE) {
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = xstrdup(scalar(node));
		return 0;
	}
	if (node->type != YAML_SEQUENCE_NODE) {
		node_error(l, node, "filters.%s.%s: expected a scalar or a list", filter, key);
		return -1;
	}
	for (yaml_node_item_t *i = node->data.sequence.items.start;
	     i < node->data.sequence.items.top; i++) {
		yaml_node_t *item = yaml_document_get_node(l->doc, *i);

		if (scalar_of(l, item, filter, key) < 0)
			return -1;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = xstrdup(scalar(item));
	}
	return 0;
}
