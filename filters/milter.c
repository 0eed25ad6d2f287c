/*
 * NAME
 *	milter - call an external milter (OpenDKIM, OpenDMARC, clamav-milter, ...)
 * SYNOPSIS
 *	filters:
 *	  opendkim: { type: milter, socket: inet:127.0.0.1:8891, on_error: tempfail }
 * DESCRIPTION
 *	The MTA side of the milter protocol, version 6, as Postfix and
 *	Sendmail speak it, asynchronous on the event loop. One connection per
 *	client session and filter instance (in the session's filter state),
 *	opened at the filter's first stage and reused by every transaction;
 *	its first packets negotiate the version, the actions the milter may
 *	take and the protocol steps it skips or answers not at all, and take
 *	the macro lists it asks for (SETSYMLIST).
 *
 *	CONNECT, HELO, MAIL and RCPT go to the milter at their stages (a
 *	milter first used later hears the steps it missed first). The message
 *	goes at FILTER_EOM, whole: DATA, each header field, EOH, the body in
 *	chunks, end of body; so a milter after another in the chain sees the
 *	message as that one left it (filter_message_header/_body). A SKIP
 *	reply ends the body early. Macros go before each command, as
 *	configured (milter_config.c), those postern knows: j i v _
 *	{daemon_name} {daemon_addr} {daemon_port} {if_name} {if_addr}
 *	{client_addr} {client_port} {client_name} {client_ptr} {mail_addr}
 *	{rcpt_addr}; of an authenticated session {auth_type} (the SASL
 *	mechanism) and {auth_authen} (when postern could read the identity:
 *	PLAIN, LOGIN); over TLS {tls_version} {cipher} {cipher_bits}. A HELO
 *	is sent again after STARTTLS, so the milter hears the TLS macros.
 *
 *	Replies become findings of method "milter": accept, reject, tempfail,
 *	discard, quarantine (with their action: filter_verdict()), continue
 *	(none); a reply code (SMFIR_REPLYCODE, multi-line too) rejects or
 *	tempfails with that reply. ACCEPT at CONNECT or HELO leaves the
 *	session alone from then on; ACCEPT, REJECT, TEMPFAIL or DISCARD from
 *	MAIL on leaves the message alone. At the end of the message the
 *	modifications are taken (each only if negotiated): add, insert and
 *	change header, change sender, add recipient (with ESMTP args), delete
 *	recipient, replace body; PROGRESS restarts the timer.
 *
 *	Errors become filter_error() with the reason unreachable, timeout,
 *	closed or protocol (a reply that is not the protocol; on_error
 *	decides), the connection is
 *	closed and the milter is not asked again in the session; from then on
 *	each transaction gets the same error at MAIL. postern itself goes on.
 * DIAGNOSTICS
 *	event=milter_error filter= socket= stage= error= reason= (warning) once per
 *	failure; event=milter_quarantine filter= reason= when a milter asks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <libmilter/mfapi.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "filters/milter_int.h"
#include "filters/header_field.h"

/* Larger packets than this from a milter are nonsense (libmilter sends 64K). */
#define MILTER_PACKET_MAX (1024 * 1024)
/* Body octets queued ahead of the socket when the milter does not answer chunks. */
#define MILTER_WRITE_AHEAD (256 * 1024)

#define OFFERED_ACTIONS SMFI_CURR_ACTS
/* Every step a milter may skip or leave unanswered; not HDR_LEADSPC, RCPT_REJ or MDS. */
#define OFFERED_PROTOCOL (SMFI_CURR_PROT & ~(SMFIP_RCPT_REJ | SMFIP_HDR_LEADSPC))

/* What one run() sends, in order; the catch-up steps first. */
enum op {
	OP_CONNECT,
	OP_HELO,
	OP_MAIL,
	OP_RCPT,
	OP_DATA,
	OP_HEADERS,
	OP_EOH,
	OP_BODY,
	OP_EOB,
	OP_END
};

enum conn_state { M_NEW, M_CONNECTING, M_NEGOTIATING, M_READY, M_DEAD };

struct milter_conn {
	const struct filter *filter;
	const struct milter_config *mc;
	struct bufferevent *bev;
	struct event *timer;
	enum conn_state state;
	struct milter_optneg opt;
	char *symlist[MILTER_MACRO_STAGES]; /* the milter's macro lists, or NULL: ours */
	struct filter_call *call;           /* the stage waiting for the milter */
	enum op op, last;                   /* the step being sent, the stage's last */
	int waiting;                        /* for a reply to the step */
	unsigned session_accepted : 1;
	unsigned message_done : 1; /* the milter decided the message: nothing more for it */
	unsigned in_message : 1;   /* MAIL was sent: ABORT or EOB ends it */
	unsigned connect_sent : 1;
	unsigned error_reported : 1; /* this transaction has heard of the failure */
	unsigned replbody : 1;       /* a replacement body has begun */
	unsigned body_cr : 1;        /* the replacement body's last octet was CR */
	char *helo_sent;
	unsigned helo_tls : 1; /* helo_sent went over TLS */
	const char *reason;    /* a failure ("unreachable", "timeout", "closed", "protocol"), */
	                       /* for the findings of later transactions */
	/* the message, at FILTER_EOM */
	struct evbuffer *header;
	size_t header_pos, body_pos;
};

static void conn_readcb(struct bufferevent *bev, void *arg);
static void conn_writecb(struct bufferevent *bev, void *arg);
static void conn_eventcb(struct bufferevent *bev, short what, void *arg);
static void pump(struct milter_conn *m);

static const char *const stage_names[] = {"connect", "helo", "mail", "rcpt",  "data", "header",
                                          "eoh",     "body", "eom",  "abort", "close"};

static void
conn_close(struct milter_conn *m)
{
	if (m->bev != NULL)
		bufferevent_free(m->bev);
	m->bev = NULL;
	evtimer_del(m->timer);
}

/* The stage ends for the chain. */
static void
finish(struct milter_conn *m)
{
	struct filter_call *call = m->call;

	m->call = NULL;
	m->waiting = 0;
	evtimer_del(m->timer);
	if (m->header != NULL)
		evbuffer_free(m->header);
	m->header = NULL;
	if (call != NULL)
		filter_done(call);
}

/* The milter failed: reason is the finding's result, why says more in the log. */
static void
fail(struct milter_conn *m, const char *reason, const char *why)
{
	log_warn("event=milter_error filter=%s socket=%s stage=%s error=%s reason=\"%s\"",
	         m->filter->name, m->mc->socket, m->call ? stage_names[m->call->stage] : "-",
	         reason, why);
	conn_close(m);
	m->state = M_DEAD;
	m->reason = reason;
	if (m->call != NULL && !m->error_reported) {
		filter_error(m->call, reason);
		m->error_reported = 1;
	}
	finish(m);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct milter_conn *m = arg;

	if (m->state == M_CONNECTING)
		fail(m, "unreachable", "connect timeout");
	else
		fail(m, "timeout", "no reply in time");
}

static void
arm(struct milter_conn *m, unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	evtimer_add(m->timer, &tv);
}

static struct evbuffer *
out(struct milter_conn *m)
{
	return bufferevent_get_output(m->bev);
}

/* Start connecting; the stage goes on from the negotiation's reply. */
static void
conn_open(struct milter_conn *m, struct event_base *base)
{
	m->state = M_CONNECTING;
	m->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(m->bev, conn_readcb, NULL, conn_eventcb, m);
	bufferevent_enable(m->bev, EV_READ | EV_WRITE);
	arm(m, m->mc->connect_ms);
	/* Errors come through conn_eventcb, also one found at once. */
	if (bufferevent_socket_connect(m->bev, (struct sockaddr *)&m->mc->addr,
	                               (int)m->mc->addrlen) < 0 &&
	    m->state == M_CONNECTING)
		fail(m, "unreachable", "cannot connect");
}

/* A macro's value for this stage, or NULL when postern does not know it. */
static const char *
macro_value(const struct filter_txn *txn, const char *name, char *buf, size_t size)
{
	if (strcmp(name, "j") == 0)
		return txn->local_name;
	if (strcmp(name, "i") == 0)
		return txn->queue_id;
	if (strcmp(name, "v") == 0)
		return PACKAGE_STRING;
	if (strcmp(name, "daemon_name") == 0)
		return "postern";
	if (strcmp(name, "_") == 0 && txn->client_addr) {
		snprintf(buf, size, "[%s] [%s]", txn->client_addr, txn->client_addr);
		return buf;
	}
	if (strcmp(name, "client_addr") == 0)
		return txn->client_addr;
	if ((strcmp(name, "daemon_addr") == 0 || strcmp(name, "if_addr") == 0) && txn->local_addr &&
	    *txn->local_addr)
		return txn->local_addr;
	if (strcmp(name, "daemon_port") == 0 && txn->local_port > 0) {
		snprintf(buf, size, "%d", txn->local_port);
		return buf;
	}
	if (strcmp(name, "if_name") == 0)
		return txn->local_name;
	if (strcmp(name, "client_name") == 0 || strcmp(name, "client_ptr") == 0)
		return "unknown";
	if (strcmp(name, "client_port") == 0) {
		snprintf(buf, size, "%d", txn->client_port);
		return buf;
	}
	if (strcmp(name, "mail_addr") == 0)
		return txn->mail_from;
	if (strcmp(name, "rcpt_addr") == 0)
		return txn->rcpt;
	if (strcmp(name, "auth_type") == 0)
		return txn->auth_mech;
	if (strcmp(name, "auth_authen") == 0 && txn->authenticated)
		return txn->auth_user;
	if (strcmp(name, "tls_version") == 0)
		return txn->tls_version;
	if (strcmp(name, "cipher") == 0)
		return txn->tls_cipher;
	if (strcmp(name, "cipher_bits") == 0 && txn->tls_cipher_bits > 0) {
		snprintf(buf, size, "%d", txn->tls_cipher_bits);
		return buf;
	}
	return NULL;
}

/* The macros of stage (SMFIM_*) before the command cmd. */
static void
put_macros(struct milter_conn *m, int stage, char cmd)
{
	const char *list = m->symlist[stage] ? m->symlist[stage] : m->mc->macros[stage];
	const char *strings[2 * 64 + 1];
	char names[64][64], values[64][64];
	size_t n = 0, k = 0;

	strings[n++] = (char[]){cmd, '\0'};
	for (const char *p = list; *p && k < 64;) {
		size_t len = strcspn(p, " \t,");

		if (len > 0 && len < sizeof(names[0]) - 2) {
			char bare[64];
			size_t bl = len;
			const char *b = p;

			if (len > 2 && p[0] == '{' && p[len - 1] == '}') {
				b++;
				bl -= 2;
			}
			memcpy(bare, b, bl);
			bare[bl] = '\0';
			const char *v =
			        macro_value(m->call->txn, bare, values[k], sizeof(values[k]));

			if (v != NULL) {
				/* Sent as the milter names it: "j", "{client_addr}". */
				snprintf(names[k], sizeof(names[k]), bl > 1 ? "{%s}" : "%s", bare);
				strings[n++] = names[k];
				strings[n++] = v;
				k++;
			}
		}
		p += len;
		p += strspn(p, " \t,");
	}
	/* The first "string" is the command octet, sent without its NUL. */
	size_t len = 1;

	for (size_t i = 1; i < n; i++)
		len += strlen(strings[i]) + 1;
	uint32_t nl = htonl((uint32_t)len + 1);

	evbuffer_add(out(m), &nl, 4);
	evbuffer_add(out(m), (char[]){SMFIC_MACRO, cmd}, 2);
	for (size_t i = 1; i < n; i++)
		evbuffer_add(out(m), strings[i], strlen(strings[i]) + 1);
}

static int
wants(const struct milter_conn *m, uint32_t flag)
{
	return (m->opt.protocol & flag) != 0;
}

/* One field of the header block at m->header_pos as HEADER; 0 at the end. */
static int
put_header(struct milter_conn *m)
{
	size_t total = evbuffer_get_length(m->header);
	const char *block = (const char *)evbuffer_pullup(m->header, -1);
	const char *p = block + m->header_pos, *end = block + total, *q;

	if (p >= end)
		return 0;
	q = header_field_end(p, end);
	m->header_pos = (size_t)(q - block);
	const char *colon = memchr(p, ':', (size_t)(q - p));

	if (colon == NULL)
		return 1; /* not a field: the milter never sees it, the backend does */
	char *name = xstrndup(p, (size_t)(colon - p));
	const char *v = colon + 1;

	/* As Postfix without HDR_LEADSPC: no leading space, folds as LF, no final CRLF. */
	while (v < q && (*v == ' ' || *v == '\t'))
		v++;
	char *value = xmalloc((size_t)(q - v) + 1);
	size_t n = 0;

	for (const char *c = v; c < q; c++)
		if (*c != '\r')
			value[n++] = *c;
	while (n > 0 && value[n - 1] == '\n')
		n--;
	value[n] = '\0';
	milter_put_strings(out(m), SMFIC_HEADER, (const char *const[]){name, value}, 2);
	free(name);
	free(value);
	return 1;
}

/* The next body chunk as BODY; 0 at the end. */
static int
put_body(struct milter_conn *m)
{
	char chunk[MILTER_CHUNK_SIZE];
	ssize_t n = filter_message_body(m->call->txn, m->body_pos, chunk, sizeof(chunk));

	if (n <= 0)
		return 0;
	m->body_pos += (size_t)n;
	milter_put(out(m), SMFIC_BODY, chunk, (size_t)n);
	return 1;
}

static void
put_connect(struct milter_conn *m)
{
	const struct filter_txn *txn = m->call->txn;
	char host[80];
	struct in6_addr a6;
	char family = SMFIA_UNKNOWN;

	if (txn->client_addr && inet_pton(AF_INET, txn->client_addr, &a6) == 1)
		family = SMFIA_INET;
	else if (txn->client_addr && inet_pton(AF_INET6, txn->client_addr, &a6) == 1)
		family = SMFIA_INET6;
	snprintf(host, sizeof(host), "[%s]", txn->client_addr ? txn->client_addr : "unknown");
	put_macros(m, SMFIM_CONNECT, SMFIC_CONNECT);
	milter_put_connect(out(m), host, family, (uint16_t)txn->client_port,
	                   txn->client_addr ? txn->client_addr : "");
	m->connect_sent = 1;
}

/* MAIL or RCPT: the path, then each ESMTP parameter, as Postfix sends them. */
static void
put_envelope(struct milter_conn *m, int stage, char cmd, const char *address, const char *params)
{
	const char *strings[64];
	size_t n = 0;
	char *path = xmalloc(strlen(address) + 3);
	char *copy = xstrdup(params ? params : ""), *save = NULL;

	sprintf(path, "<%s>", address);
	strings[n++] = path;
	for (char *p = strtok_r(copy, " ", &save); p && n < 64; p = strtok_r(NULL, " ", &save))
		strings[n++] = p;
	put_macros(m, stage, cmd);
	milter_put_strings(out(m), cmd, strings, n);
	free(copy);
	free(path);
}

/*
 * Send step m->op; returns 1 when it waits for a reply, 0 when done with
 * it (skipped, or no reply expected), -1 when there is more of it to send
 * (header fields, body chunks).
 */
static int
send_step(struct milter_conn *m)
{
	const struct filter_txn *txn = m->call->txn;

	switch (m->op) {
	case OP_CONNECT:
		if (m->connect_sent)
			return 0;
		m->connect_sent = 1;
		if (wants(m, SMFIP_NOCONNECT))
			return 0;
		put_connect(m);
		return !wants(m, SMFIP_NR_CONN);
	case OP_HELO:
		/* The EHLO after STARTTLS goes too (with the TLS macros), as Postfix sends it. */
		if (txn->helo == NULL || (m->helo_sent && strcmp(m->helo_sent, txn->helo) == 0 &&
		                          m->helo_tls == (txn->tls_version != NULL)))
			return 0;
		free(m->helo_sent);
		m->helo_sent = xstrdup(txn->helo);
		m->helo_tls = txn->tls_version != NULL;
		if (wants(m, SMFIP_NOHELO))
			return 0;
		put_macros(m, SMFIM_HELO, SMFIC_HELO);
		milter_put_strings(out(m), SMFIC_HELO, (const char *const[]){txn->helo}, 1);
		return !wants(m, SMFIP_NR_HELO);
	case OP_MAIL:
		if (m->in_message)
			return 0;
		m->in_message = 1;
		if (wants(m, SMFIP_NOMAIL))
			return 0;
		put_envelope(m, SMFIM_ENVFROM, SMFIC_MAIL, txn->mail_from ? txn->mail_from : "",
		             txn->mail_params);
		return !wants(m, SMFIP_NR_MAIL);
	case OP_RCPT:
		/* Only at its own stage: a later stage does not repeat it. */
		if (m->call->stage != FILTER_RCPT || wants(m, SMFIP_NORCPT) || txn->rcpt == NULL)
			return 0;
		put_envelope(m, SMFIM_ENVRCPT, SMFIC_RCPT, txn->rcpt, txn->rcpt_params);
		return !wants(m, SMFIP_NR_RCPT);
	case OP_DATA:
		if (wants(m, SMFIP_NODATA))
			return 0;
		put_macros(m, SMFIM_DATA, SMFIC_DATA);
		milter_put(out(m), SMFIC_DATA, NULL, 0);
		return !wants(m, SMFIP_NR_DATA);
	case OP_HEADERS:
		if (wants(m, SMFIP_NOHDRS) || !put_header(m))
			return 0;
		return wants(m, SMFIP_NR_HDR) ? -1 : 1;
	case OP_EOH:
		if (wants(m, SMFIP_NOEOH))
			return 0;
		put_macros(m, SMFIM_EOH, SMFIC_EOH);
		milter_put(out(m), SMFIC_EOH, NULL, 0);
		return !wants(m, SMFIP_NR_EOH);
	case OP_BODY:
		if (wants(m, SMFIP_NOBODY) || !put_body(m))
			return 0;
		return wants(m, SMFIP_NR_BODY) ? -1 : 1;
	case OP_EOB:
		put_macros(m, SMFIM_EOM, SMFIC_BODYEOB);
		milter_put(out(m), SMFIC_BODYEOB, NULL, 0);
		return 1;
	case OP_END:
		break;
	}
	return 0;
}

/* Send steps until one waits for a reply or the stage is done. */
static void
pump(struct milter_conn *m)
{
	while (m->call != NULL && m->state == M_READY && !m->waiting) {
		if (m->op > m->last) {
			if (m->last == OP_EOB) {
				m->in_message = 0;
				m->replbody = 0;
			}
			finish(m);
			return;
		}
		int rc = send_step(m);

		if (rc == 1) {
			m->waiting = 1;
			arm(m, m->op == OP_EOB ? m->mc->eom_ms : m->mc->command_ms);
			return;
		}
		if (rc == -1) {
			/* Unanswered chunks: keep the queue short, go on when it drains. */
			if (evbuffer_get_length(out(m)) > MILTER_WRITE_AHEAD) {
				bufferevent_setcb(m->bev, conn_readcb, conn_writecb, conn_eventcb,
				                  m);
				arm(m, m->mc->command_ms);
				return;
			}
			continue;
		}
		m->op++;
	}
}

static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct milter_conn *m = arg;

	bufferevent_setcb(bev, conn_readcb, NULL, conn_eventcb, m);
	evtimer_del(m->timer);
	pump(m);
}

static void
negotiated(struct milter_conn *m, const struct milter_packet *pk)
{
	if (pk->cmd != SMFIC_OPTNEG || milter_decode_optneg(pk->data, pk->len, &m->opt) < 0) {
		fail(m, "protocol", "bad negotiation reply");
		return;
	}
	if (m->opt.version < 2 || m->opt.version > SMFI_PROT_VERSION) {
		fail(m, "protocol", "unsupported protocol version");
		return;
	}
	if ((m->opt.actions & ~OFFERED_ACTIONS) || (m->opt.protocol & ~OFFERED_PROTOCOL)) {
		fail(m, "protocol", "milter asks for actions or protocol steps not offered");
		return;
	}
	for (size_t i = 0; i < MILTER_MACRO_STAGES; i++)
		if (m->opt.macros[i] != NULL && (m->opt.actions & SMFIF_SETSYMLIST))
			m->symlist[i] = xstrndup(m->opt.macros[i], m->opt.macros_len[i]);
	memset(m->opt.macros, 0, sizeof(m->opt.macros));
	m->state = M_READY;
	evtimer_del(m->timer);
	pump(m);
}

/* A line break in a header value must fold it; anything else would add a field. */
static int
folded_only(const char *value)
{
	for (const char *p = strstr(value, "\r\n"); p; p = strstr(p + 2, "\r\n"))
		if (p[2] != ' ' && p[2] != '\t')
			return 0;
	return 1;
}

/* A header value from the milter, its line ends made CRLF. */
static char *
crlf_value(const char *v)
{
	char *s = xmalloc(2 * strlen(v) + 1), *o = s;

	for (const char *c = v; *c; c++) {
		if (*c == '\n' && (c == v || c[-1] != '\r'))
			*o++ = '\r';
		if (*c == '\r' && c[1] != '\n') {
			*o++ = '\r';
			*o++ = '\n';
			continue;
		}
		*o++ = *c;
	}
	*o = '\0';
	return s;
}

static int
replace_body(struct milter_conn *m, const char *data, size_t len)
{
	char *norm = xmalloc(2 * len + 2);
	size_t n = 0;
	int first = !m->replbody;

	/* Only CRLF line ends reach the backend, also across chunk borders. */
	for (size_t i = 0; i < len; i++) {
		char c = data[i];

		if (c == '\n' && !m->body_cr)
			norm[n++] = '\r';
		if (m->body_cr && c != '\n')
			norm[n++] = '\n';
		norm[n++] = c;
		m->body_cr = c == '\r';
	}
	m->replbody = 1;
	int rc = filter_body_replace(m->call, norm, n, first);

	free(norm);
	return rc;
}

/* A modification at the end of the message; 0, or -1 if it is not allowed. */
static int
modify(struct milter_conn *m, const struct milter_reply *r)
{
	static const struct {
		char cmd;
		uint32_t action;
	} needs[] = {{SMFIR_ADDHEADER, SMFIF_ADDHDRS},    {SMFIR_INSHEADER, SMFIF_ADDHDRS},
	             {SMFIR_CHGHEADER, SMFIF_CHGHDRS},    {SMFIR_CHGFROM, SMFIF_CHGFROM},
	             {SMFIR_ADDRCPT, SMFIF_ADDRCPT},      {SMFIR_ADDRCPT_PAR, SMFIF_ADDRCPT_PAR},
	             {SMFIR_DELRCPT, SMFIF_DELRCPT},      {SMFIR_REPLBODY, SMFIF_CHGBODY},
	             {SMFIR_QUARANTINE, SMFIF_QUARANTINE}};
	struct filter_call *call = m->call;
	char *value, *addr;
	size_t i;

	for (i = 0; i < sizeof(needs) / sizeof(needs[0]) && needs[i].cmd != r->cmd; i++)
		;
	if (i == sizeof(needs) / sizeof(needs[0]) || !(m->opt.actions & needs[i].action) ||
	    m->op != OP_EOB)
		return -1;
	switch (r->cmd) {
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		value = crlf_value(r->s2);
		if (!folded_only(value)) {
			free(value);
			return -1;
		}
		if (r->cmd == SMFIR_ADDHEADER)
			filter_header_add(call, r->s1, value);
		else if (r->cmd == SMFIR_INSHEADER)
			filter_header_insert(call, r->index, r->s1, value);
		else
			filter_header_change(call, r->s1, r->index ? r->index : 1,
			                     *r->s2 ? value : NULL);
		free(value);
		return 0;
	case SMFIR_REPLBODY:
		if (replace_body(m, r->data, r->len) < 0)
			filter_error(call, "body");
		return 0;
	case SMFIR_QUARANTINE:
		log_info("event=milter_quarantine filter=%s reason=\"%.200s\"", m->filter->name,
		         r->s1);
		filter_verdict(call, ACTION_QUARANTINE, NULL);
		return 0;
	default:
		break;
	}
	/* Envelope addresses, with or without <>. */
	addr = xstrdup(r->s1[0] == '<' ? r->s1 + 1 : r->s1);
	if (*addr && addr[strlen(addr) - 1] == '>' && r->s1[0] == '<')
		addr[strlen(addr) - 1] = '\0';
	/* Only the sender may be empty (the null sender). */
	if (strpbrk(addr, "\r\n<> ") != NULL || (r->s2 && strpbrk(r->s2, "\r\n") != NULL) ||
	    (*addr == '\0' && r->cmd != SMFIR_CHGFROM)) {
		free(addr);
		return -1;
	}
	if (r->cmd == SMFIR_CHGFROM)
		filter_sender_change(call, addr, r->s2 && *r->s2 ? r->s2 : NULL);
	else if (r->cmd == SMFIR_DELRCPT)
		filter_rcpt_delete(call, addr);
	else
		filter_rcpt_add(call, addr, r->s2 && *r->s2 ? r->s2 : NULL);
	free(addr);
	return 0;
}

/* A final reply: the step ends. */
static void
decided(struct milter_conn *m, const struct milter_reply *r)
{
	static const enum action actions[128] = {
	        [SMFIR_ACCEPT] = ACTION_ACCEPT,     [SMFIR_REJECT] = ACTION_REJECT,
	        [SMFIR_TEMPFAIL] = ACTION_TEMPFAIL, [SMFIR_DISCARD] = ACTION_DISCARD,
	        [SMFIR_SHUTDOWN] = ACTION_TEMPFAIL, [SMFIR_CONN_FAIL] = ACTION_TEMPFAIL};
	int session_step = m->op <= OP_HELO;
	char text[1024];

	m->waiting = 0;
	evtimer_del(m->timer);
	if (r->cmd == SMFIR_CONTINUE) {
		/* Header fields and body chunks go on until send_step() finds no more. */
		if (m->op != OP_HEADERS && m->op != OP_BODY)
			m->op++;
		pump(m);
		return;
	}
	if (r->cmd == SMFIR_SKIP) {
		if (m->op != OP_BODY || !(m->opt.protocol & SMFIP_SKIP)) {
			fail(m, "protocol", "SKIP outside the body");
			return;
		}
		m->op = OP_EOB;
		pump(m);
		return;
	}
	if (r->cmd == SMFIR_REPLYCODE) {
		int code = milter_reply_text(r->s1, strlen(r->s1), text, sizeof(text));

		if (code < 0) {
			fail(m, "protocol", "malformed reply code");
			return;
		}
		filter_verdict(m->call, code >= 500 ? ACTION_REJECT : ACTION_TEMPFAIL, text);
	} else {
		filter_verdict(m->call, actions[(unsigned char)r->cmd], NULL);
	}
	if (r->cmd == SMFIR_SHUTDOWN || r->cmd == SMFIR_CONN_FAIL) {
		conn_close(m);
		m->state = M_DEAD;
		m->reason = "closed";
		m->error_reported = 1;
	} else if (session_step && r->cmd == SMFIR_ACCEPT) {
		m->session_accepted = 1;
	} else if (!session_step && m->op != OP_RCPT) {
		/* The message is decided: an accept or an end (the session will ABORT). */
		m->message_done = 1;
	} else if (m->op == OP_RCPT && r->cmd == SMFIR_ACCEPT) {
		m->message_done = 1;
	}
	if (m->op == OP_EOB) {
		m->in_message = 0;
		m->message_done = 0;
		m->replbody = 0;
	}
	finish(m);
}

static void
reply(struct milter_conn *m, const struct milter_packet *pk)
{
	struct milter_reply r;

	if (m->state == M_NEGOTIATING) {
		negotiated(m, pk);
		return;
	}
	if (!m->waiting && pk->cmd != SMFIR_PROGRESS) {
		fail(m, "protocol", "reply nobody asked for");
		return;
	}
	if (milter_decode(pk, &r) < 0) {
		fail(m, "protocol", "malformed reply");
		return;
	}
	switch (r.cmd) {
	case SMFIR_PROGRESS:
		if (m->waiting)
			arm(m, m->op == OP_EOB ? m->mc->eom_ms : m->mc->command_ms);
		return;
	case SMFIR_ACCEPT:
	case SMFIR_CONTINUE:
	case SMFIR_REJECT:
	case SMFIR_TEMPFAIL:
	case SMFIR_DISCARD:
	case SMFIR_REPLYCODE:
	case SMFIR_SKIP:
	case SMFIR_SHUTDOWN:
	case SMFIR_CONN_FAIL:
		decided(m, &r);
		return;
	default:
		if (modify(m, &r) < 0)
			fail(m, "protocol", "modification not negotiated or malformed");
		return;
	}
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct milter_conn *m = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (m->bev != NULL && m->state != M_DEAD) {
		size_t len = evbuffer_get_length(in);
		char head[4];
		uint32_t n;

		if (len < 4)
			return;
		evbuffer_copyout(in, head, 4);
		memcpy(&n, head, 4);
		n = ntohl(n);
		if (n == 0 || n > MILTER_PACKET_MAX) {
			fail(m, "protocol", "bad packet length");
			return;
		}
		if (len < (size_t)n + 4)
			return;
		/* Taken out first: reply() may close the connection and its buffers. */
		char *buf = xmalloc((size_t)n + 4);
		struct milter_packet pk;

		evbuffer_remove(in, buf, (size_t)n + 4);
		milter_frame(buf, (size_t)n + 4, MILTER_PACKET_MAX, &pk);
		reply(m, &pk);
		free(buf);
	}
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct milter_conn *m = arg;

	if (what & BEV_EVENT_CONNECTED) {
		m->state = M_NEGOTIATING;
		milter_put_optneg(out(m), SMFI_PROT_VERSION, OFFERED_ACTIONS, OFFERED_PROTOCOL);
		arm(m, m->mc->command_ms);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (m->state == M_CONNECTING)
			fail(m, "unreachable", "cannot connect");
		else
			fail(m, "closed", "connection error");
		return;
	}
	fail(m, "closed", "the milter closed the connection");
}

static struct milter_conn *
conn_of(struct filter_call *call)
{
	struct milter_conn *m = *call->session_state;

	if (m == NULL) {
		m = xcalloc(1, sizeof(*m));
		m->filter = call->filter;
		m->mc = call->filter->state;
		m->timer = evtimer_new(call->base, timer_cb, m);
		*call->session_state = m;
	}
	return m;
}

/* The message ends for the milter before its end of body: ABORT resets it. */
static void
abort_message(struct milter_conn *m)
{
	if (m->in_message && m->state == M_READY)
		milter_put(out(m), SMFIC_ABORT, NULL, 0);
	m->in_message = 0;
	m->message_done = 0;
	m->replbody = 0;
}

static enum filter_rc
notice(struct filter_call *call)
{
	struct milter_conn *m = *call->session_state;

	if (m == NULL)
		return FILTER_DONE;
	if (call->stage == FILTER_ABORT) {
		abort_message(m);
		m->error_reported = 0;
		return FILTER_DONE;
	}
	if (m->state == M_READY) {
		milter_put(out(m), SMFIC_QUIT, NULL, 0);
		/* Sent now: the connection is freed with the session, right after. */
		evbuffer_write(out(m), bufferevent_getfd(m->bev));
	}
	return FILTER_DONE;
}

static enum filter_rc
milter_run(struct filter_call *call)
{
	static const enum op last[] = {[FILTER_CONNECT] = OP_CONNECT,
	                               [FILTER_HELO] = OP_HELO,
	                               [FILTER_MAIL] = OP_MAIL,
	                               [FILTER_RCPT] = OP_RCPT,
	                               [FILTER_EOM] = OP_EOB};
	struct milter_conn *m;

	if (call->stage == FILTER_ABORT || call->stage == FILTER_CLOSE)
		return notice(call);
	if (call->session_state == NULL) {
		filter_error(call, "no-session");
		return FILTER_DONE;
	}
	m = conn_of(call);
	if (m->state == M_DEAD) {
		/* Each transaction hears of it once, at its first stage. */
		if (call->stage >= FILTER_MAIL && !m->error_reported) {
			filter_error(call, m->reason);
			m->error_reported = 1;
		}
		return FILTER_DONE;
	}
	if (m->session_accepted)
		return FILTER_DONE;
	if (m->message_done) {
		if (call->stage == FILTER_EOM)
			abort_message(m);
		return FILTER_DONE;
	}
	m->call = call;
	m->last = last[call->stage];
	m->op = OP_CONNECT;
	m->waiting = 0;
	if (call->stage == FILTER_EOM) {
		m->header = evbuffer_new();
		filter_message_header(call->txn, m->header);
		m->header_pos = 0;
		m->body_pos = 0;
		m->body_cr = 0;
	}
	if (m->state == M_NEW)
		conn_open(m, call->base);
	else
		pump(m);
	return FILTER_PENDING;
}

static void
milter_cancel(struct filter_call *call)
{
	struct milter_conn *m = *call->session_state;

	/* The chain's own limit passed: the connection is in an unknown state. */
	m->call = NULL;
	conn_close(m);
	m->state = M_DEAD;
	m->reason = "timeout";
	m->error_reported = 1;
	if (m->header != NULL)
		evbuffer_free(m->header);
	m->header = NULL;
}

static void
milter_session_end(const struct filter *filter, void *state)
{
	struct milter_conn *m = state;

	conn_close(m);
	event_free(m->timer);
	for (size_t i = 0; i < MILTER_MACRO_STAGES; i++)
		free(m->symlist[i]);
	if (m->header != NULL)
		evbuffer_free(m->header);
	free(m->helo_sent);
	free(m);
}

const struct filter_type milter_filter_type = {
        .name = "milter",
        .stages = FILTER_STAGE(FILTER_CONNECT) | FILTER_STAGE(FILTER_HELO) |
                  FILTER_STAGE(FILTER_MAIL) | FILTER_STAGE(FILTER_RCPT) | FILTER_STAGE(FILTER_EOM) |
                  FILTER_STAGE(FILTER_ABORT) | FILTER_STAGE(FILTER_CLOSE),
        .configure = milter_configure,
        .destroy = milter_destroy,
        .run = milter_run,
        .cancel = milter_cancel,
        .session_end = milter_session_end,
};
