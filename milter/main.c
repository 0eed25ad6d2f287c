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
 *
 *	SIGHUP reloads the file, as postern does: connections that start
 *	afterwards use the new configuration, those in flight keep theirs
 *	(callbacks.h); a bad file is logged and the running one stays. The
 *	milter socket, the dns: settings and limits: workers stay as started.
 *	libmilter's signal thread takes SIGHUP as "stop" (it sigwait()s for
 *	SIGHUP, SIGTERM and SIGINT), so SIGHUP must never reach it: smfi_main()
 *	runs on a thread of its own, every thread but the main one blocks
 *	SIGHUP, and the main thread keeps it unblocked under a libevent signal
 *	event. Linux hands a process-directed signal to the main thread when
 *	that thread does not block it, ahead of threads in sigwait().
 * DIAGNOSTICS
 *	Configuration errors as file:line:column: message on stderr, exit 1;
 *	exit 1 when libmilter cannot listen. A reload logs event=reload
 *	status=ok, or event=reload_failed once per diagnostic and keeps the
 *	running configuration.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
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

static struct config *
load(const char *file, struct config_diag *diag)
{
	return file ? config_load_file(file, diag) : config_load_embedded(diag);
}

struct runtime {
	const char *file;
	int verbose;
	struct event_base *base;
	struct event *done; /* made active by the milter thread when smfi_main() returns */
	int status;
};

static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct runtime *rt = arg;
	struct config_diag diag = {0};
	struct config *cfg = load(rt->file, &diag);
	char quoted[1024];

	/* As at start: a configuration comes back only without errors. */
	for (size_t i = 0; cfg == NULL && i < diag.n; i++)
		log_err("event=reload_failed diag=%s note=\"keeping the running configuration\"",
		        log_quote(quoted, sizeof(quoted), diag.msgs[i], strlen(diag.msgs[i])));
	config_diag_free(&diag);
	if (cfg == NULL)
		return;
	log_set_level(rt->verbose ? LOG_LEVEL_DEBUG : cfg->log.level);
	log_info("event=reload status=ok source=%s note=\"new milter connections use it; the "
	         "milter socket and dns: stay as started\"",
	         cfg->source);
	callbacks_set_config(cfg);
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct runtime *rt = arg;

	event_base_loopbreak(rt->base);
}

static void *
milter_main(void *arg)
{
	struct runtime *rt = arg;

	rt->status = smfi_main() == MI_SUCCESS ? 0 : 1;
	event_active(rt->done, EV_READ, 0);
	return NULL;
}

/* smfi_main() on its own thread, SIGHUP on this one until smfi_main() returns. */
static int
serve(struct runtime *rt)
{
	sigset_t hup;
	pthread_t thread;

	rt->base = event_base_new();
	rt->done = event_new(rt->base, -1, 0, on_done, rt);
	struct event *sighup = evsignal_new(rt->base, SIGHUP, on_reload, rt);

	rt->status = 1;
	event_add(sighup, NULL);
	if ((errno = pthread_create(&thread, NULL, milter_main, rt)) != 0) {
		log_err("event=start_failed reason=\"thread: %s\"", strerror(errno));
	} else {
		sigemptyset(&hup);
		sigaddset(&hup, SIGHUP);
		pthread_sigmask(SIG_UNBLOCK, &hup, NULL);
		event_base_dispatch(rt->base);
		pthread_sigmask(SIG_BLOCK, &hup, NULL);
		pthread_join(thread, NULL);
	}
	event_free(sighup);
	event_free(rt->done);
	event_base_free(rt->base);
	return rt->status;
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
	struct config *cfg = load(file, &diag);

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
	evthread_use_pthreads();
	/* Before any thread starts: they all inherit the mask (see DESCRIPTION). */
	sigset_t sigs;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	struct bridge *bridge = bridge_start(cfg->limits.workers, &cfg->dns);

	if (bridge == NULL) {
		config_unref(cfg);
		return 1;
	}
	callbacks_init(bridge);
	char *conn = libmilter_socket(socket);
	struct smfiDesc desc = *callbacks_desc();
	struct runtime rt = {.file = file, .verbose = verbose};
	int status = 1;

	callbacks_set_config(cfg);
	if (smfi_setconn(conn) == MI_FAILURE || smfi_register(desc) == MI_FAILURE ||
	    smfi_opensocket(1) == MI_FAILURE) {
		log_err("event=start_failed socket=%s reason=\"libmilter cannot listen\"", conn);
	} else {
		/* No reload has run yet (SIGHUP is blocked here): cfg is the one installed. */
		log_info("event=started source=%s socket=%s", cfg->source, conn);
		status = serve(&rt);
		log_info("event=stopped");
	}
	free(conn);
	callbacks_set_config(NULL);
	bridge_stop(bridge);
	return status;
}
