/*
 * Unit tests for policies/config.c: defaults and the embedded default.yaml,
 * every key, durations and sizes, every kind of error with its exact
 * file:line:column and text, YAML syntax errors, aliases, includes, and
 * reference counting (run under ASan for the frees).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "policies/config.h"
#include "tests/unit/config_load.h"
#include "tests/unit/unit.h"

START_TEST(test_defaults)
{
	struct config *cfg = assert_loads("");
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	ck_assert_int_eq(cfg->refs, 1);
	ck_assert_str_eq(cfg->source, "t.yaml");
	ck_assert_str_eq(cfg->hostname, host[0] ? host : "localhost");
	ck_assert_ptr_null(cfg->authserv_id);
	ck_assert_ptr_null(cfg->quarantine_dir);
	ck_assert_ptr_null(cfg->quarantine_mailbox);
	ck_assert_uint_eq(cfg->nlisten, 1);
	ck_assert_str_eq(cfg->listen[0].text, "0.0.0.0:25");
	ck_assert_int_eq(cfg->listen[0].addr.ss.ss_family, AF_INET);
	ck_assert_int_eq(cfg->listen_from_cli, 0);
	ck_assert_str_eq(cfg->backend.text, "127.0.0.1:10025");
	ck_assert_int_eq(cfg->backend.addr.ss.ss_family, AF_INET);
	ck_assert_int_eq(cfg->backend.xclient, XCLIENT_AUTO);
	ck_assert_uint_eq(cfg->limits.max_sessions, 1000);
	ck_assert_uint_eq(cfg->limits.max_sessions_per_client, 50);
	ck_assert_uint_eq(cfg->limits.max_recipients, 1000);
	ck_assert_uint_eq(cfg->limits.max_message_size, 50ULL * 1024 * 1024);
	ck_assert_uint_eq(cfg->limits.max_command_line, 2048);
	ck_assert_uint_eq(cfg->limits.max_text_line, 1000);
	ck_assert_uint_eq(cfg->limits.spool_memory, 256 * 1024);
	ck_assert_uint_eq(cfg->limits.max_errors, 10);
	ck_assert_uint_eq(cfg->timeouts.client, 300000);
	ck_assert_uint_eq(cfg->timeouts.backend_connect, 30000);
	ck_assert_uint_eq(cfg->timeouts.backend_reply, 300000);
	ck_assert_uint_eq(cfg->timeouts.backend_data, 600000);
	ck_assert_uint_eq(cfg->timeouts.shutdown, 30000);
	ck_assert_str_eq(cfg->spool_dir,
	                 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_int_eq(cfg->bare_newline, DATA_NEWLINE_REJECT);
	ck_assert_int_eq(cfg->log.syslog, 0);
	ck_assert_int_eq(cfg->log.facility, LOG_MAIL);
	ck_assert_int_eq(cfg->log.level, LOG_LEVEL_INFO);
	ck_assert_uint_eq(cfg->policies.nfilters, 0);
	ck_assert_uint_eq(cfg->policies.npolicies, 0);
	config_unref(cfg);
}
END_TEST

/* The shipped default.yaml must load and mean the built-in defaults, plus its SPF policy. */
START_TEST(test_embedded)
{
	struct config *def = assert_loads("");
	struct config_diag d = {0};
	struct config *emb = config_load_embedded(&d);

	ck_assert_ptr_nonnull(emb);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_str_eq(emb->source, "(embedded)");
	ck_assert_str_eq(emb->hostname, def->hostname);
	ck_assert_ptr_null(emb->authserv_id);
	ck_assert_ptr_null(emb->quarantine_dir);
	ck_assert_ptr_null(emb->quarantine_mailbox);
	ck_assert_uint_eq(emb->nlisten, def->nlisten);
	ck_assert_str_eq(emb->listen[0].text, def->listen[0].text);
	ck_assert(memcmp(&emb->listen[0].addr, &def->listen[0].addr, sizeof(def->listen[0].addr)) ==
	          0);
	ck_assert_str_eq(emb->backend.text, def->backend.text);
	ck_assert(memcmp(&emb->backend.addr, &def->backend.addr, sizeof(def->backend.addr)) == 0);
	ck_assert_int_eq(emb->backend.xclient, def->backend.xclient);
	ck_assert(memcmp(&emb->limits, &def->limits, sizeof(def->limits)) == 0);
	ck_assert(memcmp(&emb->timeouts, &def->timeouts, sizeof(def->timeouts)) == 0);
	ck_assert(memcmp(&emb->log, &def->log, sizeof(def->log)) == 0);
	ck_assert_str_eq(emb->spool_dir, def->spool_dir);
	ck_assert_int_eq(emb->bare_newline, def->bare_newline);
	ck_assert_uint_eq(emb->dns.timeout_ms, def->dns.timeout_ms);
	ck_assert_uint_eq(emb->dns.attempts, def->dns.attempts);
	ck_assert_uint_eq(emb->dns.nservers, 0);
	/* Its own: spf, dkim, dmarc and the default policy (an empty file has neither). */
	ck_assert_uint_eq(def->policies.nfilters, 0);
	ck_assert_uint_eq(def->policies.npolicies, 0);
	ck_assert_uint_eq(emb->policies.nfilters, 3);
	ck_assert_str_eq(emb->policies.filters[0]->type->name, "spf");
	ck_assert_str_eq(emb->policies.filters[1]->type->name, "dkim");
	ck_assert_str_eq(emb->policies.filters[2]->type->name, "dmarc");
	ck_assert_uint_eq(emb->policies.npolicies, 1);
	ck_assert_str_eq(emb->policies.policies[0].name, "default");
	ck_assert_uint_eq(emb->policies.policies[0].nchain, 3);
	/* spf's four, dmarc_policy's two */
	ck_assert_uint_eq(emb->policies.policies[0].nrules, 6);
	config_unref(emb);
	config_unref(def);
}
END_TEST

/* default.yaml doubles as documentation: it names every key. */
START_TEST(test_embedded_names_every_key)
{
	static const char *const keys[] = {
	        "include:",
	        "hostname:",
	        "listen:",
	        "address:",
	        "backend:",
	        "xclient:",
	        "limits:",
	        "max_sessions:",
	        "max_sessions_per_client:",
	        "max_recipients:",
	        "max_message_size:",
	        "max_command_line:",
	        "max_text_line:",
	        "spool_memory:",
	        "max_errors:",
	        "workers:",
	        "timeouts:",
	        "client:",
	        "backend_connect:",
	        "backend_reply:",
	        "backend_data:",
	        "shutdown:",
	        "spool_dir:",
	        "smtp:",
	        "bare_newline:",
	        "log:",
	        "syslog:",
	        "facility:",
	        "level:",
	        "authserv_id:",
	        "quarantine:",
	        "directory:",
	        "mailbox:",
	        "filters:",
	        "policies:",
	        "dns:",
	        "tls:",
	        "cert:",
	        "key:",
	        "chain:",
	        "implicit:",
	        "proxy_protocol:",
	        "proxy_from:",
	        "ca_file:",
	        "verify_name:",
	        "auth_over_plaintext:",
	        "auth:",
	        "servers:",
	        "attempts:",
	        "received_spf:",
	        "receiver:",
	        "max_size:",
	        "command:",
	        "max_connections:",
	        "use_action:",
	        "body_max:",
	        "literal_mismatch:",
	        "ours:",
	        "lists:",
	        "codes:",
	        "weight:",
	        "milter:",
	        "socket:",
	        "servers:",
	        "attempts:",
	        "received_spf:",
	        "receiver:",
	        "max_signatures:",
	        "accept_rsa_sha1:",
	        "public_suffix_list:",
	        "dmarc_policy:",
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(strstr(config_default_yaml, keys[i]) != NULL, "%s", keys[i]);
}
END_TEST

/* Every key, set to something other than its default. */
START_TEST(test_every_key)
{
	struct config *cfg = assert_loads("hostname: mx.test\n"
	                                  "listen:\n"
	                                  "  - address: 127.0.0.1:2525\n"
	                                  "  - \"[::1]:2526\"\n"
	                                  "backend:\n"
	                                  "  address: \"[::1]:10026\"\n"
	                                  "  xclient: xforward\n"
	                                  "limits:\n"
	                                  "  max_sessions: 7\n"
	                                  "  max_sessions_per_client: 0\n"
	                                  "  max_recipients: 5\n"
	                                  "  max_message_size: 10M\n"
	                                  "  max_command_line: 1K\n"
	                                  "  max_text_line: 0\n"
	                                  "  spool_memory: 64K\n"
	                                  "  max_errors: 3\n"
	                                  "timeouts:\n"
	                                  "  client: 250ms\n"
	                                  "  backend_connect: 30\n"
	                                  "  backend_reply: 5m\n"
	                                  "  backend_data: 1h\n"
	                                  "  shutdown: 0\n"
	                                  "spool_dir: /\n"
	                                  "smtp:\n"
	                                  "  bare_newline: normalize\n"
	                                  "log:\n"
	                                  "  syslog: yes\n"
	                                  "  facility: local3\n"
	                                  "  level: debug\n"
	                                  "authserv_id: auth.test\n"
	                                  "quarantine:\n"
	                                  "  mailbox: quarantine@example.org\n"
	                                  "dns:\n"
	                                  "  servers: [ 127.0.0.1:53 ]\n");

	ck_assert_str_eq(cfg->hostname, "mx.test");
	ck_assert_uint_eq(cfg->nlisten, 2);
	ck_assert_str_eq(cfg->listen[0].text, "127.0.0.1:2525");
	ck_assert_int_eq(cfg->listen[0].addr.ss.ss_family, AF_INET);
	ck_assert_str_eq(cfg->listen[1].text, "[::1]:2526");
	ck_assert_int_eq(cfg->listen[1].addr.ss.ss_family, AF_INET6);
	ck_assert_str_eq(cfg->backend.text, "[::1]:10026");
	ck_assert_int_eq(cfg->backend.addr.ss.ss_family, AF_INET6);
	ck_assert_int_eq(cfg->backend.xclient, XCLIENT_XFORWARD);
	ck_assert_uint_eq(cfg->limits.max_sessions, 7);
	ck_assert_uint_eq(cfg->limits.max_sessions_per_client, 0);
	ck_assert_uint_eq(cfg->limits.max_recipients, 5);
	ck_assert_uint_eq(cfg->limits.max_message_size, 10 * 1024 * 1024);
	ck_assert_uint_eq(cfg->limits.max_command_line, 1024);
	ck_assert_uint_eq(cfg->limits.max_text_line, 0);
	ck_assert_uint_eq(cfg->limits.spool_memory, 64 * 1024);
	ck_assert_uint_eq(cfg->limits.max_errors, 3);
	ck_assert_uint_eq(cfg->timeouts.client, 250);
	ck_assert_uint_eq(cfg->timeouts.backend_connect, 30000);
	ck_assert_uint_eq(cfg->timeouts.backend_reply, 300000);
	ck_assert_uint_eq(cfg->timeouts.backend_data, 3600000);
	ck_assert_uint_eq(cfg->timeouts.shutdown, 0);
	ck_assert_str_eq(cfg->spool_dir, "/");
	ck_assert_int_eq(cfg->bare_newline, DATA_NEWLINE_NORMALIZE);
	ck_assert_int_eq(cfg->log.syslog, 1);
	ck_assert_int_eq(cfg->log.facility, LOG_LOCAL3);
	ck_assert_int_eq(cfg->log.level, LOG_LEVEL_DEBUG);
	ck_assert_str_eq(cfg->authserv_id, "auth.test");
	ck_assert_str_eq(cfg->quarantine_mailbox, "quarantine@example.org");
	ck_assert_ptr_null(cfg->quarantine_dir);
	config_unref(cfg);
}
END_TEST

/* Every value of every enum and boolean goes where it should. */
START_TEST(test_enums)
{
	static const struct {
		const char *yaml;
		size_t offset;
		int want;
	} cases[] = {
	        {"backend: { xclient: auto }", offsetof(struct config, backend.xclient),
	         XCLIENT_AUTO},
	        {"backend: { xclient: xclient }", offsetof(struct config, backend.xclient),
	         XCLIENT_XCLIENT},
	        {"backend: { xclient: off }", offsetof(struct config, backend.xclient),
	         XCLIENT_OFF},
	        {"smtp: { bare_newline: reject }", offsetof(struct config, bare_newline),
	         DATA_NEWLINE_REJECT},
	        {"log: { level: error }", offsetof(struct config, log.level), LOG_LEVEL_ERR},
	        {"log: { level: warning }", offsetof(struct config, log.level), LOG_LEVEL_WARN},
	        {"log: { level: info }", offsetof(struct config, log.level), LOG_LEVEL_INFO},
	        {"log: { facility: mail }", offsetof(struct config, log.facility), LOG_MAIL},
	        {"log: { facility: daemon }", offsetof(struct config, log.facility), LOG_DAEMON},
	        {"log: { facility: local0 }", offsetof(struct config, log.facility), LOG_LOCAL0},
	        {"log: { facility: local7 }", offsetof(struct config, log.facility), LOG_LOCAL7},
	        {"log: { syslog: true }", offsetof(struct config, log.syslog), 1},
	        {"log: { syslog: on }", offsetof(struct config, log.syslog), 1},
	        {"log: { syslog: Yes }", offsetof(struct config, log.syslog), 1},
	        {"log: { syslog: false }", offsetof(struct config, log.syslog), 0},
	        {"log: { syslog: no }", offsetof(struct config, log.syslog), 0},
	        {"log: { syslog: OFF }", offsetof(struct config, log.syslog), 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Start from the other value, so that a store that did nothing fails. */
		char yaml[128];
		struct config *cfg;
		int got;

		snprintf(yaml, sizeof(yaml), "%s\n", cases[i].yaml);
		cfg = assert_loads(yaml);
		memcpy(&got, (char *)cfg + cases[i].offset, sizeof(got));
		ck_assert_msg(got == cases[i].want, "%s: got %d", cases[i].yaml, got);
		config_unref(cfg);
	}
}
END_TEST

START_TEST(test_durations)
{
	static const struct {
		const char *text;
		unsigned ms;
	} good[] = {
	        {"250ms", 250},    {"1ms", 1},       {"30s", 30000},
	        {"30", 30000},     {"5m", 300000},   {"1h", 3600000},
	        {"24h", 86400000}, {"0090s", 90000}, {"1440m", 86400000},
	};
	static const struct {
		const char *text, *message;
	} bad[] = {
	        {"5x", "t.yaml:1:21: timeouts.client: \"5x\" is not a duration (e.g. 30s, 250ms, "
	               "5m, 1h)"},
	        {"-5", "t.yaml:1:21: timeouts.client: \"-5\" is not a duration (e.g. 30s, 250ms, "
	               "5m, 1h)"},
	        {"1.5s", "t.yaml:1:21: timeouts.client: \"1.5s\" is not a duration (e.g. 30s, "
	                 "250ms, 5m, 1h)"},
	        {"5 m", "t.yaml:1:21: timeouts.client: \"5 m\" is not a duration (e.g. 30s, "
	                "250ms, 5m, 1h)"},
	        {"'30s '", "t.yaml:1:21: timeouts.client: \"30s \" is not a duration (e.g. 30s, "
	                   "250ms, 5m, 1h)"},
	        {"\"\"", "t.yaml:1:21: timeouts.client: \"\" is not a duration (e.g. 30s, 250ms, "
	                 "5m, 1h)"},
	        {"0", "t.yaml:1:21: timeouts.client: 0 is out of range (1ms to 24h)"},
	        {"25h", "t.yaml:1:21: timeouts.client: 25h is out of range (1ms to 24h)"},
	        {"99999999999999999999h", "t.yaml:1:21: timeouts.client: 99999999999999999999h "
	                                  "is out of range (1ms to 24h)"},
	        {"9999999999999999h", "t.yaml:1:21: timeouts.client: 9999999999999999h is out "
	                              "of range (1ms to 24h)"},
	};
	char yaml[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct config *cfg;

		snprintf(yaml, sizeof(yaml), "timeouts: { client: %s }\n", good[i].text);
		cfg = assert_loads(yaml);
		ck_assert_msg(cfg->timeouts.client == good[i].ms, "%s: %u", good[i].text,
		              cfg->timeouts.client);
		config_unref(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), "timeouts: { client: %s }\n", bad[i].text);
		assert_error(yaml, bad[i].message);
	}
	/* shutdown alone may be 0: do not wait at all. */
	struct config *cfg = assert_loads("timeouts: { shutdown: 0s }\n");

	ck_assert_uint_eq(cfg->timeouts.shutdown, 0);
	config_unref(cfg);
}
END_TEST

START_TEST(test_sizes)
{
	static const struct {
		const char *text;
		unsigned long long bytes;
	} good[] = {
	        {"0", 0},
	        {"512", 512},
	        {"64K", 64 * 1024},
	        {"64k", 64 * 1024},
	        {"10M", 10 * 1024 * 1024},
	        {"1G", 1024ULL * 1024 * 1024},
	        {"1024G", 1024ULL * 1024 * 1024 * 1024},
	};
	static const struct {
		const char *text, *message;
	} bad[] = {
	        {"10MB", "t.yaml:1:29: limits.max_message_size: \"10MB\" is not a size (e.g. 512, "
	                 "64K, 10M, 1G)"},
	        {"1T", "t.yaml:1:29: limits.max_message_size: \"1T\" is not a size (e.g. 512, 64K, "
	               "10M, 1G)"},
	        {"-1", "t.yaml:1:29: limits.max_message_size: \"-1\" is not a size (e.g. 512, 64K, "
	               "10M, 1G)"},
	        {"1025G", "t.yaml:1:29: limits.max_message_size: 1025G is out of range (0 to "
	                  "1024G)"},
	        {"99999999999999999999G", "t.yaml:1:29: limits.max_message_size: "
	                                  "99999999999999999999G is out of range (0 to 1024G)"},
	        {"18446744073709551615K", "t.yaml:1:29: limits.max_message_size: "
	                                  "18446744073709551615K is out of range (0 to 1024G)"},
	        {"18446744073709551616", "t.yaml:1:29: limits.max_message_size: "
	                                 "18446744073709551616 is out of range (0 to 1024G)"},
	};
	char yaml[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct config *cfg;

		snprintf(yaml, sizeof(yaml), "limits: { max_message_size: %s }\n", good[i].text);
		cfg = assert_loads(yaml);
		ck_assert_msg(cfg->limits.max_message_size == good[i].bytes, "%s", good[i].text);
		config_unref(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), "limits: { max_message_size: %s }\n", bad[i].text);
		assert_error(yaml, bad[i].message);
	}
}
END_TEST

/* Numbers and their ranges, with the RFC that sets a bound. */
START_TEST(test_ranges)
{
	assert_error("limits:\n  max_recipients: many\n",
	             "t.yaml:2:19: limits.max_recipients: \"many\" is not a whole number");
	assert_error("limits:\n  max_recipients: 5K\n",
	             "t.yaml:2:19: limits.max_recipients: \"5K\" is not a whole number");
	assert_error("limits:\n  max_recipients: 0x10\n",
	             "t.yaml:2:19: limits.max_recipients: \"0x10\" is not a whole number");
	assert_error("limits:\n  max_recipients: 0\n",
	             "t.yaml:2:19: limits.max_recipients: 0 is out of range (1 to 4294967295)");
	assert_error("limits:\n  max_sessions: 4294967296\n",
	             "t.yaml:2:17: limits.max_sessions: 4294967296 is out of range (0 to "
	             "4294967295)");
	assert_error("limits:\n  max_command_line: 100\n",
	             "t.yaml:2:21: limits.max_command_line: 100 is out of range (512 to 1M; RFC "
	             "5321 4.5.3.1.4)");
	assert_error("limits: { max_text_line: 500 }\n",
	             "t.yaml:1:26: limits.max_text_line: 500 is out of range (0, or 1000 to 1M; "
	             "RFC 5321 4.5.3.1.6)");
	assert_error("limits: { spool_memory: 2G }\n",
	             "t.yaml:1:25: limits.spool_memory: 2G is out of range (0 to 1G)");

	struct config *cfg = assert_loads("limits: { max_command_line: 512, max_text_line: 1000, "
	                                  "max_sessions: 4294967295 }\n");

	ck_assert_uint_eq(cfg->limits.max_command_line, 512);
	ck_assert_uint_eq(cfg->limits.max_text_line, 1000);
	ck_assert_uint_eq(cfg->limits.max_sessions, 4294967295U);
	config_unref(cfg);
}
END_TEST

/* Unknown keys, at the key, with the closest known key when there is one. */
START_TEST(test_unknown_keys)
{
	assert_error("limits:\n  max_recipient: 5\n",
	             "t.yaml:2:3: unknown key \"max_recipient\" in limits (did you mean "
	             "\"max_recipients\"?)");
	assert_error("limit: {}\n",
	             "t.yaml:1:1: unknown key \"limit\" in the configuration (did you mean "
	             "\"limits\"?)");
	assert_error("timeouts:\n  backend_conect: 5s\n",
	             "t.yaml:2:3: unknown key \"backend_conect\" in timeouts (did you mean "
	             "\"backend_connect\"?)");
	assert_error("log:\n  colour: true\n", "t.yaml:2:3: unknown key \"colour\" in log");
	assert_error("listen:\n  - address: 127.0.0.1:25\n    adress: 127.0.0.1:26\n",
	             "t.yaml:3:5: unknown key \"adress\" in listen (did you mean \"address\"?)");
	assert_error("backend: { adress: 127.0.0.1:26 }\n",
	             "t.yaml:1:12: unknown key \"adress\" in backend (did you mean \"address\"?)");
	assert_error("quarantine: { folder: /tmp }\n",
	             "t.yaml:1:15: unknown key \"folder\" in quarantine");
	assert_error("limits:\n  <<: { max_errors: 3 }\n",
	             "t.yaml:2:3: merge keys (<<) are not supported in limits: write the keys out");
	assert_error("? [ a ]\n: b\n", "t.yaml:1:3: key: expected a scalar, found a sequence");
}
END_TEST

/* dns: the resolver's servers, timeout and attempts; --dns replaces the servers. */
START_TEST(test_dns)
{
	struct config_diag cli_diag = {0};
	static const char *const cli[] = {"[::1]:5353"};
	struct config *cfg = assert_loads("dns:\n  servers: [ 127.0.0.1:53, \"[::1]:5353\" ]\n"
	                                  "  timeout: 1500ms\n  attempts: 3\n");

	ck_assert_uint_eq(cfg->dns.nservers, 2);
	ck_assert_str_eq(cfg->dns.servers[0], "127.0.0.1:53");
	ck_assert_str_eq(cfg->dns.servers[1], "[::1]:5353");
	ck_assert_uint_eq(cfg->dns.timeout_ms, 1500);
	ck_assert_uint_eq(cfg->dns.attempts, 3);
	ck_assert_int_eq(config_set_dns(cfg, cli, 1, &cli_diag), 0);
	ck_assert_uint_eq(cfg->dns.nservers, 1);
	ck_assert_str_eq(cfg->dns.servers[0], "[::1]:5353");
	static const char *const bad[] = {"localhost:53"};

	ck_assert_int_eq(config_set_dns(cfg, bad, 1, &cli_diag), -1);
	ck_assert_str_eq(cli_diag.msgs[0],
	                 "--dns: \"localhost:53\" is not IP:PORT (e.g. 127.0.0.1:53, [::1]:53)");
	ck_assert_str_eq(cfg->dns.servers[0], "[::1]:5353");
	config_diag_free(&cli_diag);
	config_unref(cfg);
	cfg = assert_loads("dns:\n  servers: 127.0.0.2:53\n");
	ck_assert_uint_eq(cfg->dns.nservers, 1);
	ck_assert_uint_eq(cfg->dns.timeout_ms, 5000);
	ck_assert_uint_eq(cfg->dns.attempts, 2);
	config_unref(cfg);
	cfg = assert_loads("dns:\n");
	ck_assert_uint_eq(cfg->dns.nservers, 0);
	config_unref(cfg);
	assert_error("dns:\n  servers: [ 127.0.0.1:53, ns.example:53 ]\n",
	             "t.yaml:2:28: dns.servers: \"ns.example:53\" is not IP:PORT (e.g. "
	             "127.0.0.1:53, [::1]:53)");
	assert_error("dns: { servers: [ \"::1:53\" ] }\n",
	             "t.yaml:1:19: dns.servers: \"::1:53\" is not IP:PORT (e.g. 127.0.0.1:53, "
	             "[::1]:53)");
	assert_error("dns: { servers: 127.0.0.1:0 }\n",
	             "t.yaml:1:17: dns.servers: \"127.0.0.1:0\" is not IP:PORT (e.g. "
	             "127.0.0.1:53, [::1]:53)");
	assert_error("dns: { timeout: 10ms }\n",
	             "t.yaml:1:17: dns.timeout: 10ms is out of range (100ms to 10m)");
	assert_error("dns: { attempts: 0 }\n",
	             "t.yaml:1:18: dns.attempts: 0 is out of range (1 to 10)");
	assert_error("dns: { retries: 2 }\n", "t.yaml:1:8: unknown key \"retries\" in dns");
	assert_error("dns: anything\n", "t.yaml:1:6: dns: expected a mapping, found a scalar");
}
END_TEST

/* The spf filter type's own keys. */
START_TEST(test_spf_filter)
{
	struct config *cfg = assert_loads("filters:\n  spf: { helo: no, received_spf: yes, "
	                                  "receiver: mx.test, timeout: 5s }\n");

	ck_assert_uint_eq(cfg->policies.nfilters, 1);
	ck_assert_uint_eq(cfg->policies.filters[0]->timeout_ms, 5000);
	config_unref(cfg);
	assert_error("filters:\n  spf: { helo: maybe }\n",
	             "t.yaml:2:16: filters.spf.helo: expected true or false");
	assert_error("filters:\n  spf: { helos: yes }\n",
	             "t.yaml:2:10: unknown key \"helos\" in spf (the spf type knows helo, "
	             "received_spf, receiver)");
	assert_error("filters:\n  spf: { receiver: \"a b\" }\n",
	             "t.yaml:2:20: filters.spf.receiver: expected a host name");
	assert_error("filters:\n  check: { type: spf, received_spf: [ 1 ] }\n",
	             "t.yaml:2:37: filters.check.received_spf: expected true or false");
}
END_TEST

START_TEST(test_types)
{
	assert_error("limits: 5\n", "t.yaml:1:9: limits: expected a mapping, found a scalar");
	assert_error("limits: [ 5 ]\n", "t.yaml:1:9: limits: expected a mapping, found a sequence");
	assert_error("listen: 127.0.0.1:25\n",
	             "t.yaml:1:9: listen: expected a sequence, found a scalar");
	assert_error("hostname: [ a, b ]\n",
	             "t.yaml:1:11: hostname: expected a scalar, found a sequence");
	assert_error("timeouts:\n  client: { s: 5 }\n",
	             "t.yaml:2:11: timeouts.client: expected a scalar, found a mapping");
	assert_error("listen:\n  - [ 127.0.0.1:25 ]\n",
	             "t.yaml:2:5: listen: expected a mapping, found a sequence");
	assert_error("just words\n",
	             "t.yaml:1:1: the configuration: expected a mapping, found a scalar");
	assert_error("- listen\n", "t.yaml:1:1: the configuration: expected a mapping, found a "
	                           "sequence");
	assert_error("log: { syslog: maybe }\n",
	             "t.yaml:1:16: log.syslog: expected true or false, found \"maybe\"");
	assert_error("log: { syslog: 1 }\n",
	             "t.yaml:1:16: log.syslog: expected true or false, found \"1\"");
	assert_error("backend:\n  xclient: maybe\n",
	             "t.yaml:2:12: backend.xclient: \"maybe\" is not one of auto, xclient, "
	             "xforward, off");
	assert_error("log: { facility: local8 }\n",
	             "t.yaml:1:18: log.facility: \"local8\" is not one of mail, daemon, local0, "
	             "local1, local2, local3, local4, local5, local6, local7");
	assert_error("log: { level: Debug }\n",
	             "t.yaml:1:15: log.level: \"Debug\" is not one of error, warning, info, debug");
}
END_TEST

/* An empty section means its defaults; an empty value is an error. */
START_TEST(test_empty_values)
{
	struct config *cfg = assert_loads("limits:\n  # max_errors: 5\ntimeouts: ~\nsmtp: null\n"
	                                  "listen:\nfilters:\npolicies:\ninclude:\n");

	ck_assert_uint_eq(cfg->limits.max_errors, 10);
	ck_assert_uint_eq(cfg->nlisten, 1);
	config_unref(cfg);
	assert_error("limits:\n  max_errors:\n", "t.yaml:2:14: limits.max_errors: no value given");
	assert_error("hostname: ~\n", "t.yaml:1:11: hostname: no value given");
	assert_error("listen:\n  -\n", "t.yaml:2:4: listen.address: no value given");
	assert_error("listen: []\n", "t.yaml:1:9: listen: at least one address is needed");
	assert_error("listen:\n  - { }\n", "t.yaml:2:5: listen: \"address\" is missing");
	/* Quoted, it is a value: an empty string. */
	assert_error("hostname: \"\"\n", "t.yaml:1:11: hostname: \"\": not a host name (letters, "
	                                 "digits, '-', '.')");
}
END_TEST

START_TEST(test_addresses)
{
	assert_error("backend:\n  address: 127.0.0.1\n",
	             "t.yaml:2:12: backend.address: bad address \"127.0.0.1\": expected HOST:PORT "
	             "(IPv6 as [addr]:port)");
	assert_error("backend:\n  address: 127.0.0.1:99999\n",
	             "t.yaml:2:12: backend.address: bad address \"127.0.0.1:99999\": port must be "
	             "a number from 1 to 65535");
	assert_error("listen:\n  - address: \"::1:25\"\n",
	             "t.yaml:2:14: listen.address: bad address \"::1:25\": expected HOST:PORT "
	             "(IPv6 as [addr]:port)");
	assert_error("listen:\n  - 127.0.0.1:25\n  - \"[::1\"\n",
	             "t.yaml:3:5: listen.address: bad address \"[::1\": expected [IPv6]:PORT");
	/* A bad entry does not leave a half-made listener behind. */
	ck_assert_ptr_null(load("listen:\n  - 127.0.0.1:0\n  - 127.0.0.1:26\n"));
	ck_assert_uint_eq(diag.n, 1);
}
END_TEST

START_TEST(test_strings)
{
	struct config *cfg;

	assert_error("hostname: mx example\n", "t.yaml:1:11: hostname: \"mx example\": not a host "
	                                       "name (letters, digits, '-', '.')");
	assert_error("authserv_id: \"a;b\"\n", "t.yaml:1:14: authserv_id: \"a;b\": not a host "
	                                       "name (letters, digits, '-', '.')");
	assert_error("spool_dir: /nonexistent/spool\n",
	             "t.yaml:1:12: spool_dir: \"/nonexistent/spool\": No such file or directory");
	assert_error("quarantine: { mailbox: nobody }\n",
	             "t.yaml:1:24: quarantine.mailbox: \"nobody\": not an address (local@domain)");
	assert_error("quarantine: { directory: /nonexistent/q }\n",
	             "t.yaml:1:26: quarantine.directory: \"/nonexistent/q\": No such file or "
	             "directory");
	assert_error("quarantine: { directory: /tmp, mailbox: q@example.org }\n",
	             "t.yaml:1:13: quarantine: a directory or a mailbox, not both");
	cfg = assert_loads("hostname: \"[192.0.2.1]\"\nquarantine: { directory: /tmp }\n");
	ck_assert_str_eq(cfg->hostname, "[192.0.2.1]");
	ck_assert_str_eq(cfg->quarantine_dir, "/tmp");
	config_unref(cfg);
}
END_TEST

START_TEST(test_duplicates)
{
	assert_error("limits: {}\nlimits: {}\n",
	             "t.yaml:2:1: duplicate key \"limits\" (first at line 1)");
	assert_error("limits:\n  max_errors: 1\n  max_sessions: 2\n  max_errors: 3\n",
	             "t.yaml:4:3: duplicate key \"max_errors\" (first at line 2)");
	assert_error("listen:\n  - { address: 127.0.0.1:25, address: 127.0.0.1:26 }\n",
	             "t.yaml:2:30: duplicate key \"address\" (first at line 2)");
}
END_TEST

/* Aliases are resolved; one that makes a cycle is refused, as is deep nesting. */
START_TEST(test_aliases)
{
	struct config *cfg = assert_loads("timeouts:\n  client: &t 45s\n  backend_reply: *t\n"
	                                  "listen: &l\n  - 127.0.0.1:2525\n");

	ck_assert_uint_eq(cfg->timeouts.client, 45000);
	ck_assert_uint_eq(cfg->timeouts.backend_reply, 45000);
	config_unref(cfg);
	assert_error("listen: &l [ *l ]\n",
	             "t.yaml:1:9: an alias inside this node refers back to it (a cycle)");
	assert_error("dns: &d { a: [ { b: *d } ] }\n",
	             "t.yaml:1:6: an alias inside this node refers back to it (a cycle)");
	assert_error("limits: *nope\n", "t.yaml:1:9: YAML syntax: found undefined alias");

	char deep[256] = "dns: ";

	for (int i = 0; i < 70; i++)
		strcat(deep, "[");
	for (int i = 0; i < 70; i++)
		strcat(deep, "]");
	/* The root is level 1, dns's value level 2 at column 6: level 65 is column 69. */
	assert_error(deep, "t.yaml:1:69: nested more than 64 levels deep");
}
END_TEST

START_TEST(test_syntax_errors)
{
	assert_error("limits:\n\tmax_recipients: 5\n",
	             "t.yaml:2:1: YAML syntax: found character that cannot start any token while "
	             "scanning for the next token (a tab: indent with spaces)");
	assert_error("hostname: \"unclosed\n",
	             "t.yaml:2:1: YAML syntax: found unexpected end of stream while scanning a "
	             "quoted scalar (started at line 1, column 11)");
	assert_error("a: b\n c: d\n",
	             "t.yaml:2:3: YAML syntax: mapping values are not allowed in this context");
	assert_error("listen:\n  - address: 127.0.0.1:25\n   port: 25\n",
	             "t.yaml:3:4: YAML syntax: did not find expected '-' indicator while parsing a "
	             "block collection (started at line 2, column 3)");
	assert_error("backend: { address: 127.0.0.1:25\n",
	             "t.yaml:2:1: YAML syntax: did not find expected ',' or '}' while parsing a "
	             "flow mapping (started at line 1, column 10)");
	/* libyaml gives a byte offset only for bad UTF-8: the line and column are ours. */
	assert_error("log: {}\nlimits:\n  max_errors: 3 # caf\xc3\xa9 \xff\n",
	             "t.yaml:3:24: YAML syntax: invalid leading UTF-8 octet");
	assert_error("log: {}\r\nlimits: {}\r\nsmtp: \xff\r\n",
	             "t.yaml:3:7: YAML syntax: invalid leading UTF-8 octet");
	assert_error("limits: {}\n---\nlog: {}\n",
	             "t.yaml:2:1: a second YAML document: the configuration is one document");
	assert_error("limits: {}\n---\nlog: [\n",
	             "t.yaml:4:1: YAML syntax: did not find expected node content while parsing "
	             "a flow node");
}
END_TEST

/* All problems at once, each at its place. */
/* The milter filter's keys and postern-milter's socket, each error at its node. */
START_TEST(test_milter)
{
	struct config *cfg = assert_loads("milter: { socket: inet:127.0.0.1:8893 }\n"
	                                  "filters:\n"
	                                  "  m: { type: milter, socket: unix:/run/m.sock,\n"
	                                  "       timeouts: { eom: 1m }, macros: { rcpt: i } }\n");

	ck_assert_str_eq(cfg->milter_socket, "inet:127.0.0.1:8893");
	/* Without timeout: the sum of the milter's own (30s, 30s, 1m). */
	ck_assert_uint_eq(cfg->policies.filters[0]->timeout_ms, 120000);
	config_unref(cfg);
	cfg = assert_loads("filters:\n  a: { type: milter, socket: \"inet6:[::1]:1\" }\n"
	                   "  b: { type: milter, socket: \"inet6:1@::1\" }\n"
	                   "  c: { type: milter, socket: \"inet:1@localhost\" }\n"
	                   "  d: { type: milter, socket: local:/run/x, timeout: 5s }\n");
	ck_assert_uint_eq(cfg->policies.filters[3]->timeout_ms, 5000);
	config_unref(cfg);
	/* DESIGN.md's spelling: a milter: key makes the type milter. */
	cfg = assert_loads(
	        "filters:\n  opendkim: { milter: inet:127.0.0.1:8891, on_error: continue }\n");
	ck_assert_str_eq(cfg->policies.filters[0]->type->name, "milter");
	config_unref(cfg);
	assert_error("milter: { socket: 127.0.0.1:8893 }\n",
	             "t.yaml:1:19: milter.socket: \"127.0.0.1:8893\": not inet:HOST:PORT, "
	             "inet:PORT@HOST, inet6:PORT@HOST or unix:PATH");
	assert_error("filters:\n  m: { type: milter }\n",
	             "t.yaml:2:6: filters.m.socket: required for a milter");
	assert_error("filters:\n  m: { type: milter, socket: \"inet:example.org:1\" }\n",
	             "t.yaml:2:30: filters.m.socket: \"inet:example.org:1\" is not "
	             "inet:HOST:PORT, inet6:[HOST]:PORT or unix:PATH (HOST numeric)");
	assert_error(
	        "filters:\n  m: { type: milter, socket: inet:1.2.3.4:1, timeouts: { eom: x } }\n",
	        "t.yaml:2:63: filters.m.timeouts.eom: \"x\" is not a duration");
	assert_error(
	        "filters:\n  m: { type: milter, socket: inet:1.2.3.4:1, macros: { foo: i } }\n",
	        "t.yaml:2:56: filters.m.macros: unknown stage \"foo\" (connect, helo, mail, "
	        "rcpt, data, eoh, eom)");
	assert_error("filters:\n  m: { type: milter, socket: inet:1.2.3.4:1, sock: x }\n",
	             "t.yaml:2:46: filters.m: unknown key \"sock\" (type, timeout, on_error, "
	             "socket or milter, timeouts, macros)");
}
END_TEST

START_TEST(test_several_errors)
{
	ck_assert_ptr_null(load("limits: { max_errors: x }\ntimeouts: { client: y }\nfoo: 1\n"));
	ck_assert_uint_eq(diag.n, 3);
	ck_assert_str_eq(diag.msgs[0], "t.yaml:3:1: unknown key \"foo\" in the configuration");
	ck_assert_str_eq(diag.msgs[1],
	                 "t.yaml:1:23: limits.max_errors: \"x\" is not a whole number");
	ck_assert_str_eq(diag.msgs[2], "t.yaml:2:21: timeouts.client: \"y\" is not a duration "
	                               "(e.g. 30s, 250ms, 5m, 1h)");
}
END_TEST

START_TEST(test_overrides)
{
	struct config *cfg = assert_loads("listen: [ 127.0.0.1:1 ]\n");
	struct config_diag d = {0};

	ck_assert_int_eq(config_set_listen(cfg, "127.0.0.1:2525", &d), 0);
	ck_assert_int_eq(config_set_listen(cfg, "127.0.0.1:2526", &d), 0);
	ck_assert_uint_eq(cfg->nlisten, 2);
	ck_assert_str_eq(cfg->listen[0].text, "127.0.0.1:2525");
	ck_assert_int_eq(cfg->listen_from_cli, 1);
	ck_assert_int_eq(config_set_listen(cfg, "nonsense", &d), -1);
	ck_assert_uint_eq(cfg->nlisten, 2);
	ck_assert_int_eq(config_set_backend(cfg, "localhost:25", &d), 0);
	ck_assert_str_eq(cfg->backend.text, "localhost:25");
	ck_assert_int_eq(config_set_backend(cfg, "nonsense", &d), -1);
	ck_assert_str_eq(cfg->backend.text, "localhost:25");
	ck_assert_uint_eq(d.n, 2);
	ck_assert_str_eq(d.msgs[0], "--listen: bad address \"nonsense\": expected HOST:PORT "
	                            "(IPv6 as [addr]:port)");
	ck_assert_str_eq(d.msgs[1], "--backend: bad address \"nonsense\": expected HOST:PORT "
	                            "(IPv6 as [addr]:port)");
	config_diag_free(&d);
	config_unref(cfg);
}
END_TEST

START_TEST(test_refcount)
{
	struct config *cfg = assert_loads("hostname: mx.test\nlisten: [ 127.0.0.1:2525 ]\n");

	ck_assert_ptr_eq(config_ref(cfg), cfg);
	ck_assert_ptr_eq(config_ref(cfg), cfg);
	ck_assert_int_eq(cfg->refs, 3);
	config_unref(cfg);
	config_unref(cfg);
	ck_assert_int_eq(cfg->refs, 1);
	ck_assert_str_eq(cfg->hostname, "mx.test");
	config_unref(cfg); /* frees; ASan reports a leak or a double free */
	config_unref(NULL);
}
END_TEST

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* listen[].tls, proxy_protocol and proxy_from; backend.tls; smtp.auth_over_plaintext. */
START_TEST(test_tls_and_proxy)
{
	struct config *cfg = assert_loads("listen:\n"
	                                  "  - address: 127.0.0.1:25\n"
	                                  "    tls: { cert: /dev/null, key: /dev/null }\n"
	                                  "  - address: 127.0.0.1:465\n"
	                                  "    tls: { cert: /dev/null, key: /dev/null, chain: "
	                                  "/dev/null, implicit: true }\n"
	                                  "    proxy_protocol: true\n"
	                                  "    auth: false\n"
	                                  "    proxy_from: [ 127.0.0.2, 10.0.0.0/8, \"::1\" ]\n"
	                                  "backend:\n"
	                                  "  tls: required\n"
	                                  "  ca_file: /dev/null\n"
	                                  "  verify_name: backend.example\n"
	                                  "smtp:\n"
	                                  "  auth_over_plaintext: true\n");

	ck_assert_uint_eq(cfg->nlisten, 2);
	ck_assert_str_eq(cfg->listen[0].tls.cert, "/dev/null");
	ck_assert_int_eq(cfg->listen[0].tls.implicit, 0);
	ck_assert_ptr_null(cfg->listen[0].tls.chain);
	ck_assert_int_eq(cfg->listen[0].tls.pos.line, 3);
	ck_assert_int_eq(cfg->listen[0].tls.pos.column, 10);
	ck_assert_int_eq(cfg->listen[0].proxy_protocol, 0);
	ck_assert_int_eq(cfg->listen[0].auth, 1);
	ck_assert_int_eq(cfg->listen[1].auth, 0);
	ck_assert_int_eq(cfg->listen[1].tls.implicit, 1);
	ck_assert_str_eq(cfg->listen[1].tls.chain, "/dev/null");
	ck_assert_int_eq(cfg->listen[1].proxy_protocol, 1);
	ck_assert_uint_eq(cfg->listen[1].nproxy_from, 3);
	ck_assert_uint_eq(cfg->listen[1].proxy_from[1].prefix, 8);
	ck_assert_int_eq(cfg->backend.tls, BACKEND_TLS_REQUIRED);
	ck_assert_str_eq(cfg->backend.ca_file, "/dev/null");
	ck_assert_str_eq(cfg->backend.verify_name, "backend.example");
	ck_assert_int_eq(cfg->auth_over_plaintext, 1);
	config_unref(cfg);

	cfg = assert_loads("listen: [ 127.0.0.1:25 ]\n");
	ck_assert_ptr_null(cfg->listen[0].tls.cert);
	ck_assert_int_eq(cfg->backend.tls, BACKEND_TLS_OFF);
	ck_assert_int_eq(cfg->auth_over_plaintext, 0);
	config_unref(cfg);

	assert_error("listen:\n  - address: 127.0.0.1:25\n    proxy_protocol: true\n",
	             "t.yaml:2:5: listen: proxy_protocol needs proxy_from (the load balancers' "
	             "addresses)");
	assert_error("listen:\n  - address: 127.0.0.1:25\n    proxy_protocol: true\n"
	             "    proxy_from: [ 10.0.0.1/33, 10.0.0.2 ]\n",
	             "t.yaml:4:19: listen.proxy_from: \"10.0.0.1/33\" is not an address or CIDR");
	assert_error("listen:\n  - address: 127.0.0.1:25\n    tls: { cert: /dev/null }\n",
	             "t.yaml:3:10: listen.tls: \"key\" is missing");
	assert_error("listen:\n  - address: 127.0.0.1:25\n"
	             "    tls: { cert: /nonexistent/c.pem, key: /dev/null }\n",
	             "t.yaml:3:18: listen.tls.cert: \"/nonexistent/c.pem\": No such file or "
	             "directory");
	assert_error("listen:\n  - address: 127.0.0.1:25\n"
	             "    tls: { cert: /dev/null, key: /dev/null, implict: true }\n",
	             "t.yaml:3:45: unknown key \"implict\" in listen.tls (did you mean "
	             "\"implicit\"?)");
	assert_error("backend:\n  tls: sometimes\n",
	             "t.yaml:2:8: backend.tls: \"sometimes\" is not one of off, opportunistic, "
	             "required");
}
END_TEST

START_TEST(test_include)
{
	char dir[] = "/tmp/postern-include.XXXXXX", path[256];
	struct config_diag d = {0};
	struct config *cfg;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/policies.d", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/policies.d/10-a.yaml", dir);
	write_file(path, "policies:\n  - name: a\n    mode: monitor\n");
	snprintf(path, sizeof(path), "%s/policies.d/20-b.yaml", dir);
	write_file(path, "policies:\n  - name: b\n    match: { rcpt_domain: b.test }\n"
	                 "hostname: included.test\n");
	snprintf(path, sizeof(path), "%s/main.yaml", dir);
	write_file(path, "include: policies.d/*.yaml\nhostname: main.test\n");
	cfg = config_load_file(path, &d);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(cfg->policies.npolicies, 2);
	ck_assert_str_eq(cfg->policies.policies[0].name, "a");
	ck_assert_str_eq(cfg->policies.policies[1].name, "b");
	/* The including file has the last word. */
	ck_assert_str_eq(cfg->hostname, "main.test");
	config_unref(cfg);
	/* An error in an included file names that file. */
	snprintf(path, sizeof(path), "%s/policies.d/30-bad.yaml", dir);
	write_file(path, "policies:\n  - name: c\n    mode: loud\n");
	snprintf(path, sizeof(path), "%s/main.yaml", dir);
	ck_assert_ptr_null(config_load_file(path, &d));
	char want[512];

	snprintf(want, sizeof(want),
	         "%s/policies.d/30-bad.yaml:3:11: mode: \"loud\" is not enforce or monitor", dir);
	ck_assert_str_eq(d.msgs[0], want);
	config_diag_free(&d);
	/* A named file that is missing, and a file that includes itself. */
	write_file(path, "include: nosuch.yaml\n");
	ck_assert_ptr_null(config_load_file(path, &d));
	snprintf(want, sizeof(want), "%s:1:10: include: %s/nosuch.yaml: no such file", path, dir);
	ck_assert_str_eq(d.msgs[0], want);
	config_diag_free(&d);
	write_file(path, "include: main.yaml\n");
	ck_assert_ptr_null(config_load_file(path, &d));
	snprintf(want, sizeof(want),
	         "%s:1:10: include: nested more than 8 deep (a file including "
	         "itself?)",
	         path);
	ck_assert_str_eq(d.msgs[0], want);
	config_diag_free(&d);
	unlink(path);
	snprintf(path, sizeof(path), "%s/policies.d/10-a.yaml", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/policies.d/20-b.yaml", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/policies.d/30-bad.yaml", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/policies.d", dir);
	rmdir(path);
	rmdir(dir);
}
END_TEST

START_TEST(test_missing_file)
{
	struct config_diag d = {0};

	assert_error("include: /dev/zero\n", "t.yaml:1:10: include: /dev/zero: File too large");

	ck_assert_ptr_null(config_load_file("/nonexistent/postern.yaml", &d));
	ck_assert_uint_eq(d.n, 1);
	ck_assert_str_eq(d.msgs[0],
	                 "/nonexistent/postern.yaml: cannot open: No such file or directory");
	config_diag_free(&d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_embedded);
	tcase_add_test(tc, test_embedded_names_every_key);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_enums);
	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_ranges);
	tcase_add_test(tc, test_unknown_keys);
	tcase_add_test(tc, test_dns);
	tcase_add_test(tc, test_spf_filter);
	tcase_add_test(tc, test_types);
	tcase_add_test(tc, test_empty_values);
	tcase_add_test(tc, test_addresses);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_aliases);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_several_errors);
	tcase_add_test(tc, test_milter);
	tcase_add_test(tc, test_overrides);
	tcase_add_test(tc, test_refcount);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_tls_and_proxy);
	tcase_add_test(tc, test_include);
	suite_add_tcase(s, tc);

	int status = unit_run(s);

	config_diag_free(&diag);
	return status;
}
