/*
 * NAME
 *	spamd - ask SpamAssassin's spamd about the message, at the end of it
 * SYNOPSIS
 *	filters:
 *	  sa: { type: spamd, address: 127.0.0.1:783, max_size: 500K, user: nobody,
 *	        command: symbols, timeout: 30s, on_error: continue }
 * DESCRIPTION
 *	At FILTER_EOM the spooled message goes to spamd over TCP or a unix
 *	socket (address: an absolute path), as spamc sends it: "SYMBOLS
 *	SPAMC/1.5" (or REPORT, command: report), Content-length, User when
 *	set, an empty line and the message. Everything happens on the event
 *	loop through a bufferevent; the session waits, nobody else does.
 *
 *	The answer becomes one finding: method "spam", result "spam" or "ham"
 *	(spamd's own opinion against its required score), the score as the
 *	finding's score (the policy adds it to the other scores), and the
 *	detail "required=R tests=RULE,RULE". spamd answers one request per
 *	connection and closes it, so there is nothing to reuse.
 *
 *	A message above max_size is not sent (see engine.h). An engine that
 *	cannot be reached, closes early, or answers something that is not
 *	spamd's protocol or an error code is a filter_error() (on_error
 *	applies); taking longer than timeout is the chain's timeout.
 * DIAGNOSTICS
 *	event=spamd_error filter= address= reason= (warning); event=spamd
 *	filter= score= required= ms= (debug).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "filters/engine.h"
#include "filters/filter.h"
#include "filters/filter_config.h"
#include "filters/spamd_reply.h"

/* A REPORT is a few kilobytes; more than this is not spamd talking. */
#define SPAMD_REPLY_MAX (256 * 1024)

struct spamd_conf {
	struct engine_conf engine;
	char *user;
	int report;
};

struct spamd_job {
	struct filter_call *call;
	const struct spamd_conf *conf;
	struct bufferevent *bev;
	struct timespec start;
};

static const char *const spamd_keys[] = {"address", "max_size", "user", "command", NULL};

static int
spamd_key(struct fconf *c, const char *key, yaml_node_t *value, void *arg)
{
	struct spamd_conf *sc = arg;
	char *word = NULL;

	if (engine_conf_key(c, &sc->engine, key, value) == 0)
		return 0;
	if (strcmp(key, "user") == 0) {
		if (fconf_string(c, value, &sc->user) == 0 && strpbrk(sc->user, "\r\n"))
			fconf_error(c, value, "a user name is one line");
		return 0;
	}
	if (strcmp(key, "command") != 0)
		return -1;
	if (fconf_string(c, value, &word) == 0) {
		if (strcmp(word, "report") == 0 || strcmp(word, "symbols") == 0)
			sc->report = strcmp(word, "report") == 0;
		else
			fconf_error(c, value, "\"%s\" is not symbols or report", word);
	}
	free(word);
	return 0;
}

static int
spamd_configure(struct filter *filter, yaml_document_t *doc, yaml_node_t *node, const char *file,
                struct config_diag *diag)
{
	struct spamd_conf *sc = xcalloc(1, sizeof(*sc));
	struct fconf c;

	engine_conf_init(&sc->engine, "127.0.0.1:783", 500 * 1024);
	filter->state = sc;
	fconf_init(&c, filter, doc, file, diag);
	return fconf_walk(&c, node, spamd_keys, spamd_key, sc);
}

static void
spamd_destroy(struct filter *filter)
{
	struct spamd_conf *sc = filter->state;

	if (sc == NULL)
		return;
	engine_conf_free(&sc->engine);
	free(sc->user);
	free(sc);
}

static void
job_free(struct spamd_job *job)
{
	if (job->bev != NULL)
		bufferevent_free(job->bev);
	job->call->scratch = NULL;
	free(job);
}

static void
job_fail(struct spamd_job *job, const char *reason, const char *why)
{
	struct filter_call *call = job->call;

	log_warn("event=spamd_error filter=%s address=%s reason=%s detail=\"%s\"",
	         call->filter->name, job->conf->engine.address, reason, why);
	filter_error(call, reason);
	job_free(job);
	filter_done(call);
}

/* Returns 1 when the job has ended (answered or failed). */
static int
job_reply(struct spamd_job *job, int eof)
{
	struct evbuffer *in = bufferevent_get_input(job->bev);
	size_t len = evbuffer_get_length(in);
	struct filter_call *call = job->call;
	struct spamd_reply r;
	struct timespec now;
	char why[128];

	if (len > SPAMD_REPLY_MAX) {
		job_fail(job, "spamd-protocol", "reply too long");
		return 1;
	}
	switch (spamd_reply_parse((const char *)evbuffer_pullup(in, -1), len, eof,
	                          job->conf->report, &r)) {
	case SPAMD_MORE:
		return 0;
	case SPAMD_BAD:
		job_fail(job, "spamd-protocol",
		         eof && len == 0 ? "closed without a reply" : "not a spamd reply");
		return 1;
	case SPAMD_DONE:
		break;
	}
	if (r.code != 0) {
		snprintf(why, sizeof(why), "spamd %d %s", r.code, r.message);
		job_fail(job, "spamd-error", why);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	log_debug("event=spamd filter=%s score=%.1f required=%.1f ms=%ld", call->filter->name,
	          r.score, r.required,
	          (long)((now.tv_sec - job->start.tv_sec) * 1000 +
	                 (now.tv_nsec - job->start.tv_nsec) / 1000000));
	filter_finding(call, "spam", r.spam ? "spam" : "ham", r.score, "required=%.1f tests=%s",
	               r.required, r.tests[0] ? r.tests : "none");
	job_free(job);
	filter_done(call);
	return 1;
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	job_reply(arg, 0);
}

/* All of the request is sent: say so, as spamc does, so spamd never waits for more. */
static void
write_cb(struct bufferevent *bev, void *arg)
{
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_disable(bev, EV_WRITE);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct spamd_job *job = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_EOF) {
		job_reply(job, 1);
		return;
	}
	job_fail(job, "spamd-unavailable", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static enum filter_rc
spamd_run(struct filter_call *call)
{
	const struct spamd_conf *sc = call->filter->state;
	struct spamd_job *job;
	struct evbuffer *out;

	if (call->stage != FILTER_EOM || engine_skip(call, &sc->engine))
		return FILTER_DONE;
	job = xcalloc(1, sizeof(*job));
	job->call = call;
	job->conf = sc;
	clock_gettime(CLOCK_MONOTONIC, &job->start);
	job->bev = bufferevent_socket_new(call->base, -1, BEV_OPT_CLOSE_ON_FREE);
	out = bufferevent_get_output(job->bev);
	evbuffer_add_printf(out, "%s SPAMC/1.5\r\nContent-length: %llu\r\n",
	                    sc->report ? "REPORT" : "SYMBOLS", call->txn->size);
	if (sc->user != NULL)
		evbuffer_add_printf(out, "User: %s\r\n", sc->user);
	evbuffer_add(out, "\r\n", 2);
	bufferevent_setcb(job->bev, read_cb, write_cb, event_cb, job);
	call->scratch = job;
	/* A failure here answers at once: filter_done() before PENDING is allowed. */
	if (engine_message(call, out) < 0) {
		job_fail(job, "spool", "cannot read the spooled message");
		return FILTER_PENDING;
	}
	if (bufferevent_socket_connect(job->bev, (struct sockaddr *)&sc->engine.addr.ss,
	                               (int)sc->engine.addr.len) < 0) {
		job_fail(job, "spamd-unavailable", strerror(errno));
		return FILTER_PENDING;
	}
	bufferevent_enable(job->bev, EV_READ | EV_WRITE);
	return FILTER_PENDING;
}

static void
spamd_cancel(struct filter_call *call)
{
	if (call->scratch != NULL)
		job_free(call->scratch);
}

const struct filter_type spamd_filter_type = {
        .name = "spamd",
        .stages = FILTER_STAGE(FILTER_EOM),
        .configure = spamd_configure,
        .destroy = spamd_destroy,
        .run = spamd_run,
        .cancel = spamd_cancel,
};
