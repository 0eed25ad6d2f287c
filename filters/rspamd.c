/*
 * NAME
 *	rspamd - ask rspamd about the message (HTTP, /checkv2), at the end of it
 * SYNOPSIS
 *	filters:
 *	  rs: { type: rspamd, address: 127.0.0.1:11333, max_size: 20M,
 *	        max_connections: 16, use_action: false, timeout: 30s,
 *	        on_error: continue }
 * DESCRIPTION
 *	At FILTER_EOM the spooled message is POSTed to /checkv2 with what
 *	rspamd knows of the transaction as headers: IP (the client), Helo,
 *	From (the envelope sender), one Rcpt per accepted recipient and
 *	Queue-Id (postern's id of the transaction; there is no verified
 *	client host name to send as Hostname). libevent's evhttp client does the HTTP/1.1;
 *	it asks for keep-alive and reuses a connection the engine keeps open
 *	(rspamd 3.4's normal worker closes every one: evhttp then connects
 *	again on the same connection object). There are up to
 *	max_connections; beyond them requests queue on the least busy one.
 *
 *	The JSON reply (filters/json.h: rspamd has no simpler form for
 *	/checkv2) becomes one finding: method "spam", result rspamd's action
 *	with spaces as hyphens ("no-action", "add-header", "rewrite-subject",
 *	"greylist", "soft-reject", "reject"), rspamd's score as the finding's
 *	score, and "required=R tests=SYMBOL,..." as detail. The policy acts on
 *	the score (spam: { reject: N }); with use_action, rspamd's action is
 *	also the finding's own: reject rejects, soft-reject and greylist
 *	tempfail, add-header and rewrite-subject tag.
 *
 *	Messages above max_size are not sent (engine.h). An engine that
 *	cannot be reached, answers other than 200 or with a body that is not
 *	rspamd's JSON, is a filter_error() (on_error applies); the chain's
 *	timeout covers a slow one. Only TCP addresses: libevent 2.1's HTTP
 *	client has no unix sockets.
 * DIAGNOSTICS
 *	event=rspamd_error filter= address= reason= detail= (warning);
 *	event=rspamd filter= action= score= ms= (debug).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "filters/engine.h"
#include "filters/filter.h"
#include "filters/filter_config.h"
#include "filters/json.h"

/* rspamd's reply lists symbols; a megabyte of them is not a reply. */
#define RSPAMD_REPLY_MAX (1024 * 1024)

struct rspamd_slot {
	struct evhttp_connection *conn;
	unsigned busy; /* requests on it, running or queued */
};

struct rspamd_conf {
	struct engine_conf engine;
	unsigned max_connections;
	int use_action; /* rspamd's action is also the finding's action */
	/* Runtime: kept-alive connections, all on one event loop. */
	struct event_base *base;
	struct rspamd_slot *slots; /* max_connections of them, allocated once: jobs point in */
	size_t nslots;
	unsigned timeout_s;
};

struct rspamd_job {
	struct filter_call *call;
	struct rspamd_conf *conf;
	struct rspamd_slot *slot;
	struct evhttp_request *req;
	struct timespec start;
};

static const char *const rspamd_keys[] = {"address", "max_size", "max_connections", "use_action",
                                          NULL};

/* use_action: what rspamd's own action means for postern. */
static const struct {
	const char *rspamd;
	enum action action;
} action_map[] = {
        {"reject", ACTION_REJECT},  {"soft-reject", ACTION_TEMPFAIL}, {"greylist", ACTION_TEMPFAIL},
        {"add-header", ACTION_TAG}, {"rewrite-subject", ACTION_TAG},  {"no-action", ACTION_NONE},
};

static int
rspamd_key(struct fconf *c, const char *key, yaml_node_t *value, void *arg)
{
	struct rspamd_conf *rc = arg;
	double n;

	if (engine_conf_key(c, &rc->engine, key, value) == 0) {
		if (strcmp(key, "address") == 0 && rc->engine.port == 0)
			fconf_error(c, value,
			            "rspamd is reached over TCP (IP:PORT), not a unix "
			            "socket");
		return 0;
	}
	if (strcmp(key, "use_action") == 0) {
		fconf_bool(c, value, &rc->use_action);
		return 0;
	}
	if (strcmp(key, "max_connections") != 0)
		return -1;
	if (fconf_number(c, value, &n) == 0 && (n < 1 || n > 1024 || n != floor(n)))
		fconf_error(c, value, "expected 1 to 1024");
	else
		rc->max_connections = (unsigned)n;
	return 0;
}

static int
rspamd_configure(struct filter *filter, yaml_document_t *doc, yaml_node_t *node, const char *file,
                 struct config_diag *diag)
{
	struct rspamd_conf *rc = xcalloc(1, sizeof(*rc));
	struct fconf c;

	engine_conf_init(&rc->engine, "127.0.0.1:11333", 20 * 1024 * 1024);
	rc->max_connections = 16;
	filter->state = rc;
	fconf_init(&c, filter, doc, file, diag);
	return fconf_walk(&c, node, rspamd_keys, rspamd_key, rc);
}

/* The loop the connections live on is going away, or the configuration is. */
static void
rspamd_loop_end(struct filter *filter)
{
	struct rspamd_conf *rc = filter->state;

	if (rc == NULL)
		return;
	for (size_t i = 0; i < rc->nslots; i++)
		evhttp_connection_free(rc->slots[i].conn);
	free(rc->slots);
	rc->slots = NULL;
	rc->nslots = 0;
	rc->base = NULL;
}

static void
rspamd_destroy(struct filter *filter)
{
	struct rspamd_conf *rc = filter->state;

	if (rc == NULL)
		return;
	rspamd_loop_end(filter);
	engine_conf_free(&rc->engine);
	free(rc);
}

/* An idle connection, a new one while there may be more, else the least busy. */
static struct rspamd_slot *
take_slot(struct rspamd_conf *rc, struct event_base *base, unsigned timeout_ms)
{
	struct rspamd_slot *best = NULL;

	for (size_t i = 0; i < rc->nslots; i++)
		if (best == NULL || rc->slots[i].busy < best->busy)
			best = &rc->slots[i];
	if ((best == NULL || best->busy > 0) && rc->nslots < rc->max_connections) {
		struct evhttp_connection *conn = evhttp_connection_base_new(
		        base, NULL, rc->engine.host, (unsigned short)rc->engine.port);

		if (conn == NULL)
			return best;
		evhttp_connection_set_retries(conn, 0);
		/* The chain's timer is the real bound; this one keeps evhttp from waiting longer.
		 */
		evhttp_connection_set_timeout(conn, (int)(timeout_ms / 1000 + 1));
		evhttp_connection_set_max_body_size(conn, RSPAMD_REPLY_MAX);
		if (rc->slots == NULL)
			rc->slots = xcalloc(rc->max_connections, sizeof(*rc->slots));
		best = &rc->slots[rc->nslots++];
		*best = (struct rspamd_slot){.conn = conn};
	}
	return best;
}

static void
job_end(struct rspamd_job *job)
{
	struct filter_call *call = job->call;

	job->slot->busy--;
	call->scratch = NULL;
	free(job);
	filter_done(call);
}

static void
job_fail(struct rspamd_job *job, const char *reason, const char *why)
{
	log_warn("event=rspamd_error filter=%s address=%s reason=%s detail=\"%s\"",
	         job->call->filter->name, job->conf->engine.address, reason, why);
	filter_error(job->call, reason);
	job_end(job);
}

/* rspamd's reply into a finding; NULL or what is wrong with it. */
static const char *
report(struct filter_call *call, const char *body, size_t len, char *err, size_t errlen)
{
	const struct rspamd_conf *rc = call->filter->state;
	struct json *v = json_parse(body, len, err, errlen);
	const struct json *action, *score, *required, *symbols;
	char result[32], tests[400] = "";

	if (v == NULL)
		return err;
	action = json_get(v, "action");
	score = json_get(v, "score");
	required = json_get(v, "required_score");
	symbols = json_get(v, "symbols");
	if (action == NULL || action->type != JSON_STRING || score == NULL ||
	    score->type != JSON_NUMBER || action->len == 0 || action->len >= sizeof(result)) {
		json_free(v);
		return "no action and score";
	}
	for (size_t i = 0; i < action->len; i++) {
		char ch = action->string[i];

		result[i] = ch == ' ' ? '-' : ch >= 'a' && ch <= 'z' ? ch : '?';
	}
	result[action->len] = '\0';
	for (size_t i = 0; symbols != NULL && symbols->type == JSON_OBJECT && i < symbols->n; i++)
		engine_list_add(tests, sizeof(tests), symbols->keys[i], strlen(symbols->keys[i]));
	filter_finding(call, "spam", result, score->number, "required=%.1f tests=%s",
	               required && required->type == JSON_NUMBER ? required->number : NAN,
	               tests[0] ? tests : "none");
	for (size_t i = 0; rc->use_action && i < sizeof(action_map) / sizeof(action_map[0]); i++)
		if (strcmp(action_map[i].rspamd, result) == 0 &&
		    action_map[i].action != ACTION_NONE)
			filter_act(call, action_map[i].action, NULL);
	json_free(v);
	return NULL;
}

static void
reply_cb(struct evhttp_request *req, void *arg)
{
	struct rspamd_job *job = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	char err[160], why[64];
	struct timespec now;

	job->req = NULL; /* evhttp frees it when this returns */
	if (code == 0) {
		job_fail(job, "rspamd-unavailable", "no connection or no reply");
		return;
	}
	if (code != 200) {
		snprintf(why, sizeof(why), "HTTP %d", code);
		job_fail(job, "rspamd-error", why);
		return;
	}
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *problem =
	        report(job->call, (const char *)evbuffer_pullup(in, -1), len, err, sizeof(err));

	if (problem != NULL) {
		job_fail(job, "rspamd-protocol", problem);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	log_debug("event=rspamd filter=%s ms=%ld", job->call->filter->name,
	          (long)((now.tv_sec - job->start.tv_sec) * 1000 +
	                 (now.tv_nsec - job->start.tv_nsec) / 1000000));
	job_end(job);
}

static void
add_headers(struct evhttp_request *req, const struct rspamd_conf *rc, const struct filter_txn *txn)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char length[32];

	evhttp_add_header(h, "Host", rc->engine.host);
	evhttp_add_header(h, "User-Agent", "postern");
	/* rspamd keeps a connection open only when asked, HTTP/1.1 or not. */
	evhttp_add_header(h, "Connection", "keep-alive");
	snprintf(length, sizeof(length), "%llu", txn->size);
	evhttp_add_header(h, "Content-Length", length);
	/* evhttp refuses values with CR or LF; the session never gives us any. */
	if (txn->client_addr != NULL && txn->client_addr[0] != '\0')
		evhttp_add_header(h, "IP", txn->client_addr);
	if (txn->helo != NULL && txn->helo[0] != '\0')
		evhttp_add_header(h, "Helo", txn->helo);
	if (txn->mail_from != NULL)
		evhttp_add_header(h, "From", txn->mail_from);
	for (size_t i = 0; i < txn->nrcpt; i++)
		evhttp_add_header(h, "Rcpt", txn->rcpts[i]);
	if (txn->queue_id != NULL)
		evhttp_add_header(h, "Queue-Id", txn->queue_id);
}

static enum filter_rc
rspamd_run(struct filter_call *call)
{
	struct rspamd_conf *rc = call->filter->state;
	struct rspamd_job *job;

	if (call->stage != FILTER_EOM || engine_skip(call, &rc->engine))
		return FILTER_DONE;
	if (rc->base != call->base) {
		/* Another loop (postern --explain): connections are not shared across loops. */
		rspamd_loop_end((struct filter *)call->filter);
		rc->base = call->base;
	}
	job = xcalloc(1, sizeof(*job));
	job->call = call;
	job->conf = rc;
	clock_gettime(CLOCK_MONOTONIC, &job->start);
	call->scratch = job;
	job->slot = take_slot(rc, call->base, call->filter->timeout_ms);
	if (job->slot == NULL) {
		free(job);
		call->scratch = NULL;
		filter_error(call, "rspamd-unavailable");
		return FILTER_DONE;
	}
	job->slot->busy++;
	job->req = evhttp_request_new(reply_cb, job);
	add_headers(job->req, rc, call->txn);
	if (engine_message(call, evhttp_request_get_output_buffer(job->req)) < 0) {
		evhttp_request_free(job->req);
		job_fail(job, "spool", "cannot read the spooled message");
		return FILTER_PENDING;
	}
	/* On failure evhttp has freed the request and does not call reply_cb. */
	if (evhttp_make_request(job->slot->conn, job->req, EVHTTP_REQ_POST, "/checkv2") < 0) {
		job->req = NULL;
		job_fail(job, "rspamd-unavailable", "cannot send the request");
		return FILTER_PENDING;
	}
	return FILTER_PENDING;
}

static void
rspamd_cancel(struct filter_call *call)
{
	struct rspamd_job *job = call->scratch;

	if (job == NULL)
		return;
	if (job->req != NULL)
		evhttp_cancel_request(job->req);
	job->slot->busy--;
	call->scratch = NULL;
	free(job);
}

const struct filter_type rspamd_filter_type = {
        .name = "rspamd",
        .stages = FILTER_STAGE(FILTER_EOM),
        .configure = rspamd_configure,
        .destroy = rspamd_destroy,
        .loop_end = rspamd_loop_end,
        .run = rspamd_run,
        .cancel = rspamd_cancel,
};
