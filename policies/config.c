/*
 * NAME
 *	config - postern's configuration: the model, loading, validation
 * SYNOPSIS
 *	See config.h.
 * DESCRIPTION
 *	libyaml's document API gives a node tree with positions; the loader
 *	walks it with one table of keys per section, so a new section is a new
 *	table. Every problem is reported with the position of the node at fault
 *	and the walk goes on, so one run of `postern -t` shows them all.
 */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <yaml.h>

#include "common/xalloc.h"
#include "policies/config.h"
#include "policies/config_int.h"

enum field_type { F_UINT, F_SIZE, F_DURATION, F_BOOL, F_ENUM, F_STRING };

struct field {
	const char *key;
	enum field_type type;
	size_t offset; /* into struct config */
	unsigned long long min, max;
	const char *const *names; /* F_ENUM: values in enum order */
};

static const char *const xclient_names[] = {"auto", "xclient", "xforward", "off", NULL};
static const char *const newline_names[] = {"reject", "normalize", NULL};
static const char *const level_names[] = {"error", "warning", "info", "debug", NULL};
static const char *const facility_names[] = {"mail",   "daemon", "local0", "local1",
                                             "local2", "local3", "local4", "local5",
                                             "local6", "local7", NULL};
static const int facility_values[] = {LOG_MAIL,   LOG_DAEMON, LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2,
                                      LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7};

#define OFF(member) offsetof(struct config, member)
#define U32 0xffffffffULL

static const struct field backend_fields[] = {
        {"xclient", F_ENUM, OFF(backend.xclient), 0, 0, xclient_names},
        {NULL, 0, 0, 0, 0, NULL},
};
static const struct field limits_fields[] = {
        {"max_sessions", F_UINT, OFF(limits.max_sessions), 0, U32, NULL},
        {"max_sessions_per_client", F_UINT, OFF(limits.max_sessions_per_client), 0, U32, NULL},
        {"max_recipients", F_UINT, OFF(limits.max_recipients), 1, U32, NULL},
        {"max_message_size", F_SIZE, OFF(limits.max_message_size), 0, ~0ULL, NULL},
        {"max_command_line", F_SIZE, OFF(limits.max_command_line), 512, 1 << 20, NULL},
        {"max_text_line", F_SIZE, OFF(limits.max_text_line), 0, 1 << 20, NULL},
        {"spool_memory", F_SIZE, OFF(limits.spool_memory), 0, 1ULL << 30, NULL},
        {"max_errors", F_UINT, OFF(limits.max_errors), 0, U32, NULL},
        {NULL, 0, 0, 0, 0, NULL},
};
static const struct field timeouts_fields[] = {
        {"client", F_DURATION, OFF(timeouts.client), 1, U32, NULL},
        {"backend_connect", F_DURATION, OFF(timeouts.backend_connect), 1, U32, NULL},
        {"backend_reply", F_DURATION, OFF(timeouts.backend_reply), 1, U32, NULL},
        {"backend_data", F_DURATION, OFF(timeouts.backend_data), 1, U32, NULL},
        {"shutdown", F_DURATION, OFF(timeouts.shutdown), 0, U32, NULL},
        {NULL, 0, 0, 0, 0, NULL},
};
static const struct field smtp_fields[] = {
        {"bare_newline", F_ENUM, OFF(bare_newline), 0, 0, newline_names},
        {NULL, 0, 0, 0, 0, NULL},
};
static const struct field log_fields[] = {
        {"syslog", F_BOOL, OFF(log.syslog), 0, 0, NULL},
        {"facility", F_ENUM, OFF(log.facility), 0, 0, facility_names},
        {"level", F_ENUM, OFF(log.level), 0, 0, level_names},
        {NULL, 0, 0, 0, 0, NULL},
};

static void load_listen(struct loader *l, yaml_node_t *node);
static void load_backend(struct loader *l, yaml_node_t *node);
static void load_fields(struct loader *l, yaml_node_t *node, const char *section,
                        const struct field *fields);
static void load_string(struct loader *l, yaml_node_t *node, char **out);
static void load_include(struct loader *l, yaml_node_t *node);
static void load_quarantine(struct loader *l, yaml_node_t *node);

/* Top-level keys. Sections later work items add (dns, filters, policies) go here. */
static const struct {
	const char *key;
	const struct field *fields;
	void (*load)(struct loader *, yaml_node_t *);
	size_t string_offset;
} sections[] = {
        {"include", NULL, load_include, 0},
        {"listen", NULL, load_listen, 0},
        {"backend", NULL, load_backend, 0},
        {"limits", limits_fields, NULL, 0},
        {"timeouts", timeouts_fields, NULL, 0},
        {"smtp", smtp_fields, NULL, 0},
        {"log", log_fields, NULL, 0},
        {"hostname", NULL, NULL, OFF(hostname)},
        {"spool_dir", NULL, NULL, OFF(spool_dir)},
        {"filters", NULL, config_load_filters, 0},
        {"policies", NULL, config_load_policies, 0},
        {"authserv_id", NULL, NULL, OFF(authserv_id)},
        {"quarantine", NULL, load_quarantine, 0},
};

void
config_diag_add(struct config_diag *diag, const char *file, int line, int column, const char *fmt,
                ...)
{
	char msg[512], full[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(full, sizeof(full), "%s:%d:%d: %s", file, line, column, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", file, msg);
	diag->msgs = xrealloc(diag->msgs, (diag->n + 1) * sizeof(*diag->msgs));
	diag->msgs[diag->n++] = xstrdup(full);
}

void
config_diag_free(struct config_diag *diag)
{
	for (size_t i = 0; i < diag->n; i++)
		free(diag->msgs[i]);
	free(diag->msgs);
	diag->msgs = NULL;
	diag->n = 0;
}

void
node_error(struct loader *l, const yaml_node_t *node, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_diag_add(l->diag, l->file, (int)node->start_mark.line + 1,
	                (int)node->start_mark.column + 1, "%s", msg);
}

const char *
scalar(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

int
expect(struct loader *l, yaml_node_t *node, yaml_node_type_t type, const char *what)
{
	static const char *const kinds[] = {"nothing", "a scalar", "a sequence", "a mapping"};

	if (node->type == type)
		return 0;
	node_error(l, node, "%s: expected %s, found %s", what, kinds[type], kinds[node->type]);
	return -1;
}

/* Edit distance, for "did you mean". */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];

	if (lb >= 64)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0]++;

		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

void
unknown_key(struct loader *l, yaml_node_t *key, const char *section, const char *const *known,
            size_t n)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < n; i++) {
		size_t d = distance(scalar(key), known[i]);

		if (d < best_d) {
			best_d = d;
			best = known[i];
		}
	}
	if (best != NULL)
		node_error(l, key, "unknown key \"%s\" in %s (did you mean \"%s\"?)", scalar(key),
		           section, best);
	else
		node_error(l, key, "unknown key \"%s\" in %s", scalar(key), section);
}

static int
parse_unsigned(const char *s, unsigned long long *out, const char **rest)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -1;
	*rest = end;
	return 0;
}

static int
scale(unsigned long long *v, unsigned long long factor)
{
	if (*v > ~0ULL / factor)
		return -1;
	*v *= factor;
	return 0;
}

/* "30", "30s", "250ms", "5m", "1h" -> milliseconds */
int
parse_duration(const char *s, unsigned long long *ms)
{
	const char *unit;

	if (parse_unsigned(s, ms, &unit) < 0)
		return -1;
	if (*unit == '\0' || strcmp(unit, "s") == 0)
		return scale(ms, 1000);
	if (strcmp(unit, "ms") == 0)
		return 0;
	if (strcmp(unit, "m") == 0)
		return scale(ms, 60000);
	if (strcmp(unit, "h") == 0)
		return scale(ms, 3600000);
	return -1;
}

/* "512", "64K", "10M", "1G" */
static int
parse_size(const char *s, unsigned long long *bytes)
{
	const char *unit;

	if (parse_unsigned(s, bytes, &unit) < 0)
		return -1;
	if (*unit == '\0')
		return 0;
	if (unit[1] != '\0')
		return -1;
	switch (*unit) {
	case 'k':
	case 'K':
		return scale(bytes, 1024);
	case 'm':
	case 'M':
		return scale(bytes, 1024 * 1024);
	case 'g':
	case 'G':
		return scale(bytes, 1024 * 1024 * 1024);
	default:
		return -1;
	}
}

static void
store(struct config *cfg, const struct field *f, unsigned long long v)
{
	char *p = (char *)cfg + f->offset;

	switch (f->type) {
	case F_SIZE:
		if (f->offset == OFF(limits.max_message_size))
			*(unsigned long long *)p = v;
		else
			*(size_t *)p = (size_t)v;
		break;
	default:
		*(unsigned *)p = (unsigned)v;
		break;
	}
}

static void
load_field(struct loader *l, const struct field *f, const char *section, yaml_node_t *value)
{
	unsigned long long v = 0;
	const char *text;

	if (f->type == F_STRING)
		return;
	if (expect(l, value, YAML_SCALAR_NODE, f->key) < 0)
		return;
	text = scalar(value);
	switch (f->type) {
	case F_BOOL:
		if (!strcmp(text, "true") || !strcmp(text, "yes") || !strcmp(text, "on"))
			v = 1;
		else if (strcmp(text, "false") && strcmp(text, "no") && strcmp(text, "off")) {
			node_error(l, value, "%s.%s: expected true or false, found \"%s\"", section,
			           f->key, text);
			return;
		}
		store(l->cfg, f, v);
		return;
	case F_ENUM: {
		size_t i;

		for (i = 0; f->names[i] && strcmp(f->names[i], text); i++)
			;
		if (f->names[i] == NULL) {
			char list[256] = "";

			for (size_t j = 0; f->names[j]; j++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				         j ? ", " : "", f->names[j]);
			node_error(l, value, "%s.%s: \"%s\" is not one of %s", section, f->key,
			           text, list);
			return;
		}
		v = f->names == facility_names ? (unsigned long long)facility_values[i] : i;
		store(l->cfg, f, v);
		return;
	}
	case F_DURATION:
		if (parse_duration(text, &v) < 0) {
			node_error(l, value,
			           "%s.%s: \"%s\" is not a duration (e.g. 30s, 250ms, 5m, 1h)",
			           section, f->key, text);
			return;
		}
		break;
	case F_SIZE:
		if (parse_size(text, &v) < 0) {
			node_error(l, value, "%s.%s: \"%s\" is not a size (e.g. 512, 64K, 10M, 1G)",
			           section, f->key, text);
			return;
		}
		break;
	default: {
		const char *rest;

		if (parse_unsigned(text, &v, &rest) < 0 || *rest != '\0') {
			node_error(l, value, "%s.%s: \"%s\" is not a whole number", section, f->key,
			           text);
			return;
		}
	}
	}
	if (v < f->min || v > f->max) {
		node_error(l, value, "%s.%s: %s is out of range (%llu to %llu)", section, f->key,
		           text, f->min, f->max);
		return;
	}
	store(l->cfg, f, v);
}

static void
load_fields(struct loader *l, yaml_node_t *node, const char *section, const struct field *fields)
{
	if (expect(l, node, YAML_MAPPING_NODE, section) < 0)
		return;
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(l->doc, pair->key);
		yaml_node_t *value = yaml_document_get_node(l->doc, pair->value);
		const char *known[32];
		size_t n = 0;
		int found = 0;

		if (expect(l, key, YAML_SCALAR_NODE, "key") < 0)
			continue;
		for (const struct field *f = fields; f->key; f++) {
			known[n++] = f->key;
			if (strcmp(f->key, scalar(key)) == 0) {
				load_field(l, f, section, value);
				found = 1;
			}
		}
		if (!found && strcmp(section, "backend") != 0)
			unknown_key(l, key, section, known, n);
	}
}

static void
load_string(struct loader *l, yaml_node_t *node, char **out)
{
	if (expect(l, node, YAML_SCALAR_NODE, "value") < 0)
		return;
	free(*out);
	*out = xstrdup(scalar(node));
}

static int
set_address(struct loader *l, yaml_node_t *node, char **text, struct netaddr *addr)
{
	char err[256];

	if (expect(l, node, YAML_SCALAR_NODE, "address") < 0)
		return -1;
	if (netaddr_parse(scalar(node), addr, err, sizeof(err)) < 0) {
		node_error(l, node, "bad address %s", err);
		return -1;
	}
	free(*text);
	*text = xstrdup(scalar(node));
	return 0;
}

static void
add_listen(struct config *cfg)
{
	cfg->listen = xrealloc(cfg->listen, (cfg->nlisten + 1) * sizeof(*cfg->listen));
	memset(&cfg->listen[cfg->nlisten], 0, sizeof(*cfg->listen));
	cfg->nlisten++;
}

static void
clear_listen(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nlisten; i++)
		free(cfg->listen[i].text);
	free(cfg->listen);
	cfg->listen = NULL;
	cfg->nlisten = 0;
}

/* listen: [ { address: HOST:PORT }, "HOST:PORT", ... ] */
static void
load_listen(struct loader *l, yaml_node_t *node)
{
	if (expect(l, node, YAML_SEQUENCE_NODE, "listen") < 0)
		return;
	clear_listen(l->cfg);
	for (yaml_node_item_t *item = node->data.sequence.items.start;
	     item < node->data.sequence.items.top; item++) {
		yaml_node_t *entry = yaml_document_get_node(l->doc, *item);
		yaml_node_t *address = entry;

		if (entry->type == YAML_MAPPING_NODE) {
			address = NULL;
			for (yaml_node_pair_t *pair = entry->data.mapping.pairs.start;
			     pair < entry->data.mapping.pairs.top; pair++) {
				yaml_node_t *key = yaml_document_get_node(l->doc, pair->key);
				static const char *const known[] = {"address"};

				if (key->type == YAML_SCALAR_NODE &&
				    strcmp(scalar(key), "address") == 0)
					address = yaml_document_get_node(l->doc, pair->value);
				else if (key->type == YAML_SCALAR_NODE)
					unknown_key(l, key, "listen", known, 1);
			}
			if (address == NULL) {
				node_error(l, entry, "listen: entry without address");
				continue;
			}
		}
		add_listen(l->cfg);
		struct config_listen *ln = &l->cfg->listen[l->cfg->nlisten - 1];

		if (set_address(l, address, &ln->text, &ln->addr) < 0)
			l->cfg->nlisten--;
	}
	if (node->data.sequence.items.start == node->data.sequence.items.top)
		node_error(l, node, "listen: at least one address is needed");
}

static void
load_backend(struct loader *l, yaml_node_t *node)
{
	if (expect(l, node, YAML_MAPPING_NODE, "backend") < 0)
		return;
	load_fields(l, node, "backend", backend_fields);
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(l->doc, pair->key);
		static const char *const known[] = {"address", "xclient"};

		if (key->type != YAML_SCALAR_NODE)
			continue;
		if (strcmp(scalar(key), "address") == 0)
			set_address(l, yaml_document_get_node(l->doc, pair->value),
			            &l->cfg->backend.text, &l->cfg->backend.addr);
		else if (strcmp(scalar(key), "xclient") != 0)
			unknown_key(l, key, "backend", known, 2);
	}
}

static void
load_root(struct loader *l, yaml_node_t *root)
{
	const size_t nsections = sizeof(sections) / sizeof(sections[0]);
	const char *known[sizeof(sections) / sizeof(sections[0])];

	for (size_t i = 0; i < nsections; i++)
		known[i] = sections[i].key;
	if (root == NULL) /* an empty file: all defaults */
		return;
	if (expect(l, root, YAML_MAPPING_NODE, "configuration") < 0)
		return;
	yaml_node_pair_t *start = root->data.mapping.pairs.start,
	                 *top = root->data.mapping.pairs.top;

	for (yaml_node_pair_t *pair = start; pair < top; pair++) {
		yaml_node_t *key = yaml_document_get_node(l->doc, pair->key);
		size_t i;

		if (expect(l, key, YAML_SCALAR_NODE, "key") < 0)
			continue;
		for (i = 0; i < nsections && strcmp(sections[i].key, scalar(key)) != 0; i++)
			;
		if (i == nsections)
			unknown_key(l, key, "the configuration", known, nsections);
	}
	/* In table order, not file order: policies refer to filters. */
	for (size_t i = 0; i < nsections; i++) {
		for (yaml_node_pair_t *pair = start; pair < top; pair++) {
			yaml_node_t *key = yaml_document_get_node(l->doc, pair->key);
			yaml_node_t *value = yaml_document_get_node(l->doc, pair->value);

			if (key->type != YAML_SCALAR_NODE || strcmp(sections[i].key, scalar(key)))
				continue;
			if (sections[i].load)
				sections[i].load(l, value);
			else if (sections[i].fields)
				load_fields(l, value, sections[i].key, sections[i].fields);
			else
				load_string(l, value,
				            (char **)((char *)l->cfg + sections[i].string_offset));
		}
	}
}

/* Duplicate keys are an error: YAML says so, and libyaml does not check. */
static void
check_duplicates(struct loader *l)
{
	for (yaml_node_t *node = l->doc->nodes.start; node < l->doc->nodes.top; node++) {
		if (node->type != YAML_MAPPING_NODE)
			continue;
		for (yaml_node_pair_t *a = node->data.mapping.pairs.start;
		     a < node->data.mapping.pairs.top; a++) {
			yaml_node_t *ka = yaml_document_get_node(l->doc, a->key);

			for (yaml_node_pair_t *b = node->data.mapping.pairs.start; b < a; b++) {
				yaml_node_t *kb = yaml_document_get_node(l->doc, b->key);

				if (ka->type == YAML_SCALAR_NODE && kb->type == YAML_SCALAR_NODE &&
				    strcmp(scalar(ka), scalar(kb)) == 0) {
					node_error(l, ka, "duplicate key \"%s\" (first at line %d)",
					           scalar(ka), (int)kb->start_mark.line + 1);
					break;
				}
			}
		}
	}
}

static struct config *
config_defaults(const char *source)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	char host[256];
	char err[256];
	const char *tmp = getenv("TMPDIR");

	cfg->refs = 1;
	cfg->source = xstrdup(source);
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	cfg->hostname = xstrdup(host);
	cfg->backend.xclient = XCLIENT_AUTO;
	cfg->backend.text = xstrdup("127.0.0.1:10025");
	netaddr_parse(cfg->backend.text, &cfg->backend.addr, err, sizeof(err));
	cfg->limits = (struct config_limits){
	        .max_sessions = 1000,
	        .max_sessions_per_client = 50,
	        .max_recipients = 1000,
	        .max_message_size = 50ULL * 1024 * 1024,
	        .max_command_line = 2048,
	        .max_text_line = 1000,
	        .spool_memory = 256 * 1024,
	        .max_errors = 10,
	};
	cfg->timeouts = (struct config_timeouts){
	        .client = 300000,
	        .backend_connect = 30000,
	        .backend_reply = 300000,
	        .backend_data = 600000,
	        .shutdown = 30000,
	};
	cfg->spool_dir = xstrdup(tmp && *tmp ? tmp : "/tmp");
	cfg->bare_newline = DATA_NEWLINE_REJECT;
	cfg->log = (struct config_log){.syslog = 0, .facility = LOG_MAIL, .level = LOG_LEVEL_INFO};
	add_listen(cfg);
	cfg->listen[0].text = xstrdup("0.0.0.0:25");
	netaddr_parse(cfg->listen[0].text, &cfg->listen[0].addr, err, sizeof(err));
	return cfg;
}

static void
check_consistency(struct loader *l)
{
	const struct config_limits *lim = &l->cfg->limits;

	if (lim->max_text_line != 0 && lim->max_text_line < 1000)
		config_diag_add(l->diag, l->file, 0, 0,
		                "limits.max_text_line must be 0 (no limit) or at least 1000 "
		                "(RFC 5321 4.5.3.1.6)");
}

/* Parse one document and apply it to parent's config; problems go to diag. */
void
config_load_text(struct loader *parent, const char *name, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct loader l = {.doc = &doc,
	                   .file = name,
	                   .cfg = parent->cfg,
	                   .diag = parent->diag,
	                   .depth = parent->depth + 1};

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		config_diag_add(parent->diag, name, (int)parser.problem_mark.line + 1,
		                (int)parser.problem_mark.column + 1, "YAML syntax: %s%s%s",
		                parser.problem ? parser.problem : "error",
		                parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return;
	}
	check_duplicates(&l);
	load_root(&l, yaml_document_get_root_node(&doc));
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
}

struct config *
config_load_string(const char *name, const char *text, size_t len, struct config_diag *diag)
{
	size_t before = diag->n;
	struct config *cfg = config_defaults(name);
	struct loader top = {.file = name, .cfg = cfg, .diag = diag, .depth = -1};

	config_load_text(&top, name, text, len);
	check_consistency(&top);
	if (diag->n > before) {
		config_unref(cfg);
		return NULL;
	}
	return cfg;
}

int
config_read_file(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 0, n;
	char buf[8192];

	*text = NULL;
	*len = 0;
	if (f == NULL)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (*len + n > cap) {
			cap = (*len + n) * 2;
			*text = xrealloc(*text, cap);
		}
		memcpy(*text + *len, buf, n);
		*len += n;
	}
	int failed = ferror(f);

	fclose(f);
	if (failed) {
		free(*text);
		*text = NULL;
		errno = EIO;
		return -1;
	}
	return 0;
}

struct config *
config_load_file(const char *path, struct config_diag *diag)
{
	char *text;
	size_t len;

	if (config_read_file(path, &text, &len) < 0) {
		config_diag_add(diag, path, 0, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	struct config *cfg = config_load_string(path, text ? text : "", len, diag);

	free(text);
	return cfg;
}

/*
 * quarantine: { directory: PATH } (it must exist and be writable now) or
 * { mailbox: ADDRESS } (the backend delivers quarantined mail there).
 */
static void
load_quarantine(struct loader *l, yaml_node_t *node)
{
	static const char *const known[] = {"directory", "mailbox"};

	if (expect(l, node, YAML_MAPPING_NODE, "quarantine") < 0)
		return;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = yaml_document_get_node(l->doc, p->key);
		yaml_node_t *value = yaml_document_get_node(l->doc, p->value);
		int dir;

		if (key->type != YAML_SCALAR_NODE)
			continue;
		dir = strcmp(scalar(key), "directory") == 0;
		if (!dir && strcmp(scalar(key), "mailbox") != 0) {
			unknown_key(l, key, "quarantine", known, 2);
			continue;
		}
		if (expect(l, value, YAML_SCALAR_NODE, scalar(key)) < 0)
			continue;
		if (dir && access(scalar(value), W_OK | X_OK) < 0) {
			node_error(l, value, "quarantine.directory: %s: %s", scalar(value),
			           strerror(errno));
		} else if (!dir && (strchr(scalar(value), '@') == NULL ||
		                    strpbrk(scalar(value), "<> \t\r\n") != NULL)) {
			node_error(l, value, "quarantine.mailbox: \"%s\" is not an address",
			           scalar(value));
		} else {
			char **slot = dir ? &l->cfg->quarantine_dir : &l->cfg->quarantine_mailbox;

			free(*slot);
			*slot = xstrdup(scalar(value));
		}
	}
	if (l->cfg->quarantine_dir && l->cfg->quarantine_mailbox)
		node_error(l, node, "quarantine: a directory or a mailbox, not both");
}

/*
 * include: PATTERN or [ PATTERN, ... ], relative to the including file;
 * wildcards as in the shell, files in sorted order. Included files are read
 * before the including file's own sections, so it can name their filters.
 */
static void
load_include_pattern(struct loader *l, yaml_node_t *node)
{
	char path[4096];
	const char *pattern = scalar(node);
	const char *slash = strrchr(l->file, '/');
	glob_t g;

	if (pattern[0] == '/' || slash == NULL)
		snprintf(path, sizeof(path), "%s", pattern);
	else
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - l->file), l->file, pattern);
	int rc = glob(path, GLOB_ERR, NULL, &g);

	if (rc == GLOB_NOMATCH && strpbrk(pattern, "*?[") == NULL)
		node_error(l, node, "include: %s: no such file", path);
	for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
		char *text;
		size_t len;

		if (config_read_file(g.gl_pathv[i], &text, &len) < 0) {
			node_error(l, node, "include: %s: %s", g.gl_pathv[i], strerror(errno));
			continue;
		}
		config_load_text(l, g.gl_pathv[i], text ? text : "", len);
		free(text);
	}
	if (rc == 0 || rc == GLOB_NOMATCH)
		globfree(&g);
}

static void
load_include(struct loader *l, yaml_node_t *node)
{
	if (l->depth >= 8) {
		node_error(l, node, "include: nested more than 8 deep (a file including itself?)");
		return;
	}
	if (node->type == YAML_SCALAR_NODE) {
		load_include_pattern(l, node);
		return;
	}
	if (expect(l, node, YAML_SEQUENCE_NODE, "include") < 0)
		return;
	for (yaml_node_item_t *i = node->data.sequence.items.start;
	     i < node->data.sequence.items.top; i++) {
		yaml_node_t *item = yaml_document_get_node(l->doc, *i);

		if (expect(l, item, YAML_SCALAR_NODE, "include") == 0)
			load_include_pattern(l, item);
	}
}

struct config *
config_load_embedded(struct config_diag *diag)
{
	return config_load_string("(embedded)", config_default_yaml, config_default_yaml_len, diag);
}

int
config_set_listen(struct config *cfg, const char *text, struct config_diag *diag)
{
	char err[256];
	struct netaddr addr;

	if (netaddr_parse(text, &addr, err, sizeof(err)) < 0) {
		config_diag_add(diag, "--listen", 0, 0, "bad address %s", err);
		return -1;
	}
	if (!cfg->listen_from_cli)
		clear_listen(cfg);
	cfg->listen_from_cli = 1;
	add_listen(cfg);
	cfg->listen[cfg->nlisten - 1].text = xstrdup(text);
	cfg->listen[cfg->nlisten - 1].addr = addr;
	return 0;
}

int
config_set_backend(struct config *cfg, const char *text, struct config_diag *diag)
{
	char err[256];
	struct netaddr addr;

	if (netaddr_parse(text, &addr, err, sizeof(err)) < 0) {
		config_diag_add(diag, "--backend", 0, 0, "bad address %s", err);
		return -1;
	}
	free(cfg->backend.text);
	cfg->backend.text = xstrdup(text);
	cfg->backend.addr = addr;
	return 0;
}

struct config *
config_ref(struct config *cfg)
{
	cfg->refs++;
	return cfg;
}

void
config_unref(struct config *cfg)
{
	if (cfg == NULL || --cfg->refs > 0)
		return;
	clear_listen(cfg);
	free(cfg->source);
	free(cfg->hostname);
	free(cfg->authserv_id);
	free(cfg->quarantine_dir);
	free(cfg->quarantine_mailbox);
	free(cfg->backend.text);
	free(cfg->spool_dir);
	policy_set_free(&cfg->policies);
	free(cfg);
}
