/*
 * NAME
 *	server - the daemon's shared state: config, listeners, session limits
 * SYNOPSIS
 *	server_new(base, cfg), server_free(server)
 *	server_start(server)
 *	server_accept(server, listener, fd, sa, salen)
 *	server_admit_client(server, session), server_session_closed(server, session)
 *	server_learn_caps(server, caps)
 *	server_stop(server)
 *	server_set_config(server, cfg)
 *	server_backend_take(server, cfg, done, arg), server_backend_give(server, backend)
 * DESCRIPTION
 *	server_start() opens every configured listener and starts learning the
 *	backend's EHLO capabilities (so that postern can answer EHLO itself);
 *	returns 0, or -1 after logging why a listener could not be opened.
 *
 *	server_accept() is called by a listener for each new connection: it
 *	enforces limits.max_sessions and limits.max_sessions_per_client (a 421
 *	reply and close) and otherwise starts a session. On a proxy_protocol
 *	listener a peer outside proxy_from is closed at once (logged), and
 *	the per-client count waits for the PROXY header: the session calls
 *	server_admit_client() with the real client's address (-1: over the
 *	limit, nothing counted).
 *
 *	server_learn_caps() records the capabilities a backend EHLO reply
 *	announced; every backend connection refreshes them.
 *
 *	server_backend_take() returns an idle backend connection from the pool
 *	(rebound to done/arg), or a new one. server_backend_give() takes a
 *	session's backend when the session ends: kept if reusable and the pool
 *	has room, else freed. Reusing connections spares the backend a TCP
 *	handshake, a greeting and a teardown per client session.
 *
 *	server_set_config() installs a reloaded configuration; pooled
 *	connections made under the old one are closed.
 *
 *	server_stop() (SIGTERM) closes the listeners at once, lets sessions run
 *	until timeouts.shutdown, then ends the remaining ones with 421 and
 *	leaves the event loop.
 */
#ifndef POSTERN_SERVER_H
#define POSTERN_SERVER_H

#include <sys/queue.h>
#include <sys/socket.h>

#include "filters/chain.h"
#include "proxy/backend.h"
#include "proxy/caps.h"

struct event_base;
struct event;
struct config;
struct session;
struct listener;
struct client_count;

TAILQ_HEAD(session_list, session);

#define SERVER_POOL_SIZE 64

struct server {
	struct event_base *base;
	struct chain_env env; /* the loop and the worker pool, for filters */
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
	struct backend *pool[SERVER_POOL_SIZE];
	size_t npool;
	struct event *probe_timer;
	struct event *stop_timer;
	int stopping;
	unsigned long next_session_id;
};

struct server *server_new(struct event_base *base, struct config *cfg);
void server_free(struct server *server);
int server_start(struct server *server);
void server_accept(struct server *server, struct listener *listener, int fd,
                   const struct sockaddr *sa, socklen_t salen);
int server_admit_client(struct server *server, struct session *session);
void server_session_closed(struct server *server, struct session *session);
void server_learn_caps(struct server *server, const struct smtp_caps *caps);
void server_stop(struct server *server);
void server_set_config(struct server *server, struct config *cfg);
struct backend *server_backend_take(struct server *server, struct config *cfg,
                                    backend_done_fn *done, void *arg);
void server_backend_give(struct server *server, struct backend *backend);

#endif
