/*
 * NAME
 *	worker - a bounded pool of threads for work that blocks
 * SYNOPSIS
 *	worker_pool_new(base, threads), worker_pool_free(pool)
 *	worker_submit(pool, work, done, arg)
 *	worker_cancel(job)
 * DESCRIPTION
 *	Libraries that make synchronous DNS or network calls (libspf2,
 *	libopendkim) run on these threads, never on the event loop's.
 *
 *	worker_submit() queues work(arg) for a worker thread and returns the
 *	job; when work() has returned, done(arg) is called on the event loop's
 *	thread. Jobs wait in a queue when every thread is busy.
 *
 *	worker_cancel() is for a filter whose call was cancelled (a timeout):
 *	a queued job is dropped, a running one finishes, and in both cases
 *	done() is never called; the pool frees the job. It returns 1 when the
 *	job was dropped before work() started (arg is the caller's again), 0
 *	when work() has started (it may still be using arg: the caller must
 *	leave arg to work() to free, see filters/spf.c). After done() has been
 *	called the job is gone and must not be cancelled.
 *
 *	worker_pool_free() stops the threads after the jobs they are running;
 *	queued jobs are dropped without their done().
 * DIAGNOSTICS
 *	Failing to start a thread is fatal (start-up only).
 */
#ifndef POSTERN_WORKER_H
#define POSTERN_WORKER_H

struct event_base;
struct worker_pool;
struct worker_job;

typedef void worker_fn(void *arg);

struct worker_pool *worker_pool_new(struct event_base *base, unsigned threads);
void worker_pool_free(struct worker_pool *pool);
struct worker_job *worker_submit(struct worker_pool *pool, worker_fn *work, worker_fn *done,
                                 void *arg);
int worker_cancel(struct worker_job *job);

#endif
