/*
 * NAME
 *	milter_proto - the milter protocol's packets, encoded and decoded (pure)
 * SYNOPSIS
 *	See milter_proto.h.
 */
#include <arpa/inet.h>
#include <string.h>

#include <event2/buffer.h>

#include "filters/milter_proto.h"

static void
put_u32(struct evbuffer *out, uint32_t v)
{
	uint32_t n = htonl(v);

	evbuffer_add(out, &n, 4);
}

static uint32_t
get_u32(const char *p)
{
	uint32_t n;

	memcpy(&n, p, 4);
	return ntohl(n);
}

void
milter_put(struct evbuffer *out, char cmd, const void *data, size_t len)
{
	put_u32(out, (uint32_t)len + 1);
	evbuffer_add(out, &cmd, 1);
	if (len > 0)
		evbuffer_add(out, data, len);
}

void
milter_put_strings(struct evbuffer *out, char cmd, const char *const *strings, size_t n)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += strlen(strings[i]) + 1;
	put_u32(out, (uint32_t)len + 1);
	evbuffer_add(out, &cmd, 1);
	for (size_t i = 0; i < n; i++)
		evbuffer_add(out, strings[i], strlen(strings[i]) + 1);
}

void
milter_put_optneg(struct evbuffer *out, uint32_t version, uint32_t actions, uint32_t protocol)
{
	put_u32(out, 13);
	evbuffer_add(out, (char[]){SMFIC_OPTNEG}, 1);
	put_u32(out, version);
	put_u32(out, actions);
	put_u32(out, protocol);
}

void
milter_put_connect(struct evbuffer *out, const char *hostname, char family, uint16_t port,
                   const char *address)
{
	size_t hl = strlen(hostname) + 1;
	int with_address = family != SMFIA_UNKNOWN;
	size_t len = hl + 1 + (with_address ? 2 + strlen(address) + 1 : 0);
	uint16_t nport = htons(port);

	put_u32(out, (uint32_t)len + 1);
	evbuffer_add(out, (char[]){SMFIC_CONNECT}, 1);
	evbuffer_add(out, hostname, hl);
	evbuffer_add(out, &family, 1);
	if (with_address) {
		evbuffer_add(out, &nport, 2);
		evbuffer_add(out, address, strlen(address) + 1);
	}
}

long
milter_frame(const char *buf, size_t len, size_t max, struct milter_packet *packet)
{
	if (len < 4)
		return 0;
	uint32_t n = get_u32(buf);

	if (n == 0 || n > max)
		return -1;
	if (len - 4 < n)
		return 0;
	packet->cmd = buf[4];
	packet->data = buf + 5;
	packet->len = n - 1;
	return (long)n + 4;
}

/* The NUL-terminated string at *p, within end; NULL if it has no NUL. */
static const char *
take_string(const char **p, const char *end)
{
	const char *s = *p, *nul;

	if (s >= end || (nul = memchr(s, '\0', (size_t)(end - s))) == NULL)
		return NULL;
	*p = nul + 1;
	return s;
}

int
milter_decode(const struct milter_packet *pk, struct milter_reply *r)
{
	const char *p = pk->data, *end = pk->data + pk->len;

	memset(r, 0, sizeof(*r));
	r->cmd = pk->cmd;
	switch (pk->cmd) {
	case SMFIR_ACCEPT:
	case SMFIR_CONTINUE:
	case SMFIR_DISCARD:
	case SMFIR_REJECT:
	case SMFIR_TEMPFAIL:
	case SMFIR_PROGRESS:
	case SMFIR_SKIP:
	case SMFIR_CONN_FAIL:
	case SMFIR_SHUTDOWN:
		return 0;
	case SMFIR_REPLBODY:
		r->data = pk->data;
		r->len = pk->len;
		return 0;
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		if (pk->len < 4)
			return -1;
		r->index = get_u32(p);
		p += 4;
		/* FALLTHROUGH */
	case SMFIR_ADDHEADER:
		if ((r->s1 = take_string(&p, end)) == NULL || r->s1[0] == '\0' ||
		    (r->s2 = take_string(&p, end)) == NULL)
			return -1;
		/* A field name is printable ASCII without ':' (RFC 5322 2.2). */
		for (const char *c = r->s1; *c; c++)
			if (*c <= ' ' || *c > '~' || *c == ':')
				return -1;
		return 0;
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
	case SMFIR_QUARANTINE:
	case SMFIR_REPLYCODE:
		return (r->s1 = take_string(&p, end)) == NULL ? -1 : 0;
	case SMFIR_ADDRCPT_PAR:
	case SMFIR_CHGFROM:
		if ((r->s1 = take_string(&p, end)) == NULL)
			return -1;
		/* The ESMTP arguments are optional. */
		r->s2 = p < end ? take_string(&p, end) : NULL;
		return p < end && r->s2 == NULL ? -1 : 0;
	default:
		return -1;
	}
}

int
milter_decode_optneg(const char *data, size_t len, struct milter_optneg *o)
{
	const char *p = data + 12, *end = data + len;

	memset(o, 0, sizeof(*o));
	if (len < 12)
		return -1;
	o->version = get_u32(data);
	o->actions = get_u32(data + 4);
	o->protocol = get_u32(data + 8);
	while (p < end) {
		const char *list;

		if (end - p < 4)
			return -1;
		uint32_t stage = get_u32(p);

		p += 4;
		if (stage >= MILTER_MACRO_STAGES || (list = take_string(&p, end)) == NULL)
			return -1;
		o->macros[stage] = list;
		o->macros_len[stage] = strlen(list);
	}
	return 0;
}

int
milter_reply_text(const char *text, size_t len, char *out, size_t size)
{
	int code = -1;

	if (len == 0 || len >= size)
		return -1;
	for (size_t i = 0; i < len;) {
		const char *line = text + i;
		const char *eol = memchr(line, '\r', len - i);
		size_t n = eol ? (size_t)(eol - line) : len - i;

		if (n < 3 || (line[0] != '4' && line[0] != '5') || line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9')
			return -1;
		int c = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');

		if (code != -1 && c != code)
			return -1;
		code = c;
		/* Continued lines say so with "-"; the last one must not. */
		if (eol != NULL && (n == 3 || line[3] != '-'))
			return -1;
		if (eol == NULL && n > 3 && line[3] != ' ')
			return -1;
		for (size_t k = 3; k < n; k++)
			if ((unsigned char)line[k] < ' ' || line[k] == 0x7f)
				return -1;
		i += n;
		if (eol != NULL) {
			if (i + 1 >= len || text[i + 1] != '\n' || i + 2 >= len)
				return -1;
			i += 2;
		}
	}
	memcpy(out, text, len);
	out[len] = '\0';
	return code;
}
