/*
 * Unit tests for policies/config.c: defaults, the embedded file, every kind
 * of error with its exact file:line:column, durations and sizes.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <syslog.h>

#include "policies/config.h"

static struct config_diag diag;

static struct config *
load(const char *yaml)
{
	config_diag_free(&diag);
	return config_load_string("t.yaml", yaml, strlen(yaml), &diag);
}

/* Loading must fail with exactly this one message. */
static void
assert_error(const char *yaml, const char *message)
{
	struct config *cfg = load(yaml);

	ck_assert_ptr_null(cfg);
	ck_assert_uint_ge(diag.n, 1);
	ck_assert_str_eq(diag.msgs[0], message);
}

START_TEST(test_defaults)
{
	struct config *cfg = load("");

	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(cfg->nlisten, 1);
	ck_assert_str_eq(cfg->listen[0].text, "0.0.0.0:25");
	ck_assert_str_eq(cfg->backend.text, "127.0.0.1:10025");
	ck_assert_int_eq(cfg->backend.xclient, XCLIENT_AUTO);
	ck_assert_uint_eq(cfg->limits.max_recipients, 1000);
	ck_assert_uint_eq(cfg->limits.max_message_size, 50ULL * 1024 * 1024);
	ck_assert_uint_eq(cfg->limits.max_text_line, 1000);
	ck_assert_uint_eq(cfg->timeouts.client, 300000);
	ck_assert_int_eq(cfg->bare_newline, DATA_NEWLINE_REJECT);
	ck_assert_int_eq(cfg->log.facility, LOG_MAIL);
	config_unref(cfg);
}
END_TEST

/* The shipped default.yaml must load and mean exactly the built-in defaults. */
START_TEST(test_embedded)
{
	struct config *def = load("");
	struct config_diag d = {0};
	struct config *emb = config_load_embedded(&d);

	ck_assert_ptr_nonnull(emb);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_str_eq(emb->listen[0].text, def->listen[0].text);
	ck_assert_str_eq(emb->backend.text, def->backend.text);
	ck_assert(memcmp(&emb->limits, &def->limits, sizeof(def->limits)) == 0);
	ck_assert(memcmp(&emb->timeouts, &def->timeouts, sizeof(def->timeouts)) == 0);
	ck_assert(memcmp(&emb->log, &def->log, sizeof(def->log)) == 0);
	ck_assert_int_eq(emb->bare_newline, def->bare_newline);
	ck_assert_int_eq(emb->backend.xclient, def->backend.xclient);
	config_unref(emb);
	config_unref(def);
}
END_TEST

START_TEST(test_values)
{
	struct config *cfg = load("hostname: mx.test\n"
	                          "listen:\n"
	                          "  - address: 127.0.0.1:2525\n"
	                          "  - \"[::1]:2526\"\n"
	                          "backend: { address: 127.0.0.1:10026, xclient: xforward }\n"
	                          "limits:\n"
	                          "  max_message_size: 10M\n"
	                          "  spool_memory: 64K\n"
	                          "  max_recipients: 5\n"
	                          "  max_text_line: 0\n"
	                          "timeouts: { client: 250ms, backend_reply: 5m, backend_data: 1h, "
	                          "backend_connect: 30 }\n"
	                          "smtp: { bare_newline: normalize }\n"
	                          "log: { syslog: yes, facility: local3, level: debug }\n");

	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(cfg->hostname, "mx.test");
	ck_assert_uint_eq(cfg->nlisten, 2);
	ck_assert_str_eq(cfg->listen[1].text, "[::1]:2526");
	ck_assert_int_eq(cfg->backend.xclient, XCLIENT_XFORWARD);
	ck_assert_uint_eq(cfg->limits.max_message_size, 10 * 1024 * 1024);
	ck_assert_uint_eq(cfg->limits.spool_memory, 64 * 1024);
	ck_assert_uint_eq(cfg->limits.max_recipients, 5);
	ck_assert_uint_eq(cfg->limits.max_text_line, 0);
	ck_assert_uint_eq(cfg->timeouts.client, 250);
	ck_assert_uint_eq(cfg->timeouts.backend_reply, 300000);
	ck_assert_uint_eq(cfg->timeouts.backend_data, 3600000);
	ck_assert_uint_eq(cfg->timeouts.backend_connect, 30000);
	ck_assert_int_eq(cfg->bare_newline, DATA_NEWLINE_NORMALIZE);
	ck_assert_int_eq(cfg->log.syslog, 1);
	ck_assert_int_eq(cfg->log.facility, LOG_LOCAL3);
	ck_assert_int_eq(cfg->log.level, LOG_LEVEL_DEBUG);
	ck_assert_ptr_eq(config_ref(cfg), cfg);
	config_unref(cfg);
	config_unref(cfg);
}
END_TEST

START_TEST(test_errors)
{
	assert_error("limits:\n  max_recipient: 5\n",
	             "t.yaml:2:3: unknown key \"max_recipient\" in limits (did you mean "
	             "\"max_recipients\"?)");
	assert_error("limit: {}\n",
	             "t.yaml:1:1: unknown key \"limit\" in the configuration (did you mean "
	             "\"limits\"?)");
	assert_error("limits:\n  max_recipients: many\n",
	             "t.yaml:2:19: limits.max_recipients: \"many\" is not a whole number");
	assert_error("limits:\n  max_recipients: 0\n",
	             "t.yaml:2:19: limits.max_recipients: 0 is out of range (1 to 4294967295)");
	assert_error("limits:\n  max_command_line: 100\n",
	             "t.yaml:2:21: limits.max_command_line: 100 is out of range (512 to 1048576)");
	assert_error("timeouts:\n  client: 5x\n",
	             "t.yaml:2:11: timeouts.client: \"5x\" is not a duration (e.g. 30s, 250ms, "
	             "5m, 1h)");
	assert_error("timeouts:\n  client: -5\n",
	             "t.yaml:2:11: timeouts.client: \"-5\" is not a duration (e.g. 30s, 250ms, "
	             "5m, 1h)");
	assert_error("limits: { spool_memory: 99999999999999999999G }\n",
	             "t.yaml:1:25: limits.spool_memory: \"99999999999999999999G\" is not a size "
	             "(e.g. 512, 64K, 10M, 1G)");
	assert_error("backend:\n  address: 127.0.0.1\n",
	             "t.yaml:2:12: bad address \"127.0.0.1\": expected HOST:PORT (IPv6 as "
	             "[addr]:port)");
	assert_error("backend:\n  address: 127.0.0.1:99999\n",
	             "t.yaml:2:12: bad address \"127.0.0.1:99999\": port must be a number from 1 "
	             "to 65535");
	assert_error("backend:\n  xclient: maybe\n",
	             "t.yaml:2:12: backend.xclient: \"maybe\" is not one of auto, xclient, "
	             "xforward, off");
	assert_error("listen: 127.0.0.1:25\n",
	             "t.yaml:1:9: listen: expected a sequence, found a scalar");
	assert_error("log: { syslog: maybe }\n",
	             "t.yaml:1:16: log.syslog: expected true or false, found \"maybe\"");
	assert_error("limits: {}\nlimits: {}\n",
	             "t.yaml:2:1: duplicate key \"limits\" (first at line 1)");
	assert_error("limits: { max_text_line: 500 }\n",
	             "t.yaml: limits.max_text_line must be 0 (no limit) or at least 1000 (RFC "
	             "5321 4.5.3.1.6)");
}
END_TEST

START_TEST(test_syntax_errors)
{
	struct config *cfg;

	cfg = load("limits:\n\tmax_recipients: 5\n");
	ck_assert_ptr_null(cfg);
	ck_assert(strncmp(diag.msgs[0], "t.yaml:2:1: YAML syntax: ", 25) == 0);
	cfg = load("hostname: \"unclosed\n");
	ck_assert_ptr_null(cfg);
	ck_assert(strncmp(diag.msgs[0], "t.yaml:2:1: YAML syntax: ", 25) == 0);
	cfg = load("a: b\n c: d\n");
	ck_assert_ptr_null(cfg);
	ck_assert(strncmp(diag.msgs[0], "t.yaml:2:3: YAML syntax: ", 25) == 0);
}
END_TEST

START_TEST(test_several_errors)
{
	ck_assert_ptr_null(load("limits: { max_errors: x }\ntimeouts: { client: y }\n"));
	ck_assert_uint_eq(diag.n, 2);
}
END_TEST

START_TEST(test_overrides)
{
	struct config *cfg = load("");
	struct config_diag d = {0};

	ck_assert_int_eq(config_set_listen(cfg, "127.0.0.1:2525", &d), 0);
	ck_assert_int_eq(config_set_listen(cfg, "127.0.0.1:2526", &d), 0);
	ck_assert_uint_eq(cfg->nlisten, 2);
	ck_assert_str_eq(cfg->listen[0].text, "127.0.0.1:2525");
	ck_assert_int_eq(config_set_backend(cfg, "localhost:25", &d), 0);
	ck_assert_int_eq(config_set_backend(cfg, "nonsense", &d), -1);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_str_eq(d.msgs[0], "--backend: bad address \"nonsense\": expected HOST:PORT "
	                            "(IPv6 as [addr]:port)");
	config_diag_free(&d);
	config_unref(cfg);
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
	write_file(path, "policies:\n  - name: b\n    match: { rcpt_domain: b.test }\n");
	snprintf(path, sizeof(path), "%s/main.yaml", dir);
	write_file(path, "include: policies.d/*.yaml\nhostname: main.test\n");
	cfg = config_load_file(path, &d);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(cfg->policies.npolicies, 2);
	ck_assert_str_eq(cfg->policies.policies[0].name, "a");
	ck_assert_str_eq(cfg->policies.policies[1].name, "b");
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
	ck_assert_ptr_nonnull(strstr(d.msgs[0], "nosuch.yaml: no such file"));
	config_diag_free(&d);
	write_file(path, "include: main.yaml\n");
	ck_assert_ptr_null(config_load_file(path, &d));
	ck_assert_ptr_nonnull(strstr(d.msgs[0], "nested more than 8 deep"));
	config_diag_free(&d);
}
END_TEST

START_TEST(test_missing_file)
{
	struct config_diag d = {0};

	ck_assert_ptr_null(config_load_file("/nonexistent/postern.yaml", &d));
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
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_several_errors);
	tcase_add_test(tc, test_overrides);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_include);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);

	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);

	srunner_free(sr);
	config_diag_free(&diag);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
