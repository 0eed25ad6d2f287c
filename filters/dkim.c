/*
 * NAME
 *	dkim - DKIM verification (RFC 6376, RFC 8463) with libopendkim
 * SYNOPSIS
 *	filters: { dkim: { max_signatures: 5, accept_rsa_sha1: false } }
 * DESCRIPTION
 *	The message goes to libopendkim as it streams: each header field
 *	(FILTER_HEADER), the end of the header (FILTER_EOH), each body chunk
 *	(FILTER_BODY); nothing is read twice. At the end of the message
 *	dkim_eom() runs on the worker pool, because that is where libopendkim
 *	fetches the keys (DKIM_LIBFLAGS_DELAYSIGPROC keeps them out of
 *	dkim_eoh(), which runs on the event loop), through the shared resolver
 *	(filters/dkim_dns.h).
 *
 *	Each signature becomes one finding of method "dkim" with an RFC 8601
 *	result and the properties Authentication-Results carries:
 *	"(reason) header.d=D header.s=S header.a=A header.b=FIRST8". Results:
 *	pass; fail (the signature or the body hash does not verify); permerror
 *	(no key, a revoked key, a bad key record, an expired or future
 *	signature, a signature that does not cover From, a malformed
 *	signature); temperror (the key lookup failed: timeout, SERVFAIL);
 *	policy (a key shorter than 1024 bits; rsa-sha1, unless accept_rsa_sha1:
 *	both RFC 8301; signatures beyond max_signatures, which are not
 *	checked); none (no signature).
 *
 *	max_signatures bounds the work one message can cause: the signatures
 *	after the first max_signatures are ignored before libopendkim hashes
 *	anything for them (its prescreen callback), and reported together as
 *	one finding dkim=policy.
 * DIAGNOSTICS
 *	A libopendkim that cannot start (memory) is a configuration error;
 *	per-message trouble is a finding, never an abort.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dkim.h>
#include <yaml.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "filters/auth_results.h"
#include "filters/dkim_dns.h"
#include "filters/filter.h"
#include "filters/filter_config.h"
#include "filters/worker.h"

#define DKIM_DEFAULT_MAX_SIGNATURES 5

/*
 * One library handle for the process, never closed: a dkim_eom() still running
 * on the worker pool for a transaction that has ended may outlive the
 * configuration it started with (a reload), and it needs the handle.
 */
static DKIM_LIB *verify_lib;

struct dkim_conf {
	DKIM_LIB *lib;
	unsigned max_signatures;
	int accept_rsa_sha1;
};

/*
 * Per transaction. Ownership: the filter's state slot, until dkim_eom() is on
 * the worker pool; a transaction that ends then leaves it to eom_done().
 */
struct dkim_verify {
	const struct dkim_conf *conf;
	DKIM *dkim;
	int no_signature;         /* dkim_eoh() found none to check */
	unsigned ignored;         /* signatures over max_signatures */
	struct filter_call *call; /* while dkim_eom() runs; NULL once cancelled */
	int running;              /* a job is on the worker pool */
	int orphan;               /* the transaction ended while it ran */
};

static void
verify_free(struct dkim_verify *v)
{
	if (v->dkim != NULL)
		dkim_free(v->dkim);
	free(v);
}

/* libopendkim's prescreen: checks only the first max_signatures signatures. */
static DKIM_CBSTAT
prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs)
{
	struct dkim_verify *v = dkim_get_user_context(dkim);

	for (int i = (int)v->conf->max_signatures; i < nsigs; i++) {
		dkim_sig_ignore(sigs[i]);
		v->ignored++;
	}
	return DKIM_CBSTAT_CONTINUE;
}

static struct dkim_verify *
verify_of(struct filter_call *call)
{
	const struct dkim_conf *conf = call->filter->state;
	struct dkim_verify *v = *call->state;
	DKIM_STAT st;

	if (v != NULL)
		return v;
	v = xcalloc(1, sizeof(*v));
	v->conf = conf;
	v->dkim = dkim_verify(conf->lib, (const unsigned char *)call->filter->name, NULL, &st);
	if (v->dkim != NULL)
		dkim_set_user_context(v->dkim, v);
	*call->state = v;
	return v;
}

/* One header field as it streamed (CRLF lines): libopendkim wants it without the last CRLF. */
static void
feed_header(struct dkim_verify *v, const char *field, size_t len)
{
	if (len >= 2 && field[len - 2] == '\r' && field[len - 1] == '\n')
		len -= 2;
	else if (len >= 1 && field[len - 1] == '\n')
		len -= 1;
	if (v->dkim != NULL)
		dkim_header(v->dkim, (unsigned char *)field, len);
}

/* What one signature came to: an RFC 8601 result and why, for the comment. */
static const char *
signature_result(const struct dkim_conf *conf, DKIM_SIGINFO *sig, const char **why)
{
	unsigned flags = dkim_sig_getflags(sig);
	int err = dkim_sig_geterror(sig);
	dkim_alg_t alg = DKIM_SIGN_UNKNOWN;

	*why = NULL;
	dkim_sig_getsignalg(sig, &alg);
	if ((flags & DKIM_SIGFLAG_PASSED) && dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH) {
		if (alg == DKIM_SIGN_RSASHA1 && !conf->accept_rsa_sha1) {
			*why = "rsa-sha1 is not accepted (RFC 8301)";
			return "policy";
		}
		return "pass";
	}
	/* libopendkim reports a body that does not match bh= as BADSIG too: say which. */
	if (dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH) {
		*why = "body hash mismatch";
		return "fail";
	}
	switch (err) {
	case DKIM_SIGERROR_BADSIG:
		*why = "signature did not verify";
		return "fail";
	case DKIM_SIGERROR_KEYFAIL:
		*why = "key lookup failed";
		return "temperror";
	case DKIM_SIGERROR_NOKEY:
		*why = "no key";
		return "permerror";
	case DKIM_SIGERROR_KEYREVOKED:
		*why = "key revoked";
		return "permerror";
	case DKIM_SIGERROR_EXPIRED:
		*why = "signature expired";
		return "permerror";
	case DKIM_SIGERROR_FUTURE:
		*why = "signature in the future";
		return "permerror";
	case DKIM_SIGERROR_INVALID_H:
		*why = "From is not signed";
		return "permerror";
	case DKIM_SIGERROR_KEYTOOSMALL:
		*why = "key too small (RFC 8301)";
		return "policy";
	case DKIM_SIGERROR_DNSSYNTAX:
	case DKIM_SIGERROR_MULTIREPLY:
	case DKIM_SIGERROR_KEYVERSION:
	case DKIM_SIGERROR_KEYUNKNOWNHASH:
	case DKIM_SIGERROR_KEYHASHMISMATCH:
	case DKIM_SIGERROR_NOTEMAILKEY:
	case DKIM_SIGERROR_KEYTYPEMISSING:
	case DKIM_SIGERROR_KEYTYPEUNKNOWN:
	case DKIM_SIGERROR_KEYDECODE:
		*why = "bad key record";
		return "permerror";
	case DKIM_SIGERROR_OK:
	case DKIM_SIGERROR_UNKNOWN:
		*why = "not checked";
		return "neutral";
	default:
		*why = dkim_sig_geterrorstr(err);
		return "permerror";
	}
}

/* The first 8 characters of b=, without the folding white space a tag value may hold. */
static void
b_prefix(DKIM_SIGINFO *sig, char *buf, size_t size)
{
	const unsigned char *b = dkim_sig_gettagvalue(sig, 0, (unsigned char *)"b");
	char prefix[9];
	size_t n = 0;

	for (; b != NULL && *b != '\0' && n < 8; b++)
		if (*b != ' ' && *b != '\t' && *b != '\r' && *b != '\n')
			prefix[n++] = (char)*b;
	prefix[n] = '\0';
	auth_results_value(buf, size, prefix, 0);
}

static void
report_signature(struct filter_call *call, const struct dkim_conf *conf, DKIM_SIGINFO *sig)
{
	const char *why, *result = signature_result(conf, sig, &why);
	char d[300], s[300], a[40], b[16];

	auth_results_value(d, sizeof(d), (const char *)dkim_sig_getdomain(sig), 0);
	auth_results_value(s, sizeof(s), (const char *)dkim_sig_getselector(sig), 0);
	auth_results_value(a, sizeof(a),
	                   (const char *)dkim_sig_gettagvalue(sig, 0, (unsigned char *)"a"), 0);
	b_prefix(sig, b, sizeof(b));
	filter_finding(call, "dkim", result, NAN,
	               "%s%s%sheader.d=%s header.s=%s header.a=%s header.b=%s", why ? "(" : "",
	               why ? why : "", why ? ") " : "", d, s, a, b);
}

static void
report(struct filter_call *call, struct dkim_verify *v)
{
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;

	if (v->dkim == NULL) {
		filter_finding(call, "dkim", "temperror", NAN, "(libopendkim did not start)");
		return;
	}
	if (dkim_getsiglist(v->dkim, &sigs, &nsigs) != DKIM_STAT_OK)
		nsigs = 0;
	for (int i = 0; i < nsigs; i++)
		if (!(dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE))
			report_signature(call, v->conf, sigs[i]);
	if (v->ignored > 0)
		filter_finding(call, "dkim", "policy", NAN,
		               "(%u more signatures not checked: max_signatures %u)", v->ignored,
		               v->conf->max_signatures);
	else if (nsigs == 0)
		filter_finding(call, "dkim", "none", NAN, "%s", "");
}

/* On a worker thread: libopendkim fetches the keys and verifies. */
static void
eom_work(void *arg)
{
	struct dkim_verify *v = arg;

	dkim_eom(v->dkim, NULL);
}

static void
eom_done(void *arg)
{
	struct dkim_verify *v = arg;
	struct filter_call *call = v->call;

	v->running = 0;
	if (v->orphan) {
		verify_free(v);
		return;
	}
	if (call == NULL)
		return;
	v->call = NULL;
	report(call, v);
	filter_done(call);
}

static enum filter_rc
dkim_run(struct filter_call *call)
{
	struct dkim_verify *v = verify_of(call);

	switch (call->stage) {
	case FILTER_HEADER:
		feed_header(v, call->data, call->len);
		return FILTER_DONE;
	case FILTER_EOH:
		/* No signature, or none that parsed: nothing for dkim_eom() to do. */
		if (v->dkim != NULL && dkim_eoh(v->dkim) == DKIM_STAT_NOSIG)
			v->no_signature = 1;
		return FILTER_DONE;
	case FILTER_BODY:
		if (v->dkim != NULL && !v->no_signature)
			dkim_body(v->dkim, (unsigned char *)call->data, call->len);
		return FILTER_DONE;
	case FILTER_EOM:
		if (v->dkim == NULL || v->no_signature) {
			report(call, v);
			return FILTER_DONE;
		}
		v->call = call;
		v->running = 1;
		/* The job is never cancelled: eom_done() also frees what an ended transaction left.
		 */
		worker_submit(call->workers, eom_work, eom_done, v);
		return FILTER_PENDING;
	default:
		return FILTER_DONE;
	}
}

static void
dkim_cancel(struct filter_call *call)
{
	struct dkim_verify *v = *call->state;

	if (v != NULL)
		v->call = NULL;
}

static void
dkim_txn_end(const struct filter *filter, void *state)
{
	struct dkim_verify *v = state;

	if (v->running)
		v->orphan = 1;
	else
		verify_free(v);
}

static int
dkim_key(struct fconf *c, const char *key, yaml_node_t *value, void *arg)
{
	struct dkim_conf *conf = arg;

	if (strcmp(key, "max_signatures") == 0)
		fconf_uint(c, value, 1, 100, &conf->max_signatures);
	else if (strcmp(key, "accept_rsa_sha1") == 0)
		fconf_bool(c, value, &conf->accept_rsa_sha1);
	else
		return -1;
	return 0;
}

static int
dkim_configure(struct filter *f, yaml_document_t *doc, yaml_node_t *node, const char *file,
               struct config_diag *diag)
{
	static const char *const keys[] = {"type",           "timeout",         "on_error",
	                                   "max_signatures", "accept_rsa_sha1", NULL};
	struct dkim_conf *conf = xcalloc(1, sizeof(*conf));
	unsigned flags = DKIM_LIBFLAGS_DELAYSIGPROC | DKIM_LIBFLAGS_BADSIGHANDLES;
	struct fconf c;
	int rc;

	conf->max_signatures = DKIM_DEFAULT_MAX_SIGNATURES;
	f->state = conf;
	fconf_init(&c, f, doc, file, diag);
	c.section = f->name; /* "unknown key ... in NAME", as it always said */
	rc = fconf_walk(&c, node, keys, dkim_key, conf);
	if (verify_lib == NULL) {
		verify_lib = dkim_init(NULL, NULL);
		if (verify_lib == NULL) {
			fconf_error(&c, node, "libopendkim did not start");
			return -1;
		}
		dkim_options(verify_lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags));
		dkim_set_prescreen(verify_lib, prescreen);
		dkim_dns_attach(verify_lib);
	}
	conf->lib = verify_lib;
	return rc;
}

static void
dkim_destroy(struct filter *f)
{
	struct dkim_conf *conf = f->state;

	if (conf == NULL)
		return;
	free(conf);
	f->state = NULL;
}

const struct filter_type dkim_filter_type = {
        .name = "dkim",
        .stages = FILTER_STAGE(FILTER_HEADER) | FILTER_STAGE(FILTER_EOH) |
                  FILTER_STAGE(FILTER_BODY) | FILTER_STAGE(FILTER_EOM),
        .configure = dkim_configure,
        .destroy = dkim_destroy,
        .run = dkim_run,
        .cancel = dkim_cancel,
        .txn_end = dkim_txn_end,
};
