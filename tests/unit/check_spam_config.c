/*
 * Unit tests for the spam filter types' own keys (spamd, rspamd, rules,
 * helo, dnsbl): each bad value is one error at its file:line:column, and a
 * file with every key set loads.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "policies/config.h"
#include "tests/unit/config_load.h"
#include "tests/unit/unit.h"

START_TEST(test_every_key)
{
	struct config *cfg = load(
	        "filters:\n"
	        "  sa: { type: spamd, address: /run/spamd.sock, max_size: 1M, user: nobody,\n"
	        "        command: report, timeout: 5s, on_error: tempfail }\n"
	        "  rs: { type: rspamd, address: \"[::1]:11333\", max_size: 2M,\n"
	        "        max_connections: 3, use_action: yes }\n"
	        "  local: { type: rules, body_max: 1K, rules: [\n"
	        "      { name: A, client: [ 192.0.2.0/24, \"2001:db8::/32\" ], score: 1 },\n"
	        "      { name: B, helo: x, action: reject, reply: \"550 5.7.1 no\" },\n"
	        "      { name: C, sender: x, score: -1, action: tag },\n"
	        "      { name: D, rcpt: x, action: accept },\n"
	        "      { name: E, header: Subject, pattern: x, score: 2 },\n"
	        "      { name: F, body: x, score: 3 } ] }\n"
	        "  helo: { invalid: 0, literal_mismatch: 1.5, ours: 9 }\n"
	        "  bl: { type: dnsbl, lists: [\n"
	        "      { name: one, zone: bl.test, check: client, weight: 2 },\n"
	        "      { zone: multi.test, check: [ client ], codes: { 127.0.0.2: 1, 127.0.0.4: 3 "
	        "} },\n"
	        "      { zone: bits.test, check: client, mask: 6 },\n"
	        "      { zone: dbl.test, check: [ helo, sender, from ] } ] }\n"
	        "policies:\n"
	        "  - { name: d, chain: [ sa, rs, local, helo, bl ], dnsbl: { one: reject } }\n");

	ck_assert_msg(cfg != NULL, "%s", diag.n ? diag.msgs[0] : "");
	config_unref(cfg);
}
END_TEST

START_TEST(test_engine_errors)
{
	assert_error("filters:\n  sa: { type: spamd, address: nowhere }\n",
	             "t.yaml:2:31: filters.sa.address: \"nowhere\": expected HOST:PORT (IPv6 as "
	             "[addr]:port)");
	assert_error("filters:\n  sa: { type: spamd, max_size: big }\n",
	             "t.yaml:2:32: filters.sa.max_size: \"big\" is not a size (512, 64K, 10M)");
	assert_error("filters:\n  sa: { type: spamd, command: check }\n",
	             "t.yaml:2:31: filters.sa.command: \"check\" is not symbols or report");
	assert_error("filters:\n  sa: { type: spamd, usr: x }\n",
	             "t.yaml:2:22: unknown key \"usr\" in filters.sa (did you mean \"user\"?)");
	assert_error("filters:\n  rs: { type: rspamd, address: /run/rspamd.sock }\n",
	             "t.yaml:2:32: filters.rs.address: rspamd is reached over TCP (IP:PORT), not a "
	             "unix socket");
	assert_error("filters:\n  rs: { type: rspamd, max_connections: 0 }\n",
	             "t.yaml:2:40: filters.rs.max_connections: expected 1 to 1024");
	assert_error("filters:\n  rs: { type: rspamd, use_action: maybe }\n",
	             "t.yaml:2:35: filters.rs.use_action: expected true or false, found \"maybe\"");
}
END_TEST

START_TEST(test_rules_errors)
{
	assert_error(
	        "filters:\n  r: { type: rules, rules: [ { name: A, helo: x, body: y, score: 1 } ] "
	        "}\n",
	        "t.yaml:2:50: filters.r.rules[0].body: a rule looks at one thing; this one has "
	        "helo and body");
	assert_error(
	        "filters:\n  r: { type: rules, rules: [ { name: A, client: 192.0.2.1/24, score: 1 "
	        "} ] }\n",
	        "t.yaml:2:49: filters.r.rules[0].client: \"192.0.2.1/24\" is not a network "
	        "(192.0.2.0/24, 2001:db8::/32)");
	assert_error("filters:\n  r: { type: rules, rules: [ { name: A, body: x, action: drop, "
	             "score: 1 } ] }\n",
	             "t.yaml:2:58: filters.r.rules[0].action: \"drop\" is not an action (accept, "
	             "tag, quarantine, discard, tempfail, reject)");
	assert_error(
	        "filters:\n  r: { type: rules, rules: [ { name: A, helo: x, pattern: y, score: 1 "
	        "} ] }\n",
	        "t.yaml:2:59: filters.r.rules[0].pattern: only a header rule has a pattern: of its "
	        "own");
	assert_error(
	        "filters:\n  r: { type: rules, rules: [ { name: A, header: Subject, score: 1 } ] "
	        "}\n",
	        "t.yaml:2:49: filters.r.rules[0]: a header rule needs a pattern");
	assert_error(
	        "filters:\n  r: { type: rules, rules: [ { name: A, body: x, score: 1, colour: red "
	        "} ] }\n",
	        "t.yaml:2:60: unknown key \"colour\" in filters.r.rules[0]");
}
END_TEST

START_TEST(test_dnsbl_helo_errors)
{
	assert_error("filters:\n  b: { type: dnsbl, lists: [ { zone: bl.test, check: [ client, "
	             "peer ] } ] }\n",
	             "t.yaml:2:54: filters.b.lists[0].check: \"peer\" is not client, helo, sender "
	             "or from");
	assert_error("filters:\n  b: { type: dnsbl, lists: [ { check: client } ] }\n",
	             "t.yaml:2:30: filters.b.lists[0]: a list needs a zone");
	assert_error(
	        "filters:\n  b: { type: dnsbl, lists: [ { zone: bl.test, check: client, codes: { "
	        "10.0.0.1: 1 } } ] }\n",
	        "t.yaml:2:71: filters.b.lists[0].codes: an answer is an address in 127.0.0.0/8");
	assert_error(
	        "filters:\n  b: { type: dnsbl, lists: [ { zone: bl.test, check: client, mask: 256 "
	        "} ] }\n",
	        "t.yaml:2:68: filters.b.lists[0].mask: a mask is 1 to 255, the bits of the "
	        "answer's last octet");
	assert_error("filters:\n  h: { type: helo, ours: lots }\n",
	             "t.yaml:2:26: filters.h.ours: \"lots\" is not a number");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spam_config");
	TCase *tc = tcase_create("keys");

	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_engine_errors);
	tcase_add_test(tc, test_rules_errors);
	tcase_add_test(tc, test_dnsbl_helo_errors);
	suite_add_tcase(s, tc);
	int rc = unit_run(s);

	config_diag_free(&diag);
	return rc;
}
