/*
 * NAME
 *	server - the daemon's shared state: config, listeners, session limits
 * SYNOPSIS
 *	server_new(base, cfg), server_free(server)
 *	server_start(server)
 *	server_accept(server, fd, sa, salen)
 *	server_session_closed(server, session)
 *	server_learn_caps(server, caps)
 *	server_stop(server)
 * DESCRIPTION
 *	server_start() opens every configured listener and starts learning the
 *	backend's EHLO capabilities (so that postern can answer EHLO itself);
 *	returns 0, or -1 after logging why a listener could not be opened.
 *
 *	server_accept() is called by a listener for each new connection: it
 *	enforces limits.max_sessions and limits.max_sessions_per_client (a 421
 *	reply and close) and otherwise starts a session.
 *
 *	server_learn_caps() records the capabilities a backend EHLO reply
 *	announced; every backend connection refreshes them.
 *
 *	server_stop() (SIGTERM) closes the listeners at once, lets sessions run
 *	until timeouts.shutdown, then ends the remaining ones with 421 and
 *	leaves the event loop.
 */
#ifndef POSTERN_SERVER_H
#define POSTERN_SERVER_H

#include <sys/queue.h>
#include <sys/socket.h>

#include "proxy/caps.h"

struct event_base;
struct event;
struct config;
struct session;
struct listener;
struct client_count;

TAILQ_HEAD(session_list, session);

struct server {
	struct event_base *base;
	struct config *cfg;
	struct listener **listeners;
	size_t nlisteners;
	struct session_list sessions;
	unsigned nsessions;
	struct client_count **per_client; /* hash table of sessions per client address */
	size_t per_client_size;
	struct smtp_caps backend_caps;
	int backend_caps_known;
	struct backend *probe;
	struct event *probe_timer;
	struct event *stop_timer;
	int stopping;
	unsigned long next_session_id;
};

struct server *server_new(struct event_base *base, struct config *cfg);
void server_free(struct server *server);
int server_start(struct server *server);
void server_accept(struct server *server, int fd, const struct sockaddr *sa, socklen_t salen);
void server_session_closed(struct server *server, struct session *session);
void server_learn_caps(struct server *server, const struct smtp_caps *caps);
void server_stop(struct server *server);

#endif
