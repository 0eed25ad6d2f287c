/*
 * Unit tests for filters/dns.c against a real unbound on 127.0.0.1 (started
 * here, on a free port, with local test zones; every other name is stubbed
 * to a loopback port where nothing answers): answers from the loop and from
 * worker threads, NXDOMAIN, NODATA, bad names, a server that never answers
 * (a bounded TEMPFAIL), cancellation. Skips (77) without unbound.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <unbound.h>

#include "filters/dns.h"
#include "tests/unit/unit.h"

#define TIMEOUT_MS 1200

static struct event_base *base;
static pid_t unbound_pid;
static char dir[] = "/tmp/postern-check-dns.XXXXXX";

static int
free_port(int type)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, type, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int
listening(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons((unsigned short)port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* unbound -d on a free port; returns the port, or -1 (the test is then skipped). */
static int
start_unbound(void)
{
	const char *bin = access("/usr/sbin/unbound", X_OK) == 0 ? "/usr/sbin/unbound" : NULL;
	char conf[256];
	int port = free_port(SOCK_STREAM), dead = free_port(SOCK_DGRAM);
	FILE *f;

	if (bin == NULL || port < 0 || dead < 0 || mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/unbound.conf", dir);
	f = fopen(conf, "w");
	if (f == NULL)
		return -1;
	fprintf(f,
	        "server:\n"
	        "  interface: 127.0.0.1\n  port: %d\n  do-ip6: no\n"
	        "  do-daemonize: no\n  chroot: \"\"\n  username: \"\"\n  directory: \"%s\"\n"
	        "  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 0\n"
	        "  module-config: \"iterator\"\n  do-not-query-localhost: no\n"
	        "  local-zone: \"test.\" static\n"
	        "  local-data: \"a.test. 300 IN A 192.0.2.1\"\n"
	        "  local-data: \"a.test. 300 IN A 192.0.2.2\"\n"
	        "  local-data: 'txt.test. 300 IN TXT \"v=spf1 \" \"-all\"'\n"
	        "stub-zone:\n  name: \".\"\n  stub-addr: 127.0.0.1@%d\n",
	        port, dir, dead);
	fclose(f);
	unbound_pid = fork();
	if (unbound_pid == 0) {
		execl(bin, "unbound", "-d", "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && !listening(port); i++) {
		struct timespec ts = {.tv_nsec = 50 * 1000 * 1000};

		if (waitpid(unbound_pid, NULL, WNOHANG) != 0)
			return -1;
		nanosleep(&ts, NULL);
	}
	return listening(port) ? port : -1;
}

static void
stop_unbound(void)
{
	char cmd[300];

	if (unbound_pid > 0) {
		kill(unbound_pid, SIGTERM);
		waitpid(unbound_pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

struct seen {
	int calls;
	enum dns_status status;
	int ndata;
	unsigned char first[64];
	size_t first_len;
};

static void
on_answer(void *arg, const struct dns_answer *a)
{
	struct seen *s = arg;

	s->calls++;
	s->status = a->status;
	if (a->ub != NULL && a->ub->data[0] != NULL) {
		while (a->ub->data[s->ndata] != NULL)
			s->ndata++;
		s->first_len = (size_t)a->ub->len[0] < sizeof(s->first) ? (size_t)a->ub->len[0]
		                                                        : sizeof(s->first);
		memcpy(s->first, a->ub->data[0], s->first_len);
	}
}

/* One turn of the loop: what is ready, or 20 ms of waiting. */
static void
turn(void)
{
	struct timeval tv = {.tv_usec = 20 * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Run the loop until the answer has come, at most ms milliseconds. */
static void
wait_for(const struct seen *s, long ms)
{
	long end = now_ms() + ms;

	while (s->calls == 0 && now_ms() < end)
		turn();
}

static struct seen
ask(const char *name, int type)
{
	struct seen s = {0};
	struct dns_query *q = dns_query(name, type, on_answer, &s);

	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(s.calls, 0); /* never from inside dns_query() */
	wait_for(&s, 3 * TIMEOUT_MS);
	ck_assert_int_eq(s.calls, 1);
	return s;
}

START_TEST(test_async)
{
	struct seen s = ask("a.test", ns_t_a);

	ck_assert_int_eq(s.status, DNS_OK);
	ck_assert_int_eq(s.ndata, 2);
	ck_assert_uint_eq(s.first_len, 4);
	ck_assert_int_eq(s.first[0], 192);
	s = ask("txt.test.", ns_t_txt);
	ck_assert_int_eq(s.status, DNS_OK);
	ck_assert_mem_eq(s.first, "\x07v=spf1 \x04-all", 13);
	ck_assert_int_eq(ask("nope.test", ns_t_a).status, DNS_NXDOMAIN);
	ck_assert_int_eq(ask("a.test", ns_t_mx).status, DNS_NODATA);
	ck_assert_int_eq(ask("bad..test", ns_t_a).status, DNS_BADNAME);
	ck_assert_int_eq(ask("t\tab.test", ns_t_a).status, DNS_BADNAME);
}
END_TEST

/* A server that never answers: TEMPFAIL, within the timeout (and some slack). */
START_TEST(test_async_tempfail)
{
	long start = now_ms();
	struct seen s = ask("x.dead.example", ns_t_txt);

	ck_assert_int_eq(s.status, DNS_TEMPFAIL);
	ck_assert_int_le(now_ms() - start, TIMEOUT_MS + 1000);
}
END_TEST

START_TEST(test_cancel)
{
	struct seen s = {0}, t = {0};
	struct dns_query *q = dns_query("a.test", ns_t_a, on_answer, &s);

	dns_query("a.test", ns_t_a, on_answer, &t);
	dns_cancel(q);
	wait_for(&t, 3 * TIMEOUT_MS);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_int_eq(s.calls, 0);
	q = dns_query("y.dead.example", ns_t_a, on_answer, &s);
	dns_cancel(q);
	q = dns_query("bad..name", ns_t_a, on_answer, &s);
	dns_cancel(q);
	t.calls = 0;
	dns_query("z.dead.example", ns_t_a, on_answer, &t);
	wait_for(&t, 3 * TIMEOUT_MS);
	ck_assert_int_eq(s.calls, 0);
}
END_TEST

struct job {
	const char *name;
	int type;
	int rounds;
	int ok, bad;
	long slowest_ms;
	int done;
};

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;

static void *
sync_worker(void *arg)
{
	struct job *j = arg;

	for (int i = 0; i < j->rounds; i++) {
		struct dns_answer *a = (void *)1;
		long start = now_ms();
		enum dns_status st = dns_query_sync(j->name, j->type, &a);
		long took = now_ms() - start;

		if (took > j->slowest_ms)
			j->slowest_ms = took;
		if (st == DNS_OK && a != NULL && a->status == DNS_OK && a->ub->havedata)
			j->ok++;
		else if (st == DNS_NXDOMAIN && a != NULL && a->ub != NULL)
			j->ok++;
		else if ((st == DNS_TEMPFAIL || st == DNS_BADNAME) && a == NULL)
			j->ok++;
		else
			j->bad++;
		dns_answer_free(st == DNS_TEMPFAIL || st == DNS_BADNAME ? NULL : a);
	}
	pthread_mutex_lock(&jobs_lock);
	j->done = 1;
	pthread_mutex_unlock(&jobs_lock);
	return NULL;
}

static int
all_done(struct job *jobs, size_t n)
{
	int done = 1;

	pthread_mutex_lock(&jobs_lock);
	for (size_t i = 0; i < n; i++)
		done &= jobs[i].done;
	pthread_mutex_unlock(&jobs_lock);
	return done;
}

/* Workers block in dns_query_sync() while the loop (this thread) completes them. */
START_TEST(test_sync)
{
	struct job jobs[] = {
	        {"a.test", ns_t_a, 30, 0, 0, 0, 0},    {"txt.test", ns_t_txt, 30, 0, 0, 0, 0},
	        {"nope.test", ns_t_a, 30, 0, 0, 0, 0}, {"q.dead.example", ns_t_a, 2, 0, 0, 0, 0},
	        {"bad..name", ns_t_a, 5, 0, 0, 0, 0},
	};
	size_t n = sizeof(jobs) / sizeof(jobs[0]);
	pthread_t threads[sizeof(jobs) / sizeof(jobs[0])];
	long end = now_ms() + 4 * TIMEOUT_MS + 5000;

	for (size_t i = 0; i < n; i++)
		pthread_create(&threads[i], NULL, sync_worker, &jobs[i]);
	while (!all_done(jobs, n) && now_ms() < end)
		turn();
	for (size_t i = 0; i < n; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_msg(jobs[i].bad == 0, "%s: %d wrong answers", jobs[i].name, jobs[i].bad);
		ck_assert_int_eq(jobs[i].ok, jobs[i].rounds);
	}
	/* The dead server's query: bounded by the timeout, all attempts included. */
	ck_assert_int_le(jobs[3].slowest_ms, TIMEOUT_MS + 500);
}
END_TEST

START_TEST(test_sync_on_loop_thread)
{
	struct dns_answer *a = NULL;

	ck_assert_int_eq(dns_query_sync("a.test", ns_t_a, &a), DNS_TEMPFAIL);
	ck_assert_ptr_null(a);
}
END_TEST

START_TEST(test_names)
{
	char name[300], out[64];

	ck_assert(dns_name_ok("example.org"));
	ck_assert(dns_name_ok("example.org."));
	ck_assert(dns_name_ok("_spf.example.org"));
	ck_assert(!dns_name_ok(""));
	ck_assert(!dns_name_ok("."));
	ck_assert(!dns_name_ok(".example.org"));
	ck_assert(!dns_name_ok("a..b"));
	ck_assert(!dns_name_ok("a\\.b"));
	ck_assert(!dns_name_ok("a\tb"));
	memset(name, 'a', 64);
	name[64] = '\0';
	ck_assert(!dns_name_ok(name));
	name[63] = '\0';
	ck_assert(dns_name_ok(name));
	for (int i = 0; i < 254; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[253] = '\0';
	ck_assert(dns_name_ok(name));
	name[253] = 'a';
	name[254] = '\0';
	ck_assert(!dns_name_ok(name));
	ck_assert_int_eq(dns_server_parse("127.0.0.1:53", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "127.0.0.1@53");
	ck_assert_int_eq(dns_server_parse("[::1]:5353", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "::1@5353");
	ck_assert_int_eq(dns_server_parse("::1:53", out, sizeof(out)), -1);
	ck_assert_int_eq(dns_server_parse("localhost:53", out, sizeof(out)), -1);
	ck_assert_int_eq(dns_server_parse("127.0.0.1", out, sizeof(out)), -1);
	ck_assert_int_eq(dns_server_parse("127.0.0.1:65536", out, sizeof(out)), -1);
	ck_assert_int_eq(dns_server_parse("127.0.0.1:-1", out, sizeof(out)), -1);
	ck_assert_str_eq(dns_status_name(DNS_NXDOMAIN), "nxdomain");
}
END_TEST

int
main(void)
{
	char server[64], err[256];
	const char *servers[] = {server};
	struct config_dns cfg = {.servers = (char **)servers,
	                         .nservers = 1,
	                         .timeout_ms = TIMEOUT_MS,
	                         .attempts = 2};
	int port = start_unbound(), rc;

	if (port < 0) {
		fprintf(stderr, "SKIP: no unbound could be started\n");
		stop_unbound();
		return 77;
	}
	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	base = event_base_new();
	if (dns_init(base, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "dns_init: %s\n", err);
		stop_unbound();
		return 1;
	}

	Suite *s = suite_create("dns");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_async);
	tcase_add_test(tc, test_async_tempfail);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_sync);
	tcase_add_test(tc, test_sync_on_loop_thread);
	suite_add_tcase(s, tc);
	rc = unit_run(s);
	dns_shutdown();
	event_base_free(base);
	stop_unbound();
	return rc;
}
