/*
 * NAME
 *	engine - what the filters that ask a spam engine (spamd, rspamd) share
 * SYNOPSIS
 *	See engine.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "filters/engine.h"

/* A unix socket path, or IP:PORT; 0 or -1 with err filled. */
static int
parse_address(struct engine_conf *e, const char *text, char *err, size_t errlen)
{
	struct netaddr a = {0};

	if (text[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *)&a.ss;

		if (strlen(text) >= sizeof(un->sun_path)) {
			snprintf(err, errlen, "the socket path is longer than %zu octets",
			         sizeof(un->sun_path) - 1);
			return -1;
		}
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, text, strlen(text) + 1);
		a.len = sizeof(*un);
		e->port = 0;
		e->host[0] = '\0';
	} else {
		if (netaddr_parse(text, &a, err, errlen) < 0)
			return -1;
		netaddr_ip((const struct sockaddr *)&a.ss, e->host, sizeof(e->host));
		e->port = netaddr_port((const struct sockaddr *)&a.ss);
	}
	e->addr = a;
	free(e->address);
	e->address = xstrdup(text);
	return 0;
}

void
engine_conf_init(struct engine_conf *e, const char *address, unsigned long long max_size)
{
	char err[200];

	memset(e, 0, sizeof(*e));
	e->max_size = max_size;
	if (parse_address(e, address, err, sizeof(err)) < 0)
		fatal("built-in engine address %s: %s", address, err);
}

int
engine_conf_key(const struct fconf *c, struct engine_conf *e, const char *key, yaml_node_t *value)
{
	if (strcmp(key, "max_size") == 0) {
		fconf_size(c, value, &e->max_size);
		return 0;
	}
	if (strcmp(key, "address") != 0)
		return -1;
	char *text = NULL, err[200];

	if (fconf_string(c, value, &text) == 0 && parse_address(e, text, err, sizeof(err)) < 0)
		fconf_error(c, value, "%s", err);
	free(text);
	return 0;
}

void
engine_conf_free(struct engine_conf *e)
{
	free(e->address);
	e->address = NULL;
}

int
engine_skip(struct filter_call *call, const struct engine_conf *e)
{
	if (e->max_size == 0 || call->txn->size <= e->max_size)
		return 0;
	log_info("event=spam_skipped filter=%s size=%llu max_size=%llu", call->filter->name,
	         call->txn->size, e->max_size);
	filter_finding(call, "spam", "skipped", NAN, "size %llu above max_size %llu",
	               call->txn->size, e->max_size);
	return 1;
}

int
engine_message(struct filter_call *call, struct evbuffer *out)
{
	char buf[65536];
	size_t offset = 0;

	for (;;) {
		ssize_t n = filter_read_message(call->txn, offset, buf, sizeof(buf));

		if (n < 0)
			return -1;
		if (n == 0)
			return offset == call->txn->size ? 0 : -1;
		evbuffer_add(out, buf, (size_t)n);
		offset += (size_t)n;
	}
}

void
engine_list_add(char *list, size_t size, const char *name, size_t len)
{
	size_t used = strlen(list);

	if (len == 0 || (used >= 3 && strcmp(list + used - 3, "...") == 0))
		return;
	/* Room for ",NAME" and for a final "..." if a later name does not fit. */
	if (used + len + 1 + 4 >= size) {
		snprintf(list + used, size - used, "%s...", used ? "," : "");
		return;
	}
	snprintf(list + used, size - used, "%s%.*s", used ? "," : "", (int)len, name);
}
