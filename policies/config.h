/*
 * NAME
 *	config - postern's configuration: the model, loading, validation
 * SYNOPSIS
 *	config_load_file(path, diag)
 *	config_load_embedded(diag)
 *	config_load_string(name, text, len, diag)
 *	config_set_listen(cfg, text, diag), config_set_backend(cfg, text, diag)
 *	config_set_dns(cfg, servers, n, diag)
 *	config_bool(text, out)
 *	config_ref(cfg), config_unref(cfg)
 *	config_diag_add(diag, file, line, column, fmt, ...), config_diag_free(diag)
 * DESCRIPTION
 *	The YAML file (libyaml) is read into struct config. Every key not given
 *	takes the default documented in postern.yaml(5) and shipped in
 *	policies/default.yaml, which is also compiled in: config_load_embedded()
 *	loads it, and it must always load without error.
 *
 *	Every problem found (YAML syntax, unknown key, wrong type, bad address,
 *	out-of-range number, bad duration or size) is added to diag as
 *	"file:line:column: message" (line and column 1-based, pointing at the
 *	offending node) and loading goes on to find the next one; a load that
 *	added anything returns NULL.
 *
 *	Durations are written "300s", "5m", "1h", "250ms" or a bare number of
 *	seconds; sizes "512", "64K", "10M", "1G" (powers of 1024).
 *
 *	config_set_listen() replaces the listener list on the first call and
 *	adds to it on later calls (the command line's --listen);
 *	config_set_backend() replaces the backend address; config_set_dns()
 *	replaces dns.servers (the command line's --dns). All return 0, or -1
 *	with a message in diag.
 *
 *	config_bool() reads a boolean as the file writes them (true/false,
 *	yes/no, on/off, any case), for filter types' own keys: 0, or -1.
 *
 *	TLS files (listen[].tls, backend.ca_file) are checked readable here;
 *	the daemon parses them into cfg->tls (proxy/tls.h) and reports what
 *	does not parse at the tls: key's config_pos.
 *
 *	A config is reference counted: sessions hold the config they started
 *	with while a reload installs a new one. config_unref() frees at zero.
 */
#ifndef POSTERN_CONFIG_H
#define POSTERN_CONFIG_H

#include <stddef.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "filters/dns.h"
#include "policies/policy.h"
#include "proxy/data_reader.h"

enum xclient_mode { XCLIENT_AUTO, XCLIENT_XCLIENT, XCLIENT_XFORWARD, XCLIENT_OFF };
enum backend_tls { BACKEND_TLS_OFF, BACKEND_TLS_OPPORTUNISTIC, BACKEND_TLS_REQUIRED };

/* Where a key was written, for problems found after loading (a key that does not fit). */
struct config_pos {
	char *file;
	int line, column;
};

/* listen[].tls: the files are checked readable when loading, parsed by proxy/tls.c. */
struct config_tls {
	char *cert, *key, *chain; /* PEM files; cert NULL: no TLS on this listener */
	int implicit;             /* TLS from the first octet (port 465, RFC 8314) */
	struct config_pos pos;    /* of the tls: mapping */
};

struct config_listen {
	char *text; /* as written, for logs */
	struct netaddr addr;
	struct config_tls tls;
	int auth;                /* relay AUTH here (default 1; 0 on an MX-only port) */
	int proxy_protocol;      /* a PROXY v1/v2 header comes first */
	struct cidr *proxy_from; /* the load balancers allowed to send it */
	size_t nproxy_from;
};

struct tls_set; /* proxy/tls.h: the daemon's TLS contexts for this configuration */

struct config_limits {
	unsigned max_sessions;               /* 421 above it */
	unsigned max_sessions_per_client;    /* 421 above it, per client address */
	unsigned max_recipients;             /* 452 above it, per message */
	unsigned long long max_message_size; /* 552 above it */
	size_t max_command_line;             /* octets with CRLF; 500 above it */
	size_t max_text_line;                /* octets with CRLF, in DATA; 500 above it */
	size_t spool_memory;                 /* message octets held in memory */
	unsigned max_errors;                 /* protocol errors before 421 and close */
	unsigned workers;                    /* threads for filters' blocking work */
};

struct config_timeouts {          /* milliseconds */
	unsigned client;          /* waiting for a client command or data */
	unsigned backend_connect; /* TCP connect to the backend */
	unsigned backend_reply;   /* any backend reply but the final one */
	unsigned backend_data;    /* the backend's reply after the message */
	unsigned shutdown;        /* SIGTERM: how long sessions may finish */
};

struct config_log {
	int syslog;
	int facility; /* LOG_MAIL etc. */
	enum log_level level;
};

struct config {
	int refs;
	char *source;             /* file name, or "(embedded)" */
	char *hostname;           /* for the greeting; default: gethostname() */
	char *authserv_id;        /* Authentication-Results; default: hostname */
	char *quarantine_dir;     /* quarantine: { directory: } or NULL */
	char *quarantine_mailbox; /* quarantine: { mailbox: } or NULL */
	char *milter_socket;      /* milter: { socket: }, postern-milter's, or NULL */
	struct config_listen *listen;
	size_t nlisten;
	int listen_from_cli; /* config_set_listen() was called */
	struct {
		char *text;
		struct netaddr addr;
		enum xclient_mode xclient;
		enum backend_tls tls;
		char *ca_file;     /* verify the backend's certificate against these CAs */
		char *verify_name; /* and that it names this host */
	} backend;
	struct config_limits limits;
	struct config_timeouts timeouts;
	char *spool_dir;
	enum data_newline bare_newline;
	int auth_over_plaintext; /* smtp.auth_over_plaintext: offer AUTH without TLS */
	struct config_log log;
	struct policy_set policies; /* filters: and policies: */
	/* Built by the daemon from listen[].tls and backend (tls_load()), freed with the config. */
	struct tls_set *tls;
	void (*tls_free)(struct tls_set *tls);
	struct config_dns dns; /* the resolver's; read at start only */
};

struct config_diag {
	char **msgs;
	size_t n;
};

struct config *config_load_file(const char *path, struct config_diag *diag);
struct config *config_load_embedded(struct config_diag *diag);
struct config *config_load_string(const char *name, const char *text, size_t len,
                                  struct config_diag *diag);
int config_set_listen(struct config *cfg, const char *text, struct config_diag *diag);
int config_set_backend(struct config *cfg, const char *text, struct config_diag *diag);
int config_set_dns(struct config *cfg, const char *const *servers, size_t n,
                   struct config_diag *diag);
int config_bool(const char *text, int *out);
struct config *config_ref(struct config *cfg);
void config_unref(struct config *cfg);
void config_diag_add(struct config_diag *diag, const char *file, int line, int column,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void config_diag_free(struct config_diag *diag);

extern const char config_default_yaml[];
extern const size_t config_default_yaml_len;

#endif
