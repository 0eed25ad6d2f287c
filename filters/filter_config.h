/*
 * NAME
 *	filter_config - reading a filter type's own keys from its YAML mapping
 * SYNOPSIS
 *	#include "filters/filter_config.h"
 *
 *	fconf_init(c, filter, doc, node, file, diag)
 *	fconf_walk(c, node, known, fn, arg)
 *	fconf_node(c, index)
 *	fconf_error(c, node, fmt, ...)
 *	fconf_unknown(c, key, known)
 *	fconf_expect(c, node, type, what)
 *	fconf_string(c, node, out), fconf_strings(c, node, out, n)
 *	fconf_duration(c, node, ms), fconf_size(c, node, octets)
 *	fconf_number(c, node, out), fconf_uint(c, node, min, max, out)
 *	fconf_bool(c, node, out)
 * DESCRIPTION
 *	A filter type's configure() callback (filter.h) reads the keys of its
 *	instance's mapping with these, so every type reports problems alike:
 *	"file:line:column: filters.NAME.KEY: message", through the loader's
 *	diagnostics, and `postern -t` fails on them.
 *
 *	fconf_walk() calls fn(c, key, value, arg) for each key of the mapping
 *	node other than the common ones (type, timeout, on_error); fn returns 0
 *	when it knew the key, -1 when not, and fconf_walk() then reports it
 *	as unknown, suggesting the nearest of known (NULL-terminated), "in
 *	filters.NAME", or in c->section when the type set one (dkim, dmarc
 *	and dkim_sign name their sections so, as they always have). It
 *	returns -1 when anything was reported during the walk, 0 otherwise.
 *
 *	The value readers return 0, or -1 after reporting at the node: a
 *	scalar (fconf_string, a copy the caller frees), a scalar or a list of
 *	scalars (fconf_strings, appended), a duration ("5s", "250ms"), a size
 *	("512K"), a decimal number, a whole number from min to max
 *	(fconf_uint), a boolean (true/false, yes/no, on/off).
 *	fconf_error() reports anything else at a node; fconf_unknown() a key
 *	of a nested mapping that is not in known, as fconf_walk() does;
 *	fconf_expect() a node that is not of type, as the loader does
 *	("what: expected a mapping, found a scalar"), returning 0 or -1.
 */
#ifndef POSTERN_FILTER_CONFIG_H
#define POSTERN_FILTER_CONFIG_H

#include <stddef.h>

#include <yaml.h>

struct config_diag;
struct filter;

struct fconf {
	yaml_document_t *doc;
	const char *file;
	struct config_diag *diag;
	const char *name;    /* the instance's */
	const char *key;     /* the key being read, for messages */
	const char *section; /* where unknown keys are, when not the default */
};

typedef int fconf_key_fn(struct fconf *c, const char *key, yaml_node_t *value, void *arg);

void fconf_init(struct fconf *c, const struct filter *filter, yaml_document_t *doc,
                const char *file, struct config_diag *diag);
int fconf_walk(struct fconf *c, yaml_node_t *node, const char *const *known, fconf_key_fn *fn,
               void *arg);
yaml_node_t *fconf_node(const struct fconf *c, int index);
void fconf_error(const struct fconf *c, const yaml_node_t *node, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void fconf_unknown(const struct fconf *c, yaml_node_t *key, const char *const *known);
int fconf_expect(const struct fconf *c, yaml_node_t *node, yaml_node_type_t type, const char *what);
int fconf_string(const struct fconf *c, yaml_node_t *node, char **out);
int fconf_strings(const struct fconf *c, yaml_node_t *node, char ***out, size_t *n);
int fconf_duration(const struct fconf *c, yaml_node_t *node, unsigned *ms);
int fconf_size(const struct fconf *c, yaml_node_t *node, unsigned long long *octets);
int fconf_number(const struct fconf *c, yaml_node_t *node, double *out);
int fconf_uint(const struct fconf *c, yaml_node_t *node, unsigned min, unsigned max, unsigned *out);
int fconf_bool(const struct fconf *c, yaml_node_t *node, int *out);

#endif
