/*
 * NAME
 *	session - one client's SMTP session, relayed to the backend
 * SYNOPSIS
 *	session_new(server, fd, sa)
 *	session_shutdown(session)
 *	session_free(session)
 *	session_client_ip(session)
 * DESCRIPTION
 *	session_new() takes over an accepted socket, sends the greeting and
 *	runs the session until the client quits, the connection breaks or a
 *	limit ends it; it then unlinks itself from the server and frees
 *	everything it owns (its backend, its transaction, its config reference).
 *
 *	session_shutdown() ends a session at server shutdown: 421, then close.
 *
 *	session_client_ip() is the client's numeric address (for the per-client
 *	session count).
 * DIAGNOSTICS
 *	One info line per transaction (event=transaction) with the client, helo,
 *	envelope, size, the final status and reply, and the duration; protocol
 *	errors at info; connects and disconnects at debug.
 */
#ifndef POSTERN_SESSION_H
#define POSTERN_SESSION_H

#include <sys/socket.h>

struct server;
struct session;

struct session *session_new(struct server *server, int fd, const struct sockaddr *sa);
void session_shutdown(struct session *session);
void session_free(struct session *session);
const char *session_client_ip(const struct session *session);

#endif
