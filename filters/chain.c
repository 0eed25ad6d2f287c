/*
 * NAME
 *	chain - run one stage of the filter chain, without blocking
 * SYNOPSIS
 *	See chain.h; the filter-facing calls are in filter.h.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "filters/chain.h"
#include "filters/header_edit.h"
#include "proxy/header_reader.h"
#include "proxy/spool.h"

struct chain {
	struct filter *const *filters;
	size_t n, next;
	struct filter_call call;
	struct event *timer;
	chain_done_fn *done;
	void *arg;
	int pending; /* a filter is running */
	int in_run;  /* inside a filter's run(): its filter_done() must not advance */
};

static const char *const action_names[] = {"none",    "accept",   "tag",   "quarantine",
                                           "discard", "tempfail", "reject"};

const char *
action_name(enum action action)
{
	return action_names[action];
}

int
action_parse(const char *text, enum action *action)
{
	for (size_t i = ACTION_ACCEPT; i < sizeof(action_names) / sizeof(action_names[0]); i++)
		if (strcmp(text, action_names[i]) == 0) {
			*action = (enum action)i;
			return 0;
		}
	return -1;
}

static struct finding *
add_finding(struct filter_txn *txn, const char *filter, const char *method, const char *result)
{
	struct finding *f;

	txn->findings = xrealloc(txn->findings, (txn->nfindings + 1) * sizeof(*txn->findings));
	f = &txn->findings[txn->nfindings++];
	memset(f, 0, sizeof(*f));
	f->filter = filter;
	f->method = xstrdup(method);
	f->result = xstrdup(result);
	f->score = NAN;
	f->action = ACTION_NONE;
	return f;
}

void
filter_finding(struct filter_call *call, const char *method, const char *result, double score,
               const char *fmt, ...)
{
	struct finding *f = add_finding(call->txn, call->filter->name, method, result);
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	f->detail = xstrdup(detail);
	f->score = score;
}

void
filter_finding_reply(struct filter_call *call, const char *reply)
{
	struct finding *f;

	if (call->txn->nfindings == 0)
		return;
	f = &call->txn->findings[call->txn->nfindings - 1];
	free(f->reply);
	f->reply = xstrdup(reply);
}

void
filter_verdict(struct filter_call *call, enum action action, const char *reply)
{
	struct finding *f = add_finding(call->txn, call->filter->name, call->filter->type->name,
	                                action_name(action));

	f->action = action;
	f->reply = reply ? xstrdup(reply) : NULL;
}

void
filter_act(struct filter_call *call, enum action action, const char *reply)
{
	struct finding *f = &call->txn->findings[call->txn->nfindings - 1];

	f->action = action;
	free(f->reply);
	f->reply = reply ? xstrdup(reply) : NULL;
}

static const enum action on_error_action[] = {ACTION_NONE, ACTION_TEMPFAIL, ACTION_REJECT};

void
filter_error(struct filter_call *call, const char *reason)
{
	add_finding(call->txn, call->filter->name, "error", reason)->action =
	        on_error_action[call->filter->on_error];
}

ssize_t
filter_read_message(const struct filter_txn *txn, size_t offset, void *buf, size_t len)
{
	if (txn->read_message == NULL)
		return -1;
	return txn->read_message(txn->read_arg, offset, buf, len);
}

static void
add_edit(struct filter_txn *txn, enum header_edit_op op, const char *name, unsigned index,
         const char *value)
{
	txn->edits = xrealloc(txn->edits, (txn->nedits + 1) * sizeof(*txn->edits));
	txn->edits[txn->nedits++] = (struct header_edit){.op = op,
	                                                 .name = xstrdup(name),
	                                                 .value = value ? xstrdup(value) : NULL,
	                                                 .index = index};
}

void
filter_header_add(struct filter_call *call, const char *name, const char *value)
{
	add_edit(call->txn, HEADER_ADD, name, 0, value);
}

void
filter_header_insert(struct filter_call *call, unsigned index, const char *name, const char *value)
{
	add_edit(call->txn, HEADER_INSERT, name, index, value);
}

void
filter_header_change(struct filter_call *call, const char *name, unsigned index, const char *value)
{
	add_edit(call->txn, HEADER_CHANGE, name, index, value);
}

static void
add_envelope(struct filter_call *call, enum envelope_edit_op op, const char *address,
             const char *args)
{
	struct filter_txn *txn = call->txn;

	if (call->stage != FILTER_EOM) {
		/* Too late or too early to re-send: a contract broken by the filter. */
		log_err("event=filter_bug filter=%s stage=%d reason=\"envelope edit outside EOM\"",
		        call->filter->name, call->stage);
		return;
	}
	txn->envelope = xrealloc(txn->envelope, (txn->nenvelope + 1) * sizeof(*txn->envelope));
	txn->envelope[txn->nenvelope++] = (struct envelope_edit){
	        .op = op, .address = xstrdup(address), .args = args ? xstrdup(args) : NULL};
}

void
filter_sender_change(struct filter_call *call, const char *address, const char *args)
{
	add_envelope(call, ENVELOPE_SENDER, address, args);
}

void
filter_rcpt_add(struct filter_call *call, const char *address, const char *args)
{
	add_envelope(call, ENVELOPE_RCPT_ADD, address, args);
}

void
filter_rcpt_delete(struct filter_call *call, const char *address)
{
	add_envelope(call, ENVELOPE_RCPT_DELETE, address, NULL);
}

int
filter_body_replace(struct filter_call *call, const char *data, size_t len, int first)
{
	struct filter_txn *txn = call->txn;

	if (call->stage != FILTER_EOM)
		return -1;
	if (first || txn->new_body == NULL) {
		if (txn->new_body != NULL)
			spool_free(txn->new_body);
		txn->new_body = spool_new(txn->spool_memory, txn->spool_dir);
	}
	return spool_write(txn->new_body, data, len);
}

void
filter_message_header(const struct filter_txn *txn, struct evbuffer *out)
{
	header_edits_apply(txn->header_block ? txn->header_block : "", txn->header_len, txn->edits,
	                   txn->nedits, out);
}

ssize_t
filter_message_body(const struct filter_txn *txn, size_t offset, void *buf, size_t len)
{
	if (txn->new_body != NULL)
		return spool_read(txn->new_body, offset, buf, len);
	if (txn->read_message == NULL)
		return 0;
	return filter_read_message(txn, txn->body_offset + offset, buf, len);
}

void
filter_txn_carry(struct filter_txn *to, const struct filter_txn *from)
{
	for (size_t i = 0; i < from->nfindings; i++) {
		const struct finding *f = &from->findings[i];
		struct finding *c = add_finding(to, f->filter, f->method, f->result);

		c->detail = f->detail ? xstrdup(f->detail) : NULL;
		c->score = f->score;
		c->action = f->action;
		c->reply = f->reply ? xstrdup(f->reply) : NULL;
	}
}

static void
free_finding(struct finding *f)
{
	free(f->method);
	free(f->result);
	free(f->detail);
	free(f->reply);
}

void
filter_txn_drop_findings(struct filter_txn *txn, size_t first)
{
	while (txn->nfindings > first)
		free_finding(&txn->findings[--txn->nfindings]);
}

void
filter_txn_clear(struct filter_txn *txn)
{
	for (size_t i = 0; i < txn->nedits; i++) {
		free(txn->edits[i].name);
		free(txn->edits[i].value);
	}
	free(txn->edits);
	txn->edits = NULL;
	txn->nedits = 0;
	for (size_t i = 0; i < txn->nenvelope; i++) {
		free(txn->envelope[i].address);
		free(txn->envelope[i].args);
	}
	free(txn->envelope);
	txn->envelope = NULL;
	txn->nenvelope = 0;
	if (txn->new_body != NULL)
		spool_free(txn->new_body);
	txn->new_body = NULL;
	filter_txn_drop_findings(txn, 0);
	free(txn->findings);
	txn->findings = NULL;
	for (size_t i = 0; i < FILTER_CHAIN_MAX; i++) {
		const struct filter *f = txn->state_owner[i];

		if (f && f->type->txn_end && txn->state[i])
			f->type->txn_end(f, txn->state[i]);
		txn->state[i] = NULL;
		txn->state_owner[i] = NULL;
	}
}

static void **
state_slot(struct filter_txn *txn, size_t index, const struct filter *f)
{
	/* A slot belongs to one filter; another policy's chain starts it afresh. */
	if (txn->state_owner[index] != f) {
		if (txn->state_owner[index] && txn->state_owner[index]->type->txn_end &&
		    txn->state[index])
			txn->state_owner[index]->type->txn_end(txn->state_owner[index],
			                                       txn->state[index]);
		txn->state[index] = NULL;
		txn->state_owner[index] = f;
	}
	return &txn->state[index];
}

/* The filter's slot in the session, made at its first run there. */
static void **
session_slot(struct filter_session *fs, const struct filter *f)
{
	if (fs == NULL)
		return NULL;
	for (size_t i = 0; i < fs->nslots; i++)
		if (fs->slots[i].filter == f)
			return &fs->slots[i].state;
	fs->slots = xrealloc(fs->slots, (fs->nslots + 1) * sizeof(*fs->slots));
	fs->slots[fs->nslots] = (struct filter_session_slot){.filter = f};
	return &fs->slots[fs->nslots++].state;
}

void
chain_notify(struct filter_txn *txn, enum filter_stage stage)
{
	struct filter_call call = {.stage = stage, .txn = txn};
	struct filter_session *fs = txn->session;

	for (size_t i = 0; fs != NULL && i < fs->nslots; i++) {
		const struct filter *f = fs->slots[i].filter;

		if (!(f->type->stages & FILTER_STAGE(stage)))
			continue;
		call.filter = f;
		call.session_state = &fs->slots[i].state;
		f->type->run(&call);
	}
}

void
filter_session_end(struct filter_session *fs)
{
	for (size_t i = 0; i < fs->nslots; i++) {
		const struct filter *f = fs->slots[i].filter;

		if (f->type->session_end && fs->slots[i].state)
			f->type->session_end(f, fs->slots[i].state);
	}
	free(fs->slots);
	fs->slots = NULL;
	fs->nslots = 0;
}

/* Run filters until one is pending or all are done; returns 1 when all are done. */
static int
advance(struct chain *c)
{
	while (c->next < c->n) {
		size_t index = c->next++;
		struct filter *f = c->filters[index];

		if (!(f->type->stages & FILTER_STAGE(c->call.stage)))
			continue;
		c->call.filter = f;
		c->call.state = state_slot(c->call.txn, index, f);
		c->call.session_state = session_slot(c->call.txn->session, f);
		c->call.scratch = NULL;
		c->pending = 1;
		c->in_run = 1;
		enum filter_rc rc = f->type->run(&c->call);

		c->in_run = 0;
		/* A filter may call filter_done() before it even returns PENDING. */
		if (rc == FILTER_PENDING && c->pending) {
			struct timeval tv = {.tv_sec = f->timeout_ms / 1000,
			                     .tv_usec = (f->timeout_ms % 1000) * 1000};

			evtimer_add(c->timer, &tv);
			return 0;
		}
		c->pending = 0;
	}
	return 1;
}

static void
finish_async(struct chain *c)
{
	chain_done_fn *done = c->done;
	void *arg = c->arg;

	chain_cancel(c);
	done(arg);
}

void
filter_done(struct filter_call *call)
{
	struct chain *c = call->private;

	if (!c->pending)
		return;
	c->pending = 0;
	evtimer_del(c->timer);
	if (!c->in_run && advance(c))
		finish_async(c);
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct chain *c = arg;
	const struct filter *f = c->call.filter;

	log_warn("event=filter_timeout filter=%s stage=%d timeout_ms=%u", f->name, c->call.stage,
	         f->timeout_ms);
	if (f->type->cancel)
		f->type->cancel(&c->call);
	c->pending = 0;
	add_finding(c->call.txn, f->name, "error", "timeout")->action =
	        on_error_action[f->on_error];
	if (advance(c))
		finish_async(c);
}

struct chain *
chain_run(const struct chain_env *env, struct filter *const *filters, size_t n,
          enum filter_stage stage, struct filter_txn *txn, chain_done_fn *done, void *arg)
{
	struct chain *c = xcalloc(1, sizeof(*c));

	c->filters = filters;
	c->n = n;
	c->done = done;
	c->arg = arg;
	c->call = (struct filter_call){.stage = stage,
	                               .txn = txn,
	                               .base = env->base,
	                               .workers = env->workers,
	                               .private = c};
	c->timer = evtimer_new(env->base, timeout_cb, c);
	if (!advance(c))
		return c;
	chain_cancel(c);
	return NULL;
}

void
chain_feed(struct filter *const *filters, size_t n, enum filter_stage stage, struct filter_txn *txn,
           const char *data, size_t len)
{
	struct filter_call call = {.stage = stage, .txn = txn, .data = data, .len = len};

	for (size_t i = 0; i < n; i++) {
		if (!(filters[i]->type->stages & FILTER_STAGE(stage)))
			continue;
		call.filter = filters[i];
		call.state = state_slot(txn, i, filters[i]);
		call.session_state = session_slot(txn->session, filters[i]);
		if (filters[i]->type->run(&call) == FILTER_PENDING) {
			/* A contract broken by the filter, not by the network. */
			log_err("event=filter_bug filter=%s stage=%d reason=\"pending in a "
			        "streaming "
			        "stage\"",
			        filters[i]->name, stage);
			add_finding(txn, filters[i]->name, "error", "pending");
		}
	}
}

unsigned
chain_stages(struct filter *const *filters, size_t n)
{
	unsigned stages = 0;

	for (size_t i = 0; i < n; i++)
		stages |= filters[i]->type->stages;
	return stages;
}

void
chain_loop_end(struct filter *const *filters, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (filters[i]->type != NULL && filters[i]->type->loop_end != NULL)
			filters[i]->type->loop_end(filters[i]);
}

void
chain_cancel(struct chain *c)
{
	if (c == NULL)
		return;
	if (c->pending && c->call.filter->type->cancel)
		c->call.filter->type->cancel(&c->call);
	event_free(c->timer);
	free(c);
}

static ssize_t
read_spool(void *arg, size_t offset, void *buf, size_t len)
{
	return spool_read(arg, offset, buf, len);
}

void
filter_txn_message(struct filter_txn *txn, const struct header_reader *hr, struct spool *spool)
{
	txn->header_block = hr->block;
	txn->header_len = hr->block_len;
	txn->size = spool_size(spool);
	txn->read_message = read_spool;
	txn->read_arg = spool;
	/* The body follows the header's empty line, when the header ended with one. */
	txn->body_offset = hr->block_len + (hr->complete ? 2 : 0);
}
