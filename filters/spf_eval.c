/*
 * NAME
 *	spf_eval - one SPF check (RFC 7208) by libspf2, over a DNS lookup of ours
 * SYNOPSIS
 *	See spf_eval.h.
 * DESCRIPTION
 *	Each check gets its own SPF_server_t, whose DNS layer (struct eval)
 *	keeps the counts of that check; libspf2 keeps no other state, so
 *	checks run on several worker threads at once.
 *
 *	libspf2 asks the layer for a domain's record (get_spf: the identity's
 *	own, then each include: and redirect=) and for A, AAAA, MX, PTR and
 *	TXT records (lookup: mechanisms, and the exp= text). Answers come as
 *	libunbound results and are turned into libspf2's SPF_dns_rr_t here.
 *
 *	A limit exceeded (void lookups, lookups in all) stops the check:
 *	every later lookup answers "no such name" at once, and the result is
 *	permerror whatever libspf2 makes of those answers. Nothing libspf2
 *	could have matched comes after the limit, since it stops at a match.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <unbound.h>

#include "common/log.h"
#include "filters/spf_eval.h"
#include "filters/spf_record.h"

#define RR_MAX 64         /* records of one answer given to libspf2 */
#define PTR_MAX 10        /* section 4.6.4: names of a PTR answer looked at */
#define TERMS_MAX 10      /* section 4.6.4: terms that cause DNS lookups */
#define LOCAL_PART_MAX 64 /* RFC 5321 4.5.3.1.1 */
/* spf_record.h: a macro's data follows its header (libspf2's SPF_macro_data). */
#define MACRO_DATA(m) ((SPF_data_t *)((char *)(m) + sizeof(SPF_macro_t)))
#define DEFAULT_EXPLANATION "%{d} does not designate %{i} as a permitted sender"
/* What libspf2 is given as its default: replaced by DEFAULT_EXPLANATION, expanded by us. */
#define DEFAULT_MARK "x-postern-default-explanation"

struct eval {
	spf_lookup_fn *lookup;
	void *ctx;
	int family;               /* the client's, AF_INET or AF_INET6 */
	unsigned char client[16]; /* its address */
	SPF_request_t *req;
	int lookups, voids, terms;
	int records; /* get_spf calls so far: the first is for the identity's own domain */
	int in_exp;  /* looking up the explanation: no limits count (section 6.2) */
	int stopped; /* a limit was exceeded: permerror */
	char problem[160];
	/* The names of the last MX or PTR answer: their address lookups follow. */
	char derived[RR_MAX][256];
	int nderived, next_derived, derived_ptr;
	SPF_dns_server_t layer;
};

static const char *const result_names[] = {"none",     "neutral",   "pass",     "fail",
                                           "softfail", "temperror", "permerror"};

const char *
spf_result_name(enum spf_res result)
{
	return result_names[result];
}

enum dns_status
spf_lookup_resolver(void *ctx, const char *name, int rrtype, struct dns_answer **out)
{
	return dns_query_sync(name, rrtype, out);
}

static void
libspf2_message(const char *file, int line, const char *msg)
{
	char q[300];

	log_debug("event=libspf2 msg=%s", log_quote(q, sizeof(q), msg, strlen(msg)));
}

static __attribute__((noreturn)) void
libspf2_error(const char *file, int line, const char *msg)
{
	char q[300];

	log_err("event=libspf2_bug file=%s line=%d msg=%s", file, line,
	        log_quote(q, sizeof(q), msg, strlen(msg)));
	abort();
}

static void
set_handlers(void)
{
	SPF_error_handler = libspf2_error;
	SPF_warning_handler = libspf2_message;
	SPF_info_handler = libspf2_message;
	SPF_debug_handler = libspf2_message;
}

static void stop(struct eval *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
stop(struct eval *e, const char *fmt, ...)
{
	va_list ap;

	if (e->stopped++)
		return;
	va_start(ap, fmt);
	vsnprintf(e->problem, sizeof(e->problem), fmt, ap);
	va_end(ap);
}

/* Every question of a check goes through here, so that the limits hold. */
static enum dns_status
ask(struct eval *e, const char *name, int type, struct dns_answer **a)
{
	*a = NULL;
	/* Section 4.8: a name too long loses labels on the left until it fits. */
	while (strlen(name) > 253 && strchr(name, '.') != NULL)
		name = strchr(name, '.') + 1;
	if (e->stopped)
		return DNS_NXDOMAIN;
	if (++e->lookups > SPF_LOOKUPS_MAX) {
		stop(e, "more than %d DNS lookups", SPF_LOOKUPS_MAX);
		return DNS_NXDOMAIN;
	}
	return e->lookup(e->ctx, name, type, a);
}

/* A name in wire form (libunbound gives rdata names uncompressed) as text. */
static int
wire_name(const unsigned char *p, size_t len, char *out, size_t size)
{
	size_t i = 0, o = 0;

	while (i < len) {
		size_t l = p[i++];

		if (l == 0) {
			out[o] = '\0';
			return 0;
		}
		if (l > 63 || i + l > len || o + l + 2 > size)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (size_t k = 0; k < l; k++) {
			unsigned char c = p[i + k];

			/* Not a name we could ask for again: refuse it here. */
			if (c <= ' ' || c >= 0x7f || c == '.' || c == '\\')
				return -1;
			out[o++] = (char)c;
		}
		i += l;
	}
	return -1;
}

/* A TXT record's strings, joined; -1 when it holds a NUL or is too long. */
static int
txt_join(const unsigned char *p, size_t len, char *out, size_t size)
{
	size_t i = 0, o = 0;

	while (i < len) {
		size_t l = p[i++];

		if (i + l > len || o + l + 1 > size || memchr(p + i, '\0', l) != NULL)
			return -1;
		memcpy(out + o, p + i, l);
		o += l;
		i += l;
	}
	out[o] = '\0';
	return 0;
}

static int
herrno_of(enum dns_status status)
{
	switch (status) {
	case DNS_OK:
		return NETDB_SUCCESS;
	case DNS_NODATA:
		return NO_DATA;
	case DNS_TEMPFAIL:
		return TRY_AGAIN;
	default:
		return HOST_NOT_FOUND; /* NXDOMAIN, and names we will not ask for */
	}
}

static const char *any_address_name(const char *domain, char *buf, size_t size);

/* One record of an answer into rr->rr[n]; returns 0, or -1 to leave it out. */
static int
add_rr(SPF_dns_rr_t *rr, int n, ns_type type, const unsigned char *data, size_t len,
       const char *suffix)
{
	char text[SPF_RECORD_MAX + 1], prepared[SPF_RECORD_MAX + 256];
	const char *put = text;

	switch (type) {
	case ns_t_a:
	case ns_t_aaaa: {
		size_t want = type == ns_t_a ? sizeof(struct in_addr) : sizeof(struct in6_addr);

		if (len != want || SPF_dns_rr_buf_realloc(rr, n, want) != SPF_E_SUCCESS)
			return -1;
		memcpy(type == ns_t_a ? (void *)&rr->rr[n]->a : (void *)&rr->rr[n]->aaaa, data,
		       want);
		return 0;
	}
	case ns_t_mx:
	case ns_t_ptr:
		if ((type == ns_t_mx && len < 3) ||
		    wire_name(type == ns_t_mx ? data + 2 : data, type == ns_t_mx ? len - 2 : len,
		              text, sizeof(text) - 64) < 0)
			return -1;
		/* Our mark (spf_record.h) counts only where we put it. */
		if (any_address_name(text, prepared, sizeof(prepared)) != NULL)
			return -1;
		strcat(text, suffix);
		break;
	case ns_t_txt:
		/* libspf2 asks TXT only for the exp= text (records come through get_spf). */
		if (txt_join(data, len, text, sizeof(text)) < 0 ||
		    spf_explanation_prepare(text, prepared, sizeof(prepared)) < 0)
			return -1;
		put = prepared;
		break;
	default:
		return -1;
	}
	if (SPF_dns_rr_buf_realloc(rr, n, strlen(put) + 1) != SPF_E_SUCCESS)
		return -1;
	memcpy(rr->rr[n]->txt, put, strlen(put) + 1); /* txt, mx and ptr share the union */
	return 0;
}

/* Section 4.6.4: each term that looks things up counts, its MX and PTR names do not. */
static int
derived_name(struct eval *e, const char *domain)
{
	if (e->next_derived < e->nderived && strcasecmp(e->derived[e->next_derived], domain) == 0) {
		e->next_derived++;
		return 1;
	}
	e->nderived = e->next_derived = 0;
	return 0;
}

static void
count_term(struct eval *e, const char *domain)
{
	if (!e->in_exp && !e->stopped && ++e->terms > TERMS_MAX)
		stop(e, "more than %d DNS lookups (the last: %s)", TERMS_MAX, domain);
}

/* "NAME." SPF_ANY_LABEL (spf_record.h): NAME into buf; NULL when not so marked. */
static const char *
any_address_name(const char *domain, char *buf, size_t size)
{
	size_t n = strlen(domain), m = strlen("." SPF_ANY_LABEL);

	if (n <= m || strcasecmp(domain + n - m, "." SPF_ANY_LABEL) != 0 || n - m >= size)
		return NULL;
	memcpy(buf, domain, n - m);
	buf[n - m] = '\0';
	return buf;
}

static SPF_dns_rr_t *
layer_lookup(SPF_dns_server_t *layer, const char *domain, ns_type type, int should_cache)
{
	struct eval *e = layer->hook;
	struct dns_answer *a;
	enum dns_status status;
	SPF_dns_rr_t *rr;
	char real[256];
	const char *any = any_address_name(domain, real, sizeof(real));
	int n = 0, derived = 0, max = type == ns_t_ptr ? PTR_MAX : RR_MAX;

	/* RFC 7208 3.1: type SPF (99) is not used. */
	if (type == ns_t_spf)
		return SPF_dns_rr_new_init(layer, domain, type, 0, NO_DATA);
	if (type == ns_t_a || type == ns_t_aaaa)
		derived = derived_name(e, domain);
	else
		e->nderived = e->next_derived = 0;
	if (!derived && type != ns_t_txt)
		count_term(e, domain);
	status = ask(e, any ? any : domain, type, &a);
	/* Section 5.5: a PTR name whose addresses cannot be had is skipped. */
	if (derived && e->derived_ptr && status == DNS_TEMPFAIL)
		status = DNS_NXDOMAIN;
	rr = SPF_dns_rr_new_init(layer, domain, type, 0, herrno_of(status));
	if (rr != NULL && status == DNS_OK && any != NULL && type != ns_t_mx) {
		/* CIDR /0: any address of the family matches; say the client's own. */
		size_t len = type == ns_t_a ? 4 : 16;

		if (SPF_dns_rr_buf_realloc(rr, 0, len) == SPF_E_SUCCESS) {
			memcpy(type == ns_t_a ? (void *)&rr->rr[0]->a : (void *)&rr->rr[0]->aaaa,
			       e->client, len);
			rr->num_rr = n = 1;
		}
	}
	for (size_t i = 0; rr != NULL && status == DNS_OK && n < max && a->ub->data[i] != NULL &&
	                   (any == NULL || type == ns_t_mx);
	     i++)
		/* The hosts of an MX marked so are marked too: "any address" for them. */
		if (add_rr(rr, n, type, (const unsigned char *)a->ub->data[i],
		           (size_t)a->ub->len[i], any ? "." SPF_ANY_LABEL : "") == 0)
			rr->num_rr = ++n;
	if (rr != NULL && status == DNS_OK && n == 0)
		rr->herrno = NO_DATA;
	dns_answer_free(a);
	for (int i = 0; rr != NULL && (type == ns_t_mx || type == ns_t_ptr) && i < rr->num_rr;
	     i++) {
		snprintf(e->derived[i], sizeof(e->derived[i]), "%s",
		         type == ns_t_mx ? rr->rr[i]->mx : rr->rr[i]->ptr);
		e->nderived = i + 1;
		e->derived_ptr = type == ns_t_ptr;
	}
	/* Section 4.6.4; the exp= text (TXT) does not count. */
	if (rr != NULL && type != ns_t_txt && !e->in_exp &&
	    (rr->herrno == NO_DATA || rr->herrno == HOST_NOT_FOUND) && !e->stopped &&
	    ++e->voids > SPF_VOID_MAX)
		stop(e, "more than %d void lookups (the last: %s)", SPF_VOID_MAX, domain);
	return rr;
}

static void problem(struct eval *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(struct eval *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->problem, sizeof(e->problem), fmt, ap);
	va_end(ap);
}

/*
 * No usable record: for the identity's own domain the result is set here;
 * for an include: or redirect= target libspf2 makes it permerror, or
 * temperror for SPF_E_DNS_ERROR.
 */
static SPF_errcode_t
no_record(SPF_response_t *resp, int first, SPF_result_t result, SPF_errcode_t err)
{
	if (first || result != SPF_RESULT_NONE) {
		resp->result = result;
		resp->reason = SPF_REASON_FAILURE;
		resp->err = err;
	}
	return err;
}

/* The terms of a prepared record that libspf2 compiles as mechanisms (all but exp=). */
static int
mechanisms(const char *prepared)
{
	int n = 0;

	for (const char *p = strchr(prepared, ' '); p != NULL; p = strchr(p + 1, ' '))
		if (strncasecmp(p + 1, "exp=", 4) != 0)
			n++;
	return n;
}

/*
 * The record of req->cur_dom: selected (section 4.5), checked and prepared
 * (spf_record.h), compiled. An include: or redirect= target without one is
 * a permerror, which libspf2 makes of any error but SPF_E_DNS_ERROR.
 */
static SPF_errcode_t
layer_get_spf(SPF_server_t *server, SPF_request_t *req, SPF_response_t *resp,
              SPF_record_t **recordp)
{
	struct eval *e = server->resolver->hook;
	const char *domain = req->cur_dom;
	int first = e->records++ == 0;
	char text[SPF_RECORD_MAX + 1], record[SPF_RECORD_MAX + 1], prepared[SPF_RECORD_MAX + 16];
	char why[128] = "";
	struct dns_answer *a = NULL;
	enum dns_status status;
	int found = 0, invalid = 0;
	SPF_errcode_t err;

	*recordp = NULL;
	if (!first)
		count_term(e, domain); /* include: or redirect= */
	if (!first && !spf_domain_ok(domain)) {
		problem(e, "%s: not a domain name", domain);
		return no_record(resp, first, SPF_RESULT_PERMERROR, SPF_E_NOT_SPF);
	}
	status = ask(e, domain, ns_t_txt, &a);
	if (e->stopped) {
		dns_answer_free(a);
		return no_record(resp, first, SPF_RESULT_PERMERROR, SPF_E_BIG_DNS);
	}
	if (status == DNS_TEMPFAIL) {
		problem(e, "DNS: no answer for the TXT records of %s", domain);
		return no_record(resp, first, SPF_RESULT_TEMPERROR, SPF_E_DNS_ERROR);
	}
	for (size_t i = 0; status == DNS_OK && a->ub->data[i] != NULL; i++) {
		if (txt_join((const unsigned char *)a->ub->data[i], (size_t)a->ub->len[i], text,
		             sizeof(text)) < 0) {
			/* Too long, or a NUL inside: unreadable, which matters for a record. */
			const unsigned char *d = (const unsigned char *)a->ub->data[i];

			if (a->ub->len[i] > 6 && d[0] >= 6 &&
			    strncasecmp((const char *)d + 1, "v=spf1", 6) == 0 &&
			    (d[0] == 6 || d[7] == ' ')) {
				found++;
				invalid = 1;
			}
			continue;
		}
		if (spf_is_record(text) && found++ == 0)
			memcpy(record, text, strlen(text) + 1);
	}
	dns_answer_free(a);
	if (found == 0) {
		problem(e, "%s has no SPF record", domain);
		return no_record(resp, first, SPF_RESULT_NONE, SPF_E_NOT_SPF);
	}
	if (found > 1) {
		problem(e, "%s has more than one SPF record", domain);
		return no_record(resp, first, SPF_RESULT_PERMERROR, SPF_E_MULTIPLE_RECORDS);
	}
	if (invalid || spf_record_prepare(record, e->family, prepared, sizeof(prepared), why,
	                                  sizeof(why)) < 0) {
		problem(e, "the SPF record of %s: %s", domain, invalid ? "unreadable" : why);
		return no_record(resp, first, SPF_RESULT_PERMERROR, SPF_E_SYNTAX);
	}
	err = SPF_record_compile(server, resp, recordp, prepared);
	/*
	 * libspf2 keeps at most 511 octets of compiled mechanisms and drops
	 * those that do not fit without saying so: a long record would lose
	 * its last terms ("-all") and give neutral. Refuse it instead.
	 */
	if (err == SPF_E_SUCCESS && *recordp != NULL &&
	    (*recordp)->num_mech != mechanisms(prepared)) {
		problem(e, "the SPF record of %s is longer than libspf2 can hold (%d of %d terms)",
		        domain, (*recordp)->num_mech, mechanisms(prepared));
		SPF_record_free(*recordp);
		*recordp = NULL;
		return no_record(resp, first, SPF_RESULT_PERMERROR, SPF_E_BIG_MECH);
	}
	if (err != SPF_E_SUCCESS) {
		if (*recordp != NULL)
			SPF_record_free(*recordp);
		*recordp = NULL;
		problem(e, "the SPF record of %s: %s", domain, SPF_strerror(err));
		return no_record(resp, first, SPF_RESULT_PERMERROR, err);
	}
	return SPF_E_SUCCESS;
}

/* libspf2 writes URL escapes (section 7.3) in lower case; RFC 3986 prefers upper. */
static void
upper_escapes(char *s)
{
	for (; *s; s++)
		if (s[0] == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
			s[1] = (char)toupper((unsigned char)s[1]);
			s[2] = (char)toupper((unsigned char)s[2]);
		}
}

/* One space-free piece of an explanation, expanded by libspf2, appended to out. */
static int
expand_piece(SPF_server_t *server, struct eval *e, const char *piece, char *out, size_t size)
{
	SPF_response_t *resp = SPF_response_new(e->req);
	SPF_macro_t *macro = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc = -1;

	if (resp != NULL &&
	    SPF_record_compile_macro(server, resp, &macro, piece) == SPF_E_SUCCESS &&
	    SPF_record_expand_data(server, e->req, resp, MACRO_DATA(macro), macro->macro_len, &buf,
	                           &len) == SPF_E_SUCCESS &&
	    buf != NULL && strlen(out) + strlen(buf) < size) {
		strcat(out, buf);
		rc = 0;
	}
	free(buf);
	if (macro != NULL)
		SPF_macro_free(macro);
	if (resp != NULL)
		SPF_response_free(resp);
	return rc;
}

/*
 * The exp= text (section 6.2): one TXT record, checked (spf_record.h) and
 * expanded. libspf2 reads macros only up to the first space of a text, so
 * each space-free piece is expanded alone and the spaces kept as they are.
 * Nothing found or nothing valid: libspf2's default explanation (ours).
 */
/*
 * libspf2 reads macros only up to the first space of a text (1.2.10), so
 * each space-free piece is expanded alone and the spaces kept as they are.
 */
static int
expand_text(SPF_server_t *server, struct eval *e, char *text, char *out, size_t size)
{
	int rc = 0;

	out[0] = '\0';
	for (char *p = text, *sp; rc == 0 && *p != '\0'; p = sp) {
		sp = p + strcspn(p, " ");
		char keep = *sp;

		*sp = '\0';
		if (*p != '\0')
			rc = expand_piece(server, e, p, out, size);
		*sp = keep;
		for (; rc == 0 && *sp == ' ' && strlen(out) + 1 < size; sp++)
			strcat(out, " ");
	}
	upper_escapes(out);
	return rc;
}

/*
 * The exp= text (section 6.2): one TXT record, checked (spf_record.h) and
 * expanded. Nothing found or nothing valid: the default explanation.
 */
static SPF_errcode_t
layer_get_exp(SPF_server_t *server, const char *domain, char **bufp, size_t *buflenp)
{
	struct eval *e = server->resolver->hook;
	char text[SPF_RECORD_MAX + 1], prepared[SPF_RECORD_MAX + 256], out[1024];
	struct dns_answer *a = NULL;
	enum dns_status status;
	int rc = 0;

	e->in_exp = 1;
	status = ask(e, domain, ns_t_txt, &a);
	if (status != DNS_OK || a->ub->data[0] == NULL || a->ub->data[1] != NULL ||
	    txt_join((const unsigned char *)a->ub->data[0], (size_t)a->ub->len[0], text,
	             sizeof(text)) < 0 ||
	    spf_explanation_prepare(text, prepared, sizeof(prepared)) < 0)
		rc = -1;
	dns_answer_free(a);
	if (rc == 0)
		rc = expand_text(server, e, prepared, out, sizeof(out));
	if (rc < 0 || out[0] == '\0')
		snprintf(out, sizeof(out), "%s", DEFAULT_MARK);
	e->in_exp = 0;
	if (*buflenp < strlen(out) + 1) {
		char *grown = realloc(*bufp, strlen(out) + 1);

		if (grown == NULL)
			return SPF_E_NO_MEMORY;
		*bufp = grown;
		*buflenp = strlen(out) + 1;
	}
	memcpy(*bufp, out, strlen(out) + 1);
	return SPF_E_SUCCESS;
}

/* The identity: its domain and the sender address macros see (section 4.3, 2.4). */
static int
identity(const struct spf_query *q, struct spf_verdict *v)
{
	const char *s = q->sender, *at = s ? strrchr(s, '@') : NULL;

	if (s == NULL || s[0] == '\0') {
		if (q->helo == NULL)
			return -1;
		snprintf(v->domain, sizeof(v->domain), "%s", q->helo);
		snprintf(v->sender, sizeof(v->sender), "postmaster@%s", q->helo);
	} else if (at == NULL || at == s) {
		snprintf(v->domain, sizeof(v->domain), "%s", at ? at + 1 : s);
		snprintf(v->sender, sizeof(v->sender), "postmaster@%s", v->domain);
	} else {
		if ((size_t)(at - s) > LOCAL_PART_MAX || strlen(s) >= sizeof(v->sender))
			return -1;
		snprintf(v->domain, sizeof(v->domain), "%s", at + 1);
		snprintf(v->sender, sizeof(v->sender), "%s", s);
	}
	/* A quoted local part may hold spaces; nothing else unprintable. */
	for (const char *p = v->sender; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
			return -1;
	return 0;
}

static int
set_client(struct eval *e, SPF_request_t *req, const char *ip)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (ip == NULL)
		return -1;
	if (inet_pton(AF_INET6, ip, &a6) == 1 && !IN6_IS_ADDR_V4MAPPED(&a6)) {
		e->family = AF_INET6;
		memcpy(e->client, &a6, 16);
		return SPF_request_set_ipv6(req, a6) == SPF_E_SUCCESS ? 0 : -1;
	}
	/* An IPv4 client seen through an IPv6 socket is an IPv4 client (section 5). */
	if (inet_pton(AF_INET6, ip, &a6) == 1)
		memcpy(&a4, a6.s6_addr + 12, 4);
	else if (inet_pton(AF_INET, ip, &a4) != 1)
		return -1;
	e->family = AF_INET;
	memcpy(e->client, &a4, 4);
	return SPF_request_set_ipv4(req, a4) == SPF_E_SUCCESS ? 0 : -1;
}

/* Printable ASCII only: the explanation goes into an SMTP reply. */
static void
copy_printable(char *out, size_t size, const char *in)
{
	size_t o = 0;

	for (; in && *in && o + 1 < size; in++)
		out[o++] = (*in >= ' ' && *in < 0x7f) ? *in : '?';
	out[o] = '\0';
}

static enum spf_res
result_of(SPF_result_t r)
{
	switch (r) {
	case SPF_RESULT_PASS:
		return SPF_RES_PASS;
	case SPF_RESULT_FAIL:
		return SPF_RES_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return SPF_RES_SOFTFAIL;
	case SPF_RESULT_NEUTRAL:
		return SPF_RES_NEUTRAL;
	case SPF_RESULT_NONE:
		return SPF_RES_NONE;
	case SPF_RESULT_TEMPERROR:
		return SPF_RES_TEMPERROR;
	default:
		return SPF_RES_PERMERROR;
	}
}

void
spf_evaluate(spf_lookup_fn *lookup, void *ctx, const struct spf_query *q, struct spf_verdict *v)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct eval e = {.lookup = lookup, .ctx = ctx};
	SPF_server_t *server;
	SPF_request_t *req;
	SPF_response_t *resp = NULL;
	SPF_record_t *record = NULL;
	SPF_errcode_t err;

	pthread_once(&once, set_handlers);
	memset(v, 0, sizeof(*v));
	v->result = SPF_RES_NONE;
	if (identity(q, v) < 0 || !spf_domain_ok(v->domain)) {
		snprintf(v->problem, sizeof(v->problem), "no domain to check");
		return;
	}
	e.layer = (SPF_dns_server_t){.lookup = layer_lookup,
	                             .get_spf = layer_get_spf,
	                             .get_exp = layer_get_exp,
	                             .name = "postern",
	                             .hook = &e};
	server = SPF_server_new_dns(&e.layer, 0);
	if (server == NULL) {
		v->result = SPF_RES_TEMPERROR;
		snprintf(v->problem, sizeof(v->problem), "libspf2: out of memory");
		return;
	}
	SPF_server_set_sanitize(server, 0);
	SPF_server_set_rec_dom(server, q->receiver ? q->receiver : "unknown");
	SPF_server_set_explanation(server, DEFAULT_MARK, &resp);
	SPF_response_free(resp);
	resp = NULL;
	req = SPF_request_new(server);
	e.req = req;
	if (req == NULL || set_client(&e, req, q->client_ip) < 0 ||
	    SPF_request_set_env_from(req, v->sender) != 0 ||
	    (q->helo != NULL && SPF_request_set_helo_dom(req, q->helo) != SPF_E_SUCCESS)) {
		v->result = SPF_RES_PERMERROR;
		snprintf(v->problem, sizeof(v->problem),
		         "the client address or sender is unusable");
		goto out;
	}
	/*
	 * What SPF_request_query_mailfrom() does, without its free pass for
	 * loopback clients: the current domain, the record, the evaluation.
	 */
	req->cur_dom = v->domain;
	resp = SPF_response_new(req);
	if (resp == NULL) {
		v->result = SPF_RES_TEMPERROR;
		goto out;
	}
	err = SPF_server_get_record(server, req, resp, &record);
	if (err == SPF_E_SUCCESS) {
		resp->spf_record_exp = record;
		SPF_record_interpret(record, req, resp, 0);
		SPF_record_free(record);
	} else if (resp->result == SPF_RESULT_INVALID) {
		resp->result = SPF_RESULT_PERMERROR;
	}
	v->result = e.stopped ? SPF_RES_PERMERROR : result_of(resp->result);
	if (v->result == SPF_RES_FAIL && resp->explanation != NULL &&
	    strcmp(resp->explanation, DEFAULT_MARK) != 0) {
		copy_printable(v->explanation, sizeof(v->explanation), resp->explanation);
	} else if (v->result == SPF_RES_FAIL) {
		char text[] = DEFAULT_EXPLANATION, out[sizeof(v->explanation)];

		req->cur_dom = v->domain;
		if (expand_text(server, &e, text, out, sizeof(out)) == 0)
			copy_printable(v->explanation, sizeof(v->explanation), out);
	}
	if (e.problem[0] != '\0' &&
	    (v->result == SPF_RES_PERMERROR || v->result == SPF_RES_TEMPERROR))
		snprintf(v->problem, sizeof(v->problem), "%s", e.problem);
	else if (v->result == SPF_RES_PERMERROR || v->result == SPF_RES_TEMPERROR)
		snprintf(v->problem, sizeof(v->problem), "%s", SPF_strerror(resp->err));
out:
	if (resp != NULL)
		SPF_response_free(resp);
	if (req != NULL)
		SPF_request_free(req);
	SPF_server_free(server);
}
