/*
 * NAME
 *	test_filter - a filter for the test suite (./configure --enable-test-filter)
 * DESCRIPTION
 *	Does what the message tells it, so integration tests can drive every
 *	action through a real postern:
 *
 *	CONNECT: logged (event=test_connect), so tests see the stage ran.
 *	HELO: a name starting with "reject-helo" gets a reject verdict; one
 *	starting with "finding-helo" a finding test=helo (carried into each
 *	transaction of the session).
 *	ABORT, CLOSE: logged (event=test_notice stage=abort|close), so tests
 *	see the notices.
 *	MAIL: a sender whose local part is "reject-mail" or "tempfail-mail"
 *	gets that verdict.
 *	RCPT: a recipient whose local part starts with "reject" or "tempfail"
 *	gets that verdict.
 *	EOM: a header "X-Test-Action: WORD..." with words "reject",
 *	"tempfail", "tag", "discard", "quarantine", "score=N" (a finding of
 *	method "spam" with score N), "delay=MS" (answer MS milliseconds later,
 *	from the event loop), "result=METHOD:RESULT" (a finding, for policy
 *	rules), "add=NAME:VALUE", "insert=NAME:VALUE" (as the first field),
 *	"delete=NAME" (its first field) for header edits, "count" (a finding
 *	test=counted with the header fields and body octets the streaming
 *	stages saw), "from=ADDR" (a new sender), "addrcpt=ADDR",
 *	"delrcpt=ADDR" (envelope edits), "body=TEXT" (the body becomes TEXT
 *	and CRLF).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "common/log.h"
#include "filters/filter.h"

static int
local_part_starts(const char *address, const char *prefix)
{
	return address != NULL && strncasecmp(address, prefix, strlen(prefix)) == 0;
}

/* The value of "X-Test-Action:" in the header block, into buf; 0 if absent. */
static int
action_header(const struct filter_txn *txn, char *buf, size_t size)
{
	static const char name[] = "X-Test-Action:";
	const char *line = txn->header_block, *end = line + txn->header_len;

	while (line != NULL && line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);

		if (len >= sizeof(name) - 1 && strncasecmp(line, name, sizeof(name) - 1) == 0) {
			size_t n = len - (sizeof(name) - 1);

			if (n >= size)
				n = size - 1;
			memcpy(buf, line + sizeof(name) - 1, n);
			buf[n] = '\0';
			return 1;
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

struct counts {
	unsigned long fields, body, eoh;
};

static struct counts *
counts_of(struct filter_call *call)
{
	if (*call->state == NULL)
		*call->state = calloc(1, sizeof(struct counts));
	return *call->state;
}

static void
test_txn_end(const struct filter *filter, void *state)
{
	free(state);
}

static void
delay_done(evutil_socket_t fd, short what, void *arg)
{
	struct filter_call *call = arg;

	event_free(call->scratch);
	call->scratch = NULL;
	filter_done(call);
}

static enum filter_rc
eom(struct filter_call *call)
{
	char value[512];
	enum filter_rc rc = FILTER_DONE;

	if (!action_header(call->txn, value, sizeof(value)))
		return FILTER_DONE;
	for (char *save = NULL, *w = strtok_r(value, " \t\r,", &save); w;
	     w = strtok_r(NULL, " \t\r,", &save)) {
		enum action action;

		if (action_parse(w, &action) == 0) {
			filter_verdict(call, action, NULL);
		} else if (strncmp(w, "score=", 6) == 0) {
			filter_finding(call, "spam", "scored", atof(w + 6), "score %s", w + 6);
		} else if (strncmp(w, "result=", 7) == 0 && strchr(w, ':')) {
			char *colon = strchr(w, ':');

			*colon = '\0';
			filter_finding(call, w + 7, colon + 1, NAN, "test finding");
		} else if ((strncmp(w, "add=", 4) == 0 || strncmp(w, "insert=", 7) == 0) &&
		           strchr(w, ':')) {
			char *colon = strchr(w, ':');

			*colon = '\0';
			if (w[0] == 'a')
				filter_header_add(call, w + 4, colon + 1);
			else
				filter_header_insert(call, 0, w + 7, colon + 1);
		} else if (strncmp(w, "delete=", 7) == 0) {
			filter_header_change(call, w + 7, 1, NULL);
		} else if (strncmp(w, "from=", 5) == 0) {
			filter_sender_change(call, w + 5, NULL);
		} else if (strncmp(w, "addrcpt=", 8) == 0) {
			filter_rcpt_add(call, w + 8, NULL);
		} else if (strncmp(w, "delrcpt=", 8) == 0) {
			filter_rcpt_delete(call, w + 8);
		} else if (strncmp(w, "body=", 5) == 0) {
			if (filter_body_replace(call, w + 5, strlen(w + 5), 1) < 0 ||
			    filter_body_replace(call, "\r\n", 2, 0) < 0)
				filter_finding(call, "error", "body", NAN, "cannot store the body");
		} else if (strcmp(w, "count") == 0) {
			struct counts *c = counts_of(call);

			filter_finding(call, "test", "counted", NAN, "fields=%lu eoh=%lu body=%lu",
			               c->fields, c->eoh, c->body);
		} else if (strncmp(w, "delay=", 6) == 0) {
			long ms = atol(w + 6);
			struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

			call->scratch = evtimer_new(call->base, delay_done, call);
			evtimer_add(call->scratch, &tv);
			rc = FILTER_PENDING;
		}
	}
	return rc;
}

static enum filter_rc
test_run(struct filter_call *call)
{
	const struct filter_txn *txn = call->txn;

	switch (call->stage) {
	case FILTER_CONNECT:
		log_info("event=test_connect filter=%s client=%s", call->filter->name,
		         txn->client_addr);
		return FILTER_DONE;
	case FILTER_HELO:
		if (local_part_starts(txn->helo, "reject-helo"))
			filter_verdict(call, ACTION_REJECT, "550 5.7.1 test filter: HELO refused");
		else if (local_part_starts(txn->helo, "finding-helo"))
			filter_finding(call, "test", "helo", NAN, "helo %s", txn->helo);
		return FILTER_DONE;
	case FILTER_ABORT:
	case FILTER_CLOSE:
		log_info("event=test_notice filter=%s stage=%s", call->filter->name,
		         call->stage == FILTER_ABORT ? "abort" : "close");
		return FILTER_DONE;
	case FILTER_MAIL:
		if (local_part_starts(txn->mail_from, "reject-mail@"))
			filter_verdict(call, ACTION_REJECT,
			               "550 5.7.1 test filter: sender refused");
		else if (local_part_starts(txn->mail_from, "tempfail-mail@"))
			filter_verdict(call, ACTION_TEMPFAIL, "451 4.7.1 test filter: try later");
		return FILTER_DONE;
	case FILTER_RCPT:
		if (local_part_starts(txn->rcpt, "reject"))
			filter_verdict(call, ACTION_REJECT,
			               "550 5.7.1 test filter: recipient refused");
		else if (local_part_starts(txn->rcpt, "tempfail"))
			filter_verdict(call, ACTION_TEMPFAIL, "451 4.7.1 test filter: try later");
		return FILTER_DONE;
	case FILTER_HEADER:
		counts_of(call)->fields++;
		return FILTER_DONE;
	case FILTER_EOH:
		counts_of(call)->eoh++;
		return FILTER_DONE;
	case FILTER_BODY:
		counts_of(call)->body += call->len;
		return FILTER_DONE;
	case FILTER_EOM:
		return eom(call);
	default:
		return FILTER_DONE;
	}
}

static void
test_cancel(struct filter_call *call)
{
	if (call->scratch != NULL)
		event_free(call->scratch);
	call->scratch = NULL;
}

const struct filter_type test_filter_type = {
        .name = "test",
        .stages = FILTER_STAGE(FILTER_CONNECT) | FILTER_STAGE(FILTER_HELO) |
                  FILTER_STAGE(FILTER_ABORT) | FILTER_STAGE(FILTER_CLOSE) |
                  FILTER_STAGE(FILTER_MAIL) | FILTER_STAGE(FILTER_RCPT) |
                  FILTER_STAGE(FILTER_HEADER) | FILTER_STAGE(FILTER_EOH) |
                  FILTER_STAGE(FILTER_BODY) | FILTER_STAGE(FILTER_EOM),
        .run = test_run,
        .cancel = test_cancel,
        .txn_end = test_txn_end,
};
