/*
 * NAME
 *	session_filter - where the session meets the filter chain and the policies
 * SYNOPSIS
 *	session_filter_mail(session)
 *	session_filter_rcpt(session, line, len)
 *	session_filter_eom(session)
 *	session_filter_end(session)
 *	session_filter_log(session, buf, size)
 * DESCRIPTION
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
 *	Each function runs its stage and then goes on with the transaction
 *	itself (relaying the command, or answering); while a filter is pending
 *	the session waits (W_FILTER) and reads no further commands.
 *
 *	session_filter_end() forgets the transaction's filter state and
 *	cancels a running chain. session_filter_log() formats the decision
 *	and findings for the transaction log line.
 * DIAGNOSTICS
 *	Decisions are part of the transaction log line: policy=, action=,
 *	findings=.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/log.h"
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
#include "proxy/spool.h"

/* A header block longer than this is not a header; the rest counts as body. */
#define HEADER_MAX (256 * 1024)

typedef void stage_next_fn(struct session *s);

static void
subject_of(const struct session *s, const char *rcpt, struct policy_subject *subject,
           struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s->ip, &((struct sockaddr_in *)ss)->sin_addr) == 1)
		ss->ss_family = AF_INET;
	else if (inet_pton(AF_INET6, s->ip, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
		ss->ss_family = AF_INET6;
	*subject = (struct policy_subject){.rcpt = rcpt,
	                                   .sender = s->tx->from,
	                                   .client = (const struct sockaddr *)ss,
	                                   .authenticated = s->authenticated};
}

static void
chain_done(void *arg)
{
	struct session *s = arg;
	stage_next_fn *next = s->tx->filter_next;

	s->tx->chain = NULL;
	s->wait = W_NONE;
	next(s);
	session_continue(s);
}

/* Run one stage of p's chain, then next(s): now, or from the loop. */
static void
run_stage(struct session *s, const struct policy *p, enum filter_stage stage, stage_next_fn *next)
{
	struct transaction *tx = s->tx;

	tx->ftxn.client_addr = s->ip;
	tx->ftxn.client_port = s->port;
	tx->ftxn.helo = s->helo;
	tx->ftxn.local_name = s->cfg->hostname;
	tx->ftxn.local_addr = s->local_ip;
	tx->ftxn.mail_from = tx->from;
	tx->ftxn.authenticated = s->authenticated;
	tx->ftxn.auth_user = s->auth_user;
	tx->ftxn.tls_version = conn_tls_version(s->conn);
	tx->ftxn.tls_cipher = conn_tls_cipher(s->conn);
	if (p->nchain == 0) {
		next(s);
		return;
	}
	tx->filter_next = next;
	s->wait = W_FILTER;
	tx->chain =
	        chain_run(&s->server->env, p->chain, p->nchain, stage, &tx->ftxn, chain_done, s);
	if (tx->chain == NULL) {
		s->wait = W_NONE;
		next(s);
	}
}

/* Findings from index first on; returns 1 when the decision blocks (and answers). */
static int
decide(struct session *s, const struct policy *p, size_t first, struct policy_decision *d)
{
	struct transaction *tx = s->tx;

	policy_evaluate(p, tx->ftxn.findings + first, tx->ftxn.nfindings - first, d);
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
mail_filtered(struct session *s)
{
	struct transaction *tx = s->tx;
	struct policy_decision d;

	if (decide(s, tx->pre_policy, 0, &d)) {
		end_transaction(s, d.action, d.reply);
		return;
	}
	s->wait = W_PREPARE;
	backend_prepare(s->backend, &tx->identity);
}

void
session_filter_mail(struct session *s)
{
	struct policy_subject subject;
	struct sockaddr_storage ss;

	subject_of(s, NULL, &subject, &ss);
	s->tx->pre_policy = policy_select(&s->cfg->policies, &subject);
	run_stage(s, s->tx->pre_policy, FILTER_MAIL, mail_filtered);
}

static void
rcpt_filtered(struct session *s)
{
	struct transaction *tx = s->tx;
	const struct policy *p = tx->policy ? tx->policy : tx->rcpt_policy;
	struct policy_decision d;

	if (decide(s, p, tx->rcpt_first_finding, &d)) {
		session_replyf(s, "%s\r\n", d.reply);
		/* This recipient's findings end with it. */
		while (tx->ftxn.nfindings > tx->rcpt_first_finding) {
			struct finding *f = &tx->ftxn.findings[--tx->ftxn.nfindings];

			free(f->method);
			free(f->result);
			free(f->detail);
			free(f->reply);
		}
		free(tx->rcpt_cmd);
		tx->rcpt_cmd = NULL;
		return;
	}
	s->wait = W_RCPT;
	backend_command(s->backend, tx->rcpt_cmd, strlen(tx->rcpt_cmd));
	free(tx->rcpt_cmd);
	tx->rcpt_cmd = NULL;
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
	tx->rcpt_cmd = xstrndup(line, len);
	tx->rcpt_first_finding = tx->ftxn.nfindings;
	tx->ftxn.rcpt = tx->rcpt_line;
	run_stage(s, tx->rcpt_policy, FILTER_RCPT, rcpt_filtered);
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
message_headers(struct session *s, const struct policy_decision *d, size_t *skip)
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
	if (tx->ftxn.nedits > 0) {
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
quarantine(struct session *s, struct evbuffer *headers, size_t skip)
{
	struct transaction *tx = s->tx;
	struct evbuffer *envelope = evbuffer_new();
	struct spool *body = tx->spool;
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
	if (body != tx->spool)
		spool_free(body);
	evbuffer_free(envelope);
	end_transaction(s, ACTION_QUARANTINE, reply);
}

static void
eom_filtered(struct session *s)
{
	struct transaction *tx = s->tx;
	struct policy_decision d;

	if (decide(s, tx->policy, 0, &d)) {
		end_transaction(s, d.action, d.reply);
		return;
	}
	tx->action = d.action;
	if (d.enforce && d.action == ACTION_DISCARD) {
		end_transaction(s, ACTION_DISCARD, "250 2.0.0 Ok: discarded by policy");
		return;
	}
	size_t skip;
	struct evbuffer *headers = message_headers(s, &d, &skip);

	if (d.enforce && d.action == ACTION_QUARANTINE && s->cfg->quarantine_dir != NULL) {
		quarantine(s, headers, skip);
		evbuffer_free(headers);
		return;
	}
	if (d.enforce && d.action == ACTION_QUARANTINE && s->cfg->quarantine_mailbox != NULL) {
		/* RSET, then the same sender to the quarantine mailbox alone. */
		tx->quarantine_headers = headers;
		tx->quarantine_skip = skip;
		tx->quarantine_step = 0;
		s->wait = W_QUARANTINE;
		backend_command(s->backend, "RSET", 4);
		return;
	}
	s->wait = W_MESSAGE;
	backend_message(s->backend, headers, tx->spool, skip);
	evbuffer_free(headers);
}

void
session_filter_quarantine_step(struct session *s, int code, struct evbuffer *reply)
{
	struct transaction *tx = s->tx;
	char line[1024];

	if (code < 200 || code > 299) {
		char first[200];
		size_t n = evbuffer_copyout(reply, first, sizeof(first) - 1);

		first[n] = '\0';
		first[strcspn(first, "\r\n")] = '\0';
		log_err("event=quarantine_failed session=%lx mailbox=%s step=%d reply=\"%s\"",
		        s->id, s->cfg->quarantine_mailbox, tx->quarantine_step, first);
		evbuffer_drain(reply, evbuffer_get_length(reply));
		end_transaction(s, ACTION_QUARANTINE,
		                "451 4.3.0 Error: cannot quarantine the message, try again later");
		return;
	}
	evbuffer_drain(reply, evbuffer_get_length(reply));
	switch (tx->quarantine_step++) {
	case 0: /* the client's MAIL, with its parameters */
		s->wait = W_QUARANTINE;
		backend_command(s->backend, tx->mail_line, strlen(tx->mail_line));
		break;
	case 1:
		snprintf(line, sizeof(line), "RCPT TO:<%s>", s->cfg->quarantine_mailbox);
		s->wait = W_QUARANTINE;
		backend_command(s->backend, line, strlen(line));
		break;
	default: /* the backend's reply to the message goes to the client, as always */
		s->wait = W_MESSAGE;
		backend_message(s->backend, tx->quarantine_headers, tx->spool, tx->quarantine_skip);
		break;
	}
}

static ssize_t
read_spool(void *arg, size_t offset, void *buf, size_t len)
{
	return spool_read(arg, offset, buf, len);
}

void
session_filter_eom(struct session *s)
{
	struct transaction *tx = s->tx;

	header_reader_finish(&tx->hr, tx->streaming ? &streaming : &header_only, s);
	tx->ftxn.header_block = tx->hr.block;
	tx->ftxn.header_len = tx->hr.block_len;
	tx->ftxn.size = spool_size(tx->spool);
	tx->ftxn.read_message = read_spool;
	tx->ftxn.read_arg = tx->spool;
	run_stage(s, tx->policy, FILTER_EOM, eom_filtered);
}

void
session_filter_accepted_rcpt(struct session *s)
{
	struct transaction *tx = s->tx;

	if (tx->policy == NULL)
		tx->policy = tx->rcpt_policy;
	tx->accepted = xrealloc(tx->accepted, (tx->ftxn.nrcpt + 1) * sizeof(*tx->accepted));
	tx->accepted[tx->ftxn.nrcpt++] = xstrdup(tx->rcpt_line);
	tx->ftxn.rcpts = (const char *const *)tx->accepted;
}

void
session_filter_end(struct session *s)
{
	struct transaction *tx = s->tx;

	chain_cancel(tx->chain);
	tx->chain = NULL;
	filter_txn_clear(&tx->ftxn);
	header_reader_free(&tx->hr);
	free(tx->rcpt_cmd);
	for (size_t i = 0; i < tx->ftxn.nrcpt; i++)
		free(tx->accepted[i]);
	free(tx->accepted);
	if (tx->quarantine_headers)
		evbuffer_free(tx->quarantine_headers);
}

size_t
session_filter_log(const struct session *s, char *buf, size_t size)
{
	const struct transaction *tx = s->tx;
	const struct policy *p = tx->policy ? tx->policy : tx->pre_policy;
	size_t o = 0;

	if (p == NULL || (p->nchain == 0 && tx->ftxn.nfindings == 0))
		return 0;
	o += (size_t)snprintf(buf + o, size - o, " policy=%s%s action=%s findings=", p->name,
	                      p->monitor ? "(monitor)" : "",
	                      action_name(tx->action ? tx->action : ACTION_ACCEPT));
	for (size_t i = 0; i < tx->ftxn.nfindings && o < size; i++) {
		const struct finding *f = &tx->ftxn.findings[i];

		o += (size_t)snprintf(buf + o, size - o, "%s%s.%s=%s", i ? "," : "", f->filter,
		                      f->method, f->result);
		if (!isnan(f->score) && o < size)
			o += (size_t)snprintf(buf + o, size - o, "(%.1f)", f->score);
	}
	if (tx->ftxn.nfindings == 0 && o < size)
		o += (size_t)snprintf(buf + o, size - o, "-");
	return o < size ? o : size - 1;
}
