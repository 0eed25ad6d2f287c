/*
 * NAME
 *	netaddr - socket addresses as people write them
 * SYNOPSIS
 *	netaddr_parse(text, out, err, errlen)
 *	netaddr_format(sa, buf, size)
 *	netaddr_ip(sa, buf, size)
 *	netaddr_port(sa)
 *	netaddr_from_ip(ip, out)
 * DESCRIPTION
 *	netaddr_parse() accepts "IPv4:PORT", "[IPv6]:PORT" and "HOSTNAME:PORT";
 *	a host name is resolved once, here (it is meant for configuration, never
 *	for the event loop). Returns 0, or -1 with a message in err.
 *
 *	netaddr_format() writes "192.0.2.1:25" or "[2001:db8::1]:25";
 *	netaddr_ip() writes the address alone. Both always NUL-terminate.
 *
 *	netaddr_from_ip() reads an IPv4 or IPv6 address without a port (a
 *	client's, as sessions keep it) into out, port 0, for cidr_match().
 *	Returns 0, or -1 with out zeroed (family 0) when ip is no address.
 */
#ifndef POSTERN_NETADDR_H
#define POSTERN_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

struct netaddr {
	struct sockaddr_storage ss;
	socklen_t len;
};

int netaddr_parse(const char *text, struct netaddr *out, char *err, size_t errlen);
void netaddr_format(const struct sockaddr *sa, char *buf, size_t size);
void netaddr_ip(const struct sockaddr *sa, char *buf, size_t size);
int netaddr_port(const struct sockaddr *sa);
int netaddr_from_ip(const char *ip, struct sockaddr_storage *out);

#endif
