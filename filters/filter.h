/*
 * NAME
 *	filter - the plug-in interface of the filter chain
 * SYNOPSIS
 *	#include "filters/filter.h"
 *
 *	filter_finding(call, method, result, score, fmt, ...)
 *	filter_finding_reply(call, reply)
 *	filter_verdict(call, action, reply)
 *	filter_act(call, action, reply)
 *	filter_error(call, reason)
 *	filter_done(call)
 *	filter_read_message(txn, offset, buf, len)
 *	filter_header_add(call, name, value), filter_header_insert(call, index, name, value)
 *	filter_header_change(call, name, index, value)
 *	filter_sender_change(call, address, args)
 *	filter_rcpt_add(call, address, args), filter_rcpt_delete(call, address)
 *	filter_body_replace(call, data, len, first)
 *	filter_message_header(txn, out), filter_message_body(txn, offset, buf, len)
 * DESCRIPTION
 *	A filter is a mechanism: it looks at the transaction and reports
 *	findings ("spf=fail", "spam score 7.3"); a policy (policies/policy.h)
 *	decides what they mean. The interface is milter-shaped: a filter type
 *	names the stages it implements and gets one run() call per stage.
 *
 *	FILTER_HEADER, FILTER_EOH and FILTER_BODY run while the message
 *	streams in, once per header field and per body chunk (CRLF lines, no
 *	dot-stuffing): run() gets the octets in call->data and call->len and
 *	must finish at once (hash, count, keep state in call->txn's filter
 *	state); their results belong to FILTER_EOM, which may be pending.
 *
 *	run() returns FILTER_DONE when it has finished, or FILTER_PENDING when
 *	the answer comes later (a DNS reply, a worker-pool job, a network
 *	engine); it then calls filter_done(call) from the event loop, exactly
 *	once, and until then the chain waits without blocking anything else.
 *	If the filter's timeout passes first, the chain calls cancel() (the
 *	filter must then never touch call again) and applies on_error.
 *
 *	filter_finding() records a finding: method ("spf", "dkim", "spam",
 *	"test" ...), result ("pass", "fail", "listed" ...), an optional score
 *	(NAN for none) and a detail text (for logs and Authentication-Results
 *	properties). filter_finding_reply() attaches to the finding the call
 *	recorded last the reply to give should a policy rule reject on it (a
 *	5xx reply: "550 5.7.23 SPF fail ...") or tempfail (a 4xx reply); a
 *	rule whose action is of the other class, or of no class, gives the
 *	policy's own reply. So a filter knows the words and the enhanced
 *	status code, and the policy still decides.
 *	filter_verdict() is for filters whose answer is itself an
 *	action (an external milter's reject, the test filter): a finding whose
 *	policy default is that action, with an optional SMTP reply ("550 5.7.1
 *	text"). filter_act() gives the finding just recorded with
 *	filter_finding() an action of its own (a rule that rejects at once).
 *	filter_error() is for a filter that could not do its work (an engine
 *	down, a reply it cannot read): a finding "error=REASON" with the
 *	filter's on_error action, as a timeout gets.
 *
 *	filter_read_message() reads the message as it was received (header
 *	and body, CRLF lines, no dot-stuffing, before any header edit) from
 *	the spool, in FILTER_EOM: up to len octets from offset into buf; it
 *	returns how many (0 at the end), or -1 where there is no message. It
 *	reads a file or memory at once and never waits for the network.
 *
 *	FILTER_CONNECT and FILTER_HELO run for the policy chosen from the
 *	client alone (no sender, no recipient); their findings decide that
 *	stage (a reject or tempfail refuses the connection or the HELO) and
 *	are carried into every transaction of the session, so that they count
 *	at the end of the message too.
 *
 *	FILTER_ABORT and FILTER_CLOSE are notices, given by chain_notify() to
 *	every filter that ran in the session (chain.h), and must finish at
 *	once: ABORT when a transaction ends before its FILTER_EOM ran (RSET,
 *	HELO, a refused MAIL or RCPT, a lost backend, the session ending), CLOSE
 *	when the session ends. Their findings are not used.
 *
 *	A filter that keeps something per transaction (a hash context) puts it
 *	in *call->state and frees it in txn_end(). What lives as long as the
 *	client's session (an external milter's connection, reused by each
 *	transaction) goes in *call->session_state, one slot per filter
 *	instance and session (whichever policy's chain runs it), freed by
 *	session_end() when the session ends. session_state is NULL where there
 *	is no session (postern --explain gives one; chain_feed always has one
 *	when the txn has).
 *
 *	filter_header_add(), _insert() and _change() propose header edits, as
 *	milter's SMFIR_ADDHEADER, SMFIR_INSHEADER and SMFIR_CHGHEADER do (a NULL
 *	value deletes); they are applied, in order, to the message the backend
 *	receives (filters/header_edit.h) unless the policy refuses it.
 *
 *	Envelope edits, as milter's SMFIR_CHGFROM, SMFIR_ADDRCPT(_PAR) and
 *	SMFIR_DELRCPT: filter_sender_change() gives the sender the backend
 *	will see (address without <>, "" for the null sender; args: ESMTP
 *	parameters or NULL, which keeps the client's), filter_rcpt_add() adds
 *	a recipient (with ESMTP parameters or NULL) and filter_rcpt_delete()
 *	removes one (compared without <> and case-insensitively). They are
 *	only applied when made at FILTER_EOM: the session then re-sends the
 *	transaction to the backend (RSET, MAIL, the RCPTs) before the message.
 *
 *	filter_body_replace() replaces the message body (SMFIR_REPLBODY): the
 *	call with first set starts a new body, the next ones append to it
 *	(CRLF lines); it returns 0, or -1 when the body cannot be stored (the
 *	filter then reports an error). Only at FILTER_EOM.
 *
 *	At FILTER_EOM a filter that must see the message as the filters before
 *	it left it (an external milter, which gets it whole at the end)
 *	reads it with filter_message_header(), the header block with every
 *	header edit so far applied (CRLF lines, no empty line; postern's own
 *	Authentication-Results come later), and filter_message_body(), the
 *	current body (the replacement, if any, else the received one through
 *	filter_read_message() from body_offset on) from offset on: the octets
 *	read, 0 at the end, -1 on a read error.
 *
 *	Adding a filter is adding a file: a struct filter_type and one line in
 *	filters/registry.c. The session never learns filter names.
 */
#ifndef POSTERN_FILTER_H
#define POSTERN_FILTER_H

#include <stddef.h>
#include <sys/types.h>

struct event_base;
struct evbuffer;
struct spool;
struct filter_call;
struct worker_pool;

enum filter_stage {
	FILTER_CONNECT,
	FILTER_HELO,
	FILTER_MAIL,
	FILTER_RCPT,
	FILTER_DATA,
	FILTER_HEADER, /* one header field, as it streams: call->data, call->len */
	FILTER_EOH,    /* the end of the header */
	FILTER_BODY,   /* a chunk of the body, as it streams: call->data, call->len */
	FILTER_EOM,    /* the whole message is spooled; headers are parsed */
	FILTER_ABORT,  /* notice: the transaction ends before its EOM ran */
	FILTER_CLOSE,  /* notice: the session ends */
	FILTER_STAGES
};
#define FILTER_STAGE(s) (1u << (s))

/* Ordered by severity: the policy keeps the most severe. */
enum action {
	ACTION_NONE, /* no opinion */
	ACTION_ACCEPT,
	ACTION_TAG,
	ACTION_QUARANTINE,
	ACTION_DISCARD,
	ACTION_TEMPFAIL,
	ACTION_REJECT,
};

enum filter_rc { FILTER_DONE, FILTER_PENDING };
enum filter_on_error { ON_ERROR_CONTINUE, ON_ERROR_TEMPFAIL, ON_ERROR_REJECT };

struct finding {
	const char *filter; /* the instance's name */
	char *method;
	char *result;
	char *detail;
	double score;       /* NAN: none */
	enum action action; /* ACTION_NONE unless the filter's answer is an action */
	char *reply;        /* for that action, or NULL for the policy's reply; with
	                       ACTION_NONE, for a rule's reject or tempfail: see
	                       filter_finding_reply() */
};

enum header_edit_op { HEADER_ADD, HEADER_INSERT, HEADER_CHANGE };

struct header_edit {
	enum header_edit_op op;
	char *name;
	char *value; /* HEADER_CHANGE: NULL deletes */
	unsigned index;
};

enum envelope_edit_op { ENVELOPE_SENDER, ENVELOPE_RCPT_ADD, ENVELOPE_RCPT_DELETE };

struct envelope_edit {
	enum envelope_edit_op op;
	char *address; /* without <> */
	char *args;    /* ESMTP parameters, or NULL */
};

/* What lives as long as the client's session, per filter instance. */
struct filter_session_slot {
	const struct filter *filter;
	void *state;
};

struct filter_session {
	struct filter_session_slot *slots; /* every filter that ran in the session */
	size_t nslots;
};

/* A policy's chain is at most this long (checked when the configuration loads). */
#define FILTER_CHAIN_MAX 32

/* What filters see of the transaction. Pointers stay valid for the transaction. */
struct filter_txn {
	const char *client_addr;
	int client_port;
	const char *helo;
	const char *local_name;  /* our host name (hostname:), which a client must not claim */
	const char *local_addr;  /* the address the client connected to, "" if not known */
	int local_port;          /* and its port, 0 if not known */
	const char *queue_id;    /* names the transaction in logs, as an MTA's queue id */
	const char *mail_from;   /* without <>, "" for the null sender */
	const char *mail_params; /* MAIL's ESMTP parameters, space separated, or NULL */
	const char *rcpt;        /* FILTER_RCPT: the recipient being checked */
	const char *rcpt_params; /* FILTER_RCPT: its ESMTP parameters, or NULL */
	const char *const *rcpts;
	size_t nrcpt;
	const char *header_block; /* FILTER_EOM: the message header, CRLF lines */
	size_t header_len;
	unsigned long long size; /* FILTER_EOM: message octets */
	/* FILTER_EOM: the spooled message, through filter_read_message(). */
	ssize_t (*read_message)(void *arg, size_t offset, void *buf, size_t len);
	void *read_arg;
	struct finding *findings;
	size_t nfindings;
	struct header_edit *edits; /* in the order filters made them */
	size_t nedits;
	/*
	 * The session, for filters that treat submission differently (DKIM
	 * signing, milter macros {auth_type} {auth_authen} {tls_version}
	 * {cipher} {cipher_bits}). authenticated: the client's AUTH got 235
	 * from the backend, which did the authenticating; auth_mech: its SASL
	 * mechanism ("PLAIN"), NULL unless authenticated; auth_user: the
	 * identity it used when postern could read it from the exchange (PLAIN,
	 * LOGIN), else NULL. tls_version ("TLSv1.3") and tls_cipher: NULL when
	 * the client does not use TLS; tls_cipher_bits then 0.
	 */
	int authenticated;
	const char *auth_mech;
	const char *auth_user;
	const char *tls_version;
	const char *tls_cipher;
	int tls_cipher_bits;
	struct envelope_edit *envelope; /* FILTER_EOM: in the order filters made them */
	size_t nenvelope;
	struct filter_session *session; /* NULL: none */
	size_t body_offset;             /* FILTER_EOM: where the message's body begins */
	struct spool *new_body;         /* a replacement body, or NULL */
	size_t spool_memory;            /* for new_body: as config limits.spool_memory */
	const char *spool_dir;
	/* Per filter of the chain: what it keeps for this transaction (call->state). */
	void *state[FILTER_CHAIN_MAX];
	const struct filter *state_owner[FILTER_CHAIN_MAX];
};

struct filter {
	char *name;
	const struct filter_type *type;
	unsigned timeout_ms;
	enum filter_on_error on_error;
	void *state; /* the type's own configuration */
};

struct filter_call {
	const struct filter *filter;
	enum filter_stage stage;
	struct filter_txn *txn;
	struct event_base *base;
	struct worker_pool *workers; /* for work that blocks: filters/worker.h */
	void **state;                /* this filter's slot for this transaction; NULL at first */
	void **session_state;        /* this filter's slot for the session, or NULL: no session */
	const char *data;            /* FILTER_HEADER, FILTER_BODY */
	size_t len;
	void *private; /* the chain's */
	void *scratch; /* the filter's, for a pending call */
};

struct config_diag;
struct yaml_document_s;
struct yaml_node_s;

struct filter_type {
	const char *name;
	unsigned stages; /* FILTER_STAGE() bits */
	/* Reads the type's own keys; unknown keys are errors. Returns 0 or -1. */
	int (*configure)(struct filter *filter, struct yaml_document_s *doc,
	                 struct yaml_node_s *node, const char *file, struct config_diag *diag);
	void (*destroy)(struct filter *filter);
	enum filter_rc (*run)(struct filter_call *call);
	void (*cancel)(struct filter_call *call);
	/* The transaction ends: free what run() kept in *call->state. */
	void (*txn_end)(const struct filter *filter, void *state);
	/* Optional: the event loop the filter ran on is about to be freed (postern
	 * --explain runs a loop of its own); free what is tied to it, such as kept-alive
	 * connections. destroy() must do the same. */
	void (*loop_end)(struct filter *filter);
	/* The session ends: free what run() kept in *call->session_state. */
	void (*session_end)(const struct filter *filter, void *state);
};

void filter_finding(struct filter_call *call, const char *method, const char *result, double score,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void filter_finding_reply(struct filter_call *call, const char *reply);
void filter_verdict(struct filter_call *call, enum action action, const char *reply);
void filter_act(struct filter_call *call, enum action action, const char *reply);
void filter_error(struct filter_call *call, const char *reason);
ssize_t filter_read_message(const struct filter_txn *txn, size_t offset, void *buf, size_t len);
void filter_done(struct filter_call *call);
void filter_header_add(struct filter_call *call, const char *name, const char *value);
void filter_header_insert(struct filter_call *call, unsigned index, const char *name,
                          const char *value);
void filter_header_change(struct filter_call *call, const char *name, unsigned index,
                          const char *value);
void filter_sender_change(struct filter_call *call, const char *address, const char *args);
void filter_rcpt_add(struct filter_call *call, const char *address, const char *args);
void filter_rcpt_delete(struct filter_call *call, const char *address);
int filter_body_replace(struct filter_call *call, const char *data, size_t len, int first);
void filter_message_header(const struct filter_txn *txn, struct evbuffer *out);
ssize_t filter_message_body(const struct filter_txn *txn, size_t offset, void *buf, size_t len);

const struct filter_type *filter_type_find(const char *name);
const char *action_name(enum action action);
int action_parse(const char *text, enum action *action);

#endif
