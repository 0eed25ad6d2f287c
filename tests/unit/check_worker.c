/*
 * Unit tests for filters/worker.c: jobs run on other threads, their done()
 * on the loop's thread, in any number; cancelled jobs never report.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "filters/worker.h"
#include "tests/unit/unit.h"

static pthread_t loop_thread;
static int done_count, done_on_loop = 1, work_count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct event_base *base;

static void
work(void *arg)
{
	struct timespec ts = {.tv_nsec = 5 * 1000 * 1000};

	nanosleep(&ts, NULL);
	pthread_mutex_lock(&lock);
	work_count++;
	pthread_mutex_unlock(&lock);
}

static void
done(void *arg)
{
	if (!pthread_equal(pthread_self(), loop_thread))
		done_on_loop = 0;
	if (++done_count == *(int *)arg)
		event_base_loopbreak(base);
}

START_TEST(test_jobs)
{
	int want = 20;
	struct timeval limit = {.tv_sec = 10};

	loop_thread = pthread_self();
	base = event_base_new();
	struct worker_pool *pool = worker_pool_new(base, 3);

	for (int i = 0; i < want; i++)
		worker_submit(pool, work, done, &want);
	/* A cancelled job never reports. */
	struct worker_job *gone = worker_submit(pool, work, done, &want);

	worker_cancel(gone);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	ck_assert_int_eq(done_count, want);
	ck_assert_int_eq(done_on_loop, 1);
	worker_pool_free(pool);
	ck_assert_int_ge(work_count, want);
	ck_assert_int_le(work_count, want + 1);
	event_base_free(base);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("worker");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_jobs);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
