/*
 * NAME
 *	callbacks - libmilter's callbacks: the chain and the policies behind them
 * SYNOPSIS
 *	callbacks_init(bridge)
 *	callbacks_set_config(cfg)
 *	callbacks_desc()
 * DESCRIPTION
 *	Each libmilter callback runs the chain stage it stands for on the
 *	bridge's loop thread (bridge.h) and waits for it, then answers as the
 *	policy decides, exactly as postern's session does (session_filter.c):
 *	connect and HELO for the policy chosen from the client alone, MAIL for
 *	the one chosen without a recipient, each RCPT for its recipient's (the
 *	first recipient's is the transaction's; one with another policy is
 *	deferred with 450), the end of the message for the transaction's.
 *	{auth_authen} marks the client authenticated, for policy matching and
 *	for filters (struct filter_txn: authenticated, auth_user, and auth_mech
 *	from {auth_type}; so dkim_sign signs authenticated submission).
 *
 *	callbacks_set_config() installs the configuration (taking the
 *	caller's reference): each connection takes a reference to the one
 *	installed when it connects and keeps it to its close, so a reload
 *	(main.c) changes new connections only; the old one is freed on the
 *	loop thread when its last connection closes. NULL at the end.
 *
 *	The message is spooled as libmilter delivers it (header fields as
 *	"Name:value" CRLF lines, the value with its leading space where the
 *	MTA offers SMFIP_HDR_LEADSPC, as Postfix does, so DKIM sees the header
 *	as sent; else "Name: value"; then the body) and streamed through the
 *	chain at the end, as postern does while it arrives. Then: reject and
 *	tempfail become the reply (SMFIS_REJECT or SMFIS_TEMPFAIL with
 *	smfi_setreply or smfi_setmlreply), discard SMFIS_DISCARD, quarantine
 *	smfi_quarantine() (the MTA holds the message); the rest is accepted
 *	with the edits: forged Authentication-Results in our name removed, the
 *	filters' header edits, postern's own Authentication-Results and tag
 *	headers inserted first, envelope edits (smfi_chgfrom, smfi_addrcpt_par,
 *	smfi_delrcpt) and a replaced body (smfi_replacebody). Monitor mode
 *	logs and enforces nothing.
 * DIAGNOSTICS
 *	The same transaction log line as postern (event=transaction, with
 *	policy=, action=, findings=), and event=monitor lines;
 *	event=milter_edit_failed for a modification the MTA refused.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <libmilter/mfapi.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "common/xalloc.h"
#include "filters/auth_results.h"
#include "filters/chain.h"
#include "filters/header_field.h"
#include "milter/bridge.h"
#include "milter/callbacks.h"
#include "policies/config.h"
#include "policies/policy.h"
#include "proxy/header_reader.h"
#include "proxy/spool.h"

/* A header block longer than this is not a header; the rest counts as body (as postern). */
#define HEADER_MAX (256 * 1024)

struct pm_conn {
	struct config *cfg;
	unsigned long id;
	char ip[INET6_ADDRSTRLEN];
	int port;
	char *local_ip; /* the MTA's {daemon_addr}, or NULL */
	int authenticated;
	char *auth_user, *auth_mech; /* {auth_authen} and {auth_type} of the last MAIL */
	int leadspc; /* SMFIP_HDR_LEADSPC: header values exactly as in the message */
	char *helo;
	struct sockaddr_storage ss;
	struct filter_session fs;
	struct filter_txn stxn; /* CONNECT and HELO */
	size_t helo_first;
	const struct policy *client_policy;
	/* the transaction */
	int in_tx;
	struct filter_txn txn;
	char queue_id[32];
	unsigned ntx;
	char *from, *mail_params;
	char *rcpt, *rcpt_params;
	char *rcpts; /* for the log */
	unsigned nrcpt;
	const struct policy *pre_policy, *policy;
	size_t rcpt_first;
	struct spool *spool;
	struct header_reader hr;
	enum action action;
	struct timespec started;
	/* the stage running on the loop */
	const struct policy *stage_policy;
	enum filter_stage stage;
	struct filter_txn *stage_txn;
	struct chain *chain;
};

static struct config *config;
static struct bridge *bridge;
static unsigned long next_id;
static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
/* config_ref() counts without atomics: every reference libmilter's threads and a
 * reload take or drop is taken or dropped under this lock. */
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;

void
callbacks_init(struct bridge *b)
{
	bridge = b;
}

static struct config *
take_config(void)
{
	pthread_mutex_lock(&config_lock);
	struct config *cfg = config_ref(config);

	pthread_mutex_unlock(&config_lock);
	return cfg;
}

static void
free_job(struct bridge_job *job, void *arg)
{
	config_unref(arg);
	bridge_done(job);
}

/* The last reference is dropped on the loop: filters' destroy() frees what is
 * tied to it (kept-alive connections). */
static void
drop_config(struct config *cfg)
{
	pthread_mutex_lock(&config_lock);
	int last = cfg->refs == 1;

	if (!last)
		config_unref(cfg);
	pthread_mutex_unlock(&config_lock);
	if (last) {
		struct bridge_job job;

		bridge_call(bridge, &job, free_job, cfg);
	}
}

void
callbacks_set_config(struct config *cfg)
{
	pthread_mutex_lock(&config_lock);
	struct config *old = config;

	config = cfg;
	pthread_mutex_unlock(&config_lock);
	if (old != NULL)
		drop_config(old);
}

static struct pm_conn *
conn_of(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

/* On the loop: the chain's stage has finished. */
static void
stage_done(void *arg)
{
	struct bridge_job *job = arg;
	struct pm_conn *c = job->arg;

	c->chain = NULL;
	bridge_done(job);
}

static void
stage_job(struct bridge_job *job, void *arg)
{
	struct pm_conn *c = arg;
	const struct policy *p = c->stage_policy;

	c->chain = chain_run(bridge_env(bridge), p->chain, p->nchain, c->stage, c->stage_txn,
	                     stage_done, job);
	if (c->chain == NULL)
		bridge_done(job);
}

static void
fill_txn(struct pm_conn *c, struct filter_txn *txn)
{
	txn->client_addr = c->ip;
	txn->client_port = c->port;
	txn->local_addr = c->local_ip ? c->local_ip : "";
	txn->helo = c->helo;
	txn->local_name = c->cfg->hostname;
	txn->queue_id = c->in_tx ? c->queue_id : NULL;
	txn->mail_from = c->from;
	txn->authenticated = c->authenticated;
	txn->auth_user = c->auth_user;
	txn->auth_mech = c->auth_mech;
	txn->session = &c->fs;
	txn->spool_memory = c->cfg->limits.spool_memory;
	txn->spool_dir = c->cfg->spool_dir;
}

/* Run one stage of p's chain on txn, on the loop thread, and wait for it. */
static void
run_stage(struct pm_conn *c, const struct policy *p, enum filter_stage stage,
          struct filter_txn *txn)
{
	struct bridge_job job;

	fill_txn(c, txn);
	if (p->nchain == 0)
		return;
	c->stage_policy = p;
	c->stage = stage;
	c->stage_txn = txn;
	bridge_call(bridge, &job, stage_job, c);
}

struct notice {
	struct pm_conn *c;
	struct filter_txn *txn;
	enum filter_stage stage;
};

static void
notice_job(struct bridge_job *job, void *arg)
{
	struct notice *n = arg;

	chain_notify(n->txn, n->stage);
	if (n->stage == FILTER_CLOSE)
		filter_session_end(&n->c->fs);
	bridge_done(job);
}

static void
notify(struct pm_conn *c, struct filter_txn *txn, enum filter_stage stage)
{
	struct notice n = {.c = c, .txn = txn, .stage = stage};
	struct bridge_job job;

	bridge_call(bridge, &job, notice_job, &n);
}

/* "550 5.7.1 text" (lines CRLF-separated) as the MTA's reply: smfi_setreply or _setmlreply. */
static void
set_reply(SMFICTX *ctx, const char *reply)
{
	char code[4] = {0}, xcode[16] = "", *lines[8] = {0};
	char *copy = xstrdup(reply), *save = NULL;
	size_t n = 0;

	for (char *line = strtok_r(copy, "\r\n", &save); line && n < 8;
	     line = strtok_r(NULL, "\r\n", &save)) {
		char *text = line + (strlen(line) > 3 ? 4 : 3);
		size_t xl = strspn(text, "0123456789.");

		memcpy(code, line, 3);
		if (xl > 0 && (text[xl] == ' ' || text[xl] == '\0') && xl < sizeof(xcode)) {
			memcpy(xcode, text, xl);
			xcode[xl] = '\0';
			text += xl + (text[xl] == ' ');
		}
		/* libmilter takes '%' as a format character. */
		for (char *pc = strchr(text, '%'); pc; pc = strchr(pc + 1, '%'))
			*pc = ' ';
		lines[n++] = text;
	}
	if (n <= 1)
		smfi_setreply(ctx, code, xcode[0] ? xcode : NULL, lines[0]);
	else
		smfi_setmlreply(ctx, code, xcode[0] ? xcode : NULL, lines[0], lines[1], lines[2],
		                lines[3], lines[4], lines[5], lines[6], lines[7], NULL);
	free(copy);
}

/* txn's findings from first on decide; returns SMFIS_CONTINUE or the refusal. */
static sfsistat
decide(SMFICTX *ctx, struct pm_conn *c, const struct policy *p, const struct filter_txn *txn,
       size_t first, struct policy_decision *d)
{
	policy_evaluate(p, txn->findings + first, txn->nfindings - first, d);
	if (d->action != ACTION_REJECT && d->action != ACTION_TEMPFAIL)
		return SMFIS_CONTINUE;
	if (!d->enforce) {
		log_info("event=monitor session=%lx policy=%s would=%s reason=\"%s\"", c->id,
		         p->name, action_name(d->action), d->reason);
		return SMFIS_CONTINUE;
	}
	set_reply(ctx, d->reply);
	return d->action == ACTION_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

static void
subject_of(const struct pm_conn *c, const char *sender, const char *rcpt,
           struct policy_subject *subject)
{
	*subject = (struct policy_subject){.rcpt = rcpt,
	                                   .sender = sender,
	                                   .client = (const struct sockaddr *)&c->ss,
	                                   .authenticated = c->authenticated};
}

/* An address as libmilter gives it ("<a@b>"), without the brackets. */
static char *
bare_address(const char *arg)
{
	size_t n = strlen(arg);

	if (n >= 2 && arg[0] == '<' && arg[n - 1] == '>')
		return xstrndup(arg + 1, n - 2);
	return xstrdup(arg);
}

/* libmilter's ESMTP arguments, space separated as in the command; NULL: none. */
static char *
join_params(char **argv)
{
	size_t n = 0;
	char *s;

	for (char **a = argv; *a; a++)
		n += strlen(*a) + 1;
	if (n == 0)
		return NULL;
	s = xmalloc(n);
	s[0] = '\0';
	for (char **a = argv; *a; a++) {
		if (a != argv)
			strcat(s, " ");
		strcat(s, *a);
	}
	return s;
}

static void
log_transaction(struct pm_conn *c, int status, const char *reply)
{
	struct timespec now;
	char helo[140], from[300], quoted[300], decision[1024];
	const struct policy *p = c->policy ? c->policy : c->pre_policy;

	clock_gettime(CLOCK_MONOTONIC, &now);
	double secs = (double)(now.tv_sec - c->started.tv_sec) +
	              (double)(now.tv_nsec - c->started.tv_nsec) / 1e9;

	decision[0] = '\0';
	policy_log(p, c->action, c->txn.findings, c->txn.nfindings, decision, sizeof(decision));
	log_info("event=transaction session=%lx client=%s:%d helo=%s from=<%s> rcpt=%s nrcpt=%u "
	         "size=%llu status=%d reply=%s duration=%.3f%s",
	         c->id, c->ip, c->port,
	         log_quote(helo, sizeof(helo), c->helo ? c->helo : "",
	                   c->helo ? strlen(c->helo) : 0),
	         log_escape(from, sizeof(from), c->from ? c->from : "",
	                    c->from ? strlen(c->from) : 0),
	         c->rcpts ? c->rcpts : "-", c->nrcpt,
	         (unsigned long long)(c->spool ? spool_size(c->spool) : 0), status,
	         log_quote(quoted, sizeof(quoted), reply, strcspn(reply, "\r\n")), secs, decision);
}

/* The transaction ends: the ABORT notice unless its end of message ran. */
static void
end_transaction(struct pm_conn *c, int eom_done)
{
	if (!c->in_tx)
		return;
	if (!eom_done)
		notify(c, &c->txn, FILTER_ABORT);
	filter_txn_clear(&c->txn);
	memset(&c->txn, 0, sizeof(c->txn));
	header_reader_free(&c->hr);
	memset(&c->hr, 0, sizeof(c->hr));
	if (c->spool)
		spool_free(c->spool);
	c->spool = NULL;
	free(c->from);
	free(c->rcpt);
	free(c->rcpts);
	free(c->mail_params);
	free(c->rcpt_params);
	c->from = c->rcpt = c->rcpts = c->mail_params = c->rcpt_params = NULL;
	c->nrcpt = 0;
	c->policy = c->pre_policy = NULL;
	c->action = ACTION_NONE;
	c->in_tx = 0;
}

#define PM_ACTIONS                                                                           \
	(SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_ADDRCPT_PAR | \
	 SMFIF_DELRCPT | SMFIF_QUARANTINE | SMFIF_CHGFROM)

/* Every step, each answered; header values with their leading space where the MTA can. */
static sfsistat
pm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
             unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct pm_conn *c = xcalloc(1, sizeof(*c));

	/* DKIM with simple canonicalization needs the header as it was. */
	c->leadspc = (f1 & SMFIP_HDR_LEADSPC) != 0;
	smfi_setpriv(ctx, c);
	*pf0 = f0 & PM_ACTIONS;
	*pf1 = f1 & SMFIP_HDR_LEADSPC;
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

static sfsistat
pm_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	struct pm_conn *c = conn_of(ctx);
	struct policy_subject subject;
	struct policy_decision d;

	if (c == NULL)
		c = xcalloc(1, sizeof(*c));

	c->cfg = take_config();
	pthread_mutex_lock(&id_lock);
	c->id = ++next_id;
	pthread_mutex_unlock(&id_lock);
	if (sa != NULL && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)) {
		memcpy(&c->ss, sa,
		       sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
		                                : sizeof(struct sockaddr_in6));
		netaddr_ip(sa, c->ip, sizeof(c->ip));
		c->port = netaddr_port(sa);
	} else {
		snprintf(c->ip, sizeof(c->ip), "127.0.0.1");
		((struct sockaddr_in *)&c->ss)->sin_family = AF_INET;
		inet_pton(AF_INET, "127.0.0.1", &((struct sockaddr_in *)&c->ss)->sin_addr);
	}
	smfi_setpriv(ctx, c);
	const char *daemon_addr = smfi_getsymval(ctx, "{daemon_addr}");

	c->local_ip = daemon_addr ? xstrdup(daemon_addr) : NULL;
	subject_of(c, NULL, NULL, &subject);
	c->client_policy = policy_select(&c->cfg->policies, &subject);
	run_stage(c, c->client_policy, FILTER_CONNECT, &c->stxn);
	c->helo_first = c->stxn.nfindings;
	return decide(ctx, c, c->client_policy, &c->stxn, 0, &d);
}

static sfsistat
pm_helo(SMFICTX *ctx, char *name)
{
	struct pm_conn *c = conn_of(ctx);
	struct policy_decision d;

	free(c->helo);
	c->helo = xstrdup(name);
	filter_txn_drop_findings(&c->stxn, c->helo_first);
	run_stage(c, c->client_policy, FILTER_HELO, &c->stxn);
	return decide(ctx, c, c->client_policy, &c->stxn, c->helo_first, &d);
}

static sfsistat
pm_envfrom(SMFICTX *ctx, char **argv)
{
	struct pm_conn *c = conn_of(ctx);
	struct policy_subject subject;
	struct policy_decision d;
	const char *auth = smfi_getsymval(ctx, "{auth_authen}");
	const char *mech = smfi_getsymval(ctx, "{auth_type}");

	end_transaction(c, 0);
	c->in_tx = 1;
	c->authenticated = auth != NULL && *auth != '\0';
	free(c->auth_user);
	free(c->auth_mech);
	c->auth_user = c->authenticated ? xstrdup(auth) : NULL;
	c->auth_mech = c->authenticated && mech != NULL ? xstrdup(mech) : NULL;
	clock_gettime(CLOCK_MONOTONIC, &c->started);
	snprintf(c->queue_id, sizeof(c->queue_id), "%s",
	         smfi_getsymval(ctx, "i") ? smfi_getsymval(ctx, "i") : "");
	if (c->queue_id[0] == '\0')
		snprintf(c->queue_id, sizeof(c->queue_id), "%lX%04X", c->id, ++c->ntx);
	c->from = bare_address(argv[0]);
	c->mail_params = join_params(argv + 1);
	c->txn.mail_params = c->mail_params;
	filter_txn_carry(&c->txn, &c->stxn);
	subject_of(c, c->from, NULL, &subject);
	c->pre_policy = policy_select(&c->cfg->policies, &subject);
	run_stage(c, c->pre_policy, FILTER_MAIL, &c->txn);
	sfsistat rc = decide(ctx, c, c->pre_policy, &c->txn, 0, &d);

	if (rc != SMFIS_CONTINUE) {
		c->action = d.action;
		log_transaction(c, atoi(d.reply), d.reply);
		end_transaction(c, 0);
	}
	return rc;
}

static sfsistat
pm_envrcpt(SMFICTX *ctx, char **argv)
{
	struct pm_conn *c = conn_of(ctx);
	struct policy_subject subject;
	struct policy_decision d;
	char *rcpt = bare_address(argv[0]);

	subject_of(c, c->from, rcpt, &subject);
	const struct policy *p = policy_select(&c->cfg->policies, &subject);

	if (c->policy != NULL && p != c->policy) {
		free(rcpt);
		set_reply(ctx, "450 4.3.0 Error: this recipient has another policy; send it in a "
		               "transaction of its own");
		return SMFIS_TEMPFAIL;
	}
	free(c->rcpt);
	c->rcpt = rcpt;
	c->txn.rcpt = c->rcpt;
	free(c->rcpt_params);
	c->rcpt_params = join_params(argv + 1);
	c->txn.rcpt_params = c->rcpt_params;
	c->rcpt_first = c->txn.nfindings;
	run_stage(c, p, FILTER_RCPT, &c->txn);
	sfsistat rc = decide(ctx, c, p, &c->txn, c->rcpt_first, &d);

	if (rc != SMFIS_CONTINUE) {
		/* This recipient's findings end with it. */
		filter_txn_drop_findings(&c->txn, c->rcpt_first);
		return rc;
	}
	if (c->policy == NULL)
		c->policy = p;
	char esc[300];
	size_t old = c->rcpts ? strlen(c->rcpts) : 0;

	log_escape(esc, sizeof(esc), rcpt, strlen(rcpt));
	c->rcpts = xrealloc(c->rcpts, old + strlen(esc) + 4);
	snprintf(c->rcpts + old, strlen(esc) + 4, "%s<%s>", old ? "," : "", esc);
	c->nrcpt++;
	return SMFIS_CONTINUE;
}

static struct spool *
spool_of(struct pm_conn *c)
{
	if (c->spool == NULL)
		c->spool = spool_new(c->cfg->limits.spool_memory, c->cfg->spool_dir);
	return c->spool;
}

static sfsistat
pm_header(SMFICTX *ctx, char *name, char *value)
{
	struct pm_conn *c = conn_of(ctx);
	struct evbuffer *line = evbuffer_new();

	/* Folds come as LF (Postfix, Sendmail): the message has CRLF. */
	evbuffer_add_printf(line, c->leadspc ? "%s:" : "%s: ", name);
	for (const char *v = value; *v; v++) {
		if (*v == '\n' && (v == value || v[-1] != '\r'))
			evbuffer_add(line, "\r", 1);
		evbuffer_add(line, v, 1);
	}
	evbuffer_add(line, "\r\n", 2);
	int rc = spool_write(spool_of(c), evbuffer_pullup(line, -1), evbuffer_get_length(line));

	evbuffer_free(line);
	return rc < 0 ? SMFIS_TEMPFAIL : SMFIS_CONTINUE;
}

static sfsistat
pm_eoh(SMFICTX *ctx)
{
	return spool_write(spool_of(conn_of(ctx)), "\r\n", 2) < 0 ? SMFIS_TEMPFAIL : SMFIS_CONTINUE;
}

static sfsistat
pm_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	return spool_write(spool_of(conn_of(ctx)), data, len) < 0 ? SMFIS_TEMPFAIL : SMFIS_CONTINUE;
}

static void
feed_field(void *arg, const char *field, size_t len)
{
	struct pm_conn *c = arg;

	chain_feed(c->policy->chain, c->policy->nchain, FILTER_HEADER, &c->txn, field, len);
}

static void
feed_eoh(void *arg)
{
	struct pm_conn *c = arg;

	chain_feed(c->policy->chain, c->policy->nchain, FILTER_EOH, &c->txn, NULL, 0);
}

static void
feed_body(void *arg, const char *data, size_t len)
{
	struct pm_conn *c = arg;

	chain_feed(c->policy->chain, c->policy->nchain, FILTER_BODY, &c->txn, data, len);
}

/* On the loop: the message streams through the chain, then its EOM stage runs. */
static void
eom_job(struct bridge_job *job, void *arg)
{
	static const struct header_reader_callbacks feed = {feed_field, feed_eoh, feed_body};
	struct pm_conn *c = arg;
	char buf[65536];
	ssize_t n;

	header_reader_init(&c->hr, HEADER_MAX);
	for (size_t off = 0; (n = spool_read(c->spool, off, buf, sizeof(buf))) > 0;
	     off += (size_t)n)
		header_reader_feed(&c->hr, buf, (size_t)n, &feed, c);
	header_reader_finish(&c->hr, &feed, c);
	filter_txn_message(&c->txn, &c->hr, c->spool);
	stage_job(job, c);
}

/* "Name: value\r\n\tmore\r\n" into name and value as libmilter wants them (LF folds). */
static int
split_field(const char *field, size_t len, char **name, char **value)
{
	const char *colon = memchr(field, ':', len);

	if (colon == NULL)
		return -1;
	*name = xstrndup(field, (size_t)(colon - field));
	const char *v = colon + 1, *end = field + len;

	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	*value = xmalloc((size_t)(end - v) + 1);
	size_t o = 0;

	for (; v < end; v++)
		if (*v != '\r')
			(*value)[o++] = *v;
	(*value)[o] = '\0';
	return 0;
}

/* A value for the MTA: LF folds, and the leading space when it takes values verbatim. */
static char *
lf_folds(const struct pm_conn *c, const char *value)
{
	char *s = xmalloc(strlen(value) + 2), *o = s;

	if (c->leadspc)
		*o++ = ' ';
	for (const char *v = value; *v; v++)
		if (*v != '\r')
			*o++ = *v;
	*o = '\0';
	return s;
}

/* Authentication-Results in our name that the client sent: deleted, last first. */
static void
strip_forged(SMFICTX *ctx, struct pm_conn *c, const char *id)
{
	const char *block = c->hr.block, *end = block + c->hr.block_len;
	unsigned index = 0, forged[64];
	size_t nforged = 0;

	for (const char *p = block; p && p < end;) {
		const char *q = header_field_end(p, end);

		if ((size_t)(q - p) > 23 && strncasecmp(p, "Authentication-Results:", 23) == 0) {
			struct evbuffer *kept = evbuffer_new();

			index++;
			if (auth_results_strip(p, (size_t)(q - p), id, kept) > 0 &&
			    nforged < sizeof(forged) / sizeof(forged[0]))
				forged[nforged++] = index;
			evbuffer_free(kept);
		}
		p = q;
	}
	if (nforged > 0)
		log_info("event=forged_auth_results session=%lx removed=%zu", c->id, nforged);
	while (nforged > 0)
		smfi_chgheader(ctx, "Authentication-Results", (int)forged[--nforged], NULL);
}

/* A modification the MTA refused (not negotiated, say) is logged: it is lost. */
static void
edited(const struct pm_conn *c, const char *what, int rc)
{
	if (rc == MI_FAILURE)
		log_warn("event=milter_edit_failed session=%lx edit=%s", c->id, what);
}

static void
header_edits(SMFICTX *ctx, struct pm_conn *c)
{
	const struct filter_txn *t = &c->txn;

	for (size_t i = 0; i < t->nedits; i++) {
		const struct header_edit *e = &t->edits[i];
		char *v = e->value ? lf_folds(c, e->value) : NULL;

		if (e->op == HEADER_ADD)
			edited(c, "addheader", smfi_addheader(ctx, e->name, v ? v : ""));
		else if (e->op == HEADER_INSERT)
			edited(c, "insheader",
			       smfi_insheader(ctx, (int)e->index, e->name, v ? v : ""));
		else
			edited(c, "chgheader", smfi_chgheader(ctx, e->name, (int)e->index, v));
		free(v);
	}
}

/* Ours in front, in order: inserted at 0 from the last one back. */
static void
our_headers(SMFICTX *ctx, struct pm_conn *c, const struct policy_decision *d, const char *id)
{
	struct evbuffer *ours = evbuffer_new();
	const char *fields[32];
	size_t lens[32], n = 0;

	policy_headers(d, id, c->txn.findings, c->txn.nfindings, ours);
	size_t len = evbuffer_get_length(ours);
	const char *text = (const char *)evbuffer_pullup(ours, -1);

	for (const char *p = text, *end = text + len; p < end && n < 32;) {
		const char *q = header_field_end(p, end);

		fields[n] = p;
		lens[n++] = (size_t)(q - p);
		p = q;
	}
	while (n > 0) {
		char *name, *value;

		n--;
		if (split_field(fields[n], lens[n], &name, &value) == 0) {
			char *v = lf_folds(c, value);

			edited(c, "insheader", smfi_insheader(ctx, 0, name, v));
			free(v);
			free(name);
			free(value);
		}
	}
	evbuffer_free(ours);
}

static void
envelope_edits(SMFICTX *ctx, struct pm_conn *c)
{
	const struct filter_txn *t = &c->txn;

	for (size_t i = 0; i < t->nenvelope; i++) {
		const struct envelope_edit *e = &t->envelope[i];
		char *addr = xmalloc(strlen(e->address) + 3);

		sprintf(addr, "<%s>", e->address);
		if (e->op == ENVELOPE_SENDER)
			edited(c, "chgfrom", smfi_chgfrom(ctx, addr, e->args));
		else if (e->op == ENVELOPE_RCPT_DELETE)
			edited(c, "delrcpt", smfi_delrcpt(ctx, addr));
		else if (e->args != NULL)
			edited(c, "addrcpt_par", smfi_addrcpt_par(ctx, addr, e->args));
		else
			edited(c, "addrcpt", smfi_addrcpt(ctx, addr));
		free(addr);
	}
}

static void
apply_edits(SMFICTX *ctx, struct pm_conn *c, const struct policy_decision *d)
{
	const char *id = c->cfg->authserv_id ? c->cfg->authserv_id : c->cfg->hostname;
	struct spool *body = c->txn.new_body;

	if (c->hr.complete)
		strip_forged(ctx, c, id);
	header_edits(ctx, c);
	our_headers(ctx, c, d, id);
	envelope_edits(ctx, c);
	if (body != NULL) {
		char buf[65536];
		ssize_t got;

		for (size_t off = 0; (got = spool_read(body, off, buf, sizeof(buf))) > 0;
		     off += (size_t)got)
			edited(c, "replacebody",
			       smfi_replacebody(ctx, (unsigned char *)buf, (int)got));
	}
}

static sfsistat
pm_eom(SMFICTX *ctx)
{
	struct pm_conn *c = conn_of(ctx);
	struct policy_decision d;
	struct bridge_job job;
	sfsistat rc;

	if (c->policy == NULL || !c->in_tx) {
		/* No recipient went through us: nothing to decide. */
		end_transaction(c, 1);
		return SMFIS_CONTINUE;
	}
	spool_of(c);
	fill_txn(c, &c->txn);
	c->stage_policy = c->policy;
	c->stage = FILTER_EOM;
	c->stage_txn = &c->txn;
	bridge_call(bridge, &job, eom_job, c);
	rc = decide(ctx, c, c->policy, &c->txn, 0, &d);
	c->action = d.action;
	if (rc != SMFIS_CONTINUE) {
		log_transaction(c, atoi(d.reply), d.reply);
	} else if (d.enforce && d.action == ACTION_DISCARD) {
		rc = SMFIS_DISCARD;
		log_transaction(c, 250, "250 discarded by policy");
	} else {
		if (d.enforce && d.action == ACTION_QUARANTINE)
			smfi_quarantine(ctx, d.reason);
		apply_edits(ctx, c, &d);
		log_transaction(c, 250,
		                d.enforce && d.action == ACTION_QUARANTINE
		                        ? "250 quarantined by the MTA"
		                        : "250 accepted");
	}
	end_transaction(c, 1);
	return rc;
}

static sfsistat
pm_abort(SMFICTX *ctx)
{
	struct pm_conn *c = conn_of(ctx);

	if (c != NULL) {
		if (c->in_tx)
			log_transaction(c, 0, "reset");
		end_transaction(c, 0);
	}
	return SMFIS_CONTINUE;
}

static sfsistat
pm_close(SMFICTX *ctx)
{
	struct pm_conn *c = conn_of(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	end_transaction(c, 0);
	notify(c, &c->stxn, FILTER_CLOSE);
	filter_txn_clear(&c->stxn);
	free(c->helo);
	free(c->local_ip);
	free(c->auth_user);
	free(c->auth_mech);
	drop_config(c->cfg);
	free(c);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

const struct smfiDesc *
callbacks_desc(void)
{
	static struct smfiDesc desc = {
	        .xxfi_name = "postern-milter",
	        .xxfi_version = SMFI_VERSION,
	        .xxfi_flags = PM_ACTIONS,
	        .xxfi_connect = pm_connect,
	        .xxfi_helo = pm_helo,
	        .xxfi_envfrom = pm_envfrom,
	        .xxfi_envrcpt = pm_envrcpt,
	        .xxfi_header = pm_header,
	        .xxfi_eoh = pm_eoh,
	        .xxfi_body = pm_body,
	        .xxfi_eom = pm_eom,
	        .xxfi_abort = pm_abort,
	        .xxfi_close = pm_close,
	        .xxfi_negotiate = pm_negotiate,
	};

	return &desc;
}
