/*
 * NAME
 *	filter_conf - reading a filter type's own YAML keys
 * SYNOPSIS
 *	#include "filters/filter_conf.h"
 *
 *	filter_conf_common(key)
 *	filter_conf_uint(l, node, filter, key, min, max, out)
 *	filter_conf_bool(l, node, filter, key, out)
 *	filter_conf_string(l, node, filter, key, out)
 *	filter_conf_strings(l, node, filter, key, out, n)
 * DESCRIPTION
 *	A filter type's configure callback (filter.h) walks its mapping and
 *	reads its keys with these; errors go to the loader's diagnostics as
 *	"file:line:column: filters.NAME.KEY: ..." like every other key.
 *
 *	filter_conf_common() says whether key is one the chain reads for
 *	every filter (type, timeout, on_error), which a type skips.
 *	filter_conf_uint() reads a number from min to max; filter_conf_bool()
 *	true/false, yes/no, on/off (config_bool()); filter_conf_string() a scalar, allocated
 *	(any previous value freed); filter_conf_strings() a scalar or a list
 *	of scalars, appended to *out. Each returns 0, or -1 after reporting.
 */
#ifndef POSTERN_FILTER_CONF_H
#define POSTERN_FILTER_CONF_H

#include "policies/config_int.h"

int filter_conf_common(const char *key);
int filter_conf_uint(struct loader *l, yaml_node_t *node, const char *filter, const char *key,
                     unsigned min, unsigned max, unsigned *out);
int filter_conf_bool(struct loader *l, yaml_node_t *node, const char *filter, const char *key,
                     int *out);
int filter_conf_string(struct loader *l, yaml_node_t *node, const char *filter, const char *key,
                       char **out);
int filter_conf_strings(struct loader *l, yaml_node_t *node, const char *filter, const char *key,
                        char ***out, size_t *n);

#endif
