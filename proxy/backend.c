/*
 * NAME
 *	backend - one SMTP client connection from postern to the backend
 * SYNOPSIS
 *	See backend.h.
 * DESCRIPTION
 *	A small state machine on a conn (conn.h). One command is
 *	outstanding at a time, so a reply always belongs to the state that sent
 *	its command. The setup steps (greeting, EHLO, STARTTLS and EHLO again,
 *	XCLIENT, RSET, XFORWARD)
 *	are chosen by prepare_next() from what is already done, so a reused
 *	connection skips straight to what the next transaction needs.
 * DIAGNOSTICS
 *	Logs (warning) why the backend could not be used: connect failure, a
 *	negative greeting, a refused XCLIENT/XFORWARD, a timeout, a malformed
 *	reply. The session turns these into SMTP replies.
 */
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "policies/config.h"
#include "proxy/backend.h"
#include "proxy/caps.h"
#include "proxy/conn.h"
#include "proxy/server.h"
#include "proxy/smtp_reply.h"
#include "proxy/spool.h"
#include "proxy/tls.h"
#include "proxy/xclient.h"

/* A reply line longer than this is not SMTP (RFC 5321 allows 512). */
#define BACKEND_MAX_LINE 65536
/* How much dot-stuffed content is queued ahead of the socket. */
#define BACKEND_STUFF_AHEAD (256 * 1024)
#define BACKEND_STUFF_BLOCK (64 * 1024)
/*
 * An idle backend holding our transaction hears a NOOP this often, so that a
 * slow client's long DATA does not outlast the backend's own idle timeout
 * (Postfix: smtpd_timeout, 300s). One that holds none is closed instead.
 */
#define BACKEND_KEEPALIVE_MS 60000

enum backend_state {
	B_CLOSED,
	B_CONNECTING,
	B_GREETING,
	B_EHLO,
	B_STARTTLS,
	B_TLS, /* the handshake runs */
	B_XCLIENT,
	B_RSET,
	B_XFORWARD,
	B_IDLE,
	B_COMMAND,
	B_NOOP, /* a keepalive while the client is slow */
	B_DATA,
	B_MESSAGE,
};

struct backend {
	struct server *server;
	struct config *cfg;
	backend_done_fn *done;
	void *arg;
	struct conn *conn;
	enum backend_state state;
	struct smtp_reply_reader rr;
	struct evbuffer *reply;
	struct smtp_caps caps; /* from this connection's last EHLO */
	const struct client_identity *client;
	unsigned ehlo_done : 1;
	unsigned xclient_sent : 1;
	unsigned xforward_sent : 1;
	unsigned in_transaction : 1;
	unsigned command_is_mail : 1;
	unsigned command_is_rset : 1;
	unsigned command_is_auth : 1;
	unsigned sasl : 1;          /* the backend said 334: the client's answer is owed */
	unsigned authenticated : 1; /* the backend said 235: this connection is the client's */
	unsigned tls_on : 1;
	unsigned tls_skipped : 1; /* opportunistic, and the backend has no STARTTLS */
	unsigned
	        tls_broken : 1; /* opportunistic, and STARTTLS or its handshake failed: plaintext */
	unsigned stuffing : 1;
	unsigned at_line_start : 1;
	unsigned pending; /* XCLIENT/XFORWARD lines still to be answered */
	struct spool *spool;
	size_t spool_offset;
	struct evbuffer *prefix;      /* headers postern adds in front of the message */
	char *deferred_line;          /* a command that came during a keepalive NOOP */
	struct spool *deferred_spool; /* a message that came during a keepalive NOOP */
	char error[160];
};

static void backend_readcb(struct conn *conn, void *arg);
static void backend_drainedcb(struct conn *conn, void *arg);
static void backend_eventcb(struct conn *conn, int what, void *arg);

static const struct conn_callbacks backend_callbacks = {
        .readable = backend_readcb,
        .drained = backend_drainedcb,
        .event = backend_eventcb,
};
static void prepare_next(struct backend *b);
static void prepare_failed(struct backend *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void backend_close(struct backend *b);
static void send_line(struct backend *b, unsigned timeout_ms, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void stuff_more(struct backend *b);
static void lost(struct backend *b, enum backend_status status, const char *why);

struct backend *
backend_new(struct server *server, struct config *cfg, backend_done_fn *done, void *arg)
{
	struct backend *b = xcalloc(1, sizeof(*b));

	b->server = server;
	b->cfg = config_ref(cfg);
	b->done = done;
	b->arg = arg;
	b->reply = evbuffer_new();
	b->prefix = evbuffer_new();
	if (b->reply == NULL || b->prefix == NULL)
		fatal("event=out_of_memory what=evbuffer");
	return b;
}

void
backend_free(struct backend *b)
{
	if (b == NULL)
		return;
	backend_close(b);
	evbuffer_free(b->reply);
	evbuffer_free(b->prefix);
	config_unref(b->cfg);
	free(b);
}

int
backend_in_transaction(const struct backend *b)
{
	return b->in_transaction;
}

int
backend_reusable(const struct backend *b)
{
	return b->conn != NULL && b->state == B_IDLE && !b->in_transaction && !b->sasl &&
	       !b->authenticated;
}

void
backend_rebind(struct backend *b, backend_done_fn *done, void *arg)
{
	b->done = done;
	b->arg = arg;
	b->client = NULL;
	b->xclient_sent = b->xforward_sent = 0;
}

const struct config *
backend_config(const struct backend *b)
{
	return b->cfg;
}

const char *
backend_last_error(const struct backend *b)
{
	return b->error;
}

static void
backend_close(struct backend *b)
{
	conn_free(b->conn);
	b->conn = NULL;
	b->state = B_CLOSED;
	b->ehlo_done = b->xclient_sent = b->xforward_sent = b->in_transaction = 0;
	b->sasl = b->authenticated = b->tls_on = b->tls_skipped = 0;
	b->stuffing = 0;
	b->spool = NULL;
	b->deferred_spool = NULL;
	free(b->deferred_line);
	b->deferred_line = NULL;
	evbuffer_drain(b->reply, evbuffer_get_length(b->reply));
	evbuffer_drain(b->prefix, evbuffer_get_length(b->prefix));
}

static void
set_read_timeout(struct backend *b, unsigned ms)
{
	conn_set_timeout(b->conn, ms);
}

static void
go_idle(struct backend *b)
{
	unsigned reply = b->cfg->timeouts.backend_reply;

	b->state = B_IDLE;
	set_read_timeout(b, reply < BACKEND_KEEPALIVE_MS ? reply : BACKEND_KEEPALIVE_MS);
}

static void
send_line(struct backend *b, unsigned timeout_ms, const char *fmt, ...)
{
	struct evbuffer *out = conn_output(b->conn);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
	smtp_reply_reset(&b->rr);
	set_read_timeout(b, timeout_ms);
	conn_flush(b->conn);
}

static void
finish(struct backend *b, enum backend_status status, int code)
{
	/* The caller may free b from inside done(): nothing may follow this call. */
	b->done(b->arg, status, code, b->reply);
}

static void
prepare_failed(struct backend *b, const char *fmt, ...)
{
	va_list ap;

	char quoted[2 * sizeof(b->error)];

	va_start(ap, fmt);
	vsnprintf(b->error, sizeof(b->error), fmt, ap);
	va_end(ap);
	log_warn("event=backend_unavailable backend=%s reason=%s", b->cfg->backend.text,
	         log_quote(quoted, sizeof(quoted), b->error, strlen(b->error)));
	backend_close(b);
	finish(b, BACKEND_UNAVAILABLE, 0);
}

void
backend_prepare(struct backend *b, const struct client_identity *client)
{
	b->client = client;
	b->error[0] = '\0';
	prepare_next(b);
}

static int
backend_connect(struct backend *b)
{
	const struct netaddr *addr = &b->cfg->backend.addr;

	b->conn = conn_new(b->server->base, -1, &backend_callbacks, b);
	conn_set_timeout(b->conn, b->cfg->timeouts.backend_connect);
	b->state = B_CONNECTING;
	smtp_reply_reset(&b->rr);
	return conn_connect(b->conn, (const struct sockaddr *)&addr->ss, addr->len);
}

/* The capabilities to decide by: this connection's, else those learned in advance. */
static const struct smtp_caps *
known_caps(const struct backend *b)
{
	if (b->ehlo_done)
		return &b->caps;
	return b->server->backend_caps_known ? &b->server->backend_caps : NULL;
}

/* STARTTLS is still to be done on this connection (EHLO first, to see it offered). */
static int
tls_pending(const struct backend *b)
{
	return b->cfg->backend.tls != BACKEND_TLS_OFF && !b->tls_on && !b->tls_skipped &&
	       !(b->tls_broken && b->cfg->backend.tls == BACKEND_TLS_OPPORTUNISTIC);
}

static int
want_xclient(const struct backend *b)
{
	const struct smtp_caps *caps = known_caps(b);
	enum xclient_mode mode = b->cfg->backend.xclient;

	if (b->client == NULL || b->xclient_sent || caps == NULL || tls_pending(b))
		return 0;
	return (mode == XCLIENT_AUTO || mode == XCLIENT_XCLIENT) && (caps->flags & CAP_XCLIENT);
}

static int
want_xforward(const struct backend *b)
{
	enum xclient_mode mode = b->cfg->backend.xclient;

	if (b->client == NULL || b->xclient_sent || b->xforward_sent)
		return 0;
	return (mode == XCLIENT_AUTO || mode == XCLIENT_XFORWARD) && (b->caps.flags & CAP_XFORWARD);
}

/* The name we give in EHLO: after XCLIENT the client's own, when it is a sane token. */
static const char *
ehlo_name(const struct backend *b)
{
	const char *helo = b->client != NULL && b->xclient_sent ? b->client->helo : NULL;

	if (helo == NULL || *helo == '\0' || strlen(helo) > 255)
		return b->cfg->hostname;
	for (const char *p = helo; *p; p++)
		if (!isgraph((unsigned char)*p))
			return b->cfg->hostname;
	return helo;
}

static void
prepare_next(struct backend *b)
{
	enum xclient_mode mode = b->cfg->backend.xclient;
	unsigned reply_ms = b->cfg->timeouts.backend_reply;

	if (b->conn == NULL) {
		if (backend_connect(b) < 0)
			prepare_failed(b, "connect: %s", strerror(errno));
		return;
	}
	/* XCLIENT may come before EHLO when we already know the backend takes it. */
	if (want_xclient(b)) {
		b->state = B_XCLIENT;
		b->pending = (unsigned)xclient_build(conn_output(b->conn), "XCLIENT",
		                                     known_caps(b)->xclient_attrs, b->client);
		if (b->pending == 0) {
			prepare_failed(b, "backend offers XCLIENT without attributes");
			return;
		}
		smtp_reply_reset(&b->rr);
		set_read_timeout(b, reply_ms);
		conn_flush(b->conn);
		return;
	}
	if (!b->ehlo_done) {
		b->state = B_EHLO;
		send_line(b, reply_ms, "EHLO %s", ehlo_name(b));
		return;
	}
	if (tls_pending(b)) {
		if (b->caps.flags & CAP_STARTTLS) {
			b->state = B_STARTTLS;
			send_line(b, reply_ms, "STARTTLS");
			return;
		}
		if (b->cfg->backend.tls == BACKEND_TLS_REQUIRED) {
			prepare_failed(b,
			               "backend does not offer STARTTLS (backend.tls: required)");
			return;
		}
		b->tls_skipped = 1;
		server_learn_caps(b->server, &b->caps);
	}
	if (b->client != NULL && !b->xclient_sent && !b->xforward_sent &&
	    ((mode == XCLIENT_XCLIENT && !(b->caps.flags & CAP_XCLIENT)) ||
	     (mode == XCLIENT_XFORWARD && !(b->caps.flags & CAP_XFORWARD)))) {
		prepare_failed(b, "backend does not offer %s (backend.xclient: %s)",
		               mode == XCLIENT_XCLIENT ? "XCLIENT" : "XFORWARD",
		               mode == XCLIENT_XCLIENT ? "xclient" : "xforward");
		return;
	}
	if (b->in_transaction) {
		b->state = B_RSET;
		send_line(b, reply_ms, "RSET");
		return;
	}
	if (want_xforward(b)) {
		b->state = B_XFORWARD;
		smtp_reply_reset(&b->rr);
		b->pending = (unsigned)xclient_build(conn_output(b->conn), "XFORWARD",
		                                     b->caps.xforward_attrs, b->client);
		if (b->pending == 0) {
			prepare_failed(b, "backend offers XFORWARD without attributes");
			return;
		}
		set_read_timeout(b, reply_ms);
		conn_flush(b->conn);
		return;
	}
	go_idle(b);
	finish(b, BACKEND_READY, 0);
}

void
backend_command(struct backend *b, const char *line, size_t len)
{
	if (b->state == B_NOOP) {
		b->deferred_line = xstrndup(line, len);
		return;
	}
	b->command_is_mail = len >= 4 && strncasecmp(line, "MAIL", 4) == 0;
	b->command_is_rset = len >= 4 && strncasecmp(line, "RSET", 4) == 0;
	b->command_is_auth = 0;
	b->state = B_COMMAND;
	send_line(b, b->cfg->timeouts.backend_reply, "%.*s", (int)len, line);
}

void
backend_auth(struct backend *b, const char *line, size_t len)
{
	/* Never a keepalive here: AUTH comes only outside a transaction, before 235. */
	b->command_is_mail = b->command_is_rset = 0;
	b->command_is_auth = 1;
	b->state = B_COMMAND;
	send_line(b, b->cfg->timeouts.backend_reply, "%.*s", (int)len, line);
}

void
backend_message(struct backend *b, struct evbuffer *headers, struct spool *spool, size_t skip)
{
	if (headers != NULL)
		evbuffer_add_buffer(b->prefix, headers);
	if (b->state == B_NOOP) {
		b->deferred_spool = spool;
		b->spool_offset = skip;
		return;
	}
	size_t size = evbuffer_get_length(b->prefix) + spool_size(spool) - skip;

	b->spool = spool;
	b->spool_offset = skip;
	if (b->caps.flags & CAP_CHUNKING) {
		struct evbuffer *out = conn_output(b->conn);

		b->state = B_MESSAGE;
		smtp_reply_reset(&b->rr);
		set_read_timeout(b, b->cfg->timeouts.backend_data);
		evbuffer_add_printf(out, "BDAT %zu LAST\r\n", size);
		evbuffer_add_buffer(out, b->prefix);
		if (spool_add_to(spool, skip, out) < 0) {
			snprintf(b->error, sizeof(b->error), "spool: %s", strerror(errno));
			log_warn("event=spool_error reason=\"%s\"", b->error);
			backend_close(b);
			finish(b, BACKEND_LOST, 0);
			return;
		}
		conn_flush(b->conn);
		return;
	}
	b->state = B_DATA;
	send_line(b, b->cfg->timeouts.backend_reply, "DATA");
}

/* Append data to out with a dot before every line that starts with one. */
static void
stuff(struct backend *b, struct evbuffer *out, const char *data, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		if (b->at_line_start && data[i] == '.') {
			evbuffer_add(out, data + start, i - start);
			evbuffer_add(out, ".", 1);
			start = i;
		}
		b->at_line_start = data[i] == '\n';
	}
	evbuffer_add(out, data + start, n - start);
}

/* DATA needs the content dot-stuffed; do it a block at a time as the socket drains. */
static void
stuff_more(struct backend *b)
{
	struct evbuffer *out = conn_output(b->conn);
	size_t size = spool_size(b->spool);
	char block[BACKEND_STUFF_BLOCK];

	while (b->stuffing && evbuffer_get_length(out) < BACKEND_STUFF_AHEAD) {
		if (b->spool_offset >= size) {
			char last = '\n';

			if (size > 0)
				spool_read(b->spool, size - 1, &last, 1);
			/* RFC 3030 3.2: content that does not end in CRLF gets one. */
			evbuffer_add(out, last == '\n' ? ".\r\n" : "\r\n.\r\n",
			             last == '\n' ? 3 : 5);
			b->stuffing = 0;
			conn_flush(b->conn);
			return;
		}
		ssize_t n = spool_read(b->spool, b->spool_offset, block, sizeof(block));

		if (n <= 0) {
			snprintf(b->error, sizeof(b->error), "spool read: %s",
			         n < 0 ? strerror(errno) : "short file");
			log_warn("event=spool_error reason=\"%s\"", b->error);
			backend_close(b);
			finish(b, BACKEND_LOST, 0);
			return;
		}
		b->spool_offset += (size_t)n;
		stuff(b, out, block, (size_t)n);
		/*
		 * What the socket does not take now is followed, once drained, by
		 * more. The last block waits for the terminator: one write, or Nagle
		 * would hold a lone ".\r\n" for the peer's delayed ACK.
		 */
		if (b->spool_offset < size)
			conn_flush(b->conn);
	}
}

static void
backend_drainedcb(struct conn *conn, void *arg)
{
	struct backend *b = arg;

	if (b->stuffing)
		stuff_more(b);
}

/* A complete reply arrived; returns 1 when the caller may read on (setup steps). */
static int
handle_reply(struct backend *b, int code)
{
	int positive = code >= 200 && code < 400;
	size_t len = evbuffer_get_length(b->reply);
	const char *text = (const char *)evbuffer_pullup(b->reply, -1);
	/* For the log: the reply's first line, without CRLF (the reader checked its bytes). */
	const char *eol = memchr(text, '\r', len);
	char quoted[120];

	snprintf(quoted, sizeof(quoted), "%.*s", (int)(eol ? eol - text : (ptrdiff_t)len), text);

	switch (b->state) {
	case B_GREETING:
		if (code != 220) {
			prepare_failed(b, "greeting %s", quoted);
			return 0;
		}
		break;
	case B_EHLO:
		if (code != 250) {
			prepare_failed(b, "EHLO rejected: %s", quoted);
			return 0;
		}
		memset(&b->caps, 0, sizeof(b->caps));
		/* Every line but the first (the server's name) is one keyword. */
		for (const char *p = memchr(text, '\n', len); p && p + 1 < text + len;) {
			const char *line = p + 1;
			const char *end = memchr(line, '\r', (size_t)(text + len - line));

			if (end == NULL)
				break;
			if (end - line > 4)
				caps_parse_line(&b->caps, line + 4, (size_t)(end - line - 4));
			p = end + 1;
		}
		b->ehlo_done = 1;
		/* The EHLO before STARTTLS is not the one the session will see. */
		if (!tls_pending(b))
			server_learn_caps(b->server, &b->caps);
		break;
	case B_STARTTLS:
		if (code != 220 && b->cfg->backend.tls == BACKEND_TLS_REQUIRED) {
			prepare_failed(b, "STARTTLS refused: %s (backend.tls: required)", quoted);
			return 0;
		}
		evbuffer_drain(b->reply, len);
		if (code != 220) {
			b->tls_skipped = 1;
			server_learn_caps(b->server, &b->caps);
			break;
		}
		b->state = B_TLS;
		conn_start_tls(b->conn, tls_backend_ssl(b->cfg));
		return 0;
	case B_XCLIENT:
		/* Postfix greets again (220); smtp-sink says 250. */
		if (code < 200 || code > 299) {
			prepare_failed(b,
			               "XCLIENT refused: %s (let postern's address use XCLIENT, "
			               "e.g. Postfix smtpd_authorized_xclient_hosts)",
			               quoted);
			return 0;
		}
		evbuffer_drain(b->reply, len);
		if (--b->pending > 0)
			return 1;
		/* XCLIENT starts a new SMTP session: EHLO again. */
		b->xclient_sent = 1;
		b->ehlo_done = 0;
		break;
	case B_RSET:
		if (code != 250) {
			prepare_failed(b, "RSET refused: %s", quoted);
			return 0;
		}
		b->in_transaction = 0;
		b->xforward_sent = 0;
		break;
	case B_XFORWARD:
		if (code != 250) {
			prepare_failed(b,
			               "XFORWARD refused: %s (let postern's address use XFORWARD, "
			               "e.g. Postfix smtpd_authorized_xforward_hosts)",
			               quoted);
			return 0;
		}
		evbuffer_drain(b->reply, len);
		if (--b->pending > 0)
			return 1;
		b->xforward_sent = 1;
		break;
	case B_COMMAND:
		if (b->command_is_mail && positive)
			b->in_transaction = 1;
		if (b->command_is_rset && positive)
			b->in_transaction = b->xforward_sent = 0;
		if (b->command_is_auth) {
			b->sasl = code == 334;
			b->authenticated = code == 235;
		}
		go_idle(b);
		finish(b, BACKEND_REPLY, code);
		return 0;
	case B_NOOP:
		evbuffer_drain(b->reply, len);
		if (!positive) {
			lost(b, BACKEND_LOST, "keepalive NOOP refused");
			return 0;
		}
		go_idle(b);
		if (b->deferred_line != NULL) {
			char *line = b->deferred_line;

			b->deferred_line = NULL;
			backend_command(b, line, strlen(line));
			free(line);
		} else if (b->deferred_spool != NULL) {
			struct spool *spool = b->deferred_spool;

			b->deferred_spool = NULL;
			backend_message(b, NULL, spool, b->spool_offset);
		}
		return 1;
	case B_DATA:
		if (code == 354) {
			evbuffer_drain(b->reply, len);
			b->state = B_MESSAGE;
			b->stuffing = 1;
			b->at_line_start = 1;
			/* Rewritten headers come from the client too: stuffed like the rest. */
			stuff(b, conn_output(b->conn), (const char *)evbuffer_pullup(b->prefix, -1),
			      evbuffer_get_length(b->prefix));
			evbuffer_drain(b->prefix, evbuffer_get_length(b->prefix));
			set_read_timeout(b, b->cfg->timeouts.backend_data);
			stuff_more(b);
			return 1;
		}
		/* The backend refused DATA: that is the final reply. */
		/* FALLTHROUGH */
	case B_MESSAGE:
		b->in_transaction = b->xforward_sent = 0;
		b->stuffing = 0;
		b->spool = NULL;
		go_idle(b);
		finish(b, BACKEND_REPLY, code);
		return 0;
	default:
		/* Unsolicited, e.g. "421 idle timeout" before the backend closes. */
		log_info("event=backend_unsolicited backend=%s reply=\"%s\"", b->cfg->backend.text,
		         quoted);
		evbuffer_drain(b->reply, len);
		return 1;
	}
	evbuffer_drain(b->reply, len);
	prepare_next(b);
	return 0;
}

static void
lost(struct backend *b, enum backend_status status, const char *why)
{
	int preparing = b->state >= B_CONNECTING && b->state <= B_XFORWARD;
	/* An idle backend may close; one holding our transaction or login may not. */
	int idle = (b->state == B_IDLE || b->state == B_CLOSED) && !b->in_transaction && !b->sasl &&
	           !b->authenticated;

	/* Opportunistic TLS that fails is plaintext on a new connection, as Postfix's smtp does. */
	if ((b->state == B_STARTTLS || b->state == B_TLS) &&
	    b->cfg->backend.tls == BACKEND_TLS_OPPORTUNISTIC) {
		log_warn("event=backend_tls_failed backend=%s reason=\"%s\" action=plaintext",
		         b->cfg->backend.text, why);
		backend_close(b);
		b->tls_broken = 1;
		prepare_next(b);
		return;
	}

	if (idle) {
		log_debug("event=backend_closed_idle backend=%s reason=\"%s\"",
		          b->cfg->backend.text, why);
		backend_close(b);
		return;
	}
	if (preparing) {
		prepare_failed(b, "%s", why);
		return;
	}
	snprintf(b->error, sizeof(b->error), "%s", why);
	log_warn("event=backend_lost backend=%s reason=\"%s\"", b->cfg->backend.text, why);
	backend_close(b);
	finish(b, status, 0);
}

static void
backend_readcb(struct conn *conn, void *arg)
{
	struct backend *b = arg;
	struct evbuffer *in = conn_input(conn);

	/* The greeting can be read before the connect event is delivered. */
	if (b->state == B_CONNECTING)
		b->state = B_GREETING;
	for (;;) {
		size_t eol_len;
		struct evbuffer_ptr eol =
		        evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);

		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > BACKEND_MAX_LINE)
				lost(b, BACKEND_LOST, "reply line too long");
			return;
		}
		size_t n = (size_t)eol.pos;
		const char *line = (const char *)evbuffer_pullup(in, (ssize_t)(n + eol_len));

		enum smtp_reply_status st = smtp_reply_feed(&b->rr, line, n);
		if (st == SMTP_REPLY_BAD) {
			char quoted[120];

			log_quote(quoted, sizeof(quoted), line, n);
			char why[160];

			snprintf(why, sizeof(why), "malformed reply %s", quoted);
			evbuffer_drain(in, n + eol_len);
			lost(b, BACKEND_LOST, why);
			return;
		}
		evbuffer_add(b->reply, line, n);
		evbuffer_add(b->reply, "\r\n", 2);
		evbuffer_drain(in, n + eol_len);
		if (st == SMTP_REPLY_DONE) {
			int code = b->rr.code;

			smtp_reply_reset(&b->rr);
			if (!handle_reply(b, code))
				return;
		}
	}
}

static void
backend_eventcb(struct conn *conn, int what, void *arg)
{
	struct backend *b = arg;
	char why[120];

	if (what == CONN_TLS_READY) {
		b->tls_on = 1;
		b->ehlo_done = 0; /* RFC 3207 4.2: EHLO again, over TLS */
		log_debug("event=backend_tls backend=%s version=%s cipher=%s", b->cfg->backend.text,
		          conn_tls_version(conn), conn_tls_cipher(conn));
		prepare_next(b);
		return;
	}
	/* Waiting for the client's next SASL line: the session's own timeout governs. */
	if (what == CONN_TIMEOUT && b->state == B_IDLE && b->sasl)
		return;
	if (what == CONN_CONNECTED) {
		if (b->state == B_CONNECTING) {
			b->state = B_GREETING;
			set_read_timeout(b, b->cfg->timeouts.backend_reply);
		}
		return;
	}
	if (what == CONN_TIMEOUT && b->state == B_IDLE && (b->in_transaction || b->authenticated)) {
		b->state = B_NOOP;
		send_line(b, b->cfg->timeouts.backend_reply, "NOOP");
		return;
	}
	if (what == CONN_TIMEOUT) {
		snprintf(why, sizeof(why), "%s timed out",
		         b->state == B_CONNECTING ? "connect" : "reply");
		lost(b, BACKEND_TIMEOUT, why);
		return;
	}
	if (what == CONN_EOF)
		snprintf(why, sizeof(why), "connection closed by backend");
	else if (conn_error(conn) != NULL)
		snprintf(why, sizeof(why), "TLS: %s", conn_error(conn));
	else
		snprintf(why, sizeof(why), "%s", strerror(errno));
	lost(b, BACKEND_LOST, why);
}
