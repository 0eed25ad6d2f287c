/*
 * NAME
 *	session_auth - AUTH, relayed to the backend
 * SYNOPSIS
 *	See session_int.h.
 * DESCRIPTION
 *	postern checks no password. session_cmd_auth() opens the backend
 *	connection if there is none (XCLIENT first, so the backend knows the
 *	client), then the AUTH line goes to the backend as it is; each 334
 *	puts the session in S_AUTH, where session_auth_input() passes the
 *	client's next line on unchanged (a line too long or with a bare CR
 *	becomes "*", an abort); session_auth_replied() sees the backend's
 *	answer, and 235 marks the session authenticated.
 *
 *	session_auth_offered() says whether AUTH is offered: the listener
 *	allows it, the backend announced mechanisms, and the client uses TLS
 *	or smtp.auth_over_plaintext is set.
 *
 *	The user name comes from the first response (sasl.h) and counts only
 *	once the backend said 235.
 * DIAGNOSTICS
 *	event=auth at info: the mechanism, the backend's reply code and, after
 *	235, the user. Never a line of the exchange.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "policies/config.h"
#include "proxy/backend.h"
#include "proxy/conn.h"
#include "proxy/sasl.h"
#include "proxy/server.h"
#include "proxy/session_int.h"
#include "proxy/tls.h"

/* AUTH is relayed: the listener and the backend must offer it, over plaintext only if allowed. */
int
session_auth_offered(const struct session *s)
{
	return s->listen->auth && s->server->backend_caps_known &&
	       (s->server->backend_caps.flags & CAP_AUTH) &&
	       s->server->backend_caps.auth_mechs[0] != '\0' &&
	       (conn_tls_version(s->conn) != NULL || s->cfg->auth_over_plaintext);
}

/* The authentication identity, guessed from the first response; confirmed by 235. */
static void
auth_guess(struct session *s, const char *response, size_t len)
{
	char user[256];

	s->auth_first = 0;
	free(s->auth_guess);
	s->auth_guess = NULL;
	if (sasl_user(s->auth_mech, response, len, user, sizeof(user)) == 0)
		s->auth_guess = xstrdup(user);
}

void
session_cmd_auth(struct session *s, const struct smtp_cmd *cmd, const char *line, size_t len)
{
	const char *args = cmd->args, *end = cmd->args + cmd->args_len;
	const char *sp = memchr(args, ' ', cmd->args_len);
	size_t mech_len = sp ? (size_t)(sp - args) : cmd->args_len;

	if (!session_auth_offered(s)) {
		if (conn_tls_version(s->conn) == NULL &&
		    tls_listener_offers(s->lcfg, s->listen_index) &&
		    (s->server->backend_caps.flags & CAP_AUTH))
			session_protocol_error(s,
			                       "530 5.7.0 Must issue a STARTTLS command first\r\n");
		else
			session_protocol_error(s, "502 5.5.1 Error: command not implemented\r\n");
		return;
	}
	if (s->authenticated) {
		session_protocol_error(s, "503 5.5.1 Error: already authenticated\r\n");
		return;
	}
	if (s->tx != NULL) {
		session_protocol_error(s, "503 5.5.1 Error: MAIL transaction in progress\r\n");
		return;
	}
	if (mech_len == 0 || mech_len >= sizeof(s->auth_mech)) {
		session_protocol_error(s, "501 5.5.4 Syntax: AUTH mechanism\r\n");
		return;
	}
	memcpy(s->auth_mech, args, mech_len);
	s->auth_mech[mech_len] = '\0';
	s->auth_first = 1;
	if (sp != NULL)
		auth_guess(s, sp + 1, (size_t)(end - sp - 1));
	s->auth_line = xstrndup(line, len);
	if (s->backend == NULL)
		s->backend = server_backend_take(s->server, s->cfg, session_backend_done, s);
	s->identity = (struct client_identity){
	        .addr = s->ip, .port = s->port, .helo = s->helo, .esmtp = s->esmtp};
	s->wait = W_AUTH;
	backend_prepare(s->backend, &s->identity);
}

/* A client's response to 334, or "*": to the backend as it is, never logged. */
void
session_auth_input(struct session *s, const char *line, size_t len)
{
	s->state = S_COMMAND;
	s->wait = W_AUTH;
	if (s->auth_first)
		auth_guess(s, line, len);
	backend_auth(s->backend, line, len);
}

void
session_auth_replied(struct session *s, int code)
{
	char user[300];

	if (code == 334) {
		s->state = S_AUTH;
		return;
	}
	if (code == 235) {
		s->authenticated = 1;
		s->auth_user = s->auth_guess;
		s->auth_guess = NULL;
	}
	log_info("event=auth session=%lx client=%s:%d mechanism=%s status=%d user=%s", s->id, s->ip,
	         s->port, s->auth_mech, code,
	         code == 235 && s->auth_user
	                 ? log_quote(user, sizeof(user), s->auth_user, strlen(s->auth_user))
	                 : "-");
	free(s->auth_guess);
	s->auth_guess = NULL;
}
