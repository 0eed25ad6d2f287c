/*
 * NAME
 *	proxy_proto - parse a PROXY protocol header (HAProxy's, v1 and v2)
 * SYNOPSIS
 *	See proxy_proto.h.
 * DESCRIPTION
 *	Written from HAProxy's proxy-protocol.txt. The parser decides on the
 *	first octet ('P' v1, CR v2) and refuses a wrong prefix as soon as it
 *	is seen, so that a client speaking SMTP or TLS to a PROXY listener is
 *	turned away at once rather than waited for.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy/proxy_proto.h"

static const unsigned char v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                               0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_prefix[] = "PROXY ";

static enum proxy_proto_status bad(struct proxy_proto_header *h, const char *why);
static enum proxy_proto_status parse_v1(const char *buf, size_t len, struct proxy_proto_header *h);
static enum proxy_proto_status parse_v2(const unsigned char *buf, size_t len,
                                        struct proxy_proto_header *h);

static enum proxy_proto_status
bad(struct proxy_proto_header *h, const char *why)
{
	h->error = why;
	return PROXY_PROTO_BAD;
}

static enum proxy_proto_status
more(struct proxy_proto_header *h, size_t need)
{
	h->need = need;
	return PROXY_PROTO_MORE;
}

/* The next space-separated word of [*p, end): at most size-1 octets, into word. */
static int
next_word(const char **p, const char *end, char *word, size_t size)
{
	const char *start = *p;

	while (*p < end && **p != ' ')
		(*p)++;
	size_t n = (size_t)(*p - start);

	if (n == 0 || n >= size)
		return -1;
	memcpy(word, start, n);
	word[n] = '\0';
	if (*p < end)
		(*p)++; /* the single space */
	return 0;
}

/* A decimal port, 0..65535, no sign, no leading zero. */
static int
parse_port(const char *s, unsigned short *port)
{
	unsigned long v = 0;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > 65535)
			return -1;
	}
	*port = (unsigned short)v;
	return 0;
}

static int
parse_addr(int family, const char *text, unsigned short port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		return 0;
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
		return -1;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	return 0;
}

static enum proxy_proto_status
parse_v1(const char *buf, size_t len, struct proxy_proto_header *h)
{
	size_t prefix = len < sizeof(v1_prefix) - 1 ? len : sizeof(v1_prefix) - 1;
	const char *eol;

	h->version = 1;
	if (memcmp(buf, v1_prefix, prefix) != 0)
		return bad(h, "not a PROXY header");
	eol = memchr(buf, '\n', len);
	if (eol == NULL) {
		if (len >= PROXY_PROTO_V1_MAX)
			return bad(h, "v1 header longer than 107 octets");
		return more(h, len + 1);
	}
	if (eol == buf || eol[-1] != '\r' || (size_t)(eol - buf) + 1 > PROXY_PROTO_V1_MAX)
		return bad(h, "v1 header not ended by CRLF within 107 octets");
	h->length = (size_t)(eol - buf) + 1;

	const char *p = buf + sizeof(v1_prefix) - 1, *end = eol - 1;
	char proto[8], src[48], dst[48], sport[8], dport[8];
	unsigned short sp, dp;

	if (next_word(&p, end, proto, sizeof(proto)) < 0)
		return bad(h, "v1 header without a protocol");
	if (strcmp(proto, "UNKNOWN") == 0) {
		h->local = 1;
		return PROXY_PROTO_OK;
	}
	int family = strcmp(proto, "TCP4") == 0   ? AF_INET
	             : strcmp(proto, "TCP6") == 0 ? AF_INET6
	                                          : 0;

	if (family == 0)
		return bad(h, "v1 protocol not TCP4, TCP6 or UNKNOWN");
	if (next_word(&p, end, src, sizeof(src)) < 0 || next_word(&p, end, dst, sizeof(dst)) < 0 ||
	    next_word(&p, end, sport, sizeof(sport)) < 0 ||
	    next_word(&p, end, dport, sizeof(dport)) < 0 || p != end || end[-1] == ' ')
		return bad(h, "v1 header is not PROTO SRC DST SRCPORT DSTPORT");
	if (parse_port(sport, &sp) < 0 || parse_port(dport, &dp) < 0)
		return bad(h, "v1 port is not a number 0..65535");
	if (parse_addr(family, src, sp, &h->src) < 0 || parse_addr(family, dst, dp, &h->dst) < 0)
		return bad(h, "v1 address does not match its protocol");
	return PROXY_PROTO_OK;
}

static enum proxy_proto_status
parse_v2(const unsigned char *buf, size_t len, struct proxy_proto_header *h)
{
	size_t prefix = len < sizeof(v2_signature) ? len : sizeof(v2_signature);

	h->version = 2;
	if (memcmp(buf, v2_signature, prefix) != 0)
		return bad(h, "not a PROXY header");
	if (len < 16)
		return more(h, 16);
	unsigned version = buf[12] >> 4, command = buf[12] & 0x0F;
	unsigned family = buf[13] >> 4, transport = buf[13] & 0x0F;
	size_t body = ((size_t)buf[14] << 8) | buf[15];

	if (version != 2)
		return bad(h, "v2 header with a version other than 2");
	if (command > 1)
		return bad(h, "v2 command neither LOCAL nor PROXY");
	if (body > PROXY_PROTO_V2_MAX)
		return bad(h, "v2 header longer than postern accepts");
	if (len < 16 + body)
		return more(h, 16 + body);
	h->length = 16 + body;
	/* LOCAL: the balancer's own connection (a health check); UNSPEC: no addresses. */
	if (command == 0 || (family == 0 && transport == 0)) {
		h->local = 1;
		return PROXY_PROTO_OK;
	}
	if (transport != 1 || (family != 1 && family != 2))
		return bad(h, "v2 family is not TCP over IPv4 or IPv6");

	const unsigned char *a = buf + 16;

	if (family == 1) {
		struct sockaddr_in *src = (struct sockaddr_in *)&h->src,
		                   *dst = (struct sockaddr_in *)&h->dst;

		if (body < 12)
			return bad(h, "v2 IPv4 header too short for its addresses");
		memset(&h->src, 0, sizeof(h->src));
		memset(&h->dst, 0, sizeof(h->dst));
		src->sin_family = dst->sin_family = AF_INET;
		memcpy(&src->sin_addr, a, 4);
		memcpy(&dst->sin_addr, a + 4, 4);
		memcpy(&src->sin_port, a + 8, 2);
		memcpy(&dst->sin_port, a + 10, 2);
		return PROXY_PROTO_OK;
	}
	struct sockaddr_in6 *src6 = (struct sockaddr_in6 *)&h->src,
	                    *dst6 = (struct sockaddr_in6 *)&h->dst;

	if (body < 36)
		return bad(h, "v2 IPv6 header too short for its addresses");
	memset(&h->src, 0, sizeof(h->src));
	memset(&h->dst, 0, sizeof(h->dst));
	src6->sin6_family = dst6->sin6_family = AF_INET6;
	memcpy(&src6->sin6_addr, a, 16);
	memcpy(&dst6->sin6_addr, a + 16, 16);
	memcpy(&src6->sin6_port, a + 32, 2);
	memcpy(&dst6->sin6_port, a + 34, 2);
	return PROXY_PROTO_OK;
}

enum proxy_proto_status
proxy_proto_parse(const void *buf, size_t len, struct proxy_proto_header *h)
{
	const unsigned char *p = buf;

	memset(h, 0, sizeof(*h));
	if (len == 0)
		return more(h, 1);
	if (p[0] == 'P')
		return parse_v1(buf, len, h);
	if (p[0] == 0x0D)
		return parse_v2(p, len, h);
	return bad(h, "not a PROXY header");
}
