/*
 * NAME
 *	milter_int - what milter.c and milter_config.c share
 * DESCRIPTION
 *	struct milter_config is a milter filter instance's settings (the
 *	filter's state), read by milter_configure() from its YAML keys.
 */
#ifndef POSTERN_MILTER_INT_H
#define POSTERN_MILTER_INT_H

#include <sys/socket.h>

#include "filters/filter.h"
#include "filters/milter_proto.h"

struct milter_config {
	char *socket; /* as written, for logs */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	unsigned connect_ms, command_ms, eom_ms;
	char *macros[MILTER_MACRO_STAGES]; /* names, space separated, per SMFIM_ stage */
};

struct config_diag;
struct yaml_document_s;
struct yaml_node_s;

int milter_configure(struct filter *filter, struct yaml_document_s *doc, struct yaml_node_s *node,
                     const char *file, struct config_diag *diag);
void milter_destroy(struct filter *filter);

#endif
