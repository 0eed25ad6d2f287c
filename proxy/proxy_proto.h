/*
 * NAME
 *	proxy_proto - parse a PROXY protocol header (HAProxy's, v1 and v2)
 * SYNOPSIS
 *	proxy_proto_parse(buf, len, header)
 * DESCRIPTION
 *	A load balancer that passes TCP on sends one header first, naming the
 *	client it accepted. proxy_proto_parse() looks at the first len octets
 *	of a connection (a pure function: no I/O, no allocation) and returns
 *
 *	PROXY_PROTO_OK: a complete header; header->length octets are it, and
 *	header->src and ->dst hold the client's and the balancer's addresses,
 *	unless header->local (v1 "UNKNOWN", v2 LOCAL or AF_UNSPEC: the
 *	connection's own addresses are the right ones, as for a health check).
 *
 *	PROXY_PROTO_MORE: a valid start; at least header->need octets in all
 *	are needed. Reading exactly that much more never reads past the
 *	header: for v1 it is one octet more each time (the line ends at
 *	CRLF), for v2 the whole length its fixed part announces.
 *
 *	PROXY_PROTO_BAD: not a PROXY header, or a malformed one;
 *	header->error says why (static text).
 *
 *	v1 is "PROXY TCP4|TCP6 SRC DST SRCPORT DSTPORT\r\n" (at most 107
 *	octets, single spaces, numeric addresses of the stated family, ports
 *	0..65535 without leading zeros) or "PROXY UNKNOWN ...\r\n". v2 is the
 *	12-octet signature, version 2, command LOCAL or PROXY, family TCP over
 *	IPv4 or IPv6 (or UNSPEC), and a length of at most PROXY_PROTO_V2_MAX;
 *	TLVs after the addresses are skipped. UDP and UNIX families are BAD: an
 *	SMTP listener has no use for them.
 * DIAGNOSTICS
 *	None: a pure function; the caller logs header->error.
 */
#ifndef POSTERN_PROXY_PROTO_H
#define POSTERN_PROXY_PROTO_H

#include <stddef.h>
#include <sys/socket.h>

#define PROXY_PROTO_V1_MAX 107
#define PROXY_PROTO_V2_MAX 4096 /* octets after the 16-octet fixed part */

enum proxy_proto_status { PROXY_PROTO_OK, PROXY_PROTO_MORE, PROXY_PROTO_BAD };

struct proxy_proto_header {
	int version; /* 1 or 2 */
	int local;   /* no addresses: use the connection's */
	struct sockaddr_storage src, dst;
	size_t length; /* PROXY_PROTO_OK: octets of the header */
	size_t need;   /* PROXY_PROTO_MORE: octets needed in all */
	const char *error;
};

enum proxy_proto_status proxy_proto_parse(const void *buf, size_t len,
                                          struct proxy_proto_header *header);

#endif
