/*
 * NAME
 *	postern-milter - postern's filter chain and policies behind libmilter
 * SYNOPSIS
 *	postern-milter [-c FILE] [-t] [--socket SOCKET] [-v]
 * DESCRIPTION
 *	Loads the same configuration as postern (listen: and backend: are not
 *	used; milter: { socket: } says where libmilter listens, --socket
 *	overrides it) and either checks it (-t) or serves MTAs that speak the
 *	milter protocol (Postfix smtpd_milters, Sendmail INPUT_MAIL_FILTER)
 *	in the foreground until SIGTERM or SIGINT (libmilter's own handling).
 *	The socket is given as libmilter takes it (inet:PORT@HOST,
 *	inet6:PORT@HOST, unix:PATH) or as Postfix writes it (inet:HOST:PORT).
 *	See postern-milter(8).
 * DIAGNOSTICS
 *	Configuration errors as file:line:column: message on stderr, exit 1;
 *	exit 1 when libmilter cannot listen.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "milter/bridge.h"
#include "milter/callbacks.h"
#include "policies/config.h"

static void
usage(FILE *out)
{
	fprintf(out, "usage: postern-milter [-c FILE] [-t] [--socket SOCKET] [-v]\n");
}

/* inet:HOST:PORT (Postfix's spelling) as libmilter wants it: inet:PORT@HOST. */
static char *
libmilter_socket(const char *socket)
{
	const char *rest = strchr(socket, ':');
	char *out;

	if (rest == NULL || strchr(rest, '@') != NULL || strncmp(socket, "inet", 4) != 0)
		return xstrdup(socket);
	const char *colon = strrchr(rest + 1, ':');

	if (colon == NULL)
		return xstrdup(socket);
	size_t kind = (size_t)(rest - socket), host = (size_t)(colon - rest - 1);

	out = xmalloc(strlen(socket) + 2);
	sprintf(out, "%.*s:%s@%.*s", (int)kind, socket, colon + 1, (int)host, rest + 1);
	/* [::1] is written without brackets here. */
	if (host >= 2 && rest[1] == '[' && colon[-1] == ']')
		sprintf(out, "%.*s:%s@%.*s", (int)kind, socket, colon + 1, (int)host - 2, rest + 2);
	return out;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {{"socket", required_argument, NULL, 's'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	const char *file = NULL, *socket = NULL;
	int check = 0, verbose = 0, c;

	while ((c = getopt_long(argc, argv, "c:tvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 's':
			socket = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	struct config_diag diag = {0};
	struct config *cfg = file ? config_load_file(file, &diag) : config_load_embedded(&diag);

	if (cfg == NULL) {
		for (size_t i = 0; i < diag.n; i++)
			fprintf(stderr, "%s\n", diag.msgs[i]);
		config_diag_free(&diag);
		return 1;
	}
	config_diag_free(&diag);
	if (socket == NULL)
		socket = cfg->milter_socket;
	if (socket == NULL) {
		fprintf(stderr, "postern-milter: %s: no milter: { socket: } and no --socket\n",
		        cfg->source);
		config_unref(cfg);
		return 1;
	}
	if (check) {
		printf("%s: configuration ok, milter socket %s\n", cfg->source, socket);
		config_unref(cfg);
		return 0;
	}
	log_open("postern-milter", cfg->log.syslog, cfg->log.facility);
	log_set_level(verbose ? LOG_LEVEL_DEBUG : cfg->log.level);
	signal(SIGPIPE, SIG_IGN);
	struct bridge *bridge = bridge_start(cfg->limits.workers, &cfg->dns);

	if (bridge == NULL) {
		config_unref(cfg);
		return 1;
	}
	callbacks_init(cfg, bridge);
	char *conn = libmilter_socket(socket);
	struct smfiDesc desc = *callbacks_desc();
	int status = 1;

	if (smfi_setconn(conn) == MI_FAILURE || smfi_register(desc) == MI_FAILURE ||
	    smfi_opensocket(1) == MI_FAILURE) {
		log_err("event=start_failed socket=%s reason=\"libmilter cannot listen\"", conn);
	} else {
		log_info("event=started source=%s socket=%s", cfg->source, conn);
		status = smfi_main() == MI_SUCCESS ? 0 : 1;
		log_info("event=stopped");
	}
	free(conn);
	bridge_stop(bridge);
	config_unref(cfg);
	return status;
}
