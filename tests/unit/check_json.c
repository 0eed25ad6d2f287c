/*
 * Unit tests for filters/json.c: rspamd's reply as rspamd writes it, the
 * RFC 8259 corner cases, and hostile input (every prefix, deep nesting,
 * bad UTF-8 and escapes, repeated keys, trailing garbage).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/json.h"
#include "tests/unit/unit.h"

static struct json *
parse(const char *text, size_t len)
{
	/* Exactly len octets and no NUL after them: the parser must not look further. */
	char *copy = malloc(len ? len : 1), err[128];
	struct json *v;

	memcpy(copy, text, len);
	v = json_parse(copy, len, err, sizeof(err));
	free(copy);
	return v;
}

static const char rspamd[] =
        "{\"is_skipped\":false,\"score\":15.0,\"required_score\":15.0,\"action\":\"reject\","
        "\"symbols\":{\"GTUBE\":{\"name\":\"GTUBE\",\"score\":0.0,\"metric_score\":0.0},"
        "\"MV_CASE\":{\"name\":\"MV_CASE\",\"score\":0.500000,\"options\":[\"a\",\"b\"]}},"
        "\"messages\":{\"smtp_message\":\"Gtube pattern\"},\"time_real\":0.087980}";

START_TEST(test_rspamd_reply)
{
	struct json *v = parse(rspamd, strlen(rspamd));
	const struct json *syms;

	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(v->type, JSON_OBJECT);
	ck_assert_str_eq(json_get(v, "action")->string, "reject");
	ck_assert(json_get(v, "score")->number == 15.0);
	ck_assert_int_eq(json_get(v, "is_skipped")->type, JSON_BOOL);
	syms = json_get(v, "symbols");
	ck_assert_uint_eq(syms->n, 2);
	ck_assert_str_eq(syms->keys[1], "MV_CASE");
	ck_assert(json_get(&syms->items[1], "score")->number == 0.5);
	ck_assert_uint_eq(json_get(&syms->items[1], "options")->n, 2);
	ck_assert_ptr_null(json_get(v, "nothing"));
	json_free(v);
}
END_TEST

START_TEST(test_values)
{
	const char *list = " [ -0, 1e3, -1.5E-2, true, false, null, \"\" , {}, [] ] ";
	struct json *v = parse(list, strlen(list));

	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v->n, 9);
	ck_assert(v->items[1].number == 1000 && v->items[2].number == -0.015);
	ck_assert_int_eq(v->items[5].type, JSON_NULL);
	json_free(v);
	const char *s = "\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00\xc3\xa9\"";

	v = parse(s, strlen(s));
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v->string, "a\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9");
	json_free(v);
}
END_TEST

START_TEST(test_hostile)
{
	static const char *const bad[] = {
	        "",
	        " ",
	        "{",
	        "}",
	        "[1,]",
	        "[,1]",
	        "{\"a\":1,}",
	        "{\"a\"}",
	        "{a:1}",
	        "[01]",
	        "[1.]",
	        "[.5]",
	        "[1e]",
	        "[+1]",
	        "[-]",
	        "[1e999]",
	        "tru",
	        "nul",
	        "[True]",
	        "\"\\x\"",
	        "\"\\u12\"",
	        "\"\\ud800\"",
	        "\"\\udc00\"",
	        "\"\\ud800\\u0041\"",
	        "\"\\u0000\"",
	        "\"a\tb\"",
	        "\"\xc3\"",
	        "\"\xc0\xaf\"",
	        "\"\xed\xa0\x80\"",
	        "\"\xf5\x80\x80\x80\"",
	        "\"\xff\"",
	        "{\"a\":1,\"a\":2}",
	        "[1] x",
	        "[1]]",
	        "/* c */ 1",
	        "\"abc",
	        "\"abc\\",
	        "[\"a\" \"b\"]",
	        "{\"a\" 1}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i], strlen(bad[i])) == NULL, "case %zu: %s", i, bad[i]);
}
END_TEST

/* Every proper prefix of a valid reply is refused, and none is read past its end. */
START_TEST(test_prefixes)
{
	size_t len = strlen(rspamd);

	for (size_t n = 0; n < len; n++) {
		struct json *v = parse(rspamd, n);

		ck_assert_msg(v == NULL, "prefix %zu accepted", n);
	}
}
END_TEST

START_TEST(test_depth)
{
	char deep[2 * (JSON_DEPTH + 2)];
	size_t d;

	for (d = JSON_DEPTH; d <= JSON_DEPTH + 1; d++) {
		memset(deep, '[', d + 1);
		memset(deep + d + 1, ']', d + 1);
		struct json *v = parse(deep, 2 * (d + 1));

		if (d == JSON_DEPTH)
			ck_assert_ptr_nonnull(v);
		else
			ck_assert_ptr_null(v);
		json_free(v);
	}
	/* A million unclosed brackets stop at the depth limit, not the stack. */
	size_t big = 1000000;
	char *open = malloc(big);

	memset(open, '[', big);
	ck_assert_ptr_null(parse(open, big));
	free(open);
}
END_TEST

START_TEST(test_long_array)
{
	size_t n = 200000, len = 2 * n + 1;
	char *text = malloc(len);
	struct json *v;

	text[0] = '[';
	for (size_t i = 0; i < n; i++) {
		text[1 + 2 * i] = '7';
		text[2 + 2 * i] = i + 1 < n ? ',' : ']';
	}
	v = parse(text, len);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v->n, n);
	ck_assert(v->items[n - 1].number == 7);
	json_free(v);
	free(text);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_rspamd_reply);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_prefixes);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_long_array);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
