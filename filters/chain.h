/*
 * NAME
 *	chain - run one stage of the filter chain, without blocking
 * SYNOPSIS
 *	chain_run(env, filters, n, stage, txn, done, arg)
 *	chain_cancel(chain)
 *	chain_feed(filters, n, stage, txn, data, len)
 *	chain_stages(filters, n)
 *	chain_loop_end(filters, n)
 *	chain_notify(txn, stage)
 *	filter_session_end(session)
 *	filter_txn_carry(to, from), filter_txn_drop_findings(txn, first)
 *	filter_txn_message(txn, hr, spool)
 *	filter_txn_clear(txn)
 * DESCRIPTION
 *	env names the event loop and the worker pool filters may use.
 *	chain_run() calls, in order, every filter in the list that implements
 *	the stage. Findings accumulate in txn. When every filter finished at
 *	once it returns NULL and done() is not called; otherwise it returns the
 *	running chain and calls done(arg) from the event loop when the last
 *	filter has finished.
 *
 *	A filter that does not finish within its timeout is cancelled and its
 *	on_error applies: continue (a finding "error=timeout", no action),
 *	tempfail or reject (a finding with that action).
 *
 *	chain_feed() gives one header field or body chunk to every filter that
 *	implements the streaming stage, at once (see filter.h).
 *	chain_stages() is the union of the stages the filters implement.
 *	chain_loop_end() tells every filter that the event loop it ran on is
 *	about to be freed (filter_type's loop_end).
 *
 *	chain_notify() gives a notice (FILTER_ABORT, FILTER_CLOSE) to every
 *	filter that ran in txn's session and implements it, at once, in the
 *	order they first ran; call->state is NULL there, session_state is the
 *	filter's session slot.
 *
 *	Every stage run with a txn whose session is set (struct
 *	filter_session, zeroed by the caller, one per client session) gives
 *	each filter its session slot; filter_session_end() at the end of the
 *	session calls each type's session_end() for the state kept there and
 *	forgets the slots. Call chain_notify(FILTER_CLOSE) first.
 *
 *	filter_txn_carry() copies from's findings into to (a session's CONNECT
 *	and HELO findings into each transaction). filter_txn_drop_findings()
 *	forgets the findings from index first on. filter_txn_clear() frees
 *	what a transaction's filters left: findings, header and envelope
 *	edits, a replacement body, each filter's state (txn_end()).
 *
 *	filter_txn_message() gives an EOM stage the message: the header hr
 *	parsed, and the spool it was received into, which filters read with
 *	filter_read_message() and filter_message_body() (filter.h).
 *
 *	chain_cancel() stops a running chain (the session is going away);
 *	done() is then never called.
 * DIAGNOSTICS
 *	A filter timeout is logged (warning) with the filter's name.
 */
#ifndef POSTERN_CHAIN_H
#define POSTERN_CHAIN_H

#include "filters/filter.h"

struct chain;

typedef void chain_done_fn(void *arg);

struct chain_env {
	struct event_base *base;
	struct worker_pool *workers;
};

struct chain *chain_run(const struct chain_env *env, struct filter *const *filters, size_t n,
                        enum filter_stage stage, struct filter_txn *txn, chain_done_fn *done,
                        void *arg);
void chain_cancel(struct chain *chain);
void chain_feed(struct filter *const *filters, size_t n, enum filter_stage stage,
                struct filter_txn *txn, const char *data, size_t len);
unsigned chain_stages(struct filter *const *filters, size_t n);
void chain_loop_end(struct filter *const *filters, size_t n);
void chain_notify(struct filter_txn *txn, enum filter_stage stage);
void filter_session_end(struct filter_session *session);
void filter_txn_carry(struct filter_txn *to, const struct filter_txn *from);
void filter_txn_drop_findings(struct filter_txn *txn, size_t first);
struct header_reader;
void filter_txn_message(struct filter_txn *txn, const struct header_reader *hr,
                        struct spool *spool);
void filter_txn_clear(struct filter_txn *txn);

#endif
