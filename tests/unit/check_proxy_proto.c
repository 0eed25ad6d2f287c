/*
 * Unit tests for proxy/proxy_proto.c: PROXY v1 and v2 headers, good and
 * hostile; the octets needed when incomplete never reach past the header.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy_proto.h"
#include "tests/unit/unit.h"

static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static enum proxy_proto_status
parse(const char *s, struct proxy_proto_header *h)
{
	return proxy_proto_parse(s, strlen(s), h);
}

static void
assert_v4(const struct sockaddr_storage *ss, const char *ip, unsigned port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	char text[INET_ADDRSTRLEN];

	ck_assert_int_eq(sin->sin_family, AF_INET);
	inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
	ck_assert_str_eq(text, ip);
	ck_assert_uint_eq(ntohs(sin->sin_port), port);
}

START_TEST(test_v1_good)
{
	struct proxy_proto_header h;
	const char *line = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\nEHLO x\r\n";

	ck_assert_int_eq(parse(line, &h), PROXY_PROTO_OK);
	ck_assert_int_eq(h.version, 1);
	ck_assert_int_eq(h.local, 0);
	ck_assert_uint_eq(h.length, strlen("PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n"));
	assert_v4(&h.src, "192.0.2.1", 56324);
	assert_v4(&h.dst, "198.51.100.2", 25);

	ck_assert_int_eq(parse("PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n", &h),
	                 PROXY_PROTO_OK);
	ck_assert_int_eq(h.src.ss_family, AF_INET6);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in6 *)&h.src)->sin6_port), 65535);
	ck_assert_int_eq(parse("PROXY UNKNOWN\r\n", &h), PROXY_PROTO_OK);
	ck_assert_int_eq(h.local, 1);
	ck_assert_int_eq(parse("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", &h), PROXY_PROTO_OK);
	ck_assert_int_eq(h.local, 1);
}
END_TEST

START_TEST(test_v1_incomplete)
{
	const char *line = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n";
	size_t len = strlen(line);
	struct proxy_proto_header h;

	/* Reading exactly what is asked for reaches the end of the line, never past it. */
	size_t have = 0;

	for (int steps = 0; steps < 200; steps++) {
		enum proxy_proto_status st = proxy_proto_parse(line, have, &h);

		if (st == PROXY_PROTO_OK) {
			ck_assert_uint_eq(have, len);
			ck_assert_uint_eq(h.length, len);
			return;
		}
		ck_assert_int_eq(st, PROXY_PROTO_MORE);
		ck_assert_uint_gt(h.need, have);
		ck_assert_uint_le(h.need, len);
		have = h.need;
	}
	ck_abort_msg("never complete");
}
END_TEST

START_TEST(test_v1_bad)
{
	static const char *const bad[] = {
	        "EHLO client.example\r\n",
	        "PROXY\r\n",
	        "PROXY \r\n",
	        "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
	        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",         /* LF alone */
	        "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",         /* a port missing */
	        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",     /* one field too many */
	        "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",      /* two spaces */
	        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",      /* trailing space */
	        "PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n",   /* family mismatch */
	        "PROXY TCP6 1.2.3.4 2001:db8::2 1 2\r\n",   /* family mismatch */
	        "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",   /* port too large */
	        "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",      /* leading zero */
	        "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",      /* sign */
	        "PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n",     /* not an address */
	        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",     /* CR inside */
	        "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",       /* case */
	        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03", /* a TLS ClientHello */
	};
	struct proxy_proto_header h;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(bad[i], &h) == PROXY_PROTO_BAD, "accepted: %s", bad[i]);
		ck_assert_ptr_nonnull(h.error);
	}
	/* A line that does not end within 107 octets. */
	char longline[200];

	memset(longline, 'A', sizeof(longline));
	memcpy(longline, "PROXY TCP4 ", 11);
	ck_assert_int_eq(proxy_proto_parse(longline, sizeof(longline), &h), PROXY_PROTO_BAD);
	ck_assert_int_eq(proxy_proto_parse(longline, 106, &h), PROXY_PROTO_MORE);
	ck_assert_int_eq(proxy_proto_parse(longline, 107, &h), PROXY_PROTO_BAD);
	/* A wrong prefix is refused before the line ends. */
	ck_assert_int_eq(proxy_proto_parse("PROXX", 5, &h), PROXY_PROTO_BAD);
	ck_assert_int_eq(proxy_proto_parse("PRO", 3, &h), PROXY_PROTO_MORE);
}
END_TEST

/* A v2 header: signature, version/command, family, length, then body. */
static size_t
v2(unsigned char *buf, unsigned char vercmd, unsigned char fam, const unsigned char *body,
   size_t len)
{
	memcpy(buf, sig, 12);
	buf[12] = vercmd;
	buf[13] = fam;
	buf[14] = (unsigned char)(len >> 8);
	buf[15] = (unsigned char)len;
	memcpy(buf + 16, body, len);
	return 16 + len;
}

START_TEST(test_v2_good)
{
	unsigned char buf[16 + 300], body[300] = {192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0, 25};
	struct proxy_proto_header h;
	size_t n = v2(buf, 0x21, 0x11, body, 12);

	ck_assert_int_eq(proxy_proto_parse(buf, n, &h), PROXY_PROTO_OK);
	ck_assert_int_eq(h.version, 2);
	ck_assert_uint_eq(h.length, 28);
	assert_v4(&h.src, "192.0.2.1", 0xdc04);
	assert_v4(&h.dst, "198.51.100.2", 25);
	/* TLVs after the addresses are skipped, and counted in the length. */
	n = v2(buf, 0x21, 0x11, body, 12 + 7);
	ck_assert_int_eq(proxy_proto_parse(buf, n, &h), PROXY_PROTO_OK);
	ck_assert_uint_eq(h.length, 35);
	/* IPv6 */
	memset(body, 0, sizeof(body));
	body[0] = 0x20, body[1] = 0x01, body[2] = 0x0d, body[3] = 0xb8, body[15] = 1;
	body[32] = 0x12, body[33] = 0x34;
	n = v2(buf, 0x21, 0x21, body, 36);
	ck_assert_int_eq(proxy_proto_parse(buf, n, &h), PROXY_PROTO_OK);
	ck_assert_int_eq(h.src.ss_family, AF_INET6);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in6 *)&h.src)->sin6_port), 0x1234);
	/* LOCAL (a health check), and PROXY with UNSPEC: the connection's own addresses. */
	n = v2(buf, 0x20, 0x00, body, 0);
	ck_assert_int_eq(proxy_proto_parse(buf, n, &h), PROXY_PROTO_OK);
	ck_assert_int_eq(h.local, 1);
	n = v2(buf, 0x20, 0x11, body, 12);
	ck_assert_int_eq(proxy_proto_parse(buf, n, &h), PROXY_PROTO_OK);
	ck_assert_int_eq(h.local, 1);
	n = v2(buf, 0x21, 0x00, body, 0);
	ck_assert_int_eq(proxy_proto_parse(buf, n, &h), PROXY_PROTO_OK);
	ck_assert_int_eq(h.local, 1);
}
END_TEST

START_TEST(test_v2_incomplete)
{
	unsigned char buf[16 + 40], body[40] = {0};
	struct proxy_proto_header h;
	size_t n = v2(buf, 0x21, 0x11, body, 40);

	ck_assert_int_eq(proxy_proto_parse(buf, 0, &h), PROXY_PROTO_MORE);
	ck_assert_int_eq(proxy_proto_parse(buf, 5, &h), PROXY_PROTO_MORE);
	ck_assert_uint_eq(h.need, 16);
	ck_assert_int_eq(proxy_proto_parse(buf, 16, &h), PROXY_PROTO_MORE);
	ck_assert_uint_eq(h.need, n);
	ck_assert_int_eq(proxy_proto_parse(buf, n - 1, &h), PROXY_PROTO_MORE);
	ck_assert_uint_eq(h.need, n);
	ck_assert_int_eq(proxy_proto_parse(buf, n, &h), PROXY_PROTO_OK);
}
END_TEST

START_TEST(test_v2_bad)
{
	unsigned char buf[16 + 40], body[40] = {0};
	struct proxy_proto_header h;
	size_t n;

	n = v2(buf, 0x11, 0x11, body, 12); /* version 1 in a v2 header */
	ck_assert_int_eq(proxy_proto_parse(buf, n, &h), PROXY_PROTO_BAD);
	n = v2(buf, 0x22, 0x11, body, 12); /* command 2 */
	ck_assert_int_eq(proxy_proto_parse(buf, n, &h), PROXY_PROTO_BAD);
	n = v2(buf, 0x21, 0x12, body, 12); /* UDP */
	ck_assert_int_eq(proxy_proto_parse(buf, n, &h), PROXY_PROTO_BAD);
	n = v2(buf, 0x21, 0x31, body, 12); /* UNIX */
	ck_assert_int_eq(proxy_proto_parse(buf, n, &h), PROXY_PROTO_BAD);
	n = v2(buf, 0x21, 0x11, body, 11); /* too short for two IPv4 addresses */
	ck_assert_int_eq(proxy_proto_parse(buf, n, &h), PROXY_PROTO_BAD);
	n = v2(buf, 0x21, 0x21, body, 35); /* too short for IPv6 */
	ck_assert_int_eq(proxy_proto_parse(buf, n, &h), PROXY_PROTO_BAD);
	/* A length beyond what postern accepts is refused before it is read. */
	v2(buf, 0x21, 0x11, body, 0);
	buf[14] = 0xff, buf[15] = 0xff;
	ck_assert_int_eq(proxy_proto_parse(buf, 16, &h), PROXY_PROTO_BAD);
	/* A broken signature, at any octet. */
	for (size_t i = 0; i < 12; i++) {
		v2(buf, 0x21, 0x11, body, 12);
		buf[i] ^= 0x20;
		ck_assert_int_eq(proxy_proto_parse(buf, 28, &h), PROXY_PROTO_BAD);
		ck_assert_int_eq(proxy_proto_parse(buf, i + 1, &h), PROXY_PROTO_BAD);
	}
}
END_TEST

START_TEST(test_random)
{
	unsigned int seed = 4711;
	unsigned char buf[600];

	for (int round = 0; round < 100000; round++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(buf));
		struct proxy_proto_header h;

		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)(rand_r(&seed) % 256);
		/* Half the rounds start with a real prefix, to get past the first check. */
		if (round % 2 && len >= 12)
			memcpy(buf, round % 4 == 1 ? sig : (const unsigned char *)"PROXY TCP4 1",
			       12);
		enum proxy_proto_status st = proxy_proto_parse(buf, len, &h);

		if (st == PROXY_PROTO_OK)
			ck_assert_uint_le(h.length, len);
		else if (st == PROXY_PROTO_MORE)
			ck_assert_uint_gt(h.need, len);
		else
			ck_assert_ptr_nonnull(h.error);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("proxy_proto");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_v1_good);
	tcase_add_test(tc, test_v1_incomplete);
	tcase_add_test(tc, test_v1_bad);
	tcase_add_test(tc, test_v2_good);
	tcase_add_test(tc, test_v2_incomplete);
	tcase_add_test(tc, test_v2_bad);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);

	return unit_run(s);
}
