/*
 * NAME
 *	session_filter - where the session meets the filter chain and the policies
 * SYNOPSIS
 *	session_filter_connect(session), session_filter_helo(session)
 *	session_filter_mail(session)
 *	session_filter_rcpt(session, line, len)
 *	session_filter_eom(session)
 *	session_filter_resend_ready(session), session_filter_resend_step(session, code, reply)
 *	session_filter_end(session), session_filter_close(session)
 *	session_filter_log(session, buf, size)
 * DESCRIPTION
 *	When the client connects, the policy chosen from the client alone runs
 *	its chain's CONNECT stage, and at each HELO/EHLO its HELO stage; a
 *	rejecting decision refuses the connection (the reply, then close) or
 *	the HELO (the reply; the client may try again). Their findings are
 *	carried into every transaction of the session.
 *
 *	At MAIL, the policy chosen without a recipient (sender, client) runs its
 *	chain's MAIL stage; a rejecting decision is answered here and the
 *	backend never sees the transaction. At the first accepted RCPT the
 *	recipient's policy becomes the transaction's policy; a later recipient
 *	whose policy differs is deferred with 450 (the client sends it again
 *	in a transaction of its own), so each transaction has one policy. The
 *	RCPT stage's findings decide for that recipient alone. At the end of
 *	the message the EOM stage runs and all findings decide: accept and tag
 *	go on to the backend (tag with headers), reject and tempfail are
 *	answered here, discard is answered 250 and dropped. In monitor mode
 *	every decision is logged and none enforced.
 *
 *	Filters' envelope edits (filter.h) and the quarantine mailbox both
 *	need the backend to hear the transaction again: RSET and XFORWARD
 *	(backend_prepare()), MAIL, the RCPTs (one resend plan,
 *	session_filter_resend_ready() and _step()), then the message. A MAIL
 *	the backend refuses, or no recipient accepted, answers 451; a single refused recipient of
 *several is logged and left out. A replaced body goes to the backend instead of the client's.
 *
 *	Each function runs its stage and then goes on with the transaction
 *	itself (relaying the command, or answering); while a filter is pending
 *	the session waits (W_FILTER) and reads no further commands.
 *
 *	session_filter_end() forgets the transaction's filter state, cancels a
 *	running chain and, for a transaction whose end of message never ran,
 *	gives the filters the ABORT notice. session_filter_close() at the end
 *	of the session gives them CLOSE and frees their session state. session_filter_log() formats
 *the decision and findings for the transaction log line. DIAGNOSTICS Decisions are part of the
 *transaction log line: policy=, action=, findings=. A refused connection or HELO is logged
 *(event=connect_refused, event=helo_refused); a failed resend (event=resend_failed) and a recipient
 *the backend refused on resend (event=resend_rcpt_refused).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "common/xalloc.h"
#include "filters/auth_results.h"
#include "filters/chain.h"
#include "filters/header_edit.h"
#include "policies/config.h"
#include "policies/policy.h"
#include "proxy/backend.h"
#include "proxy/conn.h"
#include "proxy/quarantine.h"
#include "proxy/server.h"
#include "proxy/session_int.h"
#include "proxy/smtp_cmd.h"
#include "proxy/spool.h"

/* A header block longer than this is not a header; the rest counts as body. */
#define HEADER_MAX (256 * 1024)

typedef void stage_next_fn(struct session *s);

static void
subject_of(const struct session *s, const char *rcpt, struct policy_subject *subject,
           struct sockaddr_storage *ss)
{
	netaddr_from_ip(s->ip, ss);
	*subject = (struct policy_subject){.rcpt = rcpt,
	                                   .sender = s->tx ? s->tx->from : NULL,
	                                   .client = (const struct sockaddr *)ss,
	                                   .authenticated = s->authenticated};
}

static void
chain_done(void *arg)
{
	struct session *s = arg;
	stage_next_fn *next = s->filter_next;

	s->chain = NULL;
	s->wait = W_NONE;
	next(s);
	session_continue(s);
}

/* Run one stage of p's chain on txn, then next(s): now, or from the loop. */
static void
run_stage(struct session *s, const struct policy *p, enum filter_stage stage,
          struct filter_txn *txn, stage_next_fn *next)
{
	txn->client_addr = s->ip;
	txn->client_port = s->port;
	txn->local_name = s->cfg->hostname;
	txn->local_addr = s->local_ip;
	txn->local_port = s->local_port;
	txn->helo = s->helo;
	txn->queue_id = s->tx ? s->tx->queue_id : NULL;
	txn->mail_from = s->tx ? s->tx->from : NULL;
	txn->session = &s->fsession;
	txn->authenticated = s->authenticated;
	txn->auth_mech = s->authenticated ? s->auth_mech : NULL;
	txn->auth_user = s->auth_user;
	txn->tls_version = conn_tls_version(s->conn);
	txn->tls_cipher = conn_tls_cipher(s->conn);
	txn->tls_cipher_bits = conn_tls_cipher_bits(s->conn);
	if (p->nchain == 0) {
		next(s);
		return;
	}
	s->filter_next = next;
	s->wait = W_FILTER;
	s->chain = chain_run(&s->server->env, p->chain, p->nchain, stage, txn, chain_done, s);
	if (s->chain == NULL) {
		s->wait = W_NONE;
		next(s);
	}
}

/* txn's findings from index first on; returns 1 when the decision blocks (and answers). */
static int
decide(struct session *s, const struct policy *p, const struct filter_txn *txn, size_t first,
       struct policy_decision *d)
{
	policy_evaluate(p, txn->findings + first, txn->nfindings - first, d);
	if (d->action != ACTION_REJECT && d->action != ACTION_TEMPFAIL)
		return 0;
	if (!d->enforce) {
		log_info("event=monitor session=%lx policy=%s would=%s reason=\"%s\"", s->id,
		         p->name, action_name(d->action), d->reason);
		return 0;
	}
	return 1;
}

/* Answer the client with reply (one line, no CRLF) and end the transaction here. */
static void
end_transaction(struct session *s, enum action action, const char *reply)
{
	s->tx->action = action;
	session_replyf(s, "%s\r\n", reply);
	session_log_transaction(s, atoi(reply), reply, strlen(reply));
	transaction_free(s);
}

static void
connect_filtered(struct session *s)
{
	struct policy_decision d;

	s->helo_first_finding = s->sftxn->nfindings;
	if (decide(s, s->client_policy, s->sftxn, 0, &d)) {
		log_info("event=connect_refused session=%lx client=%s:%d policy=%s reason=\"%s\"",
		         s->id, s->ip, s->port, s->client_policy->name, d.reason);
		session_close_after(s, "%s\r\n", d.reply);
		return;
	}
	session_greet(s);
}

void
session_filter_connect(struct session *s)
{
	struct policy_subject subject;
	struct sockaddr_storage ss;

	subject_of(s, NULL, &subject, &ss);
	s->client_policy = policy_select(&s->cfg->policies, &subject);
	if (s->client_policy->nchain == 0) {
		session_greet(s);
		return;
	}
	s->sftxn = xcalloc(1, sizeof(*s->sftxn));
	run_stage(s, s->client_policy, FILTER_CONNECT, s->sftxn, connect_filtered);
}

static void
helo_filtered(struct session *s)
{
	struct policy_decision d;

	if (decide(s, s->client_policy, s->sftxn, s->helo_first_finding, &d)) {
		char helo[140];

		log_info("event=helo_refused session=%lx client=%s:%d helo=%s policy=%s "
		         "reason=\"%s\"",
		         s->id, s->ip, s->port,
		         log_quote(helo, sizeof(helo), s->helo, strlen(s->helo)),
		         s->client_policy->name, d.reason);
		session_replyf(s, "%s\r\n", d.reply);
		/* Until a HELO is accepted, MAIL is answered 503. */
		free(s->helo);
		s->helo = NULL;
		return;
	}
	session_helo_reply(s);
}

void
session_filter_helo(struct session *s)
{
	if (s->sftxn == NULL) { /* the client's policy has no chain */
		session_helo_reply(s);
		return;
	}
	/* Only the last HELO's findings count. */
	filter_txn_drop_findings(s->sftxn, s->helo_first_finding);
	run_stage(s, s->client_policy, FILTER_HELO, s->sftxn, helo_filtered);
}

void
session_filter_close(struct session *s)
{
	chain_cancel(s->chain);
	s->chain = NULL;
	/* Every filter that ran in the session hears CLOSE, whichever stage it ran in. */
	if (s->sftxn != NULL) {
		chain_notify(s->sftxn, FILTER_CLOSE);
		filter_txn_clear(s->sftxn);
		free(s->sftxn);
		s->sftxn = NULL;
	} else {
		struct filter_txn txn = {.client_addr = s->ip,
		                         .client_port = s->port,
		                         .helo = s->helo,
		                         .session = &s->fsession};

		chain_notify(&txn, FILTER_CLOSE);
	}
	filter_session_end(&s->fsession);
}

static void
mail_filtered(struct session *s)
{
	struct transaction *tx = s->tx;
	struct policy_decision d;

	if (decide(s, tx->pre_policy, &tx->ftxn, 0, &d)) {
		end_transaction(s, d.action, d.reply);
		return;
	}
	s->wait = W_PREPARE;
	backend_prepare(s->backend, &tx->identity);
}

/* A MAIL or RCPT command's ESMTP parameters, or NULL: none. */
static char *
params_of(const char *line, size_t len)
{
	struct smtp_cmd cmd;

	if (smtp_cmd_parse(line, len, &cmd) != SMTP_CMD_OK || cmd.params_len == 0)
		return NULL;
	return xstrndup(cmd.params, cmd.params_len);
}

void
session_filter_mail(struct session *s)
{
	struct policy_subject subject;
	struct sockaddr_storage ss;

	subject_of(s, NULL, &subject, &ss);
	s->tx->pre_policy = policy_select(&s->cfg->policies, &subject);
	snprintf(s->tx->queue_id, sizeof(s->tx->queue_id), "%lX%04X", s->id, ++s->ntransactions);
	s->tx->ftxn.spool_memory = s->cfg->limits.spool_memory;
	s->tx->ftxn.spool_dir = s->cfg->spool_dir;
	if (s->sftxn != NULL)
		filter_txn_carry(&s->tx->ftxn, s->sftxn);
	s->tx->mail_params = params_of(s->tx->mail_line, strlen(s->tx->mail_line));
	s->tx->ftxn.mail_params = s->tx->mail_params;
	run_stage(s, s->tx->pre_policy, FILTER_MAIL, &s->tx->ftxn, mail_filtered);
}

static void
rcpt_filtered(struct session *s)
{
	struct transaction *tx = s->tx;
	const struct policy *p = tx->policy ? tx->policy : tx->rcpt_policy;
	struct policy_decision d;

	if (decide(s, p, &tx->ftxn, tx->rcpt_first_finding, &d)) {
		session_replyf(s, "%s\r\n", d.reply);
		/* This recipient's findings end with it. */
		filter_txn_drop_findings(&tx->ftxn, tx->rcpt_first_finding);
		free(tx->rcpt_cmd);
		tx->rcpt_cmd = NULL;
		return;
	}
	/* Kept until the reply: an accepted RCPT may have to be sent again. */
	s->wait = W_RCPT;
	backend_command(s->backend, tx->rcpt_cmd, strlen(tx->rcpt_cmd));
}

void
session_filter_rcpt(struct session *s, const char *line, size_t len)
{
	struct transaction *tx = s->tx;
	struct policy_subject subject;
	struct sockaddr_storage ss;

	subject_of(s, tx->rcpt_line, &subject, &ss);
	tx->rcpt_policy = policy_select(&s->cfg->policies, &subject);
	if (tx->policy != NULL && tx->rcpt_policy != tx->policy) {
		session_reply(s, "450 4.3.0 Error: this recipient has another policy; send it "
		                 "in a transaction of its own\r\n");
		return;
	}
	free(tx->rcpt_cmd);
	tx->rcpt_cmd = xstrndup(line, len);
	tx->rcpt_first_finding = tx->ftxn.nfindings;
	tx->ftxn.rcpt = tx->rcpt_line;
	free(tx->rcpt_params);
	tx->rcpt_params = params_of(line, len);
	tx->ftxn.rcpt_params = tx->rcpt_params;
	run_stage(s, tx->rcpt_policy, FILTER_RCPT, &tx->ftxn, rcpt_filtered);
}

static void
stream_field(void *arg, const char *field, size_t len)
{
	struct session *s = arg;
	const struct policy *p = s->tx->policy;

	chain_feed(p->chain, p->nchain, FILTER_HEADER, &s->tx->ftxn, field, len);
}

static void
stream_end_of_header(void *arg)
{
	struct session *s = arg;
	const struct policy *p = s->tx->policy;

	chain_feed(p->chain, p->nchain, FILTER_EOH, &s->tx->ftxn, NULL, 0);
}

static void
stream_body(void *arg, const char *data, size_t len)
{
	struct session *s = arg;
	const struct policy *p = s->tx->policy;

	chain_feed(p->chain, p->nchain, FILTER_BODY, &s->tx->ftxn, data, len);
}

static const struct header_reader_callbacks streaming = {
        .field = stream_field,
        .end_of_header = stream_end_of_header,
        .body = stream_body,
};
static const struct header_reader_callbacks header_only = {0};

void
session_filter_content_begin(struct session *s)
{
	struct transaction *tx = s->tx;
	unsigned want =
	        FILTER_STAGE(FILTER_HEADER) | FILTER_STAGE(FILTER_EOH) | FILTER_STAGE(FILTER_BODY);

	/* The header is always parsed (once): Authentication-Results, EOM filters. */
	header_reader_init(&tx->hr, HEADER_MAX);
	tx->streaming = (chain_stages(tx->policy->chain, tx->policy->nchain) & want) != 0;
}

void
session_filter_content(struct session *s, const char *data, size_t len)
{
	struct transaction *tx = s->tx;

	/* Once in the body, only streaming filters need the octets. */
	if (tx->hr.in_body && !tx->streaming)
		return;
	header_reader_feed(&tx->hr, data, len, tx->streaming ? &streaming : &header_only, s);
}

/*
 * What goes in front of the message: our Authentication-Results, tag headers,
 * and, when the client sent Authentication-Results in our name, the header
 * block without them (then *skip says how much of the spool it replaces).
 */
static struct evbuffer *
message_headers(struct session *s, const struct policy_decision *d, int whole, size_t *skip)
{
	struct transaction *tx = s->tx;
	const char *id = s->cfg->authserv_id ? s->cfg->authserv_id : s->cfg->hostname;
	const char *block = tx->ftxn.header_block;
	size_t len = tx->ftxn.header_len;
	struct evbuffer *headers = evbuffer_new();
	struct evbuffer *kept = NULL;

	policy_headers(d, id, tx->ftxn.findings, tx->ftxn.nfindings, headers);
	*skip = 0;
	/* A header block cut short (too long to be one) is passed on as it is. */
	if (!tx->hr.complete)
		return headers;
	if (memmem(block, len, "uthentication-Results", 21)) {
		kept = evbuffer_new();
		int removed = auth_results_strip(block, len, id, kept);

		if (removed > 0) {
			log_info("event=forged_auth_results session=%lx removed=%d", s->id,
			         removed);
			block = (const char *)evbuffer_pullup(kept, -1);
			len = evbuffer_get_length(kept);
			*skip = tx->ftxn.header_len;
		}
	}
	if (tx->ftxn.nedits > 0 || whole) {
		header_edits_apply(block ? block : "", len, tx->ftxn.edits, tx->ftxn.nedits,
		                   headers);
		*skip = tx->ftxn.header_len;
	} else if (*skip > 0) {
		evbuffer_add(headers, block, len);
	}
	if (kept != NULL)
		evbuffer_free(kept);
	return headers;
}

/*
 * postern keeps the message itself: the client hears 250 only once the file
 * is on disk. The backend's open transaction is reset before the next MAIL.
 */
static void
quarantine(struct session *s, struct evbuffer *headers, struct spool *message, size_t skip)
{
	struct transaction *tx = s->tx;
	struct evbuffer *envelope = evbuffer_new();
	struct spool *body = message;
	char name[256], reply[400];

	evbuffer_add_printf(envelope, "X-Postern-Envelope-From: <%s>\r\n", tx->from);
	evbuffer_add_printf(envelope, "X-Postern-Envelope-To: %s\r\n", tx->rcpts ? tx->rcpts : "");
	evbuffer_add_printf(envelope, "X-Postern-Client: [%s]:%d helo=%s\r\n", s->ip, s->port,
	                    s->helo ? s->helo : "");
	/* A rewritten header block replaces the spool's first skip octets. */
	if (skip > 0) {
		struct spool *rest = spool_new(s->cfg->limits.spool_memory, s->cfg->spool_dir);
		char block[65536];

		for (size_t off = skip; off < spool_size(body);) {
			ssize_t n = spool_read(body, off, block, sizeof(block));

			if (n <= 0 || spool_write(rest, block, (size_t)n) < 0)
				break;
			off += (size_t)n;
		}
		body = rest;
	}
	if (quarantine_store(s->cfg->quarantine_dir, envelope, headers, body, name, sizeof(name)) <
	    0) {
		log_err("event=quarantine_failed session=%lx dir=%s reason=\"%s\"", s->id,
		        s->cfg->quarantine_dir, strerror(errno));
		snprintf(reply, sizeof(reply),
		         "451 4.3.0 Error: cannot quarantine the message, try again later");
	} else {
		snprintf(reply, sizeof(reply), "250 2.0.0 Ok: quarantined as %s", name);
	}
	if (body != message)
		spool_free(body);
	evbuffer_free(envelope);
	end_transaction(s, ACTION_QUARANTINE, reply);
}

/* The sender the backend gets: the last filter's change, or the client's. */
static char *
resend_mail(const struct transaction *tx)
{
	const struct envelope_edit *e = NULL;
	struct smtp_cmd cmd;
	char *line;

	for (size_t i = 0; i < tx->ftxn.nenvelope; i++)
		if (tx->ftxn.envelope[i].op == ENVELOPE_SENDER)
			e = &tx->ftxn.envelope[i];
	if (e == NULL)
		return xstrdup(tx->mail_line);
	const char *params = "";
	size_t plen = 0;

	/* Without new parameters the client's stay (SIZE, BODY, SMTPUTF8...). */
	if (e->args != NULL) {
		params = e->args;
		plen = strlen(e->args);
	} else if (smtp_cmd_parse(tx->mail_line, strlen(tx->mail_line), &cmd) == SMTP_CMD_OK) {
		params = cmd.params;
		plen = cmd.params_len;
	}
	size_t n = strlen(e->address) + plen + 20;

	line = xmalloc(n);
	snprintf(line, n, "MAIL FROM:<%s>%s%.*s", e->address, plen ? " " : "", (int)plen, params);
	return line;
}

static void
plan_add(struct transaction *tx, char *line)
{
	tx->resend = xrealloc(tx->resend, (tx->nresend + 1) * sizeof(*tx->resend));
	tx->resend[tx->nresend++] = line;
}

/* An address as a filter wrote it, compared without <>. */
static int
same_address(const char *a, const char *b)
{
	size_t la, lb;

	if (*a == '<')
		a++;
	if (*b == '<')
		b++;
	la = strlen(a);
	lb = strlen(b);
	if (la && a[la - 1] == '>')
		la--;
	if (lb && b[lb - 1] == '>')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* MAIL, then the recipients left after the filters' edits; returns how many. */
static size_t
plan_envelope(struct transaction *tx)
{
	size_t n = tx->ftxn.nrcpt;
	char **cmds = xcalloc(n + tx->ftxn.nenvelope + 1, sizeof(*cmds));
	const char **addrs = xcalloc(n + tx->ftxn.nenvelope + 1, sizeof(*addrs));

	for (size_t i = 0; i < n; i++) {
		cmds[i] = xstrdup(tx->accepted_cmd[i]);
		addrs[i] = tx->accepted[i];
	}
	for (size_t e = 0; e < tx->ftxn.nenvelope; e++) {
		const struct envelope_edit *ed = &tx->ftxn.envelope[e];

		if (ed->op == ENVELOPE_RCPT_ADD) {
			size_t len = strlen(ed->address) + (ed->args ? strlen(ed->args) : 0) + 16;

			cmds[n] = xmalloc(len);
			snprintf(cmds[n], len, "RCPT TO:<%s>%s%s", ed->address, ed->args ? " " : "",
			         ed->args ? ed->args : "");
			addrs[n++] = ed->address;
		} else if (ed->op == ENVELOPE_RCPT_DELETE) {
			for (size_t i = 0; i < n;)
				if (same_address(addrs[i], ed->address)) {
					free(cmds[i]);
					memmove(cmds + i, cmds + i + 1,
					        (n - i - 1) * sizeof(*cmds));
					memmove(addrs + i, addrs + i + 1,
					        (n - i - 1) * sizeof(*addrs));
					n--;
				} else {
					i++;
				}
		}
	}
	plan_add(tx, resend_mail(tx));
	for (size_t i = 0; i < n; i++)
		plan_add(tx, cmds[i]);
	free(cmds);
	free(addrs);
	return n;
}

/*
 * The backend is made ready again (RSET, and XFORWARD where it is used: RSET
 * forgets it), then hears the plan; the message follows its last reply.
 */
static void
resend(struct session *s, const char *why, struct evbuffer *headers, struct spool *body,
       size_t skip)
{
	struct transaction *tx = s->tx;

	tx->resend_why = why;
	tx->resend_headers = headers;
	tx->resend_body = body;
	tx->resend_skip = skip;
	tx->resend_step = 0;
	tx->resend_rcpt_ok = 0;
	s->wait = W_RESEND;
	backend_prepare(s->backend, &tx->identity);
}

void
session_filter_resend_ready(struct session *s)
{
	struct transaction *tx = s->tx;

	s->wait = W_RESEND;
	backend_command(s->backend, tx->resend[0], strlen(tx->resend[0]));
}

static int
envelope_changed(const struct transaction *tx)
{
	return tx->ftxn.nenvelope > 0;
}

static void
eom_filtered(struct session *s)
{
	struct transaction *tx = s->tx;
	struct policy_decision d;

	tx->eom_done = 1;
	if (decide(s, tx->policy, &tx->ftxn, 0, &d)) {
		end_transaction(s, d.action, d.reply);
		return;
	}
	tx->action = d.action;
	if (d.enforce && d.action == ACTION_DISCARD) {
		end_transaction(s, ACTION_DISCARD, "250 2.0.0 Ok: discarded by policy");
		return;
	}
	/* A replaced body follows the whole header block and the empty line. */
	int new_body = tx->ftxn.new_body != NULL && tx->hr.complete;
	size_t skip;
	struct evbuffer *headers = message_headers(s, &d, new_body, &skip);
	struct spool *body = tx->spool;

	if (new_body) {
		evbuffer_add(headers, "\r\n", 2);
		body = tx->ftxn.new_body;
		skip = 0;
	}
	if (d.enforce && d.action == ACTION_QUARANTINE && s->cfg->quarantine_dir != NULL) {
		quarantine(s, headers, body, skip);
		evbuffer_free(headers);
		return;
	}
	if (d.enforce && d.action == ACTION_QUARANTINE && s->cfg->quarantine_mailbox != NULL) {
		char line[1024];

		/* The same sender to the quarantine mailbox alone. */
		plan_add(tx, resend_mail(tx));
		snprintf(line, sizeof(line), "RCPT TO:<%s>", s->cfg->quarantine_mailbox);
		plan_add(tx, xstrdup(line));
		resend(s, "quarantine", headers, body, skip);
		return;
	}
	if (envelope_changed(tx)) {
		if (plan_envelope(tx) == 0) {
			evbuffer_free(headers);
			log_info("event=no_recipients_left session=%lx", s->id);
			end_transaction(s, ACTION_DISCARD,
			                "250 2.0.0 Ok: no recipients left after filtering");
			return;
		}
		resend(s, "envelope", headers, body, skip);
		return;
	}
	s->wait = W_MESSAGE;
	backend_message(s->backend, headers, body, skip);
	evbuffer_free(headers);
}

void
session_filter_resend_step(struct session *s, int code, struct evbuffer *reply)
{
	struct transaction *tx = s->tx;
	const char *sent = tx->resend[tx->resend_step];
	int positive = code >= 200 && code <= 299;
	char first[200];
	size_t n = evbuffer_copyout(reply, first, sizeof(first) - 1);

	first[n] = '\0';
	first[strcspn(first, "\r\n")] = '\0';
	evbuffer_drain(reply, evbuffer_get_length(reply));
	if (strncasecmp(sent, "RCPT", 4) == 0) {
		if (positive)
			tx->resend_rcpt_ok++;
		else
			log_warn("event=resend_rcpt_refused session=%lx why=%s rcpt=\"%s\" "
			         "reply=\"%s\"",
			         s->id, tx->resend_why, sent + 8, first);
	} else if (!positive) {
		tx->resend_rcpt_ok = 0;
		tx->resend_step = tx->nresend - 1;
	}
	if (++tx->resend_step < tx->nresend) {
		s->wait = W_RESEND;
		backend_command(s->backend, tx->resend[tx->resend_step],
		                strlen(tx->resend[tx->resend_step]));
		return;
	}
	if (tx->resend_rcpt_ok == 0) {
		log_err("event=resend_failed session=%lx why=%s mailbox=%s reply=\"%s\"", s->id,
		        tx->resend_why,
		        s->cfg->quarantine_mailbox ? s->cfg->quarantine_mailbox : "-", first);
		end_transaction(s, tx->action,
		                strcmp(tx->resend_why, "quarantine") == 0
		                        ? "451 4.3.0 Error: cannot quarantine the message, try "
		                          "again later"
		                        : "451 4.3.0 Error: cannot pass the message on, try again "
		                          "later");
		return;
	}
	/* The backend's reply to the message goes to the client, as always. */
	s->wait = W_MESSAGE;
	backend_message(s->backend, tx->resend_headers, tx->resend_body, tx->resend_skip);
}

void
session_filter_eom(struct session *s)
{
	struct transaction *tx = s->tx;

	header_reader_finish(&tx->hr, tx->streaming ? &streaming : &header_only, s);
	filter_txn_message(&tx->ftxn, &tx->hr, tx->spool);
	run_stage(s, tx->policy, FILTER_EOM, &tx->ftxn, eom_filtered);
}

void
session_filter_accepted_rcpt(struct session *s)
{
	struct transaction *tx = s->tx;

	if (tx->policy == NULL)
		tx->policy = tx->rcpt_policy;
	tx->accepted_cmd =
	        xrealloc(tx->accepted_cmd, (tx->ftxn.nrcpt + 1) * sizeof(*tx->accepted_cmd));
	tx->accepted_cmd[tx->ftxn.nrcpt] = tx->rcpt_cmd;
	tx->rcpt_cmd = NULL;
	tx->accepted = xrealloc(tx->accepted, (tx->ftxn.nrcpt + 1) * sizeof(*tx->accepted));
	tx->accepted[tx->ftxn.nrcpt++] = xstrdup(tx->rcpt_line);
	tx->ftxn.rcpts = (const char *const *)tx->accepted;
}

void
session_filter_end(struct session *s)
{
	struct transaction *tx = s->tx;

	chain_cancel(s->chain);
	s->chain = NULL;
	if (!tx->eom_done)
		chain_notify(&tx->ftxn, FILTER_ABORT);
	filter_txn_clear(&tx->ftxn);
	header_reader_free(&tx->hr);
	free(tx->rcpt_cmd);
	for (size_t i = 0; i < tx->ftxn.nrcpt; i++)
		free(tx->accepted[i]);
	free(tx->accepted);
	for (size_t i = 0; i < tx->ftxn.nrcpt; i++)
		free(tx->accepted_cmd[i]);
	free(tx->accepted_cmd);
	for (size_t i = 0; i < tx->nresend; i++)
		free(tx->resend[i]);
	free(tx->resend);
	if (tx->resend_headers)
		evbuffer_free(tx->resend_headers);
}

size_t
session_filter_log(const struct session *s, char *buf, size_t size)
{
	const struct transaction *tx = s->tx;
	const struct policy *p = tx->policy ? tx->policy : tx->pre_policy;

	return policy_log(p, tx->action, tx->ftxn.findings, tx->ftxn.nfindings, buf, size);
}
