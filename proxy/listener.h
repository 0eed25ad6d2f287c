/*
 * NAME
 *	listener - a listening socket that hands connections to the server
 * SYNOPSIS
 *	listener_open(server, listen), listener_free(listener)
 * DESCRIPTION
 *	listener_open() binds and listens (SO_REUSEADDR, non-blocking) and
 *	passes every accepted connection to server_accept(). Returns NULL after
 *	logging why the address could not be bound.
 * DIAGNOSTICS
 *	accept() failures (for example EMFILE) are logged; the listener then
 *	pauses for a moment instead of spinning.
 */
#ifndef POSTERN_LISTENER_H
#define POSTERN_LISTENER_H

struct server;
struct listener;
struct config_listen;

struct listener *listener_open(struct server *server, const struct config_listen *listen);
void listener_free(struct listener *listener);

#endif
