/*
 * NAME
 *	netaddr - socket addresses as people write them (see netaddr.h)
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/netaddr.h"

int
netaddr_parse(const char *text, struct netaddr *out, char *err, size_t errlen)
{
	char host[256];
	const char *port;
	size_t hostlen;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':') {
			snprintf(err, errlen, "\"%s\": expected [IPv6]:PORT", text);
			return -1;
		}
		hostlen = (size_t)(close - text - 1);
		memcpy(host, text + 1, hostlen < sizeof(host) ? hostlen : 0);
		port = close + 2;
	} else {
		const char *colon = strrchr(text, ':');

		if (colon == NULL || strchr(text, ':') != colon) {
			snprintf(err, errlen, "\"%s\": expected HOST:PORT (IPv6 as [addr]:port)",
			         text);
			return -1;
		}
		hostlen = (size_t)(colon - text);
		memcpy(host, text, hostlen < sizeof(host) ? hostlen : 0);
		port = colon + 1;
	}
	if (hostlen == 0 || hostlen >= sizeof(host)) {
		snprintf(err, errlen, "\"%s\": missing or overlong host", text);
		return -1;
	}
	host[hostlen] = '\0';

	char *end;
	long portnum = strtol(port, &end, 10);

	if (*port == '\0' || *end != '\0' || portnum < 1 || portnum > 65535) {
		snprintf(err, errlen, "\"%s\": port must be a number from 1 to 65535", text);
		return -1;
	}

	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res;
	int rc = getaddrinfo(host, port, &hints, &res);

	if (rc != 0) {
		snprintf(err, errlen, "\"%s\": %s", text, gai_strerror(rc));
		return -1;
	}
	memset(out, 0, sizeof(*out));
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

void
netaddr_ip(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *raw = sa->sa_family == AF_INET6
	                          ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
	                          : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    inet_ntop(sa->sa_family, raw, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "unknown");
}

int
netaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	return 0;
}

void
netaddr_format(const struct sockaddr *sa, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	netaddr_ip(sa, ip, sizeof(ip));
	snprintf(buf, size, sa->sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, netaddr_port(sa));
}

int
netaddr_from_ip(const char *ip, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)out)->sin_addr) == 1)
		out->ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)out)->sin6_addr) == 1)
		out->ss_family = AF_INET6;
	else
		return -1;
	return 0;
}
