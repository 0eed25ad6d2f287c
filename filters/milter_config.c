/*
 * NAME
 *	milter_config - a milter filter instance's settings
 * SYNOPSIS
 *	milter_configure(filter, doc, node, file, diag)
 *	milter_destroy(filter)
 * DESCRIPTION
 *	Reads, besides the keys every filter has (type, timeout, on_error):
 *
 *	socket (or milter, which also makes type: milter the default):
 *	inet:HOST:PORT, inet:PORT@HOST (Sendmail's spelling),
 *	inet6:[HOST]:PORT, inet6:PORT@HOST, unix:PATH (or local:PATH). HOST is
 *	a numeric address or localhost: resolving a name would block.
 *
 *	timeouts: { connect: 30s, command: 30s, eom: 5m } as Postfix's
 *	milter_connect_timeout, milter_command_timeout and
 *	milter_content_timeout.
 *
 *	macros: { connect:, helo:, mail:, rcpt:, data:, eoh:, eom: }, each the
 *	macro names to send at that stage, space separated ("j {client_addr}");
 *	the defaults are Postfix's milter_*_macros.
 *
 *	Without timeout: the chain's own limit for the filter becomes the sum
 *	of these, so that the milter's own timeouts decide first.
 * DIAGNOSTICS
 *	Each problem as file:line:column: message, into diag; returns -1.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <yaml.h>

#include "common/xalloc.h"
#include "filters/milter_int.h"
#include "policies/config.h"

/* Postfix's defaults (postconf -d milter_connect_macros ...), per SMFIM_ stage. */
static const char *const default_macros[MILTER_MACRO_STAGES] = {
        "j {daemon_name} {daemon_addr} v _",
        "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}",
        "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}",
        "i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
        "i",
        "i",
        "i",
};
static const char *const stage_keys[MILTER_MACRO_STAGES] = {"connect", "helo", "mail", "rcpt",
                                                            "data",    "eom",  "eoh"};

struct reader {
	yaml_document_t *doc;
	const char *file;
	const char *name;
	struct config_diag *diag;
	int errors;
};

static void __attribute__((format(printf, 3, 4)))
error_at(struct reader *r, const yaml_node_t *node, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_diag_add(r->diag, r->file, (int)node->start_mark.line + 1,
	                (int)node->start_mark.column + 1, "filters.%s%s", r->name, msg);
	r->errors++;
}

static const char *
scalar_of(struct reader *r, const yaml_node_t *node, const char *key)
{
	if (node->type != YAML_SCALAR_NODE) {
		error_at(r, node, ".%s: expected a scalar", key);
		return NULL;
	}
	return (const char *)node->data.scalar.value;
}

/* "HOST:PORT", "[HOST]:PORT" or "PORT@HOST" into an inet address; 0 or -1. */
static int
parse_inet(const char *text, int family, struct milter_config *mc)
{
	char host[256];
	const char *port, *at = strchr(text, '@');
	size_t hl;

	if (at != NULL) {
		port = text;
		hl = strlen(at + 1);
		if (hl == 0 || hl >= sizeof(host))
			return -1;
		memcpy(host, at + 1, hl + 1);
	} else {
		const char *colon = strrchr(text, ':');

		if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
			return -1;
		hl = (size_t)(colon - text);
		memcpy(host, text, hl);
		host[hl] = '\0';
		port = colon + 1;
	}
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	char *end;
	long p = strtol(port, &end, 10);

	if (p <= 0 || p > 65535 || (*end != '\0' && *end != '@'))
		return -1;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, family == AF_INET6 ? "::1" : "127.0.0.1");
	memset(&mc->addr, 0, sizeof(mc->addr));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&mc->addr;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		mc->addrlen = sizeof(*sin);
		return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&mc->addr;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)p);
	mc->addrlen = sizeof(*sin6);
	return inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1 ? 0 : -1;
}

static int
parse_socket(const char *text, struct milter_config *mc)
{
	if (strncmp(text, "inet:", 5) == 0)
		return parse_inet(text + 5, AF_INET, mc);
	if (strncmp(text, "inet6:", 6) == 0)
		return parse_inet(text + 6, AF_INET6, mc);
	const char *path = strncmp(text, "unix:", 5) == 0    ? text + 5
	                   : strncmp(text, "local:", 6) == 0 ? text + 6
	                                                     : NULL;
	struct sockaddr_un *sun = (struct sockaddr_un *)&mc->addr;

	if (path == NULL || *path == '\0' || strlen(path) >= sizeof(sun->sun_path))
		return -1;
	memset(&mc->addr, 0, sizeof(mc->addr));
	sun->sun_family = AF_UNIX;
	strcpy(sun->sun_path, path);
	mc->addrlen = sizeof(*sun);
	return 0;
}

/* A duration as the configuration writes them; 0 or -1. */
static int
duration(const char *s, unsigned *ms)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v <= 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		;
	else if (*end == '\0' || strcmp(end, "s") == 0)
		v *= 1000;
	else if (strcmp(end, "m") == 0)
		v *= 60000;
	else if (strcmp(end, "h") == 0)
		v *= 3600000;
	else
		return -1;
	if (v < 1 || v > 86400000)
		return -1;
	*ms = (unsigned)v;
	return 0;
}

static void
read_timeouts(struct reader *r, yaml_node_t *node, struct milter_config *mc)
{
	static const char *const keys[] = {"connect", "command", "eom"};
	unsigned *slots[] = {&mc->connect_ms, &mc->command_ms, &mc->eom_ms};

	if (node->type != YAML_MAPPING_NODE) {
		error_at(r, node, ".timeouts: expected a mapping");
		return;
	}
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
		const char *key = scalar_of(r, k, "timeouts"), *val;
		size_t i;

		if (key == NULL)
			continue;
		for (i = 0; i < 3 && strcmp(key, keys[i]) != 0; i++)
			;
		if (i == 3)
			error_at(r, k, ".timeouts: unknown key \"%s\" (connect, command, eom)",
			         key);
		else if ((val = scalar_of(r, v, key)) != NULL && duration(val, slots[i]) < 0)
			error_at(r, v, ".timeouts.%s: \"%s\" is not a duration", key, val);
	}
}

static void
read_macros(struct reader *r, yaml_node_t *node, struct milter_config *mc)
{
	if (node->type != YAML_MAPPING_NODE) {
		error_at(r, node, ".macros: expected a mapping");
		return;
	}
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
		const char *key = scalar_of(r, k, "macros"), *val;
		size_t i;

		if (key == NULL)
			continue;
		for (i = 0; i < MILTER_MACRO_STAGES && strcmp(key, stage_keys[i]) != 0; i++)
			;
		if (i == MILTER_MACRO_STAGES) {
			error_at(r, k,
			         ".macros: unknown stage \"%s\" (connect, helo, mail, rcpt, data, "
			         "eoh, eom)",
			         key);
			continue;
		}
		if ((val = scalar_of(r, v, key)) != NULL) {
			free(mc->macros[i]);
			mc->macros[i] = xstrdup(val);
		}
	}
}

int
milter_configure(struct filter *f, yaml_document_t *doc, yaml_node_t *node, const char *file,
                 struct config_diag *diag)
{
	struct reader r = {.doc = doc, .file = file, .name = f->name, .diag = diag};
	struct milter_config *mc = xcalloc(1, sizeof(*mc));
	int timeout_given = 0;

	mc->connect_ms = 30000;
	mc->command_ms = 30000;
	mc->eom_ms = 300000;
	for (size_t i = 0; i < MILTER_MACRO_STAGES; i++)
		mc->macros[i] = xstrdup(default_macros[i]);
	f->state = mc;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		yaml_node_t *v = yaml_document_get_node(doc, p->value);
		const char *key = scalar_of(&r, k, "key"), *val;

		if (key == NULL || strcmp(key, "type") == 0 || strcmp(key, "on_error") == 0)
			continue;
		if (strcmp(key, "timeout") == 0) {
			timeout_given = 1;
		} else if (strcmp(key, "socket") == 0 || strcmp(key, "milter") == 0) {
			if ((val = scalar_of(&r, v, key)) == NULL)
				continue;
			free(mc->socket);
			mc->socket = xstrdup(val);
			if (parse_socket(val, mc) < 0)
				error_at(&r, v,
				         ".socket: \"%s\" is not inet:HOST:PORT, inet6:[HOST]:PORT "
				         "or "
				         "unix:PATH (HOST numeric)",
				         val);
		} else if (strcmp(key, "timeouts") == 0) {
			read_timeouts(&r, v, mc);
		} else if (strcmp(key, "macros") == 0) {
			read_macros(&r, v, mc);
		} else {
			error_at(&r, k,
			         ": unknown key \"%s\" (type, timeout, on_error, socket or milter, "
			         "timeouts, macros)",
			         key);
		}
	}
	if (mc->socket == NULL)
		error_at(&r, node, ".socket: required for a milter");
	if (!timeout_given)
		f->timeout_ms = mc->connect_ms + mc->command_ms + mc->eom_ms;
	return r.errors ? -1 : 0;
}

void
milter_destroy(struct filter *f)
{
	struct milter_config *mc = f->state;

	if (mc == NULL)
		return;
	for (size_t i = 0; i < MILTER_MACRO_STAGES; i++)
		free(mc->macros[i]);
	free(mc->socket);
	free(mc);
	f->state = NULL;
}
