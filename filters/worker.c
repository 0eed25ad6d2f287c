/*
 * NAME
 *	worker - a bounded pool of threads for work that blocks
 * SYNOPSIS
 *	See worker.h.
 * DESCRIPTION
 *	One mutex guards the queue of waiting jobs and the list of finished
 *	ones. A worker that finishes a job moves it to the finished list and
 *	writes to a pipe; the loop reads the pipe and calls done() for each
 *	finished job that was not cancelled.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "filters/worker.h"

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_FINISHED };

struct worker_job {
	TAILQ_ENTRY(worker_job) entry;
	struct worker_pool *pool;
	worker_fn *work, *done;
	void *arg;
	enum job_state state;
	int cancelled;
};

TAILQ_HEAD(job_list, worker_job);

struct worker_pool {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job_list queued, finished;
	pthread_t *threads;
	unsigned nthreads;
	int stopping;
	int pipe[2];
	struct event *ev;
};

static void *
worker_main(void *arg)
{
	struct worker_pool *pool = arg;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		struct worker_job *job;

		while (!pool->stopping && TAILQ_EMPTY(&pool->queued))
			pthread_cond_wait(&pool->wake, &pool->lock);
		if (pool->stopping)
			break;
		job = TAILQ_FIRST(&pool->queued);
		TAILQ_REMOVE(&pool->queued, job, entry);
		job->state = JOB_RUNNING;
		pthread_mutex_unlock(&pool->lock);
		job->work(job->arg);
		pthread_mutex_lock(&pool->lock);
		job->state = JOB_FINISHED;
		TAILQ_INSERT_TAIL(&pool->finished, job, entry);
		/* A full pipe already holds a wake-up for the loop: nothing is lost. */
		if (write(pool->pipe[1], "x", 1) < 0 && errno != EAGAIN)
			log_err("event=worker_pipe_error reason=\"%s\"", strerror(errno));
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

static void
finished_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_pool *pool = arg;
	struct job_list done = TAILQ_HEAD_INITIALIZER(done);
	struct worker_job *job;
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&pool->lock);
	TAILQ_CONCAT(&done, &pool->finished, entry);
	pthread_mutex_unlock(&pool->lock);
	/* done() runs unlocked: it may submit or cancel other jobs. */
	while ((job = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, job, entry);
		if (!job->cancelled)
			job->done(job->arg);
		free(job);
	}
}

struct worker_pool *
worker_pool_new(struct event_base *base, unsigned threads)
{
	struct worker_pool *pool = xcalloc(1, sizeof(*pool));

	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	TAILQ_INIT(&pool->queued);
	TAILQ_INIT(&pool->finished);
	if (pipe2(pool->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		fatal("event=worker_pool_failed reason=\"pipe: %s\"", strerror(errno));
	pool->ev = event_new(base, pool->pipe[0], EV_READ | EV_PERSIST, finished_cb, pool);
	event_add(pool->ev, NULL);
	pool->threads = xcalloc(threads, sizeof(*pool->threads));
	for (; pool->nthreads < threads; pool->nthreads++) {
		int rc = pthread_create(&pool->threads[pool->nthreads], NULL, worker_main, pool);

		if (rc != 0)
			fatal("event=worker_pool_failed reason=\"pthread_create: %s\"",
			      strerror(rc));
	}
	return pool;
}

void
worker_pool_free(struct worker_pool *pool)
{
	struct worker_job *job;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = 1;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	while ((job = TAILQ_FIRST(&pool->queued)) != NULL) {
		TAILQ_REMOVE(&pool->queued, job, entry);
		free(job);
	}
	while ((job = TAILQ_FIRST(&pool->finished)) != NULL) {
		TAILQ_REMOVE(&pool->finished, job, entry);
		free(job);
	}
	event_free(pool->ev);
	close(pool->pipe[0]);
	close(pool->pipe[1]);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool->threads);
	free(pool);
}

struct worker_job *
worker_submit(struct worker_pool *pool, worker_fn *work, worker_fn *done, void *arg)
{
	struct worker_job *job = xcalloc(1, sizeof(*job));

	job->pool = pool;
	job->work = work;
	job->done = done;
	job->arg = arg;
	pthread_mutex_lock(&pool->lock);
	TAILQ_INSERT_TAIL(&pool->queued, job, entry);
	pthread_cond_signal(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	return job;
}

int
worker_cancel(struct worker_job *job)
{
	struct worker_pool *pool = job->pool;
	int dropped;

	pthread_mutex_lock(&pool->lock);
	dropped = job->state == JOB_QUEUED;
	if (dropped) {
		TAILQ_REMOVE(&pool->queued, job, entry);
		free(job);
	} else {
		job->cancelled = 1; /* freed by finished_cb, done() skipped */
	}
	pthread_mutex_unlock(&pool->lock);
	return dropped;
}
