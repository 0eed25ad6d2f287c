/*
 * NAME
 *	listener - a listening socket that hands connections to the server
 * SYNOPSIS
 *	See listener.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "policies/config.h"
#include "proxy/listener.h"
#include "proxy/server.h"

#define LISTENER_BACKLOG 1024
#define LISTENER_PAUSE_MS 100

struct listener {
	struct server *server;
	struct evconnlistener *evl;
	struct event *resume;
	char *text;
	struct config *cfg; /* where the settings come from (a reference) */
	size_t index;       /* in cfg->listen */
};

static void
accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;

	server_accept(l->server, l, fd, sa, (socklen_t)salen);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	evconnlistener_enable(l->evl);
}

static void
error_cb(struct evconnlistener *evl, void *arg)
{
	struct listener *l = arg;
	struct timeval pause = {.tv_sec = 0, .tv_usec = LISTENER_PAUSE_MS * 1000};

	log_warn("event=accept_error listen=%s reason=\"%s\"", l->text, strerror(errno));
	evconnlistener_disable(evl);
	evtimer_add(l->resume, &pause);
}

struct listener *
listener_open(struct server *server, struct config *cfg, size_t index)
{
	struct listener *l = xcalloc(1, sizeof(*l));
	const struct config_listen *listen = &cfg->listen[index];

	l->server = server;
	l->text = xstrdup(listen->text);
	l->evl = evconnlistener_new_bind(
	        server->base, accept_cb, l, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
	        LISTENER_BACKLOG, (const struct sockaddr *)&listen->addr.ss, (int)listen->addr.len);
	if (l->evl == NULL) {
		log_err("event=listen_failed listen=%s reason=\"%s\"", listen->text,
		        strerror(errno));
		free(l->text);
		free(l);
		return NULL;
	}
	l->cfg = config_ref(cfg);
	l->index = index;
	evconnlistener_set_error_cb(l->evl, error_cb);
	l->resume = evtimer_new(server->base, resume_cb, l);
	log_info("event=listening listen=%s tls=%s proxy_protocol=%s", listen->text,
	         listen->tls.cert == NULL ? "no"
	         : listen->tls.implicit   ? "implicit"
	                                  : "starttls",
	         listen->proxy_protocol ? "yes" : "no");
	return l;
}

void
listener_reconfigure(struct listener *l, struct config *cfg)
{
	for (size_t i = 0; i < cfg->nlisten; i++) {
		if (strcmp(cfg->listen[i].text, l->text) != 0)
			continue;
		config_unref(l->cfg);
		l->cfg = config_ref(cfg);
		l->index = i;
		return;
	}
	log_warn("event=reload listen=%s note=\"no longer configured; keeps its old settings "
	         "until a restart\"",
	         l->text);
}

struct config *
listener_entry(const struct listener *l, size_t *index)
{
	*index = l->index;
	return l->cfg;
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	evconnlistener_free(l->evl);
	event_free(l->resume);
	config_unref(l->cfg);
	free(l->text);
	free(l);
}
