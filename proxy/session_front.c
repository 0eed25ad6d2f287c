/*
 * NAME
 *	session_front - what comes before and under a session's SMTP: the
 *	PROXY header, implicit TLS and STARTTLS
 * SYNOPSIS
 *	See session_int.h.
 * DESCRIPTION
 *	session_start() begins the dialogue once the connection is ready: on an
 *	implicit TLS listener the handshake comes first, then the greeting.
 *
 *	session_proxy_input() reads a PROXY header on a proxy_protocol
 *	listener, no further than the header (conn_set_read_max), takes the
 *	client's address from it and counts the session for that client.
 *
 *	session_cmd_starttls() answers STARTTLS; TLS starts once the reply is
 *	out (session.c), and session_tls_ready() forgets what the client said
 *	before it (RFC 3207 4.2): HELO, an earlier AUTH, the backend connection
 *	that heard them.
 * DIAGNOSTICS
 *	event=proxy (the balancer and the client) and event=tls (version and
 *	cipher) at info; event=proxy_refused at warning; a client over its
 *	per-client limit at info.
 */
#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "policies/config.h"
#include "proxy/conn.h"
#include "proxy/proxy_proto.h"
#include "proxy/server.h"
#include "proxy/session_int.h"
#include "proxy/tls.h"

/* Implicit TLS first, then the greeting. */
void
session_start(struct session *s)
{
	if (s->listen->tls.implicit && conn_tls_version(s->conn) == NULL) {
		s->wait = W_TLS;
		conn_start_tls(s->conn, tls_listener_ssl(s->lcfg, s->listen_index));
		return;
	}
	s->greeted = 1;
	/* The CONNECT stage sees the real client (a PROXY header's) and may refuse it. */
	session_filter_connect(s);
	conn_flush(s->conn);
}

/* The session ends without a word (a bad PROXY header: the peer is no SMTP client). */
static void
session_drop(struct session *s)
{
	s->state = S_CLOSING;
	conn_read(s->conn, 0);
	conn_when_drained(s->conn);
}

void
session_proxy_input(struct session *s)
{
	struct evbuffer *in = conn_input(s->conn);
	size_t len = evbuffer_get_length(in);
	struct proxy_proto_header h;
	enum proxy_proto_status st = proxy_proto_parse(evbuffer_pullup(in, -1), len, &h);
	char peer[INET6_ADDRSTRLEN + 8];

	if (st == PROXY_PROTO_MORE) {
		conn_set_read_max(s->conn, h.need - len);
		return;
	}
	snprintf(peer, sizeof(peer), "%s:%d", s->ip, s->port);
	if (st == PROXY_PROTO_BAD) {
		log_warn("event=proxy_refused session=%lx peer=%s reason=\"%s\"", s->id, peer,
		         h.error);
		session_drop(s);
		return;
	}
	evbuffer_drain(in, h.length);
	conn_set_read_max(s->conn, 0);
	if (!h.local) {
		netaddr_ip((const struct sockaddr *)&h.src, s->ip, sizeof(s->ip));
		s->port = netaddr_port((const struct sockaddr *)&h.src);
		/* The address the client reached is the balancer's, not ours behind it. */
		netaddr_ip((const struct sockaddr *)&h.dst, s->local_ip, sizeof(s->local_ip));
	}
	log_info("event=proxy session=%lx peer=%s client=%s:%d version=%d%s", s->id, peer, s->ip,
	         s->port, h.version, h.local ? " local=yes" : "");
	s->wait = W_NONE;
	if (server_admit_client(s->server, s) < 0) {
		log_info("event=refused client=%s reason=\"limits.max_sessions_per_client\"",
		         s->ip);
		session_close_after(s, "421 4.7.0 %s Error: too many connections\r\n",
		                    s->cfg->hostname);
		return;
	}
	session_start(s);
}

void
session_cmd_starttls(struct session *s, const struct smtp_cmd *cmd, const char *line, size_t len)
{
	if (!tls_listener_offers(s->lcfg, s->listen_index))
		session_protocol_error(s, "502 5.5.1 Error: command not implemented\r\n");
	else if (conn_tls_version(s->conn) != NULL)
		session_protocol_error(s, "554 5.5.1 Error: TLS already active\r\n");
	else if (cmd->args_len > 0)
		session_protocol_error(s, "501 5.5.4 Syntax: STARTTLS\r\n");
	else if (s->tx != NULL)
		session_protocol_error(s, "503 5.5.1 Error: MAIL transaction in progress\r\n");
	else {
		session_reply(s, "220 2.0.0 Ready to start TLS\r\n");
		/* Nothing more is read: session_process() starts TLS once this line is done. */
		s->wait = W_TLS;
		s->tls_start = 1;
	}
}

void
session_tls_ready(struct session *s)
{
	s->wait = W_NONE;
	log_info("event=tls session=%lx client=%s:%d version=%s cipher=%s", s->id, s->ip, s->port,
	         conn_tls_version(s->conn), conn_tls_cipher(s->conn));
	/* RFC 3207 4.2: all knowledge obtained from the client before TLS is discarded. */
	free(s->helo);
	s->helo = NULL;
	s->esmtp = 0;
	s->authenticated = 0;
	free(s->auth_user);
	s->auth_user = NULL;
	/* The backend heard the old HELO (and login): a fresh XCLIENT tells it the new one. */
	server_backend_give(s->server, s->backend);
	s->backend = NULL;
	if (!s->greeted)
		session_start(s);
	session_continue(s);
}
