/*
 * Unit tests for the chain's session interface (filters/chain.c): a
 * filter's session slot is one per instance whichever chain runs it,
 * notices reach every filter that ran, session_end() frees what they kept;
 * findings carried and dropped; envelope edits and body replacement only
 * at EOM; the message as the filters before left it; filter_error() takes
 * the filter's on_error.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "filters/chain.h"
#include "proxy/spool.h"
#include "tests/unit/unit.h"

static int runs[FILTER_STAGES], freed;
static void *seen_slot[8];
static size_t nseen;

static enum filter_rc
probe_run(struct filter_call *call)
{
	runs[call->stage]++;
	if (call->session_state != NULL) {
		if (*call->session_state == NULL)
			*call->session_state = malloc(1);
		if (nseen < 8)
			seen_slot[nseen++] = *call->session_state;
	}
	if (call->stage == FILTER_EOM) {
		filter_sender_change(call, "new@example.org", "BODY=8BITMIME");
		filter_rcpt_add(call, "added@example.org", NULL);
		filter_header_add(call, "X-Probe", "1");
		ck_assert_int_eq(filter_body_replace(call, "new\r\n", 5, 1), 0);
	}
	if (call->stage == FILTER_MAIL) {
		/* Not at MAIL: ignored (and logged as a filter bug). */
		filter_rcpt_add(call, "early@example.org", NULL);
		filter_error(call, "unreachable");
	}
	return FILTER_DONE;
}

static void
probe_session_end(const struct filter *f, void *state)
{
	freed++;
	free(state);
}

static const struct filter_type probe_type = {
        .name = "probe",
        .stages = FILTER_STAGE(FILTER_CONNECT) | FILTER_STAGE(FILTER_MAIL) |
                  FILTER_STAGE(FILTER_EOM) | FILTER_STAGE(FILTER_ABORT) |
                  FILTER_STAGE(FILTER_CLOSE),
        .run = probe_run,
        .session_end = probe_session_end,
};

START_TEST(test_session)
{
	struct event_base *base = event_base_new();
	struct chain_env env = {.base = base};
	struct filter a = {.name = (char *)"a", .type = &probe_type, .on_error = ON_ERROR_TEMPFAIL};
	struct filter b = {.name = (char *)"b", .type = &probe_type};
	struct filter *chain1[] = {&a}, *chain2[] = {&b, &a};
	struct filter_session fs = {0};
	struct filter_txn s = {.session = &fs}, t = {.session = &fs};

	memset(runs, 0, sizeof(runs));
	freed = 0;
	nseen = 0;
	ck_assert_ptr_null(chain_run(&env, chain1, 1, FILTER_CONNECT, &s, NULL, NULL));
	ck_assert_ptr_null(chain_run(&env, chain2, 2, FILTER_MAIL, &t, NULL, NULL));
	/* a's slot is the same in both chains, at another position; b has its own. */
	ck_assert_uint_eq(fs.nslots, 2);
	ck_assert_ptr_eq(seen_slot[0], seen_slot[2]);
	ck_assert_ptr_ne(seen_slot[1], seen_slot[2]);
	/* filter_error: the filter's on_error as the action; early envelope edits ignored. */
	ck_assert_uint_eq(t.nfindings, 2);
	ck_assert_str_eq(t.findings[0].method, "error");
	ck_assert_int_eq(t.findings[0].action, ACTION_NONE);
	ck_assert_int_eq(t.findings[1].action, ACTION_TEMPFAIL);
	ck_assert_str_eq(t.findings[1].result, "unreachable");
	ck_assert_uint_eq(t.nenvelope, 0);
	chain_notify(&t, FILTER_ABORT);
	ck_assert_int_eq(runs[FILTER_ABORT], 2);
	filter_txn_carry(&s, &t);
	ck_assert_uint_eq(s.nfindings, 2);
	ck_assert_str_eq(s.findings[1].result, "unreachable");
	filter_txn_drop_findings(&s, 1);
	ck_assert_uint_eq(s.nfindings, 1);
	filter_txn_clear(&t);
	chain_notify(&s, FILTER_CLOSE);
	ck_assert_int_eq(runs[FILTER_CLOSE], 2);
	filter_session_end(&fs);
	ck_assert_int_eq(freed, 2);
	ck_assert_uint_eq(fs.nslots, 0);
	filter_txn_clear(&s);
	event_base_free(base);
}
END_TEST

static ssize_t
read_spool(void *arg, size_t offset, void *buf, size_t len)
{
	return spool_read(arg, offset, buf, len);
}

START_TEST(test_eom_edits)
{
	struct event_base *base = event_base_new();
	struct chain_env env = {.base = base};
	struct filter a = {.name = (char *)"a", .type = &probe_type};
	struct filter *chain[] = {&a};
	static const char msg[] = "Subject: hi\r\n\r\nold body\r\n";
	struct spool *sp = spool_new(1 << 20, "/tmp");
	struct filter_txn t = {.header_block = msg,
	                       .header_len = 13,
	                       .spool_memory = 1 << 20,
	                       .spool_dir = "/tmp"};
	char buf[64];

	spool_write(sp, msg, strlen(msg));
	t.read_message = read_spool;
	t.read_arg = sp;
	t.body_offset = 15;
	ck_assert_int_eq(filter_message_body(&t, 0, buf, sizeof(buf)), 10);
	ck_assert_mem_eq(buf, "old body\r\n", 10);
	ck_assert_ptr_null(chain_run(&env, chain, 1, FILTER_EOM, &t, NULL, NULL));
	ck_assert_uint_eq(t.nenvelope, 2);
	ck_assert_int_eq(t.envelope[0].op, ENVELOPE_SENDER);
	ck_assert_str_eq(t.envelope[0].args, "BODY=8BITMIME");
	ck_assert_ptr_null(t.envelope[1].args);
	/* The next filter sees the new body and the header with the edit. */
	ck_assert_int_eq(filter_message_body(&t, 0, buf, sizeof(buf)), 5);
	ck_assert_mem_eq(buf, "new\r\n", 5);
	ck_assert_int_eq(filter_message_body(&t, 5, buf, sizeof(buf)), 0);
	struct evbuffer *h = evbuffer_new();

	filter_message_header(&t, h);
	ck_assert_uint_eq(evbuffer_get_length(h), 25);
	ck_assert_mem_eq(evbuffer_pullup(h, -1), "Subject: hi\r\nX-Probe: 1\r\n", 25);
	evbuffer_free(h);
	filter_txn_clear(&t);
	ck_assert_ptr_null(t.new_body);
	spool_free(sp);
	event_base_free(base);
}
END_TEST

static Suite *
chain_suite(void)
{
	Suite *s = suite_create("chain");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_session);
	tcase_add_test(tc, test_eom_edits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(chain_suite());
}
