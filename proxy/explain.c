/*
 * NAME
 *	explain - run the configured chain offline on a message: "why?"
 * SYNOPSIS
 *	See explain.h.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/netaddr.h"
#include "filters/chain.h"
#include "filters/dns.h"
#include "filters/worker.h"
#include "policies/config.h"
#include "policies/policy.h"
#include "proxy/data_reader.h"
#include "proxy/explain.h"
#include "proxy/header_reader.h"

struct run {
	struct chain_env env;
	struct filter_txn txn;
	const struct policy *policy;
	FILE *out;
};

static void
feed_field(void *arg, const char *data, size_t len)
{
	struct run *r = arg;

	chain_feed(r->policy->chain, r->policy->nchain, FILTER_HEADER, &r->txn, data, len);
}

static void
feed_eoh(void *arg)
{
	struct run *r = arg;

	chain_feed(r->policy->chain, r->policy->nchain, FILTER_EOH, &r->txn, NULL, 0);
}

static void
feed_body(void *arg, const char *data, size_t len)
{
	struct run *r = arg;

	chain_feed(r->policy->chain, r->policy->nchain, FILTER_BODY, &r->txn, data, len);
}

static void
stage_done(void *arg)
{
	event_base_loopbreak(arg);
}

static void
run_stage(struct run *r, const struct policy *p, enum filter_stage stage)
{
	struct chain *c =
	        chain_run(&r->env, p->chain, p->nchain, stage, &r->txn, stage_done, r->env.base);

	if (c != NULL)
		event_base_dispatch(r->env.base);
}

static void
print_findings(struct run *r, size_t first)
{
	if (first == r->txn.nfindings)
		fprintf(r->out, "    findings: none\n");
	for (size_t i = first; i < r->txn.nfindings; i++) {
		const struct finding *f = &r->txn.findings[i];

		fprintf(r->out, "    finding: %s %s=%s", f->filter, f->method, f->result);
		if (!isnan(f->score))
			fprintf(r->out, " score=%.1f", f->score);
		if (f->action != ACTION_NONE)
			fprintf(r->out, " asks=%s", action_name(f->action));
		if (f->detail && *f->detail)
			fprintf(r->out, " (%s)", f->detail);
		fprintf(r->out, "\n");
	}
}

/* Prints the decision on the findings from first on; returns 1 when it blocks. */
static int
print_decision(struct run *r, const struct policy *p, size_t first, struct policy_decision *d)
{
	policy_evaluate(p, r->txn.findings + first, r->txn.nfindings - first, d);
	fprintf(r->out, "    decision: %s (%s)%s\n", action_name(d->action), d->reason,
	        d->enforce ? "" : ", monitor mode: not enforced");
	if (d->action == ACTION_REJECT || d->action == ACTION_TEMPFAIL)
		fprintf(r->out, "    reply: %s\n", d->reply);
	return d->enforce && (d->action == ACTION_REJECT || d->action == ACTION_TEMPFAIL);
}

static void
data_sink(void *arg, const char *buf, size_t len)
{
	evbuffer_add(arg, buf, len);
}

/* The filters' view of the spool (filter_read_message): here, the message in memory. */
static ssize_t
read_buffer(void *arg, size_t offset, void *buf, size_t len)
{
	struct evbuffer_ptr pos;

	if (offset >= evbuffer_get_length(arg))
		return 0;
	if (evbuffer_ptr_set(arg, &pos, offset, EVBUFFER_PTR_SET) < 0)
		return -1;
	return evbuffer_copyout_from(arg, &pos, buf, len);
}

static int
read_message(const char *file, struct evbuffer *msg, FILE *out)
{
	FILE *f = fopen(file, "rb");
	struct data_reader dr;
	enum data_status st;
	char buf[65536];
	size_t n;

	if (f == NULL) {
		fprintf(out, "%s: %s\n", file, strerror(errno));
		return -1;
	}
	/* Files on disk have LF lines: read them as postern would have received them. */
	data_reader_init(&dr, DATA_MODE_RAW, DATA_NEWLINE_NORMALIZE, 0);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		data_reader_feed(&dr, buf, n, data_sink, msg, &st);
	data_reader_finish(&dr, data_sink, msg);
	fclose(f);
	return 0;
}

int
explain_run(struct config *cfg, const struct explain_request *req, FILE *out)
{
	struct run r = {.out = out};
	struct evbuffer *msg = evbuffer_new();
	struct sockaddr_storage ss = {0};
	struct policy_decision d;
	const struct policy *txp = NULL;
	struct header_reader hr = {0};
	int blocked = 0;
	struct filter_session fsession = {0};
	char err[256];

	if (read_message(req->file, msg, out) < 0) {
		evbuffer_free(msg);
		return -1;
	}
	r.env.base = event_base_new();
	r.env.workers = worker_pool_new(r.env.base, cfg->limits.workers);
	/* Filters that ask DNS get TEMPFAIL without a resolver: say why. */
	if (dns_init(r.env.base, &cfg->dns, err, sizeof(err)) < 0)
		fprintf(out, "dns: %s (every lookup is a temporary error)\n", err);
	netaddr_from_ip(req->client_ip, &ss);
	r.txn = (struct filter_txn){.session = &fsession,
	                            .client_addr = req->client_ip,
	                            .helo = req->helo,
	                            .local_name = cfg->hostname,
	                            .local_addr = "",
	                            .mail_from = req->from,
	                            .rcpts = req->rcpts,
	                            .nrcpt = req->nrcpt};
	struct policy_subject subject = {.client = (struct sockaddr *)&ss, .authenticated = 0};
	const struct policy *p = policy_select(&cfg->policies, &subject);

	/* As the session: CONNECT and HELO for the policy chosen from the client alone. */
	fprintf(out, "connect from %s\n  policy: %s%s\n", req->client_ip, p->name,
	        p->monitor ? " (monitor)" : "");
	run_stage(&r, p, FILTER_CONNECT);
	print_findings(&r, 0);
	blocked = print_decision(&r, p, 0, &d);
	size_t helo_first = r.txn.nfindings;

	if (!blocked) {
		fprintf(out, "HELO %s\n", req->helo);
		run_stage(&r, p, FILTER_HELO);
		print_findings(&r, helo_first);
		blocked = print_decision(&r, p, helo_first, &d);
	}
	subject.sender = req->from;
	p = policy_select(&cfg->policies, &subject);

	size_t mail_first = r.txn.nfindings;

	if (!blocked) {
		fprintf(out, "MAIL FROM:<%s> from %s (helo %s)\n  policy: %s%s\n", req->from,
		        req->client_ip, req->helo, p->name, p->monitor ? " (monitor)" : "");
		run_stage(&r, p, FILTER_MAIL);
		print_findings(&r, mail_first);
		blocked = print_decision(&r, p, 0, &d);
	}
	for (size_t i = 0; i < req->nrcpt && !blocked; i++) {
		size_t first = r.txn.nfindings;

		subject.rcpt = req->rcpts[i];
		p = policy_select(&cfg->policies, &subject);
		fprintf(out, "RCPT TO:<%s>\n  policy: %s%s\n", req->rcpts[i], p->name,
		        p->monitor ? " (monitor)" : "");
		if (txp != NULL && p != txp) {
			fprintf(out,
			        "    reply: 450 4.3.0 (another policy than the transaction's)\n");
			continue;
		}
		r.txn.rcpt = req->rcpts[i];
		run_stage(&r, p, FILTER_RCPT);
		print_findings(&r, first);
		if (!print_decision(&r, p, first, &d) && txp == NULL)
			txp = p;
	}
	if (!blocked && txp != NULL) {
		static const struct header_reader_callbacks feed = {feed_field, feed_eoh,
		                                                    feed_body};
		size_t len = evbuffer_get_length(msg);
		const char *text = (const char *)evbuffer_pullup(msg, -1);
		size_t first = r.txn.nfindings;

		/* As the daemon does while the message streams in. */
		r.policy = txp;
		header_reader_init(&hr, len + 1);
		header_reader_feed(&hr, text ? text : "", len, &feed, &r);
		header_reader_finish(&hr, &feed, &r);
		r.txn.header_block = hr.block;
		r.txn.header_len = hr.block_len;
		r.txn.size = len;
		r.txn.read_message = read_buffer;
		r.txn.read_arg = msg;
		r.txn.body_offset = hr.block_len + (hr.complete ? 2 : 0);
		fprintf(out, "end of message (%zu octets)\n  policy: %s%s\n", len, txp->name,
		        txp->monitor ? " (monitor)" : "");
		run_stage(&r, txp, FILTER_EOM);
		print_findings(&r, first);
		fprintf(out, "  all findings of the transaction decide:\n");
		if (!print_decision(&r, txp, 0, &d) && !(d.enforce && d.action == ACTION_DISCARD)) {
			struct evbuffer *h = evbuffer_new();

			policy_headers(&d, cfg->authserv_id ? cfg->authserv_id : cfg->hostname,
			               r.txn.findings, r.txn.nfindings, h);
			fprintf(out, "    headers added:%s\n",
			        evbuffer_get_length(h) ? "" : " none");
			evbuffer_add(h, "", 1);
			for (char *line = (char *)evbuffer_pullup(h, -1), *save = NULL,
			          *tok = strtok_r(line, "\r\n", &save);
			     tok; tok = strtok_r(NULL, "\r\n", &save))
				fprintf(out, "      %s\n", tok);
			evbuffer_free(h);
			fprintf(out, "    the message goes to the backend\n");
		}
	} else if (!blocked) {
		fprintf(out, "no recipient accepted: the message is not sent\n");
	}
	chain_notify(&r.txn, FILTER_CLOSE);
	filter_txn_clear(&r.txn);
	filter_session_end(&fsession);
	header_reader_free(&hr);
	evbuffer_free(msg);
	worker_pool_free(r.env.workers);
	dns_shutdown();
	chain_loop_end(cfg->policies.filters, cfg->policies.nfilters);
	event_base_free(r.env.base);
	return 0;
}
