/*
 * NAME
 *	session - one client's SMTP session, relayed to the backend
 * SYNOPSIS
 *	See session.h.
 * DESCRIPTION
 *	Commands are read one at a time and dispatched through the command
 *	table below. While a command waits for the backend, input stays
 *	buffered: a pipelining client gets its replies in order because the
 *	next command is not even parsed before the current one is answered.
 *
 *	postern answers the greeting, HELO/EHLO, NOOP and RSET itself; the
 *	backend connection is opened at the first MAIL (as Postfix's before-queue
 *	proxy does), which makes idle and rejected sessions cheap. MAIL and RCPT
 *	are relayed verbatim and the backend's replies reach the client
 *	unchanged. An RSET is owed to the backend only when it still holds a
 *	transaction, and is sent lazily before the next MAIL.
 *
 *	STARTTLS is answered by postern (session_front.c); TLS starts here once
 *	that reply is out, and what the client sent after the command is
 *	thrown away unread (conn_start_tls). AUTH (session_auth.c) opens the
 *	backend connection early: the AUTH line and every response to a 334 go
 *	to the backend verbatim and its replies come back unchanged, so the
 *	backend alone authenticates.
 * DIAGNOSTICS
 *	See session.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "common/xalloc.h"
#include "policies/config.h"
#include "proxy/backend.h"
#include "proxy/caps.h"
#include "proxy/conn.h"
#include "proxy/server.h"
#include "proxy/session.h"
#include "proxy/session_int.h"
#include "proxy/smtp_cmd.h"
#include "proxy/spool.h"
#include "proxy/tls.h"
#include "proxy/xclient.h"

/* Pipelined input buffered beyond this waits in the kernel (TCP back-pressure). */
#define SESSION_INPUT_MAX (64 * 1024)
/* A client that sends commands but reads no replies is not served further. */
#define SESSION_OUTPUT_MAX (64 * 1024)

static void session_readcb(struct conn *conn, void *arg);
static void session_drainedcb(struct conn *conn, void *arg);
static void session_eventcb(struct conn *conn, int what, void *arg);
static void session_process(struct session *s);
static void process_input(struct session *s);
static command_fn cmd_helo, cmd_mail, cmd_rcpt, cmd_data, cmd_bdat, cmd_rset, cmd_noop, cmd_quit,
        cmd_not_implemented;

static const struct conn_callbacks session_callbacks = {
        .readable = session_readcb,
        .drained = session_drainedcb,
        .event = session_eventcb,
};

static const struct {
	enum smtp_verb verb;
	int needs_helo; /* 503 before HELO/EHLO */
	command_fn *proceed;
} commands[] = {
        {SMTP_HELO, 0, cmd_helo},
        {SMTP_EHLO, 0, cmd_helo},
        {SMTP_MAIL, 1, cmd_mail},
        {SMTP_RCPT, 1, cmd_rcpt},
        {SMTP_DATA, 1, cmd_data},
        {SMTP_BDAT, 0, cmd_bdat}, /* checks its own state: the chunk must be read anyway */
        {SMTP_RSET, 0, cmd_rset},
        {SMTP_NOOP, 0, cmd_noop},
        {SMTP_QUIT, 0, cmd_quit},
        {SMTP_VRFY, 0, cmd_not_implemented},
        {SMTP_EXPN, 0, cmd_not_implemented},
        {SMTP_HELP, 0, cmd_not_implemented},
        {SMTP_STARTTLS, 0, session_cmd_starttls},
        {SMTP_AUTH, 1, session_cmd_auth},
        {SMTP_XCLIENT, 0, cmd_not_implemented},
        {SMTP_XFORWARD, 0, cmd_not_implemented},
};

struct session *
session_new(struct server *server, struct config *lcfg, size_t index, int fd,
            const struct sockaddr *sa, int counted)
{
	struct session *s = xcalloc(1, sizeof(*s));
	struct sockaddr_storage local;
	socklen_t local_len = sizeof(local);

	s->server = server;
	s->cfg = config_ref(server->cfg);
	s->lcfg = config_ref(lcfg);
	s->listen = &lcfg->listen[index];
	s->listen_index = index;
	s->counted = counted != 0;
	s->id = ++server->next_session_id;
	netaddr_ip(sa, s->ip, sizeof(s->ip));
	s->port = netaddr_port(sa);
	/* The address the client reached: filters check that a HELO does not claim it. */
	if (getsockname(fd, (struct sockaddr *)&local, &local_len) == 0) {
		netaddr_ip((struct sockaddr *)&local, s->local_ip, sizeof(s->local_ip));
		s->local_port = netaddr_port((struct sockaddr *)&local);
	}
	s->conn = conn_new(server->base, fd, &session_callbacks, s);
	conn_set_timeout(s->conn, s->cfg->timeouts.client);
	TAILQ_INSERT_TAIL(&server->sessions, s, entry);
	log_debug("event=connect session=%lx client=%s:%d", s->id, s->ip, s->port);
	if (s->listen->proxy_protocol) {
		/* Read no further than the header: what follows may be a TLS handshake. */
		s->wait = W_PROXY;
		conn_set_read_max(s->conn, 16);
		return s;
	}
	session_start(s);
	return s;
}

void
session_greet(struct session *s)
{
	session_replyf(s, "220 %s ESMTP postern\r\n", s->cfg->hostname);
}

void
transaction_free(struct session *s)
{
	struct transaction *tx = s->tx;

	if (tx == NULL)
		return;
	session_filter_end(s);
	spool_free(tx->spool);
	free(tx->mail_line);
	free(tx->from);
	free(tx->rcpts);
	free(tx->rcpt_line);
	free(tx->mail_params);
	free(tx->rcpt_params);
	free(tx);
	s->tx = NULL;
}

void
session_free(struct session *s)
{
	if (s->tx != NULL)
		session_log_transaction(s, 0, "abandoned", 9);
	transaction_free(s);
	session_filter_close(s);
	server_backend_give(s->server, s->backend);
	conn_free(s->conn);
	log_debug("event=disconnect session=%lx client=%s:%d", s->id, s->ip, s->port);
	TAILQ_REMOVE(&s->server->sessions, s, entry);
	server_session_closed(s->server, s);
	config_unref(s->cfg);
	config_unref(s->lcfg);
	free(s->helo);
	free(s->auth_line);
	free(s->auth_user);
	free(s->auth_guess);
	free(s);
}

void
session_shutdown(struct session *s)
{
	session_close_after(s, "421 4.3.2 %s Error: service shutting down\r\n", s->cfg->hostname);
}

void
session_reply(struct session *s, const char *reply)
{
	evbuffer_add(conn_output(s->conn), reply, strlen(reply));
}

void
session_replyf(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(conn_output(s->conn), fmt, ap);
	va_end(ap);
}

/* Queue a last reply; the session ends once it is written. */
void
session_close_after(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->state == S_CLOSING)
		return;
	va_start(ap, fmt);
	evbuffer_add_vprintf(conn_output(s->conn), fmt, ap);
	va_end(ap);
	s->state = S_CLOSING;
	conn_read(s->conn, 0);
	conn_flush(s->conn);
	/* The session ends from the loop once the reply is out, never inside a caller. */
	conn_when_drained(s->conn);
}

void
session_log_transaction(struct session *s, int status, const char *reply, size_t len)
{
	struct transaction *tx = s->tx;
	struct timespec now;
	char helo[140], from[300], quoted[300];
	size_t first = len;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (size_t i = 0; i < len; i++)
		if (reply[i] == '\r' || reply[i] == '\n') {
			first = i;
			break;
		}
	double secs = (double)(now.tv_sec - tx->started.tv_sec) +
	              (double)(now.tv_nsec - tx->started.tv_nsec) / 1e9;

	char decision[1024], facts[400] = "", user[300];
	const char *tls = conn_tls_version(s->conn);

	decision[0] = '\0';
	session_filter_log(s, decision, sizeof(decision));
	if (tls != NULL)
		snprintf(facts, sizeof(facts), " tls=%s cipher=%s", tls, conn_tls_cipher(s->conn));
	if (s->authenticated)
		snprintf(facts + strlen(facts), sizeof(facts) - strlen(facts), " auth=%s",
		         s->auth_user
		                 ? log_quote(user, sizeof(user), s->auth_user, strlen(s->auth_user))
		                 : "yes");
	log_info("event=transaction session=%lx client=%s:%d helo=%s from=<%s> rcpt=%s nrcpt=%u "
	         "size=%llu status=%d reply=%s duration=%.3f%s%s",
	         s->id, s->ip, s->port,
	         log_quote(helo, sizeof(helo), s->helo ? s->helo : "",
	                   s->helo ? strlen(s->helo) : 0),
	         log_escape(from, sizeof(from), tx->from, strlen(tx->from)),
	         tx->rcpts ? tx->rcpts : "-", tx->nrcpt, tx->size, status,
	         log_quote(quoted, sizeof(quoted), reply, first), secs, facts, decision);
}

void
session_protocol_error(struct session *s, const char *reply)
{
	session_reply(s, reply);
	if (++s->errors >= s->cfg->limits.max_errors && s->cfg->limits.max_errors > 0) {
		log_info("event=too_many_errors session=%lx client=%s:%d errors=%u", s->id, s->ip,
		         s->port, s->errors);
		session_close_after(s, "421 4.7.0 %s Error: too many errors\r\n", s->cfg->hostname);
	}
}

static void
cmd_not_implemented(struct session *s, const struct smtp_cmd *cmd, const char *line, size_t len)
{
	session_protocol_error(s, "502 5.5.1 Error: command not implemented\r\n");
}

static void
cmd_noop(struct session *s, const struct smtp_cmd *cmd, const char *line, size_t len)
{
	session_reply(s, "250 2.0.0 Ok\r\n");
}

static void
cmd_rset(struct session *s, const struct smtp_cmd *cmd, const char *line, size_t len)
{
	if (s->tx != NULL)
		session_log_transaction(s, 0, "reset", 5);
	transaction_free(s);
	session_reply(s, "250 2.0.0 Ok\r\n");
}

static void
cmd_quit(struct session *s, const struct smtp_cmd *cmd, const char *line, size_t len)
{
	session_close_after(s, "221 2.0.0 Bye\r\n");
}

static void
cmd_helo(struct session *s, const struct smtp_cmd *cmd, const char *line, size_t len)
{
	const char *arg = cmd->args;
	size_t n = cmd->args_len;

	while (n > 0 && arg[n - 1] == ' ')
		n--;
	if (n == 0) {
		session_protocol_error(s, cmd->verb == SMTP_EHLO
		                                  ? "501 5.5.4 Syntax: EHLO hostname\r\n"
		                                  : "501 5.5.4 Syntax: HELO hostname\r\n");
		return;
	}
	/* HELO/EHLO ends any transaction (RFC 5321 4.1.4). */
	if (s->tx != NULL)
		session_log_transaction(s, 0, "reset", 5);
	transaction_free(s);
	free(s->helo);
	s->helo = xstrndup(arg, n);
	s->esmtp = cmd->verb == SMTP_EHLO;
	session_filter_helo(s);
}

/* The HELO/EHLO reply, once the HELO stage let it through. */
void
session_helo_reply(struct session *s)
{
	if (!s->esmtp) {
		session_replyf(s, "250 %s\r\n", s->cfg->hostname);
		return;
	}
	static const struct smtp_caps none;
	struct caps_front front = {
	        .starttls = tls_listener_offers(s->lcfg, s->listen_index) &&
	                    conn_tls_version(s->conn) == NULL,
	        .auth_mechs = session_auth_offered(s) ? s->server->backend_caps.auth_mechs : NULL,
	};

	caps_front_ehlo(s->server->backend_caps_known ? &s->server->backend_caps : &none,
	                s->cfg->limits.max_message_size, s->cfg->hostname, &front,
	                conn_output(s->conn));
}

/* The SIZE= a client declares may already tell us the message is too large. */
static int
declared_size_too_large(const struct session *s, const struct smtp_cmd *cmd)
{
	const char *p = cmd->params, *end = cmd->params + cmd->params_len;
	struct smtp_param param;

	while (smtp_param_next(&p, end, &param) == 1) {
		if (param.key_len != 4 || strncasecmp(param.key, "SIZE", 4) != 0 || !param.value)
			continue;
		unsigned long long size = 0;

		for (size_t i = 0; i < param.value_len; i++) {
			if (param.value[i] < '0' || param.value[i] > '9')
				return 0;
			if (size > (~0ULL - 9) / 10)
				return 1;
			size = size * 10 + (unsigned)(param.value[i] - '0');
		}
		return s->cfg->limits.max_message_size > 0 &&
		       size > s->cfg->limits.max_message_size;
	}
	return 0;
}

static void
cmd_mail(struct session *s, const struct smtp_cmd *cmd, const char *line, size_t len)
{
	if (s->tx != NULL) {
		session_protocol_error(s, "503 5.5.1 Error: nested MAIL command\r\n");
		return;
	}
	if (declared_size_too_large(s, cmd)) {
		session_reply(s, "552 5.3.4 Error: message size exceeds limit\r\n");
		return;
	}
	struct transaction *tx = xcalloc(1, sizeof(*tx));

	clock_gettime(CLOCK_MONOTONIC, &tx->started);
	tx->mail_line = xstrndup(line, len);
	tx->from = xstrndup(cmd->path, cmd->path_len);
	s->tx = tx;
	if (s->backend == NULL)
		s->backend = server_backend_take(s->server, s->cfg, session_backend_done, s);

	tx->identity = (struct client_identity){
	        .addr = s->ip, .port = s->port, .helo = s->helo, .esmtp = s->esmtp};
	session_filter_mail(s);
}

static void
cmd_rcpt(struct session *s, const struct smtp_cmd *cmd, const char *line, size_t len)
{
	struct transaction *tx = s->tx;

	if (tx == NULL) {
		session_protocol_error(s, "503 5.5.1 Error: need MAIL command\r\n");
		return;
	}
	if (tx->nrcpt >= s->cfg->limits.max_recipients) {
		session_reply(s, "452 4.5.3 Error: too many recipients\r\n");
		return;
	}
	tx->nrcpt_tried++;
	free(tx->rcpt_line);
	tx->rcpt_line = xstrndup(cmd->path, cmd->path_len);
	session_filter_rcpt(s, line, len);
}

static void
cmd_data(struct session *s, const struct smtp_cmd *cmd, const char *line, size_t len)
{
	struct transaction *tx = s->tx;

	if (cmd->args_len > 0)
		session_protocol_error(s, "501 5.5.4 Syntax: DATA\r\n");
	else if (tx == NULL)
		session_protocol_error(s, "503 5.5.1 Error: need MAIL command\r\n");
	else if (tx->bdat_used)
		session_protocol_error(s, "503 5.5.1 Error: DATA after BDAT\r\n");
	else if (tx->nrcpt_tried == 0)
		session_protocol_error(s, "503 5.5.1 Error: need RCPT command\r\n");
	else if (tx->nrcpt == 0)
		session_reply(s, "554 5.5.1 Error: no valid recipients\r\n");
	else
		session_data_begin(s);
}

static void
cmd_bdat(struct session *s, const struct smtp_cmd *cmd, const char *line, size_t len)
{
	if (session_bdat_begin(s, cmd) < 0)
		/* Without a valid size the chunk cannot be skipped: the session is lost. */
		session_close_after(s, "501 5.5.4 Syntax: BDAT count [LAST]\r\n");
}

static void
dispatch(struct session *s, const char *line, size_t len)
{
	struct smtp_cmd cmd;
	enum smtp_cmd_status st;

	/* A CR inside a command could end it early at a backend that splits on CR. */
	if (memchr(line, '\r', len) != NULL) {
		session_protocol_error(s, "500 5.5.2 Error: bare <CR> received\r\n");
		return;
	}
	st = smtp_cmd_parse(line, len, &cmd);
	if (st != SMTP_CMD_OK) {
		session_protocol_error(s, smtp_cmd_error_reply(st, cmd.verb));
		return;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (commands[i].verb != cmd.verb)
			continue;
		if (commands[i].needs_helo && s->helo == NULL)
			session_protocol_error(s, "503 5.5.1 Error: send HELO/EHLO first\r\n");
		else
			commands[i].proceed(s, &cmd, line, len);
		return;
	}
	session_protocol_error(s, "500 5.5.2 Error: command not recognized\r\n");
}

/*
 * Read and answer commands until one must wait for the backend or input runs
 * out. A backend reply can arrive synchronously from inside a command (a
 * failure found at once); the outer loop then goes on by itself.
 */
void
session_continue(struct session *s)
{
	session_process(s);
}

static void
session_process(struct session *s)
{
	if (s->processing)
		return;
	if (s->wait == W_PROXY) {
		session_proxy_input(s);
		return;
	}
	s->processing = 1;
	process_input(s);
	s->processing = 0;
	if (s->tls_start && s->state != S_CLOSING) {
		s->tls_start = 0;
		conn_start_tls(s->conn, tls_listener_ssl(s->lcfg, s->listen_index));
		return;
	}
	if (s->state != S_CLOSING && s->wait != W_TLS) {
		/* Pipelined input beyond the limit waits in the kernel. */
		conn_read(s->conn, evbuffer_get_length(conn_input(s->conn)) < SESSION_INPUT_MAX);
		conn_flush(s->conn);
	}
}

static void
process_input(struct session *s)
{
	struct evbuffer *in = conn_input(s->conn);
	struct evbuffer *out = conn_output(s->conn);
	size_t max = s->cfg->limits.max_command_line;

	while (s->wait == W_NONE && s->state != S_CLOSING &&
	       evbuffer_get_length(out) < SESSION_OUTPUT_MAX) {
		if (s->state == S_DATA || s->state == S_BDAT) {
			if (!session_data_input(s))
				return;
			continue;
		}
		size_t eol_len;
		struct evbuffer_ptr eol =
		        evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);

		if (eol.pos < 0) {
			/* An overlong line is dropped as it arrives, then answered once. */
			if (evbuffer_get_length(in) >= max) {
				s->skip_line = 1;
				evbuffer_drain(in, evbuffer_get_length(in));
			}
			return;
		}
		size_t n = (size_t)eol.pos;

		if (s->skip_line || n + eol_len > max) {
			s->skip_line = 0;
			evbuffer_drain(in, n + eol_len);
			/* Mid-exchange the backend waits for an answer: the client's is "*". */
			if (s->state == S_AUTH)
				session_auth_input(s, "*", 1);
			else
				session_protocol_error(s, "500 5.5.2 Error: line too long\r\n");
			continue;
		}
		const char *line = (const char *)evbuffer_pullup(in, (ssize_t)(n + eol_len));

		if (s->state != S_AUTH)
			dispatch(s, line, n);
		else if (memchr(line, '\r', n) == NULL)
			session_auth_input(s, line, n);
		else /* a bare CR is no base64, and could split the line at the backend */
			session_auth_input(s, "*", 1);
		evbuffer_drain(in, n + eol_len);
	}
}

void
session_backend_done(void *arg, enum backend_status status, int code, struct evbuffer *reply)
{
	struct session *s = arg;
	struct transaction *tx = s->tx;
	enum session_wait wait = s->wait;

	switch (status) {
	case BACKEND_READY:
		if (wait == W_AUTH) {
			backend_auth(s->backend, s->auth_line, strlen(s->auth_line));
			free(s->auth_line);
			s->auth_line = NULL;
			return;
		}
		if (wait == W_RESEND) {
			session_filter_resend_ready(s);
			return;
		}
		s->wait = W_MAIL;
		backend_command(s->backend, tx->mail_line, strlen(tx->mail_line));
		return;
	case BACKEND_UNAVAILABLE:
		s->wait = W_NONE;
		free(s->auth_line);
		s->auth_line = NULL;
		session_reply(s, "451 4.4.1 Error: backend not available\r\n");
		transaction_free(s);
		break;
	case BACKEND_LOST:
	case BACKEND_TIMEOUT:
		s->wait = W_NONE;
		if (tx != NULL)
			session_log_transaction(s, 421, "lost connection to backend", 26);
		transaction_free(s);
		backend_free(s->backend);
		s->backend = NULL;
		session_close_after(s, "421 4.4.2 %s Error: %s\r\n", s->cfg->hostname,
		                    status == BACKEND_TIMEOUT ? "backend timed out"
		                                              : "lost connection to backend");
		return;
	case BACKEND_REPLY: {
		size_t len = evbuffer_get_length(reply);
		int positive = code >= 200 && code < 300;

		s->wait = W_NONE;
		if (wait == W_RESEND) {
			session_filter_resend_step(s, code, reply);
			break;
		}
		if (wait == W_AUTH) {
			session_auth_replied(s, code);
			evbuffer_add_buffer(conn_output(s->conn), reply);
			break;
		}
		if (wait == W_MESSAGE) {
			session_log_transaction(s, code, (const char *)evbuffer_pullup(reply, -1),
			                        len);
			transaction_free(s);
		} else if (wait == W_MAIL && !positive) {
			transaction_free(s);
		} else if (wait == W_RCPT && positive) {
			char rcpt[300];
			size_t old = tx->rcpts ? strlen(tx->rcpts) : 0;
			size_t add;

			log_escape(rcpt, sizeof(rcpt), tx->rcpt_line, strlen(tx->rcpt_line));
			add = strlen(rcpt);
			tx->rcpts = xrealloc(tx->rcpts, old + add + 4);
			snprintf(tx->rcpts + old, add + 4, "%s<%s>", old ? "," : "", rcpt);
			tx->nrcpt++;
			session_filter_accepted_rcpt(s);
		}
		evbuffer_add_buffer(conn_output(s->conn), reply);
		break;
	}
	}
	session_process(s);
}

static void
session_readcb(struct conn *conn, void *arg)
{
	session_process(arg);
}

static void
session_drainedcb(struct conn *conn, void *arg)
{
	struct session *s = arg;

	if (s->state == S_CLOSING) {
		session_free(s);
		return;
	}
	/* The output was full: commands may be waiting. */
	session_process(s);
}

static void
session_eventcb(struct conn *conn, int what, void *arg)
{
	struct session *s = arg;

	if (what == CONN_TLS_READY) {
		session_tls_ready(s);
		return;
	}
	/* Before the greeting there is nobody to say 421 to. */
	if (s->wait == W_TLS || s->wait == W_PROXY) {
		log_info("event=%s session=%lx client=%s:%d reason=\"%s\"",
		         s->wait == W_TLS ? "tls_failed" : "proxy_failed", s->id, s->ip, s->port,
		         what == CONN_TIMEOUT ? "timeout"
		         : conn_error(conn)   ? conn_error(conn)
		         : what == CONN_EOF   ? "connection closed"
		                              : strerror(errno));
		session_free(s);
		return;
	}
	if (what == CONN_TIMEOUT && s->state != S_CLOSING) {
		/* A client waiting for the backend is not idle. */
		if (s->wait != W_NONE)
			return;
		log_info("event=timeout session=%lx client=%s:%d", s->id, s->ip, s->port);
		session_close_after(s, "421 4.4.2 %s Error: timeout exceeded\r\n",
		                    s->cfg->hostname);
		return;
	}
	if (s->state != S_CLOSING && s->tx == NULL)
		log_debug("event=client_gone session=%lx client=%s:%d", s->id, s->ip, s->port);
	session_free(s);
}
