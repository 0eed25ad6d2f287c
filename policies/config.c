/*
 * NAME
 *	config - postern's configuration: the model, loading, validation
 * SYNOPSIS
 *	See config.h; config_int.h for what config_policies.c shares.
 * DESCRIPTION
 *	libyaml's document API gives a node tree with positions, aliases
 *	already resolved into shared nodes. Before it is walked the tree is
 *	checked as a whole: one document, no duplicate keys, no alias that
 *	refers to a node containing it, at most SHAPE_DEPTH levels, so that
 *	walks (ours and the filters' configure()) may recurse freely.
 *
 *	The walk is driven by tables of struct field, one per section: the key,
 *	its type, where the value goes, its limits. A new key is a new row; a
 *	new section is a table and a row in root_fields. Every problem is
 *	reported at the node at fault and the walk goes on, so one run of
 *	`postern -t` shows them all.
 *
 *	A plain empty value (a section whose keys are all commented out, or
 *	null, ~) leaves a section at its defaults; for a single value it is an
 *	error.
 * DIAGNOSTICS
 *	Nothing is logged: every problem goes to the caller's config_diag.
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

#define SHAPE_DEPTH 64              /* nesting levels a document may have */
#define INCLUDE_DEPTH 8             /* files including files */
#define FILE_MAX (16 * 1024 * 1024) /* octets: no configuration is larger, /dev/zero is */

enum field_type {
	F_UINT,     /* a decimal number */
	F_SIZE,     /* octets: 512, 64K, 10M, 1G */
	F_DURATION, /* milliseconds, written 250ms, 30s, 5m, 1h or seconds */
	F_BOOL,
	F_ENUM,    /* one of names: stores its index, or values[index] */
	F_STRING,  /* char *, replaced; check() may refuse the value */
	F_ADDRESS, /* HOST:PORT: the text at offset, its struct netaddr at aux */
	F_SECTION, /* a mapping, described by fields */
	F_LOAD,    /* a loader of its own */
};

struct field {
	const char *key;
	enum field_type type;
	size_t offset, width; /* where the value goes, in the table's struct */
	size_t aux;
	unsigned long long min, max;
	int zero_ok;      /* 0 ("no limit") is allowed below min */
	const char *rule; /* cited when a number is out of range */
	const char *const *names;
	const int *values;
	const char *(*check)(const char *value); /* NULL, or what is wrong */
	const struct field *fields;
	void (*load)(struct loader *l, yaml_node_t *node);
	int required;
};

#define CFG(m) .offset = offsetof(struct config, m), .width = sizeof(((struct config *)0)->m)
#define LISTEN(m) \
	.offset = offsetof(struct config_listen, m), .width = sizeof(((struct config_listen *)0)->m)
#define U32 0xffffffffULL
#define KIB 1024ULL
#define MIB (1024ULL * 1024)
#define GIB (1024ULL * 1024 * 1024)
#define DAY_MS (24ULL * 3600 * 1000)

struct unit {
	const char *suffix;
	unsigned long long factor;
};

/* On a tie in factor, the first suffix is the one used to print a value. */
static const struct unit plain_units[] = {{"", 1}, {NULL, 0}};
static const struct unit size_units[] = {{"", 1},    {"K", KIB}, {"k", KIB}, {"M", MIB},
                                         {"m", MIB}, {"G", GIB}, {"g", GIB}, {NULL, 0}};
static const struct unit duration_units[] = {{"ms", 1},        {"s", 1000},        {"", 1000},
                                             {"m", 60 * 1000}, {"h", 3600 * 1000}, {NULL, 0}};

static const struct {
	const struct unit *units;
	const char *what;
} numbers[] = {
        [F_UINT] = {plain_units, "a whole number"},
        [F_SIZE] = {size_units, "a size (e.g. 512, 64K, 10M, 1G)"},
        [F_DURATION] = {duration_units, "a duration (e.g. 30s, 250ms, 5m, 1h)"},
};

static const char *const bool_true[] = {"true", "yes", "on", NULL};
static const char *const bool_false[] = {"false", "no", "off", NULL};
static const char *const xclient_names[] = {"auto", "xclient", "xforward", "off", NULL};
static const char *const backend_tls_names[] = {"off", "opportunistic", "required", NULL};
static const char *const newline_names[] = {"reject", "normalize", NULL};
static const char *const level_names[] = {"error", "warning", "info", "debug", NULL};
static const char *const facility_names[] = {"mail",   "daemon", "local0", "local1",
                                             "local2", "local3", "local4", "local5",
                                             "local6", "local7", NULL};
static const int facility_values[] = {LOG_MAIL,   LOG_DAEMON, LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2,
                                      LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7};

static const char *check_hostname(const char *name);
static int in_words(const char *word, const char *const *words);
static const char *check_directory(const char *path);
static const char *check_mailbox(const char *address);
static const char *check_readable(const char *path);
static const char *check_milter_socket(const char *socket);
static void load_fields(struct loader *l, yaml_node_t *node, const char *path,
                        const struct field *fields, void *base);
static void load_listen(struct loader *l, yaml_node_t *node);
static void load_listen_tls(struct loader *l, yaml_node_t *node);
static void load_proxy_from(struct loader *l, yaml_node_t *node);
static void load_quarantine(struct loader *l, yaml_node_t *node);
static void load_include(struct loader *l, yaml_node_t *node);
static void load_dns_servers(struct loader *l, yaml_node_t *node);

/* The start of a table's row, for the common cases. */
#define NUMBER(k, t, m, lo, hi) .key = (k), .type = (t), CFG(m), .min = (lo), .max = (hi)
#define ENUM(k, m, n) .key = (k), .type = F_ENUM, CFG(m), .names = (n)
#define STRING(k, m, c) .key = (k), .type = F_STRING, CFG(m), .check = (c)
#define SECTION(k, f) .key = (k), .type = F_SECTION, .fields = (f)
#define LOAD(k, f) .key = (k), .type = F_LOAD, .load = (f)

/* The first row is the one a bare string item ("- 127.0.0.1:25") gives. */
static const struct field listen_fields[] = {
        {.key = "address",
         .type = F_ADDRESS,
         LISTEN(text),
         .aux = offsetof(struct config_listen, addr),
         .required = 1},
        {LOAD("tls", load_listen_tls)},
        {.key = "auth", .type = F_BOOL, LISTEN(auth)},
        {.key = "proxy_protocol", .type = F_BOOL, LISTEN(proxy_protocol)},
        {LOAD("proxy_from", load_proxy_from)},
        {.key = NULL},
};
#define TLS(m) \
	.offset = offsetof(struct config_tls, m), .width = sizeof(((struct config_tls *)0)->m)
static const struct field listen_tls_fields[] = {
        {.key = "cert", .type = F_STRING, TLS(cert), .check = check_readable, .required = 1},
        {.key = "key", .type = F_STRING, TLS(key), .check = check_readable, .required = 1},
        {.key = "chain", .type = F_STRING, TLS(chain), .check = check_readable},
        {.key = "implicit", .type = F_BOOL, TLS(implicit)},
        {.key = NULL},
};
static const struct field backend_fields[] = {
        {.key = "address",
         .type = F_ADDRESS,
         CFG(backend.text),
         .aux = offsetof(struct config, backend.addr)},
        {ENUM("xclient", backend.xclient, xclient_names)},
        {ENUM("tls", backend.tls, backend_tls_names)},
        {STRING("ca_file", backend.ca_file, check_readable)},
        {STRING("verify_name", backend.verify_name, check_hostname)},
        {.key = NULL},
};
static const struct field limits_fields[] = {
        {NUMBER("max_sessions", F_UINT, limits.max_sessions, 0, U32)},
        {NUMBER("max_sessions_per_client", F_UINT, limits.max_sessions_per_client, 0, U32)},
        {NUMBER("max_recipients", F_UINT, limits.max_recipients, 1, U32)},
        {NUMBER("max_message_size", F_SIZE, limits.max_message_size, 0, 1024 * GIB)},
        {NUMBER("max_command_line", F_SIZE, limits.max_command_line, 512, MIB),
         .rule = "RFC 5321 4.5.3.1.4"},
        {NUMBER("max_text_line", F_SIZE, limits.max_text_line, 1000, MIB), .zero_ok = 1,
         .rule = "RFC 5321 4.5.3.1.6"},
        {NUMBER("spool_memory", F_SIZE, limits.spool_memory, 0, GIB)},
        {NUMBER("max_errors", F_UINT, limits.max_errors, 0, U32)},
        {NUMBER("workers", F_UINT, limits.workers, 1, 64)},
        {.key = NULL},
};
static const struct field timeouts_fields[] = {
        {NUMBER("client", F_DURATION, timeouts.client, 1, DAY_MS)},
        {NUMBER("backend_connect", F_DURATION, timeouts.backend_connect, 1, DAY_MS)},
        {NUMBER("backend_reply", F_DURATION, timeouts.backend_reply, 1, DAY_MS)},
        {NUMBER("backend_data", F_DURATION, timeouts.backend_data, 1, DAY_MS)},
        {NUMBER("shutdown", F_DURATION, timeouts.shutdown, 0, DAY_MS)},
        {.key = NULL},
};
static const struct field smtp_fields[] = {
        {ENUM("bare_newline", bare_newline, newline_names)},
        {.key = "auth_over_plaintext", .type = F_BOOL, CFG(auth_over_plaintext)},
        {.key = NULL},
};
static const struct field log_fields[] = {
        {.key = "syslog", .type = F_BOOL, CFG(log.syslog)},
        {ENUM("facility", log.facility, facility_names), .values = facility_values},
        {ENUM("level", log.level, level_names)},
        {.key = NULL},
};
static const struct field milter_fields[] = {
        {STRING("socket", milter_socket, check_milter_socket)},
        {.key = NULL},
};
static const struct field dns_fields[] = {
        {LOAD("servers", load_dns_servers)},
        {NUMBER("timeout", F_DURATION, dns.timeout_ms, 100, 10 * 60 * 1000)},
        {NUMBER("attempts", F_UINT, dns.attempts, 1, 10)},
        {.key = NULL},
};
static const struct field quarantine_fields[] = {
        {STRING("directory", quarantine_dir, check_directory)},
        {STRING("mailbox", quarantine_mailbox, check_mailbox)},
        {.key = NULL},
};

/*
 * The top level, loaded in this order whatever the file's order: included
 * files first, so the including file overrides them and may name their
 * filters; filters before the policies that name them.
 */
static const struct field root_fields[] = {
        {LOAD("include", load_include)},
        {LOAD("listen", load_listen)},
        {SECTION("backend", backend_fields)},
        {SECTION("limits", limits_fields)},
        {SECTION("timeouts", timeouts_fields)},
        {SECTION("smtp", smtp_fields)},
        {SECTION("log", log_fields)},
        {STRING("hostname", hostname, check_hostname)},
        {STRING("spool_dir", spool_dir, check_directory)},
        {LOAD("filters", config_load_filters)},
        {LOAD("policies", config_load_policies)},
        {STRING("authserv_id", authserv_id, check_hostname)},
        {LOAD("quarantine", load_quarantine)},
        /* postern-milter's own (milter/): postern ignores it. */
        {SECTION("milter", milter_fields)},
        {SECTION("dns", dns_fields)},
        {.key = NULL},
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

/* YAML's null: nothing after the colon, ~ or null, unquoted. */
static int
is_null(const yaml_node_t *node)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(scalar(node), nulls[i]) == 0)
			return 1;
	return 0;
}

int
config_bool(const char *text, int *out)
{
	if (in_words(text, bool_true))
		*out = 1;
	else if (in_words(text, bool_false))
		*out = 0;
	else
		return -1;
	return 0;
}

static int
in_words(const char *word, const char *const *words)
{
	for (; *words; words++)
		if (strcasecmp(word, *words) == 0)
			return 1;
	return 0;
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
	size_t len = strlen(scalar(key)), best_d = 3;

	/* YAML 1.1's merge key: libyaml leaves it to the application, and we do not merge. */
	if (strcmp(scalar(key), "<<") == 0) {
		node_error(l, key, "merge keys (<<) are not supported in %s: write the keys out",
		           section);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		size_t d = distance(scalar(key), known[i]);

		/* Close enough to be a typo, not merely another short word. */
		if (d < best_d && 2 * d < len) {
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

/*
 * Digits, then one of units' suffixes; the value times its factor. Returns
 * 0, -1 when s is not written so, -2 when the value does not fit.
 */
static int
parse_number(const char *s, const struct unit *units, unsigned long long *out)
{
	unsigned long long v = 0;
	int overflow = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned digit = (unsigned)(*s - '0');

		if (v > (ULLONG_MAX - digit) / 10)
			overflow = 1;
		else
			v = v * 10 + digit;
	}
	for (; units->suffix != NULL; units++) {
		if (strcmp(s, units->suffix) != 0)
			continue;
		if (overflow || v > ULLONG_MAX / units->factor)
			return -2;
		*out = v * units->factor;
		return 0;
	}
	return -1;
}

/* "30", "30s", "250ms", "5m", "1h" -> milliseconds; 0, -1 or -2 as parse_number(). */
int
parse_duration(const char *s, unsigned long long *ms)
{
	return parse_number(s, duration_units, ms);
}

/* "512", "64K", "10M", "1G" -> octets; 0, -1 or -2 as parse_number(). */
int
parse_size(const char *s, unsigned long long *octets)
{
	return parse_number(s, size_units, octets);
}

/* v in the largest unit that writes it exactly: 1048576 -> "1M", 300000 -> "5m". */
static void
format_number(char *buf, size_t size, unsigned long long v, const struct unit *units)
{
	const struct unit *best = units;

	for (const struct unit *u = units; u->suffix != NULL; u++)
		if (v != 0 && v % u->factor == 0 && u->factor > best->factor)
			best = u;
	snprintf(buf, size, "%llu%s", v / best->factor, v != 0 ? best->suffix : "");
}

static void
field_path(char *buf, size_t size, const char *path, const struct field *f)
{
	if (path != NULL)
		snprintf(buf, size, "%s.%s", path, f->key);
	else
		snprintf(buf, size, "%s", f->key);
}

/* A number or enum into its slot, which is an unsigned or int, or 64 bits wide. */
static void
store_number(void *base, const struct field *f, unsigned long long v)
{
	char *p = (char *)base + f->offset;

	if (f->width == sizeof(v)) {
		memcpy(p, &v, sizeof(v));
	} else {
		unsigned u = (unsigned)v;

		memcpy(p, &u, sizeof(u));
	}
}

static void
store_string(void *base, size_t offset, const char *value)
{
	char **slot = (char **)((char *)base + offset);

	free(*slot);
	*slot = xstrdup(value);
}

static void
load_enum(struct loader *l, const struct field *f, const char *name, yaml_node_t *value, void *base)
{
	char list[256] = "";
	size_t i;

	for (i = 0; f->names[i] != NULL; i++) {
		if (strcmp(f->names[i], scalar(value)) == 0) {
			store_number(base, f,
			             f->values ? (unsigned long long)f->values[i]
			                       : (unsigned long long)i);
			return;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
		         f->names[i]);
	}
	node_error(l, value, "%s: \"%s\" is not one of %s", name, scalar(value), list);
}

static void
load_number(struct loader *l, const struct field *f, const char *name, yaml_node_t *value,
            void *base)
{
	const struct unit *units = numbers[f->type].units;
	unsigned long long v = 0;
	int rc = parse_number(scalar(value), units, &v);
	char lo[32], hi[32];

	if (rc == -1) {
		node_error(l, value, "%s: \"%s\" is not %s", name, scalar(value),
		           numbers[f->type].what);
		return;
	}
	if (rc == 0 && ((v >= f->min && v <= f->max) || (v == 0 && f->zero_ok))) {
		store_number(base, f, v);
		return;
	}
	format_number(lo, sizeof(lo), f->min, units);
	format_number(hi, sizeof(hi), f->max, units);
	node_error(l, value, "%s: %s is out of range (%s%s to %s%s%s)", name, scalar(value),
	           f->zero_ok ? "0, or " : "", lo, hi, f->rule ? "; " : "", f->rule ? f->rule : "");
}

static void
load_value(struct loader *l, const struct field *f, const char *path, yaml_node_t *value,
           void *base)
{
	char name[128], err[256];
	const char *problem;

	field_path(name, sizeof(name), path, f);
	switch (f->type) {
	case F_SECTION:
		if (!is_null(value))
			load_fields(l, value, name, f->fields, base);
		return;
	case F_LOAD:
		if (!is_null(value))
			f->load(l, value);
		return;
	default:
		break;
	}
	if (expect(l, value, YAML_SCALAR_NODE, name) < 0)
		return;
	if (is_null(value)) {
		node_error(l, value, "%s: no value given", name);
		return;
	}
	switch (f->type) {
	case F_BOOL: {
		int b;

		if (config_bool(scalar(value), &b) == 0)
			store_number(base, f, (unsigned long long)b);
		else
			node_error(l, value, "%s: expected true or false, found \"%s\"", name,
			           scalar(value));
		break;
	}
	case F_ENUM:
		load_enum(l, f, name, value, base);
		break;
	case F_STRING:
		problem = f->check ? f->check(scalar(value)) : NULL;
		if (problem != NULL)
			node_error(l, value, "%s: \"%s\": %s", name, scalar(value), problem);
		else
			store_string(base, f->offset, scalar(value));
		break;
	case F_ADDRESS: {
		struct netaddr addr;

		if (netaddr_parse(scalar(value), &addr, err, sizeof(err)) < 0) {
			node_error(l, value, "%s: bad address %s", name, err);
			break;
		}
		store_string(base, f->offset, scalar(value));
		memcpy((char *)base + f->aux, &addr, sizeof(addr));
		break;
	}
	default:
		load_number(l, f, name, value, base);
		break;
	}
}

/*
 * A mapping described by fields (path: its name in messages, NULL for the
 * top level; base: the struct the fields' offsets are into). Unknown keys
 * are reported in the file's order, then the values are loaded in the
 * table's.
 */
static void
load_fields(struct loader *l, yaml_node_t *node, const char *path, const struct field *fields,
            void *base)
{
	const char *section = path ? path : "the configuration";
	const char *known[64];
	size_t nknown = 0;

	for (const struct field *f = fields; f->key && nknown < 64; f++)
		known[nknown++] = f->key;
	if (expect(l, node, YAML_MAPPING_NODE, section) < 0)
		return;
	yaml_node_pair_t *start = node->data.mapping.pairs.start,
	                 *top = node->data.mapping.pairs.top;

	for (yaml_node_pair_t *p = start; p < top; p++) {
		yaml_node_t *key = yaml_document_get_node(l->doc, p->key);
		const struct field *f;

		if (expect(l, key, YAML_SCALAR_NODE, "key") < 0)
			continue;
		for (f = fields; f->key && strcmp(f->key, scalar(key)) != 0; f++)
			;
		if (f->key == NULL)
			unknown_key(l, key, section, known, nknown);
	}
	for (const struct field *f = fields; f->key; f++) {
		int found = 0;

		for (yaml_node_pair_t *p = start; p < top; p++) {
			yaml_node_t *key = yaml_document_get_node(l->doc, p->key);

			if (key->type == YAML_SCALAR_NODE && strcmp(f->key, scalar(key)) == 0) {
				load_value(l, f, path, yaml_document_get_node(l->doc, p->value),
				           base);
				found = 1;
			}
		}
		if (f->required && !found)
			node_error(l, node, "%s: \"%s\" is missing", section, f->key);
	}
}

/* Goes into the greeting and header fields: a domain or an address literal. */
static const char *
check_hostname(const char *name)
{
	static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                              "0123456789-._:[]";

	if (strlen(name) > 255)
		return "longer than 255 characters";
	if (name[0] == '\0' || strspn(name, allowed) != strlen(name))
		return "not a host name (letters, digits, '-', '.')";
	return NULL;
}

/* Checked now, so that `postern -t` finds it rather than the first message. */
static const char *
check_directory(const char *path)
{
	return access(path, W_OK | X_OK) < 0 ? strerror(errno) : NULL;
}

/* As libmilter's smfi_setconn() takes them, or inet:HOST:PORT as Postfix writes them. */
static const char *
check_milter_socket(const char *socket)
{
	static const char *const kinds[] = {"inet:", "inet6:", "unix:", "local:"};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strncmp(socket, kinds[i], strlen(kinds[i])) == 0 && socket[strlen(kinds[i])])
			return NULL;
	return "not inet:HOST:PORT, inet:PORT@HOST, inet6:PORT@HOST or unix:PATH";
}

static const char *
check_mailbox(const char *address)
{
	if (strchr(address, '@') == NULL || strpbrk(address, "<> \t\r\n") != NULL)
		return "not an address (local@domain)";
	return NULL;
}

/* Checked now, so that `postern -t` names the key; the contents are the daemon's to parse. */
static const char *
check_readable(const char *path)
{
	return access(path, R_OK) < 0 ? strerror(errno) : NULL;
}

static void
add_listen(struct config *cfg)
{
	cfg->listen = xrealloc(cfg->listen, (cfg->nlisten + 1) * sizeof(*cfg->listen));
	memset(&cfg->listen[cfg->nlisten], 0, sizeof(*cfg->listen));
	cfg->listen[cfg->nlisten].auth = 1;
	cfg->nlisten++;
}

static void
free_listen_entry(struct config_listen *e)
{
	free(e->text);
	free(e->tls.cert);
	free(e->tls.key);
	free(e->tls.chain);
	free(e->tls.pos.file);
	free(e->proxy_from);
}

static void
clear_listen(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nlisten; i++)
		free_listen_entry(&cfg->listen[i]);
	free(cfg->listen);
	cfg->listen = NULL;
	cfg->nlisten = 0;
}

/* listen: [ { address: HOST:PORT }, "HOST:PORT", ... ] */
static void
load_listen(struct loader *l, yaml_node_t *node)
{
	struct config *cfg = l->cfg;

	if (expect(l, node, YAML_SEQUENCE_NODE, "listen") < 0)
		return;
	if (node->data.sequence.items.start == node->data.sequence.items.top) {
		node_error(l, node, "listen: at least one address is needed");
		return;
	}
	clear_listen(cfg);
	for (yaml_node_item_t *item = node->data.sequence.items.start;
	     item < node->data.sequence.items.top; item++) {
		yaml_node_t *entry = yaml_document_get_node(l->doc, *item);

		add_listen(cfg);
		if (entry->type == YAML_SCALAR_NODE)
			load_value(l, &listen_fields[0], "listen", entry,
			           &cfg->listen[cfg->nlisten - 1]);
		else
			load_fields(l, entry, "listen", listen_fields,
			            &cfg->listen[cfg->nlisten - 1]);
		struct config_listen *e = &cfg->listen[cfg->nlisten - 1];

		if (e->proxy_protocol && e->nproxy_from == 0)
			node_error(l, entry,
			           "listen: proxy_protocol needs proxy_from (the load "
			           "balancers' addresses)");
		if (e->text == NULL) {
			free_listen_entry(e);
			cfg->nlisten--;
		}
	}
}

/* listen[].tls: { cert: PEM, key: PEM, chain: PEM, implicit: BOOL }, into the entry being read. */
static void
load_listen_tls(struct loader *l, yaml_node_t *node)
{
	struct config_tls *tls = &l->cfg->listen[l->cfg->nlisten - 1].tls;

	load_fields(l, node, "listen.tls", listen_tls_fields, tls);
	free(tls->pos.file);
	tls->pos = (struct config_pos){.file = xstrdup(l->file),
	                               .line = (int)node->start_mark.line + 1,
	                               .column = (int)node->start_mark.column + 1};
}

/* listen[].proxy_from: [ CIDR, ... ] */
static void
load_proxy_from(struct loader *l, yaml_node_t *node)
{
	struct config_listen *e = &l->cfg->listen[l->cfg->nlisten - 1];

	if (expect(l, node, YAML_SEQUENCE_NODE, "listen.proxy_from") < 0)
		return;
	free(e->proxy_from);
	e->proxy_from = NULL;
	e->nproxy_from = 0;
	for (yaml_node_item_t *i = node->data.sequence.items.start;
	     i < node->data.sequence.items.top; i++) {
		yaml_node_t *item = yaml_document_get_node(l->doc, *i);
		struct cidr c;

		if (expect(l, item, YAML_SCALAR_NODE, "listen.proxy_from") < 0)
			continue;
		if (cidr_parse(scalar(item), &c) < 0) {
			node_error(l, item, "listen.proxy_from: \"%s\" is not an address or CIDR",
			           scalar(item));
			continue;
		}
		e->proxy_from = xrealloc(e->proxy_from, (e->nproxy_from + 1) * sizeof(c));
		e->proxy_from[e->nproxy_from++] = c;
	}
}

/*
 * quarantine: { directory: PATH } (it must exist and be writable now) or
 * { mailbox: ADDRESS } (the backend delivers quarantined mail there).
 */
static void
load_quarantine(struct loader *l, yaml_node_t *node)
{
	load_fields(l, node, "quarantine", quarantine_fields, l->cfg);
	if (l->cfg->quarantine_dir && l->cfg->quarantine_mailbox)
		node_error(l, node, "quarantine: a directory or a mailbox, not both");
}

static void
clear_dns_servers(struct config_dns *dns)
{
	for (size_t i = 0; i < dns->nservers; i++)
		free(dns->servers[i]);
	free(dns->servers);
	dns->servers = NULL;
	dns->nservers = 0;
}

static void
add_dns_server(struct config_dns *dns, const char *text)
{
	dns->servers = xrealloc(dns->servers, (dns->nservers + 1) * sizeof(*dns->servers));
	dns->servers[dns->nservers++] = xstrdup(text);
}

/*
 * dns.servers: "IP:PORT" or a list of them, replacing what an included file
 * said; an empty list is /etc/resolv.conf.
 */
static void
load_dns_servers(struct loader *l, yaml_node_t *node)
{
	yaml_node_item_t one = 0, *start = &one, *top = &one + 1;
	char fwd[128];

	clear_dns_servers(&l->cfg->dns);
	if (node->type == YAML_SEQUENCE_NODE) {
		start = node->data.sequence.items.start;
		top = node->data.sequence.items.top;
	} else if (expect(l, node, YAML_SCALAR_NODE, "dns.servers") < 0) {
		return;
	}
	for (yaml_node_item_t *i = start; i < top; i++) {
		yaml_node_t *item = i == &one ? node : yaml_document_get_node(l->doc, *i);

		if (expect(l, item, YAML_SCALAR_NODE, "dns.servers") < 0)
			continue;
		if (dns_server_parse(scalar(item), fwd, sizeof(fwd)) < 0)
			node_error(l, item,
			           "dns.servers: \"%s\" is not IP:PORT (e.g. 127.0.0.1:53, "
			           "[::1]:53)",
			           scalar(item));
		else
			add_dns_server(&l->cfg->dns, scalar(item));
	}
}

/*
 * include: PATTERN or [ PATTERN, ... ], relative to the including file;
 * wildcards as in the shell, files in sorted order.
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
	if (l->depth >= INCLUDE_DEPTH) {
		node_error(l, node, "include: nested more than %d deep (a file including itself?)",
		           INCLUDE_DEPTH);
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

/* The i-th child of a collection (a mapping's keys and values alternate), or 0. */
static int
child_at(const yaml_node_t *node, size_t i)
{
	if (node->type == YAML_SEQUENCE_NODE) {
		const yaml_node_item_t *items = node->data.sequence.items.start;

		return items + i < node->data.sequence.items.top ? items[i] : 0;
	}
	if (node->type == YAML_MAPPING_NODE) {
		const yaml_node_pair_t *pair = node->data.mapping.pairs.start + i / 2;

		if (pair >= node->data.mapping.pairs.top)
			return 0;
		return i % 2 ? pair->value : pair->key;
	}
	return 0;
}

/*
 * An alias may refer to a collection that contains it ("a: &x [ *x ]"):
 * libyaml then builds a cycle, which no walk would finish. A depth-first
 * walk with an explicit stack finds cycles and limits the depth; nodes
 * shared by aliases are visited once. Returns 0, or -1 after an error.
 */
static int
check_shape(struct loader *l, yaml_node_t *root)
{
	size_t nnodes = (size_t)(l->doc->nodes.top - l->doc->nodes.start);
	unsigned char *open = xcalloc(nnodes + 1, 2), *done = open + nnodes + 1; /* by node id */
	struct {
		int id;
		size_t next;
	} stack[SHAPE_DEPTH];
	size_t depth = 0;
	int rc = 0;

	stack[depth].id = (int)(root - l->doc->nodes.start) + 1;
	stack[depth++].next = 0;
	open[stack[0].id] = 1;
	while (depth > 0 && rc == 0) {
		int parent = stack[depth - 1].id;
		int id = child_at(yaml_document_get_node(l->doc, parent), stack[depth - 1].next++);
		yaml_node_t *child = yaml_document_get_node(l->doc, id);

		if (id == 0) {
			open[parent] = 0;
			done[parent] = 1;
			depth--;
		} else if (done[id] || child->type == YAML_SCALAR_NODE) {
			continue;
		} else if (open[id]) {
			node_error(l, child,
			           "an alias inside this node refers back to it (a cycle)");
			rc = -1;
		} else if (depth == SHAPE_DEPTH) {
			node_error(l, child, "nested more than %d levels deep", SHAPE_DEPTH);
			rc = -1;
		} else {
			open[id] = 1;
			stack[depth].id = id;
			stack[depth++].next = 0;
		}
	}
	free(open);
	return rc;
}

/* The 0-based line and column (in characters) of a byte offset. */
static yaml_mark_t
offset_mark(const char *text, size_t len, size_t offset)
{
	yaml_mark_t mark = {.index = offset};

	for (size_t i = 0; i < offset && i < len; i++) {
		if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == len || text[i + 1] != '\n'))) {
			mark.line++;
			mark.column = 0;
		} else if ((text[i] & 0xc0) != 0x80) {
			mark.column++;
		}
	}
	return mark;
}

/* The byte at a mark, or 0 past the end. */
static char
mark_char(const char *text, size_t len, const yaml_mark_t *mark)
{
	size_t i = 0, line = mark->line, column = mark->column;

	for (; i < len && line > 0; i++)
		if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == len || text[i + 1] != '\n')))
			line--;
	for (; i < len && column > 0; column--)
		for (i++; i < len && (text[i] & 0xc0) == 0x80; i++)
			;
	return i < len ? text[i] : 0;
}

/*
 * libyaml's own words, at the problem's position; where the construct
 * began, when elsewhere; a hint for tabs, which libyaml does not name.
 */
static void
syntax_error(struct loader *l, const yaml_parser_t *parser, const char *text, size_t len)
{
	yaml_mark_t at = parser->problem_mark;
	char started[64] = "";

	/* A reader error (bad UTF-8, control character) has an offset only. */
	if (parser->error == YAML_READER_ERROR)
		at = offset_mark(text, len, parser->problem_offset);
	if (parser->context != NULL && parser->context_mark.line != at.line)
		snprintf(started, sizeof(started), " (started at line %zu, column %zu)",
		         parser->context_mark.line + 1, parser->context_mark.column + 1);
	else if (parser->context != NULL && parser->context_mark.column != at.column)
		snprintf(started, sizeof(started), " (started at column %zu)",
		         parser->context_mark.column + 1);
	config_diag_add(l->diag, l->file, (int)at.line + 1, (int)at.column + 1,
	                "YAML syntax: %s%s%s%s%s", parser->problem ? parser->problem : "error",
	                parser->context ? " " : "", parser->context ? parser->context : "", started,
	                mark_char(text, len, &at) == '\t' ? " (a tab: indent with spaces)" : "");
}

/* Parse one document and apply it to parent's config; problems go to diag. */
void
config_load_text(struct loader *parent, const char *name, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc, next;
	struct loader l = {.doc = &doc,
	                   .file = name,
	                   .cfg = parent->cfg,
	                   .diag = parent->diag,
	                   .depth = parent->depth + 1};

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		syntax_error(&l, &parser, text, len);
		yaml_parser_delete(&parser);
		return;
	}
	/* A second document would be ignored silently: say so instead. */
	if (!yaml_parser_load(&parser, &next)) {
		syntax_error(&l, &parser, text, len);
	} else {
		if (yaml_document_get_root_node(&next) != NULL)
			config_diag_add(
			        l.diag, name, (int)next.start_mark.line + 1,
			        (int)next.start_mark.column + 1,
			        "a second YAML document: the configuration is one document");
		yaml_document_delete(&next);
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);

	check_duplicates(&l);
	if (root != NULL && !is_null(root) && check_shape(&l, root) == 0)
		load_fields(&l, root, NULL, root_fields, l.cfg);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
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
	        .max_message_size = 50 * MIB,
	        .max_command_line = 2048,
	        .max_text_line = 1000,
	        .spool_memory = 256 * KIB,
	        .max_errors = 10,
	        .workers = 4,
	};
	cfg->timeouts = (struct config_timeouts){
	        .client = 300000,
	        .backend_connect = 30000,
	        .backend_reply = 300000,
	        .backend_data = 600000,
	        .shutdown = 30000,
	};
	cfg->dns = (struct config_dns){.timeout_ms = 5000, .attempts = 2};
	cfg->spool_dir = xstrdup(tmp && *tmp ? tmp : "/tmp");
	cfg->bare_newline = DATA_NEWLINE_REJECT;
	cfg->log = (struct config_log){.syslog = 0, .facility = LOG_MAIL, .level = LOG_LEVEL_INFO};
	add_listen(cfg);
	cfg->listen[0].text = xstrdup("0.0.0.0:25");
	netaddr_parse(cfg->listen[0].text, &cfg->listen[0].addr, err, sizeof(err));
	return cfg;
}

struct config *
config_load_string(const char *name, const char *text, size_t len, struct config_diag *diag)
{
	size_t before = diag->n;
	struct config *cfg = config_defaults(name);
	struct loader top = {.file = name, .cfg = cfg, .diag = diag, .depth = -1};

	config_load_text(&top, name, text, len);
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
	int failed = 0; /* an errno */

	*text = NULL;
	*len = 0;
	if (f == NULL)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (*len + n > FILE_MAX) {
			failed = EFBIG;
			break;
		}
		if (*len + n > cap) {
			cap = (*len + n) * 2;
			*text = xrealloc(*text, cap);
		}
		memcpy(*text + *len, buf, n);
		*len += n;
	}
	if (!failed && ferror(f))
		failed = EIO;
	fclose(f);
	if (failed) {
		free(*text);
		*text = NULL;
		errno = failed;
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

int
config_set_dns(struct config *cfg, const char *const *servers, size_t n, struct config_diag *diag)
{
	char fwd[128];

	for (size_t i = 0; i < n; i++)
		if (dns_server_parse(servers[i], fwd, sizeof(fwd)) < 0) {
			config_diag_add(diag, "--dns", 0, 0,
			                "\"%s\" is not IP:PORT (e.g. 127.0.0.1:53, [::1]:53)",
			                servers[i]);
			return -1;
		}
	clear_dns_servers(&cfg->dns);
	for (size_t i = 0; i < n; i++)
		add_dns_server(&cfg->dns, servers[i]);
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
	free(cfg->milter_socket);
	free(cfg->backend.text);
	free(cfg->backend.ca_file);
	free(cfg->backend.verify_name);
	free(cfg->spool_dir);
	if (cfg->tls_free != NULL)
		cfg->tls_free(cfg->tls);
	policy_set_free(&cfg->policies);
	clear_dns_servers(&cfg->dns);
	free(cfg);
}
