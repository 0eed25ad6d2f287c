/*
 * NAME
 *	listener - a listening socket that hands connections to the server
 * SYNOPSIS
 *	listener_open(server, cfg, index), listener_free(listener)
 *	listener_reconfigure(listener, cfg)
 *	listener_entry(listener, &index)
 * DESCRIPTION
 *	listener_open() binds cfg->listen[index] and listens (SO_REUSEADDR,
 *	non-blocking) and passes every accepted connection to server_accept().
 *	Returns NULL after logging why the address could not be bound.
 *
 *	A listener holds a reference to the configuration its settings (TLS,
 *	PROXY protocol) come from. listener_reconfigure() moves it to a reloaded
 *	configuration that lists the same address; one that no longer lists it
 *	keeps the old settings until a restart closes the socket.
 *	listener_entry() returns that configuration and sets *index to the
 *	listener's entry in its listen list.
 * DIAGNOSTICS
 *	accept() failures (for example EMFILE) are logged; the listener then
 *	pauses for a moment instead of spinning.
 */
#ifndef POSTERN_LISTENER_H
#define POSTERN_LISTENER_H

#include <stddef.h>

struct server;
struct listener;
struct config_listen;

struct config;

struct listener *listener_open(struct server *server, struct config *cfg, size_t index);
void listener_free(struct listener *listener);
void listener_reconfigure(struct listener *listener, struct config *cfg);
struct config *listener_entry(const struct listener *listener, size_t *index);

#endif
