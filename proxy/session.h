/*
 * NAME
 *	session - one client's SMTP session, relayed to the backend
 * SYNOPSIS
 *	session_new(server, lcfg, index, fd, sa, counted)
 *	session_shutdown(session)
 *	session_free(session)
 * DESCRIPTION
 *	session_new() takes over an accepted socket on lcfg->listen[index]
 *	(counted: the server has counted it for its client address), sends
 *	the greeting and runs the session until the client quits, the
 *	connection breaks or a limit ends it; it then unlinks itself from the
 *	server and frees everything it owns (its backend, its transaction, its
 *	config references).
 *
 *	On a proxy_protocol listener the PROXY header comes first and gives
 *	the client's address; on an implicit TLS listener the handshake comes
 *	(after that header) before the greeting. STARTTLS is offered where the
 *	listener has TLS, until TLS is on; AUTH where the backend offers it
 *	and the listener does not say auth: false, over TLS only unless
 *	smtp.auth_over_plaintext.
 *
 *	session_shutdown() ends a session at server shutdown: 421, then close.
 * DIAGNOSTICS
 *	One info line per transaction (event=transaction) with the client, helo,
 *	envelope, size, TLS version and cipher, the authenticated user, the
 *	final status and reply, and the duration; event=tls, event=auth (the
 *	mechanism, the backend's reply code and the user: never the exchange)
 *	and event=proxy at info; a refused PROXY header and failed handshakes
 *	at info; protocol errors at info; connects and disconnects at debug.
 */
#ifndef POSTERN_SESSION_H
#define POSTERN_SESSION_H

#include <sys/socket.h>

#include <stddef.h>

struct config;
struct server;
struct session;

struct session *session_new(struct server *server, struct config *lcfg, size_t index, int fd,
                            const struct sockaddr *sa, int counted);
void session_shutdown(struct session *session);
void session_free(struct session *session);

#endif
