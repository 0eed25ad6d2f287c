/*
 * NAME
 *	postern - transparent SMTP filtering proxy
 * SYNOPSIS
 *	postern [-c FILE] [-t] [--listen ADDR:PORT]... [--backend HOST:PORT]
 *		[--dns IP:PORT]... [-v]
 *	postern [-c FILE] --explain FILE.eml [--client-ip IP] [--helo NAME] [--from ADDR]
 *		--rcpt ADDR...
 * DESCRIPTION
 *	Loads the configuration (the file, or the embedded default), applies
 *	the command line's overrides, and either checks it (-t) or runs the
 *	event loop in the foreground until SIGTERM/SIGINT. SIGHUP reloads the
 *	file: a good one is used by every session that starts afterwards, a bad
 *	one is logged and ignored; its TLS certificates and keys are read
 *	again, so new sessions use the new ones. See postern(8).
 * DIAGNOSTICS
 *	Configuration errors as file:line:column: message on stderr, exit 1.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "filters/dns.h"
#include "policies/config.h"
#include "proxy/explain.h"
#include "proxy/server.h"
#include "proxy/tls.h"

struct options {
	const char *file;
	const char *backend;
	const char **listen;
	size_t nlisten;
	const char **dns;
	size_t ndns;
	int check;
	int verbose;
	struct explain_request explain;
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: postern [-c FILE] [-t] [--listen ADDR:PORT]... [--backend HOST:PORT] "
	             "[--dns IP:PORT]... [-v]\n"
	             "       postern [-c FILE] --explain FILE.eml [--client-ip IP] [--helo NAME]\n"
	             "               [--from ADDR] --rcpt ADDR...\n");
}

static void
print_diag(const struct config_diag *diag)
{
	for (size_t i = 0; i < diag->n; i++)
		fprintf(stderr, "%s\n", diag->msgs[i]);
}

/* Returns the configuration with the command line applied, or NULL after printing why. */
static struct config *
load(const struct options *opt)
{
	struct config_diag diag = {0};
	struct config *cfg =
	        opt->file ? config_load_file(opt->file, &diag) : config_load_embedded(&diag);

	for (size_t i = 0; cfg != NULL && i < opt->nlisten; i++)
		if (config_set_listen(cfg, opt->listen[i], &diag) < 0)
			break;
	if (cfg != NULL && opt->backend != NULL)
		config_set_backend(cfg, opt->backend, &diag);
	if (cfg != NULL && opt->ndns > 0)
		config_set_dns(cfg, opt->dns, opt->ndns, &diag);
	/* Certificates are read with the file: -t checks them, a reload takes new ones. */
	if (cfg != NULL && diag.n == 0)
		tls_load(cfg, &diag);
	if (diag.n > 0) {
		print_diag(&diag);
		config_diag_free(&diag);
		if (cfg != NULL)
			config_unref(cfg);
		return NULL;
	}
	return cfg;
}

struct runtime {
	struct server *server;
	const struct options *opt;
};

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct runtime *rt = arg;

	server_stop(rt->server);
}

static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct runtime *rt = arg;
	struct config *cfg = load(rt->opt);

	if (cfg == NULL) {
		log_err("event=reload status=failed reason=\"configuration errors (see above); "
		        "keeping the running one\"");
		return;
	}
	server_set_config(rt->server, cfg);
	if (rt->opt->verbose)
		cfg->log.level = LOG_LEVEL_DEBUG;
	log_set_level(cfg->log.level);
	log_info("event=reload status=ok source=%s note=\"listeners and backend address apply "
	         "to new sessions; changed listen addresses need a restart\"",
	         cfg->source);
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"test", no_argument, NULL, 't'},
	        {"listen", required_argument, NULL, 'l'},
	        {"backend", required_argument, NULL, 'b'},
	        {"dns", required_argument, NULL, 'D'},
	        {"verbose", no_argument, NULL, 'v'},
	        {"help", no_argument, NULL, 'h'},
	        {"explain", required_argument, NULL, 'E'},
	        {"client-ip", required_argument, NULL, 'I'},
	        {"helo", required_argument, NULL, 'H'},
	        {"from", required_argument, NULL, 'F'},
	        {"rcpt", required_argument, NULL, 'R'},
	        {NULL, 0, NULL, 0},
	};
	struct options opt = {0};
	int c;

	opt.listen = calloc((size_t)argc, sizeof(*opt.listen));
	opt.dns = calloc((size_t)argc, sizeof(*opt.dns));
	opt.explain.rcpts = calloc((size_t)argc, sizeof(*opt.explain.rcpts));
	if (opt.listen == NULL || opt.dns == NULL || opt.explain.rcpts == NULL)
		return 1;
	opt.explain.client_ip = "192.0.2.1";
	opt.explain.helo = "client.example";
	opt.explain.from = "";
	while ((c = getopt_long(argc, argv, "c:tvh", long_options, NULL)) != -1) {
		switch (c) {
		case 'c':
			opt.file = optarg;
			break;
		case 't':
			opt.check = 1;
			break;
		case 'l':
			opt.listen[opt.nlisten++] = optarg;
			break;
		case 'b':
			opt.backend = optarg;
			break;
		case 'D':
			opt.dns[opt.ndns++] = optarg;
			break;
		case 'v':
			opt.verbose = 1;
			break;
		case 'E':
			opt.explain.file = optarg;
			break;
		case 'I':
			opt.explain.client_ip = optarg;
			break;
		case 'H':
			opt.explain.helo = optarg;
			break;
		case 'F':
			opt.explain.from = optarg;
			break;
		case 'R':
			opt.explain.rcpts[opt.explain.nrcpt++] = optarg;
			break;
		case 'h':
			usage(stdout);
			free(opt.listen);
			free(opt.dns);
			free(opt.explain.rcpts);
			return 0;
		default:
			usage(stderr);
			free(opt.listen);
			free(opt.dns);
			free(opt.explain.rcpts);
			return 2;
		}
	}
	if (optind != argc || (opt.explain.file && opt.explain.nrcpt == 0)) {
		usage(stderr);
		free(opt.listen);
		free(opt.dns);
		free(opt.explain.rcpts);
		return 2;
	}

	struct config *cfg = load(&opt);

	if (cfg == NULL) {
		free(opt.listen);
		free(opt.dns);
		free(opt.explain.rcpts);
		return 1;
	}
	if (opt.check || opt.explain.file) {
		int rc = 0;

		if (opt.explain.file)
			rc = explain_run(cfg, &opt.explain, stdout) < 0;
		else
			printf("%s: configuration OK\n", cfg->source);
		config_unref(cfg);
		free(opt.listen);
		free(opt.dns);
		free(opt.explain.rcpts);
		return rc;
	}
	if (opt.verbose)
		cfg->log.level = LOG_LEVEL_DEBUG;
	log_open("postern", cfg->log.syslog, cfg->log.facility);
	log_set_level(cfg->log.level);
	signal(SIGPIPE, SIG_IGN);

	struct event_base *base = event_base_new();

	if (base == NULL)
		fatal("event=startup_failed reason=\"event_base_new\"");

	char err[256];

	/* Once, for the process: a reload keeps the resolver and its cache. */
	if (dns_init(base, &cfg->dns, err, sizeof(err)) < 0)
		log_err("event=dns_init_failed reason=\"%s\" note=\"every DNS lookup is a "
		        "temporary "
		        "error\"",
		        err);

	struct runtime rt = {.server = server_new(base, cfg), .opt = &opt};

	config_unref(cfg);
	if (server_start(rt.server) < 0) {
		server_free(rt.server);
		dns_shutdown();
		event_base_free(base);
		return 1;
	}
	struct event *sigterm = evsignal_new(base, SIGTERM, on_stop, &rt);
	struct event *sigint = evsignal_new(base, SIGINT, on_stop, &rt);
	struct event *sighup = evsignal_new(base, SIGHUP, on_reload, &rt);

	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sighup, NULL);
	log_info("event=started source=%s backend=%s", rt.server->cfg->source,
	         rt.server->cfg->backend.text);
	event_base_dispatch(base);
	log_info("event=stopped");
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	server_free(rt.server);
	dns_shutdown();
	event_base_free(base);
	free(opt.listen);
	free(opt.dns);
	free(opt.explain.rcpts);
	return 0;
}
