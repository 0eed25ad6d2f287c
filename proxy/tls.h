/*
 * NAME
 *	tls - the daemon's TLS contexts: towards clients and towards the backend
 * SYNOPSIS
 *	tls_load(cfg, diag)
 *	tls_listener_ssl(cfg, index), tls_listener_offers(cfg, index)
 *	tls_backend_ssl(cfg)
 *	tls_error_text(buf, size)
 * DESCRIPTION
 *	tls_load() reads the certificates and keys of every listen[].tls and
 *	the backend's CA file into OpenSSL contexts kept in cfg->tls (freed with
 *	the configuration). A SIGHUP loads a new configuration and with it new
 *	contexts: sessions that start afterwards use the new certificate.
 *	Returns 0, or -1 after adding "file:line:column: message" to diag for
 *	each file that does not parse or key that does not fit its certificate.
 *
 *	Both sides speak TLS 1.2 and 1.3 only, with forward-secret AEAD
 *	ciphers for TLS 1.2 (Mozilla's "intermediate" list), no
 *	renegotiation, no compression. A peer that closes without close_notify
 *	is taken as an end of stream, as SMTP's own QUIT has already said
 *	whatever mattered.
 *
 *	tls_listener_ssl() makes the server side of one client connection on
 *	listen[index] (NULL when that listener has no TLS);
 *	tls_listener_offers() says whether it has.
 *
 *	tls_backend_ssl() makes the client side of a backend connection: SNI
 *	and name check with backend.verify_name, chain check against
 *	backend.ca_file (or the system's CAs when only a name is given); with
 *	neither the connection is encrypted but not authenticated.
 *
 *	tls_error_text() empties OpenSSL's error queue into buf (one line).
 */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct config;
struct config_diag;

int tls_load(struct config *cfg, struct config_diag *diag);
SSL *tls_listener_ssl(const struct config *cfg, size_t index);
int tls_listener_offers(const struct config *cfg, size_t index);
SSL *tls_backend_ssl(const struct config *cfg);
void tls_error_text(char *buf, size_t size);

#endif
