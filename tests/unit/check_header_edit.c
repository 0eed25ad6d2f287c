/*
 * Unit tests for filters/header_edit.c: add, insert, change and delete as
 * milter does them, on a header block with folded fields.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "filters/header_edit.h"
#include "tests/unit/unit.h"

static const char block[] = "Received: from a\r\n\tby b\r\n"
                            "Subject: hello\r\n"
                            "X-Tag: one\r\n"
                            "x-tag: two\r\n";

static char *
apply(const struct header_edit *e, size_t n)
{
	struct evbuffer *out = evbuffer_new();
	size_t len;
	char *s;

	header_edits_apply(block, strlen(block), e, n, out);
	len = evbuffer_get_length(out);
	s = malloc(len + 1);
	evbuffer_remove(out, s, len);
	s[len] = '\0';
	evbuffer_free(out);
	return s;
}

START_TEST(test_edits)
{
	struct header_edit e[] = {
	        {HEADER_ADD, (char *)"X-Added", (char *)"yes", 0},
	        {HEADER_INSERT, (char *)"X-First", (char *)"1", 0},
	        {HEADER_CHANGE, (char *)"X-TAG", (char *)"changed", 2},
	        {HEADER_CHANGE, (char *)"Subject", NULL, 1},
	        {HEADER_CHANGE, (char *)"X-Missing", NULL, 1},
	        {HEADER_INSERT, (char *)"X-Last", (char *)"9", 99},
	};
	char *s = apply(e, 6);

	ck_assert_str_eq(s, "X-First: 1\r\n"
	                    "Received: from a\r\n\tby b\r\n"
	                    "X-Tag: one\r\n"
	                    "X-TAG: changed\r\n"
	                    "X-Added: yes\r\n"
	                    "X-Last: 9\r\n");
	free(s);
	s = apply(NULL, 0);
	ck_assert_str_eq(s, block);
	free(s);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("header_edit");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_edits);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
