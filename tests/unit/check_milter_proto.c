/*
 * Unit tests for filters/milter_proto.c: packets as libmilter sends and
 * expects them, and hostile input: lengths out of range, strings without
 * their NUL, fields missing, reply codes that are not SMTP.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include <libmilter/mfapi.h>

#include "filters/milter_proto.h"
#include "tests/unit/unit.h"

/* A packet of cmd with data (len octets), framed into buf; returns its size. */
static size_t
frame(char *buf, char cmd, const void *data, size_t len)
{
	uint32_t n = htonl((uint32_t)len + 1);

	memcpy(buf, &n, 4);
	buf[4] = cmd;
	memcpy(buf + 5, data, len);
	return len + 5;
}

static int
decode(char cmd, const void *data, size_t len, struct milter_reply *r)
{
	struct milter_packet pk = {.cmd = cmd, .data = data, .len = len};

	return milter_decode(&pk, r);
}

START_TEST(test_put)
{
	struct evbuffer *out = evbuffer_new();
	const unsigned char *p;

	milter_put_optneg(out, 6, 0x1ff, 0x1f);
	ck_assert_uint_eq(evbuffer_get_length(out), 17);
	p = evbuffer_pullup(out, -1);
	ck_assert_mem_eq(p, "\0\0\0\x0dO\0\0\0\x06\0\0\x01\xff\0\0\0\x1f", 17);
	evbuffer_drain(out, 17);
	milter_put_strings(out, SMFIC_HEADER, (const char *const[]){"Subject", "hi"}, 2);
	p = evbuffer_pullup(out, -1);
	ck_assert_mem_eq(p, "\0\0\0\x0cLSubject\0hi\0", 16);
	evbuffer_drain(out, 16);
	milter_put_connect(out, "[192.0.2.1]", SMFIA_INET, 25, "192.0.2.1");
	p = evbuffer_pullup(out, -1);
	ck_assert_mem_eq(p,
	                 "\0\0\0\x1a"
	                 "C[192.0.2.1]\0"
	                 "4\0\x19"
	                 "192.0.2.1\0",
	                 30);
	evbuffer_drain(out, 30);
	milter_put_connect(out, "x", SMFIA_UNKNOWN, 0, "");
	ck_assert_uint_eq(evbuffer_get_length(out), 4 + 1 + 2 + 1);
	evbuffer_free(out);
}
END_TEST

START_TEST(test_frame)
{
	char buf[64];
	struct milter_packet pk;
	size_t n = frame(buf, SMFIR_CONTINUE, "", 0);

	ck_assert_int_eq(milter_frame(buf, n, 1024, &pk), 5);
	ck_assert_int_eq(pk.cmd, 'c');
	ck_assert_uint_eq(pk.len, 0);
	for (size_t cut = 0; cut < n; cut++)
		ck_assert_int_eq(milter_frame(buf, cut, 1024, &pk), 0);
	memcpy(buf, "\0\0\0\0", 4);
	ck_assert_int_eq(milter_frame(buf, 5, 1024, &pk), -1);
	memcpy(buf, "\xff\xff\xff\xff", 4);
	ck_assert_int_eq(milter_frame(buf, 8, 1024, &pk), -1);
	memcpy(buf, "\0\0\x04\x01", 4); /* 1025 > max */
	ck_assert_int_eq(milter_frame(buf, 8, 1024, &pk), -1);
}
END_TEST

START_TEST(test_decode_headers)
{
	struct milter_reply r;

	ck_assert_int_eq(decode('h', "X-A\0v\0", 6, &r), 0);
	ck_assert_str_eq(r.s1, "X-A");
	ck_assert_str_eq(r.s2, "v");
	ck_assert_int_eq(decode('i', "\0\0\0\x02X-B\0\0", 10, &r), 0);
	ck_assert_uint_eq(r.index, 2);
	ck_assert_str_eq(r.s2, "");
	/* no NUL, no value, empty name, a name with ':' or a space, no index */
	ck_assert_int_eq(decode('h', "X-A", 3, &r), -1);
	ck_assert_int_eq(decode('h', "X-A\0", 4, &r), -1);
	ck_assert_int_eq(decode('h', "\0v\0", 3, &r), -1);
	ck_assert_int_eq(decode('h', "X:A\0v\0", 6, &r), -1);
	ck_assert_int_eq(decode('h', "X A\0v\0", 6, &r), -1);
	ck_assert_int_eq(decode('m', "\0\0\0", 3, &r), -1);
	ck_assert_int_eq(decode('m', "\0\0\0\x01", 4, &r), -1);
}
END_TEST

START_TEST(test_decode_envelope)
{
	struct milter_reply r;

	ck_assert_int_eq(decode('e', "<a@b>\0", 6, &r), 0);
	ck_assert_ptr_null(r.s2);
	ck_assert_int_eq(decode('e', "<a@b>\0SIZE=1\0", 13, &r), 0);
	ck_assert_str_eq(r.s2, "SIZE=1");
	ck_assert_int_eq(decode('e', "<a@b>\0SIZE=1", 12, &r), -1);
	ck_assert_int_eq(decode('2', "<a@b>\0N=1\0", 10, &r), 0);
	ck_assert_int_eq(decode('+', "<a@b>", 5, &r), -1);
	ck_assert_int_eq(decode('-', "<a@b>\0", 6, &r), 0);
	ck_assert_int_eq(decode('b', "any\0bytes", 9, &r), 0);
	ck_assert_uint_eq(r.len, 9);
	ck_assert_int_eq(decode('c', "", 0, &r), 0);
	ck_assert_int_eq(decode('Z', "", 0, &r), -1);
	ck_assert_int_eq(decode('\0', "", 0, &r), -1);
}
END_TEST

START_TEST(test_optneg)
{
	struct milter_optneg o;
	char data[64];

	memcpy(data, "\0\0\0\x06\0\0\x01\xff\0\0\x04\0", 12);
	ck_assert_int_eq(milter_decode_optneg(data, 12, &o), 0);
	ck_assert_uint_eq(o.version, 6);
	ck_assert_uint_eq(o.actions, 0x1ff);
	ck_assert_uint_eq(o.protocol, SMFIP_SKIP);
	ck_assert_ptr_null(o.macros[0]);
	memcpy(data + 12, "\0\0\0\0j {client_addr}\0\0\0\0\x05i\0", 26);
	ck_assert_int_eq(milter_decode_optneg(data, 38, &o), 0);
	ck_assert_str_eq(o.macros[SMFIM_CONNECT], "j {client_addr}");
	ck_assert_str_eq(o.macros[SMFIM_EOM], "i");
	ck_assert_int_eq(milter_decode_optneg(data, 11, &o), -1);
	ck_assert_int_eq(milter_decode_optneg(data, 14, &o), -1); /* a stage cut short */
	ck_assert_int_eq(milter_decode_optneg(data, 36, &o), -1); /* a list without NUL */
	memcpy(data + 12, "\0\0\0\x07x\0", 6);                    /* no stage 7 */
	ck_assert_int_eq(milter_decode_optneg(data, 18, &o), -1);
}
END_TEST

START_TEST(test_reply_text)
{
	char out[256];
	const char *ml = "550-5.7.1 one\r\n550-5.7.1 two\r\n550 5.7.1 three";

	ck_assert_int_eq(milter_reply_text("550 5.7.1 no", 12, out, sizeof(out)), 550);
	ck_assert_str_eq(out, "550 5.7.1 no");
	ck_assert_int_eq(milter_reply_text("451", 3, out, sizeof(out)), 451);
	ck_assert_int_eq(milter_reply_text(ml, strlen(ml), out, sizeof(out)), 550);
	ck_assert_str_eq(out, ml);
	static const char *const bad[] = {
	        "250 ok",                     /* not a refusal */
	        "55 short",                   /* no code */
	        "5x0 x",                      /* not digits */
	        "550-5.7.1 a\r\n450 4.7.1 b", /* two codes */
	        "550 a\r\n550 b",             /* continued without "-" */
	        "550-a\r\n550-b",             /* last with "-" */
	        "550 a\nb",                   /* a bare LF */
	        "550 a\r",                    /* a CR at the end */
	        "550 a\r\n",                  /* an empty last line */
	        "550x",                       /* no separator */
	        "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(milter_reply_text(bad[i], strlen(bad[i]), out, sizeof(out)) == -1,
		              "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(milter_reply_text("550 a", 5, out, 5), -1); /* no room for the NUL */
}
END_TEST

static Suite *
milter_proto_suite(void)
{
	Suite *s = suite_create("milter_proto");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_put);
	tcase_add_test(tc, test_frame);
	tcase_add_test(tc, test_decode_headers);
	tcase_add_test(tc, test_decode_envelope);
	tcase_add_test(tc, test_optneg);
	tcase_add_test(tc, test_reply_text);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(milter_proto_suite());
}
