/*
 * NAME
 *	bridge - run work on the chain's event-loop thread, from libmilter's threads
 * SYNOPSIS
 *	bridge_start(workers, dns), bridge_stop(bridge)
 *	bridge_env(bridge)
 *	bridge_call(bridge, job, fn, arg)
 *	bridge_done(job)
 * DESCRIPTION
 *	The filter chain wants an event loop that never blocks (filters.h);
 *	libmilter calls back from a thread per SMTP connection and wants an
 *	answer before it returns. The bridge is one thread running the event
 *	loop (with the worker pool for filters' blocking work: workers
 *	threads); bridge_call() hands fn(job, arg) to it and waits until the
 *	work calls bridge_done(job), at once or later from the loop (a chain
 *	stage that was pending). Everything the work touches is the caller's,
 *	who waits meanwhile: no other locking is needed.
 *
 *	bridge_start() also sets up the shared resolver (filters/dns.h) on
 *	the loop with the dns: settings, once for the process, as postern
 *	does: SPF, DKIM, DMARC and DNS lists ask it. It returns NULL when the
 *	thread cannot start (the reason logged). bridge_stop() stops the loop
 *	and joins the thread, then shuts the resolver down; no call may be
 *	waiting then.
 * DIAGNOSTICS
 *	Logs (error) a thread or pipe that cannot be made, and a resolver
 *	that cannot be set up (every lookup is then a temporary error).
 */
#ifndef POSTERN_BRIDGE_H
#define POSTERN_BRIDGE_H

#include <pthread.h>
#include <sys/queue.h>

#include "filters/chain.h"
#include "policies/config.h"

struct bridge;

struct bridge_job {
	TAILQ_ENTRY(bridge_job) entry;
	struct bridge *bridge;
	void (*fn)(struct bridge_job *job, void *arg);
	void *arg;
	int done;
};

struct bridge *bridge_start(unsigned workers, const struct config_dns *dns);
void bridge_stop(struct bridge *bridge);
const struct chain_env *bridge_env(const struct bridge *bridge);
void bridge_call(struct bridge *bridge, struct bridge_job *job,
                 void (*fn)(struct bridge_job *job, void *arg), void *arg);
void bridge_done(struct bridge_job *job);

#endif
