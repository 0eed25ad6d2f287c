/*
 * NAME
 *	spf - the SPF filter (RFC 7208): the MAIL FROM and HELO identities
 * SYNOPSIS
 *	filters:
 *	  spf: { helo: true, received_spf: false, receiver: mx.example.org }
 * DESCRIPTION
 *	At MAIL, checks the MAIL FROM identity (for the null sender,
 *	postmaster@ the HELO name) and, with helo: true (the default) and a
 *	sender that is not null, the HELO identity as well (section 2.3);
 *	so a policy can act before DATA. The checks run on the worker pool,
 *	both at once (filters/spf_eval.h, libspf2 over the shared resolver),
 *	so an unanswering DNS costs one dns.timeout, not two.
 *
 *	Each check is a finding of method "spf" with the result (none,
 *	neutral, pass, fail, softfail, temperror, permerror) and RFC 8601
 *	properties as detail, "smtp.mailfrom=DOMAIN" or "smtp.helo=NAME",
 *	for Authentication-Results and for DMARC. Each finding carries the
 *	reply a rule that rejects or tempfails on it gives
 *	(filter_finding_reply): "550 5.7.23" with the explanation for fail
 *	and softfail, "550 5.7.24" for permerror, "451 4.7.24" for temperror
 *	(RFC 7372). With received_spf: true a Received-SPF field (section
 *	9.1) per check goes in front of the message. receiver is the name
 *	for %{r} and Received-SPF (default: the host name).
 * DIAGNOSTICS
 *	One debug line per check: event=spf identity= result= domain=.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <yaml.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "filters/filter.h"
#include "filters/spf_eval.h"
#include "filters/worker.h"
#include "policies/config.h"

#define SMTP_REPLY_MAX 510

struct spf_config {
	int helo;
	int received_spf;
	char *receiver;
};

/*
 * One check (one identity), shared by the loop and a worker thread: see
 * spf_cancel(). The MAIL stage's checks run at once, each on a worker.
 */
struct spf_job {
	struct spf_stage *stage;
	struct worker_job *job;
	char *ip, *helo, *sender; /* sender NULL: the HELO identity */
	const char *receiver;
	struct spf_verdict v;
	pthread_mutex_t lock;
	int finished, orphaned; /* work() has returned; the call was cancelled meanwhile */
	int reported;           /* done() came: the job is the stage's alone */
};

struct spf_stage {
	struct filter_call *call;
	struct spf_job *jobs[2]; /* MAIL FROM, then HELO */
	int njobs, pending;
};

static void
job_free(struct spf_job *j)
{
	free(j->ip);
	free(j->helo);
	free(j->sender);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

static void
spf_work(void *arg)
{
	struct spf_job *j = arg;
	struct spf_query q = {
	        .client_ip = j->ip, .helo = j->helo, .sender = j->sender, .receiver = j->receiver};
	int orphaned;

	spf_evaluate(spf_lookup_resolver, NULL, &q, &j->v);
	pthread_mutex_lock(&j->lock);
	j->finished = 1;
	orphaned = j->orphaned;
	pthread_mutex_unlock(&j->lock);
	if (orphaned)
		job_free(j);
}

/*
 * s as RFC 5322 text: escaped for a comment ("()\\" get a backslash) or as
 * a key-value's value (a dot-atom when it is one, else a quoted-string).
 */
static void
header_text(char *out, size_t size, const char *s, int comment)
{
	const char *special = comment ? "()\\" : "\"\\";
	size_t o = 0;
	int quote = !comment && (s[0] == '\0' || strspn(s, "abcdefghijklmnopqrstuvwxyz"
	                                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                                   "0123456789.-_@+") != strlen(s));

	if (quote)
		out[o++] = '"';
	for (; *s != '\0' && o + 4 < size; s++) {
		if (strchr(special, *s) != NULL)
			out[o++] = '\\';
		out[o++] = *s;
	}
	if (quote)
		out[o++] = '"';
	out[o] = '\0';
}

/* RFC 7208 9.1: the result, a comment, then key-value pairs (folded). */
static void
received_spf(struct filter_call *call, const struct spf_job *j)
{
	const struct spf_verdict *v = &j->v;
	int helo = j->sender == NULL;

	static const struct {
		const char *before, *after; /* around the client's address, or without it */
	} says[] = {
	        [SPF_RES_NONE] = {"does not designate permitted sender hosts", NULL},
	        [SPF_RES_NEUTRAL] = {"is neither permitted nor denied by the domain", NULL},
	        [SPF_RES_PASS] = {"designates", "as permitted sender"},
	        [SPF_RES_FAIL] = {"does not designate", "as permitted sender"},
	        [SPF_RES_SOFTFAIL] = {"is not quite sure that", "is a permitted sender"},
	        [SPF_RES_TEMPERROR] = {"could not be checked now (a temporary error)", NULL},
	        [SPF_RES_PERMERROR] = {"has an SPF record in error", NULL},
	};
	/* Sized so that no line of the field passes 998 octets (RFC 5322 2.1.1). */
	char what[300], value[2048], who[400], from[400], helo_name[300];

	header_text(who, sizeof(who), helo ? j->helo : v->sender, 1);
	header_text(from, sizeof(from), v->sender, 0);
	header_text(helo_name, sizeof(helo_name), j->helo ? j->helo : "unknown", 0);
	if (says[v->result].after != NULL)
		snprintf(what, sizeof(what), "%s %s %s", says[v->result].before, j->ip,
		         says[v->result].after);
	else
		snprintf(what, sizeof(what), "%s", says[v->result].before);
	snprintf(value, sizeof(value),
	         "%s (%s: %s %s %s)\r\n\tclient-ip=%s; envelope-from=%s;\r\n\thelo=%s; "
	         "identity=%s; receiver=%s;",
	         spf_result_name(v->result), j->receiver, helo ? "host" : "domain of", who, what,
	         j->ip, from, helo_name, helo ? "helo" : "mailfrom", j->receiver);
	filter_header_insert(call, 0, "Received-SPF", value);
}

static void
report(struct filter_call *call, const struct spf_job *j)
{
	const struct spf_verdict *v = &j->v;
	int helo = j->sender == NULL;
	const struct spf_config *cfg = call->filter->state;
	char reply[1024], value[600], q[300];

	/* The client wrote the name: a quoted-string unless it is plainly a domain. */
	header_text(value, sizeof(value), v->domain, 0);
	filter_finding(call, "spf", spf_result_name(v->result), NAN, "%s=%s",
	               helo ? "smtp.helo" : "smtp.mailfrom", value);
	switch (v->result) {
	case SPF_RES_FAIL:
	case SPF_RES_SOFTFAIL:
		snprintf(reply, sizeof(reply), "550 5.7.23 SPF %s for %s: %s",
		         spf_result_name(v->result), v->domain,
		         v->explanation[0] ? v->explanation : "not a permitted sender");
		break;
	case SPF_RES_PERMERROR:
		snprintf(reply, sizeof(reply), "550 5.7.24 SPF permerror for %s: %s", v->domain,
		         v->problem);
		break;
	case SPF_RES_TEMPERROR:
		snprintf(reply, sizeof(reply),
		         "451 4.7.24 SPF temperror for %s: %s, try again later", v->domain,
		         v->problem);
		break;
	default:
		snprintf(reply, sizeof(reply), "550 5.7.23 SPF %s for %s",
		         spf_result_name(v->result), v->domain);
		break;
	}
	/*
	 * A reply is one line of printable text (the explanation is the
	 * domain's), at most 512 octets with its CRLF (RFC 5321 4.5.3.1.5).
	 */
	reply[SMTP_REPLY_MAX] = '\0';
	for (char *p = reply; *p; p++)
		if (*p < ' ' || *p == 0x7f)
			*p = ' ';
	filter_finding_reply(call, reply);
	if (cfg->received_spf)
		received_spf(call, j);
	log_debug("event=spf identity=%s result=%s domain=%s", helo ? "helo" : "mailfrom",
	          spf_result_name(v->result),
	          log_quote(q, sizeof(q), v->domain, strlen(v->domain)));
}

static void
spf_done(void *arg)
{
	struct spf_job *j = arg;
	struct spf_stage *st = j->stage;
	struct filter_call *call = st->call;

	j->reported = 1;
	if (--st->pending > 0)
		return;
	call->scratch = NULL;
	for (int i = 0; i < st->njobs; i++) {
		report(call, st->jobs[i]);
		job_free(st->jobs[i]);
	}
	free(st);
	filter_done(call);
}

static void
add_job(struct filter_call *call, struct spf_stage *st, const char *sender)
{
	const struct spf_config *cfg = call->filter->state;
	const struct filter_txn *txn = call->txn;
	struct spf_job *j = xcalloc(1, sizeof(*j));

	j->stage = st;
	j->ip = xstrdup(txn->client_addr);
	j->helo = txn->helo ? xstrdup(txn->helo) : NULL;
	j->sender = sender ? xstrdup(sender) : NULL;
	j->receiver = cfg->receiver;
	pthread_mutex_init(&j->lock, NULL);
	st->jobs[st->njobs++] = j;
	st->pending++;
	j->job = worker_submit(call->workers, spf_work, spf_done, j);
}

static enum filter_rc
spf_run(struct filter_call *call)
{
	const struct spf_config *cfg = call->filter->state;
	const struct filter_txn *txn = call->txn;
	struct spf_stage *st;

	if (call->stage != FILTER_MAIL || txn->mail_from == NULL || txn->client_addr == NULL)
		return FILTER_DONE;
	st = xcalloc(1, sizeof(*st));
	st->call = call;
	call->scratch = st;
	add_job(call, st, txn->mail_from);
	/* The null sender's identity is the HELO name already. */
	if (cfg->helo && txn->helo != NULL && txn->mail_from[0] != '\0')
		add_job(call, st, NULL);
	return FILTER_PENDING;
}

/*
 * The call timed out. A job still queued is dropped and freed here; one
 * that is running still uses its job, so whoever of work() and us comes
 * last frees it; one whose done() came is ours.
 */
static void
spf_cancel(struct filter_call *call)
{
	struct spf_stage *st = call->scratch;

	if (st == NULL)
		return;
	call->scratch = NULL;
	for (int i = 0; i < st->njobs; i++) {
		struct spf_job *j = st->jobs[i];
		int finished;

		if (j->reported || worker_cancel(j->job)) {
			job_free(j);
			continue;
		}
		pthread_mutex_lock(&j->lock);
		finished = j->finished;
		j->orphaned = 1;
		pthread_mutex_unlock(&j->lock);
		if (finished)
			job_free(j);
	}
	free(st);
}

static void
spf_destroy(struct filter *filter)
{
	struct spf_config *cfg = filter->state;

	if (cfg != NULL)
		free(cfg->receiver);
	free(cfg);
	filter->state = NULL;
}

static int
spf_configure(struct filter *filter, yaml_document_t *doc, yaml_node_t *node, const char *file,
              struct config_diag *diag)
{
	static const char *const keys[] = {"type", "timeout",      "on_error",
	                                   "helo", "received_spf", "receiver"};
	struct spf_config *cfg = xcalloc(1, sizeof(*cfg));
	char host[256];
	int rc = 0;

	filter->state = cfg;
	cfg->helo = 1;
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	cfg->receiver = xstrdup(host);
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = yaml_document_get_node(doc, p->key);
		yaml_node_t *value = yaml_document_get_node(doc, p->value);
		const char *k =
		        key->type == YAML_SCALAR_NODE ? (const char *)key->data.scalar.value : "";
		const char *v = value->type == YAML_SCALAR_NODE
		                        ? (const char *)value->data.scalar.value
		                        : NULL;
		size_t i;

		for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && strcmp(k, keys[i]) != 0; i++)
			;
		if (i == sizeof(keys) / sizeof(keys[0])) {
			config_diag_add(diag, file, (int)key->start_mark.line + 1,
			                (int)key->start_mark.column + 1,
			                "unknown key \"%s\" in %s (the spf type knows helo, "
			                "received_spf, receiver)",
			                k, filter->name);
			rc = -1;
			continue;
		}
		if (i < 3)
			continue; /* the chain's own keys */
		if (v == NULL ||
		    (i < 5 && config_bool(v, i == 3 ? &cfg->helo : &cfg->received_spf) < 0) ||
		    (i == 5 && (v[0] == '\0' || strpbrk(v, " \t\r\n;()\"") != NULL))) {
			config_diag_add(diag, file, (int)value->start_mark.line + 1,
			                (int)value->start_mark.column + 1,
			                "filters.%s.%s: expected %s", filter->name, k,
			                i == 5 ? "a host name" : "true or false");
			rc = -1;
			continue;
		}
		if (i == 5) {
			free(cfg->receiver);
			cfg->receiver = xstrdup(v);
		}
	}
	return rc;
}

const struct filter_type spf_filter_type = {
        .name = "spf",
        .stages = FILTER_STAGE(FILTER_MAIL),
        .configure = spf_configure,
        .destroy = spf_destroy,
        .run = spf_run,
        .cancel = spf_cancel,
};
