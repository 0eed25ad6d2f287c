/*
 * NAME
 *	backend - one SMTP client connection from postern to the backend
 * SYNOPSIS
 *	backend_new(server, cfg, done, arg), backend_free(backend)
 *	backend_prepare(backend, client)
 *	backend_command(backend, line, len), backend_auth(backend, line, len)
 *	backend_message(backend, headers, spool, skip)
 *	backend_in_transaction(backend), backend_reusable(backend)
 *	backend_rebind(backend, done, arg)
 * DESCRIPTION
 *	A backend belongs to one session (or to the capability probe) and does
 *	one thing at a time; every operation ends with one call of done(arg,
 *	status, code, reply). With BACKEND_REPLY, reply holds the backend's
 *	complete reply, every line CRLF-terminated, exactly as it was sent, for
 *	the caller to move to its client (evbuffer_add_buffer empties it).
 *
 *	backend_prepare() makes the connection ready for MAIL: it connects if
 *	needed, reads the greeting, says EHLO, passes the client's identity
 *	(XCLIENT once per connection, or XFORWARD before each transaction, as
 *	cfg->backend.xclient and the backend's EHLO allow), and sends RSET when
 *	a previous transaction was left open. done() gets BACKEND_READY, or
 *	BACKEND_UNAVAILABLE when any of this failed (the reason is logged).
 *	With client NULL (the probe) it stops after EHLO.
 *
 *	With backend.tls opportunistic or required, STARTTLS comes after the
 *	first EHLO and EHLO again over TLS; XCLIENT only then. Under required
 *	a backend without STARTTLS, or whose STARTTLS or handshake fails, is
 *	BACKEND_UNAVAILABLE (the client hears 451, the message never goes in
 *	plaintext). Under opportunistic a refused STARTTLS means plaintext on
 *	that connection, and a connection lost at STARTTLS or in the handshake
 *	a new plaintext connection.
 *	The capabilities learned for the front EHLO are those over TLS. A
 *	pooled connection keeps its TLS.
 *
 *	backend_command() sends one command line (without line ending).
 *	backend_auth() sends a line of a SASL exchange: the AUTH command or a
 *	client's response to 334. The connection then belongs to the client
 *	until it ends: after 334 (the answer is awaited; no keepalive, no
 *	idle close) and after 235 (authenticated: never pooled, kept alive
 *	with NOOP like a transaction). The lines are never logged.

 *
 *	backend_message() sends headers (CRLF lines postern adds, or a whole
 *	rewritten header block; may be NULL; it is emptied) and then the spooled
 *	message from octet skip on: "BDAT n LAST" when the
 *	backend offers CHUNKING, else DATA, the content dot-stuffed, and ".".
 *	A non-354 reply to DATA is returned as the final reply.
 *
 *	backend_reusable() says whether the connection is open, idle and holds no
 *	transaction, so that another session can take it over (the server keeps
 *	such connections in a small pool). backend_rebind() hands it to its new
 *	owner and forgets the previous client: the next backend_prepare() sends
 *	XCLIENT (which starts a new SMTP session at the backend) or XFORWARD for
 *	the new one.
 *
 *	Failures after the connection was ready come as BACKEND_LOST (closed,
 *	reset, unparseable reply) or BACKEND_TIMEOUT; the backend is then
 *	unusable and the caller frees it. An idle backend that closes (its own
 *	idle timeout) just becomes closed; the next backend_prepare() reconnects.
 */
#ifndef POSTERN_BACKEND_H
#define POSTERN_BACKEND_H

#include <stddef.h>

struct backend;
struct config;
struct evbuffer;
struct server;
struct spool;
struct client_identity;

enum backend_status {
	BACKEND_READY,
	BACKEND_REPLY,
	BACKEND_UNAVAILABLE,
	BACKEND_LOST,
	BACKEND_TIMEOUT,
};

typedef void backend_done_fn(void *arg, enum backend_status status, int code,
                             struct evbuffer *reply);

struct backend *backend_new(struct server *server, struct config *cfg, backend_done_fn *done,
                            void *arg);
void backend_free(struct backend *backend);
void backend_prepare(struct backend *backend, const struct client_identity *client);
void backend_command(struct backend *backend, const char *line, size_t len);
void backend_auth(struct backend *backend, const char *line, size_t len);
void backend_message(struct backend *backend, struct evbuffer *headers, struct spool *spool,
                     size_t skip);
int backend_in_transaction(const struct backend *backend);
int backend_reusable(const struct backend *backend);
void backend_rebind(struct backend *backend, backend_done_fn *done, void *arg);
const struct config *backend_config(const struct backend *backend);
const char *backend_last_error(const struct backend *backend);

#endif
