/*
 * NAME
 *	config_int - what the configuration loader's files share
 * DESCRIPTION
 *	config.c walks the document and the daemon's sections;
 *	config_policies.c reads filters: and policies:. Both report problems
 *	through node_error() with the node's file:line:column.
 */
#ifndef POSTERN_CONFIG_INT_H
#define POSTERN_CONFIG_INT_H

#include <yaml.h>

#include "policies/config.h"

struct loader {
	yaml_document_t *doc;
	const char *file;
	struct config *cfg;
	struct config_diag *diag;
	int depth; /* of include: */
};

void node_error(struct loader *l, const yaml_node_t *node, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
const char *scalar(const yaml_node_t *node);
int expect(struct loader *l, yaml_node_t *node, yaml_node_type_t type, const char *what);
void unknown_key(struct loader *l, yaml_node_t *key, const char *section, const char *const *known,
                 size_t n);
int parse_duration(const char *s, unsigned long long *ms);
int parse_size(const char *s, unsigned long long *octets);

void config_load_filters(struct loader *l, yaml_node_t *node);
void config_load_text(struct loader *parent, const char *name, const char *text, size_t len);
int config_read_file(const char *path, char **text, size_t *len);
void config_load_policies(struct loader *l, yaml_node_t *node);

#endif
