/*
 * NAME
 *	bridge - run work on the chain's event-loop thread, from libmilter's threads
 * SYNOPSIS
 *	See bridge.h.
 * DESCRIPTION
 *	Jobs wait in a queue under a mutex; a byte on a pipe wakes the loop,
 *	which takes them in order. A job's caller sleeps on the condition
 *	variable until bridge_done() marks the job.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "filters/dns.h"
#include "filters/worker.h"
#include "milter/bridge.h"

struct bridge {
	struct event_base *base;
	struct chain_env env;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	TAILQ_HEAD(, bridge_job) jobs;
	int pipe[2];
	struct event *wake;
	int stopping;
	int started;
};

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bridge *b = arg;
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	for (;;) {
		pthread_mutex_lock(&b->mu);
		struct bridge_job *job = TAILQ_FIRST(&b->jobs);

		if (job != NULL)
			TAILQ_REMOVE(&b->jobs, job, entry);
		int stopping = b->stopping;

		pthread_mutex_unlock(&b->mu);
		if (job == NULL) {
			if (stopping)
				event_base_loopbreak(b->base);
			return;
		}
		job->fn(job, job->arg);
	}
}

static void *
loop_main(void *arg)
{
	struct bridge *b = arg;

	event_base_dispatch(b->base);
	return NULL;
}

struct bridge *
bridge_start(unsigned workers, const struct config_dns *dns)
{
	struct bridge *b = xcalloc(1, sizeof(*b));
	char err[256];

	TAILQ_INIT(&b->jobs);
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	if (pipe(b->pipe) < 0) {
		log_err("event=bridge_failed reason=\"pipe: %s\"", strerror(errno));
		free(b);
		return NULL;
	}
	fcntl(b->pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(b->pipe[1], F_SETFL, O_NONBLOCK);
	b->base = event_base_new();
	b->env.base = b->base;
	b->env.workers = worker_pool_new(b->base, workers);
	b->wake = event_new(b->base, b->pipe[0], EV_READ | EV_PERSIST, wake_cb, b);
	event_add(b->wake, NULL);
	/* The resolver's descriptor belongs to this loop, set up before it runs. */
	if (dns_init(b->base, dns, err, sizeof(err)) < 0)
		log_err("event=dns_init_failed reason=\"%s\" note=\"every DNS lookup is a "
		        "temporary error\"",
		        err);
	if ((errno = pthread_create(&b->thread, NULL, loop_main, b)) != 0) {
		log_err("event=bridge_failed reason=\"thread: %s\"", strerror(errno));
		bridge_stop(b);
		return NULL;
	}
	b->started = 1;
	return b;
}

static void
kick(struct bridge *b)
{
	/* A full pipe already holds a wake-up: nothing is lost. */
	ssize_t n = write(b->pipe[1], "", 1);

	(void)n;
}

void
bridge_stop(struct bridge *b)
{
	if (b->started) {
		pthread_mutex_lock(&b->mu);
		b->stopping = 1;
		pthread_mutex_unlock(&b->mu);
		kick(b);
		pthread_join(b->thread, NULL);
	}
	dns_shutdown();
	event_free(b->wake);
	worker_pool_free(b->env.workers);
	event_base_free(b->base);
	close(b->pipe[0]);
	close(b->pipe[1]);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	free(b);
}

const struct chain_env *
bridge_env(const struct bridge *b)
{
	return &b->env;
}

void
bridge_call(struct bridge *b, struct bridge_job *job, void (*fn)(struct bridge_job *, void *),
            void *arg)
{
	*job = (struct bridge_job){.bridge = b, .fn = fn, .arg = arg};
	pthread_mutex_lock(&b->mu);
	TAILQ_INSERT_TAIL(&b->jobs, job, entry);
	pthread_mutex_unlock(&b->mu);
	kick(b);
	pthread_mutex_lock(&b->mu);
	while (!job->done)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
}

void
bridge_done(struct bridge_job *job)
{
	struct bridge *b = job->bridge;

	pthread_mutex_lock(&b->mu);
	job->done = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}
