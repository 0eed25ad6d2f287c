/*
 * NAME
 *	zone - DNS answers from zone data in memory, shaped as libunbound's
 * SYNOPSIS
 *	See zone.h.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unbound.h>

#include "common/xalloc.h"
#include "tests/spf/zone.h"

#define CNAME_HOPS 8

/* Names equal without regard to case or a final dot. */
static int
same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

void
zone_add(struct zone *z, const char *name, int type, const void *rdata, size_t len)
{
	struct zone_rr *rr;

	z->rr = xrealloc(z->rr, (z->n + 1) * sizeof(*z->rr));
	rr = &z->rr[z->n++];
	rr->name = xstrdup(name);
	rr->type = type;
	rr->len = len;
	rr->rdata = xmalloc(len + 1);
	if (len > 0)
		memcpy(rr->rdata, rdata, len);
}

void
zone_add_timeout(struct zone *z, const char *name)
{
	zone_add(z, name, ZONE_TIMEOUT, "", 0);
}

void
zone_add_name(struct zone *z, const char *name)
{
	zone_add(z, name, ZONE_EXISTS, "", 0);
}

int
zone_wire_name(const char *name, unsigned char *out, size_t size)
{
	size_t o = 0;

	while (*name != '\0') {
		size_t l = strcspn(name, ".");

		if (l == 0 || l > 63 || o + l + 2 > size)
			return -1;
		out[o++] = (unsigned char)l;
		memcpy(out + o, name, l);
		o += l;
		name += l;
		if (*name == '.')
			name++;
	}
	if (o + 1 > size)
		return -1;
	out[o++] = 0;
	return (int)o;
}

int
zone_add_text(struct zone *z, const char *name, int type, const char *value)
{
	unsigned char rdata[70000];
	int n;

	switch (type) {
	case ns_t_a:
		if (inet_pton(AF_INET, value, rdata) != 1)
			return -1;
		zone_add(z, name, type, rdata, 4);
		return 0;
	case ns_t_aaaa:
		if (inet_pton(AF_INET6, value, rdata) != 1)
			return -1;
		zone_add(z, name, type, rdata, 16);
		return 0;
	case ns_t_mx: {
		char *end;
		unsigned long pref = strtoul(value, &end, 10);

		if (end == value || pref > 65535)
			return -1;
		while (*end == ' ')
			end++;
		rdata[0] = (unsigned char)(pref >> 8);
		rdata[1] = (unsigned char)pref;
		n = zone_wire_name(end, rdata + 2, sizeof(rdata) - 2);
		if (n < 0)
			return -1;
		zone_add(z, name, type, rdata, (size_t)n + 2);
		return 0;
	}
	case ns_t_ptr:
	case ns_t_cname:
		n = zone_wire_name(value, rdata, sizeof(rdata));
		if (n < 0)
			return -1;
		zone_add(z, name, type, rdata, (size_t)n);
		return 0;
	case ns_t_txt: {
		size_t len = strlen(value), o = 0;

		if (len > 65000)
			return -1;
		/* One string per 255 octets; an empty TXT is one empty string. */
		for (size_t i = 0; i < len || o == 0; i += 255) {
			size_t l = len - i > 255 ? 255 : len - i;

			rdata[o++] = (unsigned char)l;
			memcpy(rdata + o, value + i, l);
			o += l;
		}
		zone_add(z, name, type, rdata, o);
		return 0;
	}
	default:
		return -1;
	}
}

int
zone_has(const struct zone *z, const char *name, int type)
{
	for (size_t i = 0; i < z->n; i++)
		if (z->rr[i].type == type && same_name(z->rr[i].name, name))
			return 1;
	return 0;
}

/* The name's CNAME target, as text, into buf; NULL when it has none. */
static const char *
cname_of(const struct zone *z, const char *name, char *buf, size_t size)
{
	for (size_t i = 0; i < z->n; i++) {
		const struct zone_rr *rr = &z->rr[i];
		size_t o = 0;

		if (rr->type != ns_t_cname || !same_name(rr->name, name))
			continue;
		for (size_t p = 0; p < rr->len && rr->rdata[p] != 0 && o + 64 < size;) {
			size_t l = rr->rdata[p++];

			if (o > 0)
				buf[o++] = '.';
			memcpy(buf + o, rr->rdata + p, l);
			o += l;
			p += l;
		}
		buf[o] = '\0';
		return buf;
	}
	return NULL;
}

static struct dns_answer *
answer(const char *name, int type, enum dns_status status)
{
	struct dns_answer *a = xcalloc(1, sizeof(*a));
	struct ub_result *ub = xcalloc(1, sizeof(*ub));

	ub->qname = xstrdup(name);
	ub->qtype = type;
	ub->qclass = ns_c_in;
	ub->data = xcalloc(1, sizeof(*ub->data));
	ub->len = xcalloc(1, sizeof(*ub->len));
	ub->rcode = status == DNS_NXDOMAIN ? ns_r_nxdomain : ns_r_noerror;
	ub->nxdomain = status == DNS_NXDOMAIN;
	a->status = status;
	a->rcode = ub->rcode;
	a->ub = ub;
	return a;
}

enum dns_status
zone_lookup(void *zone, const char *name, int rrtype, struct dns_answer **out)
{
	const struct zone *z = zone;
	char names[CNAME_HOPS + 1][256];
	const char *cur = name;
	struct ub_result *ub;
	struct dns_answer *a;
	int exists = 0, timeout = 0;
	size_t n = 0;

	if (out != NULL)
		*out = NULL;
	if (!dns_name_ok(name))
		return DNS_BADNAME;
	for (int hop = 0; rrtype != ns_t_cname; hop++) {
		const char *next = cname_of(z, cur, names[hop], sizeof(names[hop]));

		if (next == NULL)
			break;
		for (int k = 0; k < hop; k++)
			if (same_name(names[k], next))
				return DNS_TEMPFAIL; /* a loop: SERVFAIL */
		if (hop == CNAME_HOPS)
			return DNS_TEMPFAIL;
		cur = next;
	}
	for (size_t i = 0; i < z->n; i++) {
		if (!same_name(z->rr[i].name, cur))
			continue;
		exists = 1;
		if (z->rr[i].type == ZONE_TIMEOUT)
			timeout = 1;
		else if (z->rr[i].type == rrtype)
			n++;
	}
	if (n == 0 && timeout)
		return DNS_TEMPFAIL;
	if (n == 0) {
		enum dns_status status = exists ? DNS_NODATA : DNS_NXDOMAIN;

		if (out != NULL)
			*out = answer(name, rrtype, status);
		return status;
	}
	if (out == NULL)
		return DNS_OK;
	a = answer(name, rrtype, DNS_OK);
	ub = (struct ub_result *)a->ub;
	free(ub->data);
	free(ub->len);
	ub->data = xcalloc(n + 1, sizeof(*ub->data));
	ub->len = xcalloc(n + 1, sizeof(*ub->len));
	ub->havedata = 1;
	n = 0;
	for (size_t i = 0; i < z->n; i++) {
		if (z->rr[i].type != rrtype || !same_name(z->rr[i].name, cur))
			continue;
		ub->data[n] = xmalloc(z->rr[i].len + 1);
		memcpy(ub->data[n], z->rr[i].rdata, z->rr[i].len);
		ub->len[n++] = (int)z->rr[i].len;
	}
	*out = a;
	return DNS_OK;
}

void
zone_free(struct zone *z)
{
	for (size_t i = 0; i < z->n; i++) {
		free(z->rr[i].name);
		free(z->rr[i].rdata);
	}
	free(z->rr);
	z->rr = NULL;
	z->n = 0;
}
