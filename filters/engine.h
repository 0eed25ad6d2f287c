/*
 * NAME
 *	engine - what the filters that ask a spam engine (spamd, rspamd) share
 * SYNOPSIS
 *	#include "filters/engine.h"
 *
 *	engine_conf_init(e, default_address, default_max_size)
 *	engine_conf_key(c, e, key, value)
 *	engine_conf_free(e)
 *	engine_skip(call, e)
 *	engine_message(call, out)
 *	engine_list_add(list, size, name, len)
 * DESCRIPTION
 *	An engine instance has an address ("127.0.0.1:783", "[::1]:11333", or
 *	an absolute path for a unix socket where the engine's protocol allows
 *	it) and max_size, the largest message it is given.
 *
 *	engine_conf_key() reads address and max_size; it returns 0 when it
 *	knew the key (having reported a bad value itself), -1 when not.
 *
 *	engine_skip() returns 1, having logged it and recorded a finding
 *	"spam=skipped" without a score, for a message above max_size, which
 *	then goes on unscanned as spamc does; 0 otherwise.
 *
 *	engine_message() appends the whole spooled message to out; returns 0,
 *	or -1 when the spool could not be read (a filter_error() is due).
 *
 *	engine_list_add() appends a rule name to a comma-separated list in a
 *	buffer of size octets; a name that does not fit ends the list with
 *	"...", and nothing is added after that.
 * DIAGNOSTICS
 *	event=spam_skipped filter= size= max_size= (info).
 */
#ifndef POSTERN_ENGINE_H
#define POSTERN_ENGINE_H

#include "common/netaddr.h"
#include "filters/filter.h"
#include "filters/filter_config.h"

struct evbuffer;

struct engine_conf {
	char *address; /* as written */
	struct netaddr addr;
	char host[64]; /* the numeric address alone, for HTTP */
	int port;      /* 0: a unix socket */
	unsigned long long max_size;
};

void engine_conf_init(struct engine_conf *e, const char *address, unsigned long long max_size);
int engine_conf_key(const struct fconf *c, struct engine_conf *e, const char *key,
                    yaml_node_t *value);
void engine_conf_free(struct engine_conf *e);
int engine_skip(struct filter_call *call, const struct engine_conf *e);
int engine_message(struct filter_call *call, struct evbuffer *out);
void engine_list_add(char *list, size_t size, const char *name, size_t len);

#endif
