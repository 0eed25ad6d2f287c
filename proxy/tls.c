/*
 * NAME
 *	tls - the daemon's TLS contexts: towards clients and towards the backend
 * SYNOPSIS
 *	See tls.h.
 * DESCRIPTION
 *	One SSL_CTX per TLS listener and one for the backend, all built when
 *	the configuration loads, so that `postern -t` finds a bad file and a
 *	running daemon never reads one in the middle of a session.
 * DIAGNOSTICS
 *	Nothing is logged: problems go to the caller's config_diag.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/xalloc.h"
#include "policies/config.h"
#include "proxy/tls.h"

/* Mozilla's "intermediate" TLS 1.2 list; TLS 1.3 suites are OpenSSL's defaults. */
#define TLS_CIPHERS                                                  \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"

struct tls_set {
	SSL_CTX **listen; /* by listen index; NULL: no TLS there */
	size_t nlisten;
	SSL_CTX *backend; /* NULL: backend.tls is off */
};

static void tls_set_free(struct tls_set *set);

void
tls_error_text(char *buf, size_t size)
{
	unsigned long e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last == 0)
		snprintf(buf, size, "unknown TLS error");
	else
		ERR_error_string_n(last, buf, size);
}

/* The settings both sides share. */
static SSL_CTX *
ctx_new(const SSL_METHOD *method)
{
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (ctx == NULL)
		fatal("event=out_of_memory what=SSL_CTX");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	                                 SSL_OP_CIPHER_SERVER_PREFERENCE
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	                                 | SSL_OP_IGNORE_UNEXPECTED_EOF
#endif
	);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS);
	return ctx;
}

/* The intermediate certificates of chain, after the server's own. */
static int
add_chain(SSL_CTX *ctx, const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	int n = 0;

	if (f == NULL)
		return -1;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (!SSL_CTX_add0_chain_cert(ctx, x)) {
			X509_free(x);
			fclose(f);
			return -1;
		}
		n++;
	}
	fclose(f);
	/* The loop ends with "no start line": expected at the end of the file. */
	if (n > 0)
		ERR_clear_error();
	return n > 0 ? 0 : -1;
}

static SSL_CTX *
listener_ctx(const struct config_tls *tls, struct config_diag *diag)
{
	SSL_CTX *ctx = ctx_new(TLS_server_method());
	const struct config_pos *pos = &tls->pos;
	char err[256];
	const char *what = NULL, *path = NULL;

	ERR_clear_error();
	if (tls->chain == NULL && SSL_CTX_use_certificate_chain_file(ctx, tls->cert) != 1)
		what = "cert", path = tls->cert;
	else if (tls->chain != NULL &&
	         SSL_CTX_use_certificate_file(ctx, tls->cert, SSL_FILETYPE_PEM) != 1)
		what = "cert", path = tls->cert;
	else if (tls->chain != NULL && add_chain(ctx, tls->chain) < 0)
		what = "chain", path = tls->chain;
	else if (SSL_CTX_use_PrivateKey_file(ctx, tls->key, SSL_FILETYPE_PEM) != 1)
		what = "key", path = tls->key;
	else if (SSL_CTX_check_private_key(ctx) != 1)
		what = "key", path = tls->key;
	if (what == NULL)
		return ctx;
	tls_error_text(err, sizeof(err));
	config_diag_add(diag, pos->file, pos->line, pos->column, "listen.tls: %s %s: %s", what,
	                path, err);
	SSL_CTX_free(ctx);
	return NULL;
}

static SSL_CTX *
backend_ctx(const struct config *cfg, struct config_diag *diag)
{
	SSL_CTX *ctx = ctx_new(TLS_client_method());
	char err[256];
	int ok = 1;

	ERR_clear_error();
	if (cfg->backend.ca_file != NULL)
		ok = SSL_CTX_load_verify_locations(ctx, cfg->backend.ca_file, NULL) == 1;
	else if (cfg->backend.verify_name != NULL)
		ok = SSL_CTX_set_default_verify_paths(ctx) == 1;
	if (ok) {
		int verify = cfg->backend.ca_file != NULL || cfg->backend.verify_name != NULL;

		SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	tls_error_text(err, sizeof(err));
	config_diag_add(diag, cfg->source, 0, 0, "backend.ca_file %s: %s",
	                cfg->backend.ca_file ? cfg->backend.ca_file : "(system)", err);
	SSL_CTX_free(ctx);
	return NULL;
}

int
tls_load(struct config *cfg, struct config_diag *diag)
{
	struct tls_set *set = xcalloc(1, sizeof(*set));
	int rc = 0;

	set->listen = xcalloc(cfg->nlisten ? cfg->nlisten : 1, sizeof(*set->listen));
	set->nlisten = cfg->nlisten;
	for (size_t i = 0; i < cfg->nlisten; i++) {
		if (cfg->listen[i].tls.cert == NULL)
			continue;
		set->listen[i] = listener_ctx(&cfg->listen[i].tls, diag);
		if (set->listen[i] == NULL)
			rc = -1;
	}
	if (cfg->backend.tls != BACKEND_TLS_OFF) {
		set->backend = backend_ctx(cfg, diag);
		if (set->backend == NULL)
			rc = -1;
	}
	if (cfg->tls_free != NULL)
		cfg->tls_free(cfg->tls);
	cfg->tls = set;
	cfg->tls_free = tls_set_free;
	return rc;
}

static void
tls_set_free(struct tls_set *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->nlisten; i++)
		SSL_CTX_free(set->listen[i]);
	free(set->listen);
	SSL_CTX_free(set->backend);
	free(set);
}

int
tls_listener_offers(const struct config *cfg, size_t index)
{
	return cfg->tls != NULL && index < cfg->tls->nlisten && cfg->tls->listen[index] != NULL;
}

SSL *
tls_listener_ssl(const struct config *cfg, size_t index)
{
	SSL *ssl;

	if (!tls_listener_offers(cfg, index))
		return NULL;
	ssl = SSL_new(cfg->tls->listen[index]);
	if (ssl == NULL)
		fatal("event=out_of_memory what=SSL");
	SSL_set_accept_state(ssl);
	return ssl;
}

SSL *
tls_backend_ssl(const struct config *cfg)
{
	const char *name = cfg->backend.verify_name;
	SSL *ssl;

	if (cfg->tls == NULL || cfg->tls->backend == NULL)
		return NULL;
	ssl = SSL_new(cfg->tls->backend);
	if (ssl == NULL)
		fatal("event=out_of_memory what=SSL");
	SSL_set_connect_state(ssl);
	if (name != NULL) {
		SSL_set_tlsext_host_name(ssl, name);
		SSL_set1_host(ssl, name);
	}
	return ssl;
}
