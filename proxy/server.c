/*
 * NAME
 *	server - the daemon's shared state: config, listeners, session limits
 * SYNOPSIS
 *	See server.h.
 * DIAGNOSTICS
 *	Limit refusals and the capability probe's outcome are logged.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "common/xalloc.h"
#include "policies/config.h"
#include "policies/policy.h"
#include "filters/worker.h"
#include "proxy/backend.h"
#include "proxy/listener.h"
#include "proxy/server.h"
#include "proxy/session.h"
#include "proxy/session_int.h"

#define PER_CLIENT_BUCKETS 1024
#define PROBE_RETRY_SECONDS 10

struct client_count {
	struct client_count *next;
	unsigned sessions;
	char ip[INET6_ADDRSTRLEN];
};

static void probe_start(struct server *server);
static void pool_flush(struct server *server);

struct server *
server_new(struct event_base *base, struct config *cfg)
{
	struct server *server = xcalloc(1, sizeof(*server));

	server->base = base;
	server->cfg = config_ref(cfg);
	server->env.base = base;
	/* Sized at start: a reload does not resize it. */
	server->env.workers = worker_pool_new(base, cfg->limits.workers);
	TAILQ_INIT(&server->sessions);
	server->per_client_size = PER_CLIENT_BUCKETS;
	server->per_client = xcalloc(server->per_client_size, sizeof(*server->per_client));
	return server;
}

static void
close_listeners(struct server *server)
{
	for (size_t i = 0; i < server->nlisteners; i++)
		listener_free(server->listeners[i]);
	free(server->listeners);
	server->listeners = NULL;
	server->nlisteners = 0;
}

void
server_free(struct server *server)
{
	struct session *s;

	while ((s = TAILQ_FIRST(&server->sessions)) != NULL)
		session_free(s);
	close_listeners(server);
	backend_free(server->probe);
	pool_flush(server);
	if (server->probe_timer)
		event_free(server->probe_timer);
	if (server->stop_timer)
		event_free(server->stop_timer);
	free(server->per_client);
	worker_pool_free(server->env.workers);
	config_unref(server->cfg);
	free(server);
}

int
server_start(struct server *server)
{
	const struct config *cfg = server->cfg;

	server->listeners = xcalloc(cfg->nlisten, sizeof(*server->listeners));
	for (size_t i = 0; i < cfg->nlisten; i++) {
		server->listeners[i] = listener_open(server, server->cfg, i);
		if (server->listeners[i] == NULL)
			return -1;
		server->nlisteners++;
	}
	probe_start(server);
	return 0;
}

static void
pool_flush(struct server *server)
{
	while (server->npool > 0)
		backend_free(server->pool[--server->npool]);
}

/* A pooled connection that fails or closes just leaves the pool. */
static void
pool_done(void *arg, enum backend_status status, int code, struct evbuffer *reply)
{
	struct server *server = arg;

	for (size_t i = 0; i < server->npool; i++) {
		if (backend_reusable(server->pool[i]))
			continue;
		backend_free(server->pool[i]);
		server->pool[i--] = server->pool[--server->npool];
	}
}

struct backend *
server_backend_take(struct server *server, struct config *cfg, backend_done_fn *done, void *arg)
{
	while (server->npool > 0) {
		struct backend *b = server->pool[--server->npool];

		if (backend_reusable(b) && backend_config(b) == cfg) {
			backend_rebind(b, done, arg);
			return b;
		}
		backend_free(b);
	}
	return backend_new(server, cfg, done, arg);
}

void
server_backend_give(struct server *server, struct backend *b)
{
	if (b == NULL)
		return;
	if (server->stopping || server->npool == SERVER_POOL_SIZE || !backend_reusable(b) ||
	    backend_config(b) != server->cfg) {
		backend_free(b);
		return;
	}
	backend_rebind(b, pool_done, server);
	server->pool[server->npool++] = b;
}

void
server_set_config(struct server *server, struct config *cfg)
{
	config_unref(server->cfg);
	server->cfg = cfg;
	for (size_t i = 0; i < server->nlisteners; i++)
		listener_reconfigure(server->listeners[i], cfg);
	pool_flush(server);
}

void
server_learn_caps(struct server *server, const struct smtp_caps *caps)
{
	server->backend_caps = *caps;
	server->backend_caps_known = 1;
}

static void
probe_retry(evutil_socket_t fd, short what, void *arg)
{
	probe_start(arg);
}

/* Learn the backend's EHLO in advance, so that clients' EHLO is answered at once. */
static void
probe_done(void *arg, enum backend_status status, int code, struct evbuffer *reply)
{
	struct server *server = arg;

	if (status == BACKEND_READY) {
		log_info("event=backend_probe backend=%s status=ok", server->cfg->backend.text);
		backend_command(server->probe, "QUIT", 4);
		return;
	}
	backend_free(server->probe);
	server->probe = NULL;
	if (status != BACKEND_REPLY && !server->stopping) {
		struct timeval retry = {.tv_sec = PROBE_RETRY_SECONDS};

		log_warn("event=backend_probe backend=%s status=failed retry=%ds",
		         server->cfg->backend.text, PROBE_RETRY_SECONDS);
		if (server->probe_timer == NULL)
			server->probe_timer = evtimer_new(server->base, probe_retry, server);
		evtimer_add(server->probe_timer, &retry);
	}
}

static void
probe_start(struct server *server)
{
	if (server->probe != NULL || server->backend_caps_known)
		return;
	server->probe = backend_new(server, server->cfg, probe_done, server);
	backend_prepare(server->probe, NULL);
}

static struct client_count **
client_slot(struct server *server, const char *ip)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = ip; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	struct client_count **slot = &server->per_client[h % server->per_client_size];

	while (*slot != NULL && strcmp((*slot)->ip, ip) != 0)
		slot = &(*slot)->next;
	return slot;
}

static void
refuse(int fd, const char *hostname, const char *ip, const char *why)
{
	char reply[512];
	int n = snprintf(reply, sizeof(reply), "421 4.7.0 %s Error: too many connections\r\n",
	                 hostname);

	log_info("event=refused client=%s reason=\"%s\"", ip, why);
	/* Best effort: the socket is new, so its send buffer has room. */
	if (send(fd, reply, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("event=refuse_send_failed client=%s reason=\"%s\"", ip, strerror(errno));
	close(fd);
}

/* Count one more session for ip; -1 (counted nothing) when that passes the limit. */
static int
client_admit(struct server *server, const char *ip)
{
	unsigned max = server->cfg->limits.max_sessions_per_client;
	struct client_count **slot = client_slot(server, ip);

	if (max > 0 && *slot != NULL && (*slot)->sessions >= max)
		return -1;
	if (*slot == NULL) {
		*slot = xcalloc(1, sizeof(**slot));
		snprintf((*slot)->ip, sizeof((*slot)->ip), "%s", ip);
	}
	(*slot)->sessions++;
	return 0;
}

static void
client_release(struct server *server, const char *ip)
{
	struct client_count **slot = client_slot(server, ip);

	if (*slot != NULL && --(*slot)->sessions == 0) {
		struct client_count *gone = *slot;

		*slot = gone->next;
		free(gone);
	}
}

static int
proxy_trusted(const struct config_listen *listen, const struct sockaddr *sa)
{
	for (size_t i = 0; i < listen->nproxy_from; i++)
		if (cidr_match(&listen->proxy_from[i], sa))
			return 1;
	return 0;
}

void
server_accept(struct server *server, struct listener *listener, int fd, const struct sockaddr *sa,
              socklen_t salen)
{
	const struct config_limits *limits = &server->cfg->limits;
	char ip[INET6_ADDRSTRLEN];
	size_t index;
	struct config *lcfg = listener_entry(listener, &index);
	const struct config_listen *listen = &lcfg->listen[index];

	netaddr_ip(sa, ip, sizeof(ip));
	if (server->stopping) {
		close(fd);
		return;
	}
	if (listen->proxy_protocol && !proxy_trusted(listen, sa)) {
		log_warn("event=proxy_refused listen=%s peer=%s reason=\"not in proxy_from\"",
		         listen->text, ip);
		close(fd);
		return;
	}
	if (limits->max_sessions > 0 && server->nsessions >= limits->max_sessions) {
		refuse(fd, server->cfg->hostname, ip, "limits.max_sessions");
		return;
	}
	/* Behind a load balancer the client is known only from its PROXY header. */
	if (!listen->proxy_protocol && client_admit(server, ip) < 0) {
		refuse(fd, server->cfg->hostname, ip, "limits.max_sessions_per_client");
		return;
	}
	server->nsessions++;
	evutil_make_socket_nonblocking(fd);
	session_new(server, lcfg, index, fd, sa, !listen->proxy_protocol);
}

int
server_admit_client(struct server *server, struct session *s)
{
	if (client_admit(server, s->ip) < 0)
		return -1;
	s->counted = 1;
	return 0;
}

void
server_session_closed(struct server *server, struct session *session)
{
	if (session->counted)
		client_release(server, session->ip);
	server->nsessions--;
	if (server->stopping && server->nsessions == 0)
		event_base_loopexit(server->base, NULL);
}

static void
stop_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct server *server = arg;
	struct session *s, *next;

	log_info("event=shutdown_deadline sessions=%u", server->nsessions);
	for (s = TAILQ_FIRST(&server->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		session_shutdown(s);
	}
	/* Whatever cannot even take its 421 within a second is cut off. */
	struct timeval grace = {.tv_sec = 1};

	event_base_loopexit(server->base, &grace);
}

void
server_stop(struct server *server)
{
	unsigned ms = server->cfg->timeouts.shutdown;
	struct timeval deadline = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	if (server->stopping)
		return;
	server->stopping = 1;
	log_info("event=stopping sessions=%u deadline_ms=%u", server->nsessions, ms);
	close_listeners(server);
	pool_flush(server);
	if (server->probe_timer)
		evtimer_del(server->probe_timer);
	if (server->nsessions == 0) {
		event_base_loopexit(server->base, NULL);
		return;
	}
	server->stop_timer = evtimer_new(server->base, stop_deadline, server);
	evtimer_add(server->stop_timer, &deadline);
}
