/*
 * NAME
 *	session_int - what session.c and session_data.c share
 * DESCRIPTION
 *	session.c reads commands and relays the envelope; session_data.c
 *	receives the message (DATA or BDAT) and hands it to the backend;
 *	session_front.c does the PROXY header and TLS, session_auth.c AUTH. The
 *	session owns its transaction, the transaction owns its spool.
 */
#ifndef POSTERN_SESSION_INT_H
#define POSTERN_SESSION_INT_H

#include <netinet/in.h>
#include <sys/queue.h>
#include <time.h>

#include "proxy/data_reader.h"
#include "proxy/header_reader.h"
#include "proxy/smtp_cmd.h"
#include "filters/filter.h"
#include "proxy/backend.h"
#include "proxy/xclient.h"

struct conn;
struct session;
struct evbuffer;

enum session_state {
	S_COMMAND, /* reading commands */
	S_DATA,    /* reading the DATA stream */
	S_BDAT,    /* reading a BDAT chunk */
	S_AUTH,    /* the next line answers the backend's 334 (SASL) */
	S_CLOSING, /* final reply queued; close when it is sent */
};

enum session_wait {
	W_NONE,
	W_PREPARE, /* backend connecting / identifying before MAIL */
	W_MAIL,
	W_RCPT,
	W_MESSAGE, /* the message was sent; waiting for the final reply */
	W_FILTER,  /* a filter chain stage is running */
	W_RESEND,  /* re-sending the transaction: filters' envelope, quarantine mailbox */
	W_PROXY,   /* reading the PROXY protocol header */
	W_TLS,     /* the TLS handshake runs */
	W_AUTH,    /* the backend prepares for AUTH, or answers a SASL line */
};

struct transaction {
	char *mail_line; /* the client's MAIL command, relayed verbatim */
	char *from;
	char *rcpts;                     /* accepted recipients, comma separated, for the log */
	char *rcpt_line;                 /* the RCPT waiting for its reply */
	char *mail_params, *rcpt_params; /* ESMTP parameters, for filters */
	unsigned nrcpt;                  /* accepted by the backend */
	unsigned nrcpt_tried;
	struct spool *spool;
	struct data_reader reader;
	unsigned long long size; /* octets received */
	const char *error_reply; /* reply owed at the end of the message, instead of relaying */
	unsigned bdat_used : 1;
	struct client_identity identity; /* for the backend, while it prepares */
	/* session_filter.c */
	struct filter_txn ftxn;
	char queue_id[32];
	const struct policy *pre_policy;  /* chosen at MAIL, without a recipient */
	const struct policy *policy;      /* the transaction's: its first recipient's */
	const struct policy *rcpt_policy; /* the recipient being checked */
	char *rcpt_cmd;      /* the RCPT command waiting for its filters, then its reply */
	char **accepted;     /* the recipients the backend accepted: ftxn.rcpts */
	char **accepted_cmd; /* and their RCPT commands, for a resend */
	int eom_done;        /* the EOM stage ran: no ABORT notice */
	size_t rcpt_first_finding;
	struct header_reader hr; /* the header, parsed once, as the message streams */
	int streaming;           /* a filter wants header fields and body chunks */
	char **resend;           /* the commands that re-send the transaction, then the message */
	size_t nresend, resend_step;
	unsigned resend_rcpt_ok;
	const char *resend_why; /* "quarantine", "envelope": for the log */
	struct evbuffer *resend_headers;
	struct spool *resend_body;
	size_t resend_skip;
	enum action action;
	struct timespec started;
};

struct session {
	TAILQ_ENTRY(session) entry;
	struct server *server;
	struct config *cfg;                 /* the config this session started with (a reference) */
	struct config *lcfg;                /* its listener's (a reference; usually cfg) */
	const struct config_listen *listen; /* in lcfg */
	size_t listen_index;
	struct conn *conn;
	struct backend *backend;
	struct transaction *tx;
	char *helo;
	unsigned long id;
	enum session_state state;
	enum session_wait wait;
	unsigned errors;
	size_t chunk_remaining;  /* BDAT octets still to read */
	const char *chunk_error; /* the chunk is read and dropped, then this is the reply */
	unsigned chunk_last : 1;
	unsigned esmtp : 1;
	unsigned skip_line : 1;
	unsigned processing : 1; /* inside session_process(): callbacks must not re-enter it */
	unsigned tls_start : 1;  /* STARTTLS was answered: TLS starts once the reply is out */
	unsigned greeted : 1;
	unsigned counted : 1;       /* the server counts this session for ip */
	unsigned authenticated : 1; /* the backend said 235 */
	unsigned auth_first : 1;    /* the next SASL response is the first (it names the user) */
	char auth_mech[24];
	char *auth_line;  /* the AUTH command, until the backend is ready for it */
	char *auth_user;  /* the authentication identity, when it could be read; or NULL */
	char *auth_guess; /* the one read from the exchange, until 235 confirms it */
	struct client_identity identity; /* for the backend, while it prepares for AUTH */
	/* session_filter.c: the session's own stages, CONNECT and HELO */
	struct filter_session fsession;
	/* Their findings, carried into each transaction; NULL while the client's policy has no
	 * chain, so that a session without filters does not carry a filter_txn. */
	struct filter_txn *sftxn;
	size_t helo_first_finding;
	unsigned ntransactions;
	const struct policy *client_policy; /* chosen from the client alone */
	struct chain *chain; /* the stage running, the session's or its transaction's */
	void (*filter_next)(struct session *s);
	int port;
	char ip[INET6_ADDRSTRLEN]; /* the client: the TCP peer, or the PROXY header's source */
	char local_ip[INET6_ADDRSTRLEN]; /* the address the client connected to, or "" */
	int local_port;
};

typedef void command_fn(struct session *s, const struct smtp_cmd *cmd, const char *line,
                        size_t len);

/* session.c */
void session_continue(struct session *s);
void session_protocol_error(struct session *s, const char *reply);
void session_backend_done(void *arg, enum backend_status status, int code, struct evbuffer *reply);
void session_reply(struct session *s, const char *reply);
void session_replyf(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void session_close_after(struct session *s, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void session_log_transaction(struct session *s, int status, const char *reply, size_t len);
void transaction_free(struct session *s);
void session_greet(struct session *s);
void session_helo_reply(struct session *s);

/* session_filter.c */
void session_filter_connect(struct session *s);
void session_filter_helo(struct session *s);
void session_filter_close(struct session *s);
void session_filter_mail(struct session *s);
void session_filter_rcpt(struct session *s, const char *line, size_t len);
void session_filter_accepted_rcpt(struct session *s);
void session_filter_content_begin(struct session *s);
void session_filter_content(struct session *s, const char *data, size_t len);
void session_filter_eom(struct session *s);
void session_filter_end(struct session *s);
void session_filter_resend_ready(struct session *s);
void session_filter_resend_step(struct session *s, int code, struct evbuffer *reply);
size_t session_filter_log(const struct session *s, char *buf, size_t size);

/* session_front.c */
void session_start(struct session *s);
void session_proxy_input(struct session *s);
void session_tls_ready(struct session *s);
command_fn session_cmd_starttls;

/* session_auth.c */
int session_auth_offered(const struct session *s);
command_fn session_cmd_auth;
void session_auth_input(struct session *s, const char *line, size_t len);
void session_auth_replied(struct session *s, int code);

/* session_data.c */
void session_data_begin(struct session *s);
int session_bdat_begin(struct session *s, const struct smtp_cmd *cmd);
int session_data_input(struct session *s);

#endif
