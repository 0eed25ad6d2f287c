/*
 * NAME
 *	session_data - receive a message (DATA or BDAT) and hand it to the backend
 * SYNOPSIS
 *	session_data_begin(session)
 *	session_bdat_begin(session, cmd)
 *	session_data_input(session)
 * DESCRIPTION
 *	postern answers 354 itself and reads the whole message before the
 *	backend sees any of it: data_reader decides where the message ends and
 *	what its lines are, the spool holds it (memory, then a temporary file),
 *	and only a complete, acceptable message is sent on. So a client that
 *	vanishes mid-message leaves nothing at the backend, and the backend
 *	cannot be made to see another end of data than postern saw.
 *
 *	session_data_begin() starts reading DATA. session_bdat_begin() starts
 *	reading one BDAT chunk (returns -1 when the arguments do not give its
 *	size). session_data_input() consumes buffered input; it returns 1 when
 *	the session can go on reading commands, 0 when it needs more input or
 *	waits for the backend.
 * DIAGNOSTICS
 *	Bare newlines, spool errors and rejected messages are logged with the
 *	transaction.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "policies/config.h"
#include "proxy/backend.h"
#include "proxy/conn.h"
#include "proxy/session_int.h"
#include "proxy/spool.h"

#define DATA_IOVECS 8

static void
content_sink(void *arg, const char *buf, size_t len)
{
	struct session *s = arg;
	struct transaction *tx = s->tx;
	unsigned long long limit = s->cfg->limits.max_message_size;

	tx->size += len;
	if (tx->error_reply != NULL)
		return;
	if (limit > 0 && tx->size > limit) {
		tx->error_reply = "552 5.3.4 Error: message size exceeds limit\r\n";
		return;
	}
	if (spool_write(tx->spool, buf, len) == 0) {
		session_filter_content(s, buf, len);
	} else {
		log_err("event=spool_error session=%lx dir=%s reason=\"%s\"", s->id,
		        s->cfg->spool_dir, strerror(errno));
		tx->error_reply = "451 4.3.0 Error: cannot store the message, try again later\r\n";
	}
}

static void
start_content(struct session *s, enum data_mode mode)
{
	struct transaction *tx = s->tx;

	tx->spool = spool_new(s->cfg->limits.spool_memory, s->cfg->spool_dir);
	data_reader_init(&tx->reader, mode, s->cfg->bare_newline, s->cfg->limits.max_text_line);
	session_filter_content_begin(s);
}

void
session_data_begin(struct session *s)
{
	start_content(s, DATA_MODE_DOT);
	s->state = S_DATA;
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>\r\n");
}

int
session_bdat_begin(struct session *s, const struct smtp_cmd *cmd)
{
	size_t size;
	int last;

	if (smtp_bdat_parse(cmd, &size, &last) < 0)
		return -1;
	s->chunk_remaining = size;
	s->chunk_last = last != 0;
	s->chunk_error = NULL;
	if (s->helo == NULL)
		s->chunk_error = "503 5.5.1 Error: send HELO/EHLO first\r\n";
	else if (s->tx == NULL)
		s->chunk_error = "503 5.5.1 Error: need MAIL command\r\n";
	else if (s->tx->nrcpt_tried == 0)
		s->chunk_error = "503 5.5.1 Error: need RCPT command\r\n";
	else if (s->tx->nrcpt == 0)
		s->chunk_error = "554 5.5.1 Error: no valid recipients\r\n";
	else if (!s->tx->bdat_used) {
		s->tx->bdat_used = 1;
		start_content(s, DATA_MODE_RAW);
	}
	s->state = S_BDAT;
	return 0;
}

static void
bare_newline(struct session *s)
{
	log_info("event=bare_newline session=%lx client=%s:%d", s->id, s->ip, s->port);
	session_log_transaction(s, 521, "bare <CR> or <LF> received", 26);
	transaction_free(s);
	session_close_after(s, "521 5.5.2 %s Error: bare <CR> or <LF> received\r\n",
	                    s->cfg->hostname);
}

/* The message is complete: answer what we owe, or send it to the backend. */
static void
end_of_message(struct session *s)
{
	struct transaction *tx = s->tx;
	const char *reply = tx->error_reply;

	s->state = S_COMMAND;
	if (reply == NULL && tx->reader.line_too_long)
		reply = "500 5.5.2 Error: message line too long\r\n";
	if (reply != NULL) {
		session_reply(s, reply);
		session_log_transaction(s, atoi(reply), reply, strlen(reply));
		transaction_free(s);
		return;
	}
	session_filter_eom(s);
}

/* Feed up to max octets of buffered input to the reader; returns octets consumed. */
static size_t
feed(struct session *s, size_t max, enum data_status *status)
{
	struct evbuffer *in = conn_input(s->conn);
	struct evbuffer_iovec vec[DATA_IOVECS];
	int n = evbuffer_peek(in, (ssize_t)max, NULL, vec, DATA_IOVECS);
	size_t total = 0;

	*status = DATA_CONTINUE;
	for (int i = 0; i < n && i < DATA_IOVECS && total < max; i++) {
		size_t len = vec[i].iov_len < max - total ? vec[i].iov_len : max - total;
		size_t used = data_reader_feed(&s->tx->reader, vec[i].iov_base, len, content_sink,
		                               s, status);

		total += used;
		if (*status != DATA_CONTINUE)
			break;
	}
	evbuffer_drain(in, total);
	return total;
}

static int
data_input(struct session *s)
{
	enum data_status status;
	size_t avail = evbuffer_get_length(conn_input(s->conn));

	if (avail == 0)
		return 0;
	feed(s, avail, &status);
	if (status == DATA_BARE_NEWLINE) {
		bare_newline(s);
		return 0;
	}
	if (status == DATA_END) {
		end_of_message(s);
		return 1;
	}
	/* More than DATA_IOVECS chains may be waiting: go round again. */
	return evbuffer_get_length(conn_input(s->conn)) > 0;
}

static void
drop_chunk(struct session *s, size_t len)
{
	evbuffer_drain(conn_input(s->conn), len);
	s->chunk_remaining -= len;
}

static int
bdat_input(struct session *s)
{
	size_t avail = evbuffer_get_length(conn_input(s->conn));
	size_t len = avail < s->chunk_remaining ? avail : s->chunk_remaining;
	enum data_status status = DATA_CONTINUE;

	if (s->chunk_error != NULL)
		drop_chunk(s, len);
	else if (len > 0)
		s->chunk_remaining -= feed(s, len, &status);
	if (status == DATA_BARE_NEWLINE) {
		bare_newline(s);
		return 0;
	}
	if (s->chunk_remaining > 0)
		return len > 0;

	s->state = S_COMMAND;
	if (s->chunk_error != NULL) {
		session_reply(s, s->chunk_error);
		return 1;
	}
	if (!s->chunk_last) {
		session_replyf(s, "250 2.0.0 %llu octets received\r\n", s->tx->size);
		return 1;
	}
	if (data_reader_finish(&s->tx->reader, content_sink, s) == DATA_BARE_NEWLINE) {
		bare_newline(s);
		return 0;
	}
	end_of_message(s);
	return 1;
}

int
session_data_input(struct session *s)
{
	return s->state == S_DATA ? data_input(s) : bdat_input(s);
}
