/*
 * Unit tests for policies/policy.c (selection, evaluation, CIDRs) and the
 * filters:/policies: sections of the configuration (every error with its
 * exact line:column).
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/netaddr.h"
#include "policies/config.h"
#include "policies/policy.h"
#include "tests/unit/unit.h"

static struct config_diag diag;

static struct config *
load(const char *yaml)
{
	config_diag_free(&diag);
	return config_load_string("p.yaml", yaml, strlen(yaml), &diag);
}

static void
assert_error(const char *yaml, const char *message)
{
	ck_assert_ptr_null(load(yaml));
	ck_assert_uint_ge(diag.n, 1);
	ck_assert_str_eq(diag.msgs[0], message);
}

static struct sockaddr_storage
addr(const char *ip)
{
	struct sockaddr_storage ss;

	ck_assert_int_eq(netaddr_from_ip(ip, &ss), 0);
	return ss;
}

static const char *
selected(const struct config *cfg, const char *rcpt, const char *sender, const char *ip, int auth)
{
	struct sockaddr_storage ss = addr(ip);
	struct policy_subject s = {.rcpt = rcpt,
	                           .sender = sender,
	                           .client = (struct sockaddr *)&ss,
	                           .authenticated = auth};

	return policy_select(&cfg->policies, &s)->name;
}

START_TEST(test_selection)
{
	struct config *cfg = load("policies:\n"
	                          "  - name: default\n"
	                          "  - name: net\n"
	                          "    match: { client: [ 10.0.0.0/8 ] }\n"
	                          "  - name: narrow\n"
	                          "    match: { client: 10.1.0.0/16 }\n"
	                          "  - name: v6\n"
	                          "    match: { client: \"2001:db8::/32\" }\n"
	                          "  - name: auth\n"
	                          "    match: { authenticated: true }\n"
	                          "  - name: senderdom\n"
	                          "    match: { sender_domain: partner.test }\n"
	                          "  - name: sender\n"
	                          "    match: { sender: boss@partner.test }\n"
	                          "  - name: rcptdom\n"
	                          "    match: { rcpt_domain: [ .example.com ] }\n"
	                          "  - name: rcpt\n"
	                          "    match: { rcpt: [ postmaster@example.com ] }\n"
	                          "  - name: both\n"
	                          "    match: { rcpt_domain: other.test, client: 192.0.2.0/24 }\n");

	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(selected(cfg, NULL, "a@b.test", "192.0.2.9", 0), "default");
	ck_assert_str_eq(selected(cfg, NULL, "a@b.test", "10.9.9.9", 0), "net");
	ck_assert_str_eq(selected(cfg, NULL, "a@b.test", "10.1.2.3", 0), "narrow");
	ck_assert_str_eq(selected(cfg, NULL, "a@b.test", "2001:db8::5", 0), "v6");
	ck_assert_str_eq(selected(cfg, NULL, "a@b.test", "192.0.2.9", 1), "auth");
	ck_assert_str_eq(selected(cfg, NULL, "x@partner.test", "10.1.2.3", 1), "senderdom");
	ck_assert_str_eq(selected(cfg, NULL, "BOSS@partner.test", "10.1.2.3", 1), "sender");
	ck_assert_str_eq(selected(cfg, "u@example.com", "boss@partner.test", "10.1.2.3", 1),
	                 "rcptdom");
	ck_assert_str_eq(selected(cfg, "u@mx.example.com", "a@b.test", "192.0.2.9", 0), "rcptdom");
	ck_assert_str_eq(selected(cfg, "u@notexample.com", "a@b.test", "192.0.2.9", 0), "default");
	ck_assert_str_eq(selected(cfg, "postmaster@example.com", "a@b.test", "10.1.2.3", 0),
	                 "rcpt");
	/* Every criterion must fit. */
	ck_assert_str_eq(selected(cfg, "u@other.test", "a@b.test", "192.0.2.9", 0), "both");
	ck_assert_str_eq(selected(cfg, "u@other.test", "a@b.test", "198.51.100.1", 0), "default");
	config_unref(cfg);
	/* No policies: the built-in default. */
	cfg = load("");
	ck_assert_str_eq(selected(cfg, NULL, "a@b", "192.0.2.1", 0), "builtin-default");
	config_unref(cfg);
}
END_TEST

START_TEST(test_cidr)
{
	struct cidr c;
	struct sockaddr_storage ss;

	ck_assert_int_eq(cidr_parse("192.0.2.0/24", &c), 0);
	ss = addr("192.0.2.77");
	ck_assert_int_eq(cidr_match(&c, (struct sockaddr *)&ss), 1);
	ss = addr("192.0.3.1");
	ck_assert_int_eq(cidr_match(&c, (struct sockaddr *)&ss), 0);
	ss = addr("::ffff:192.0.2.5");
	ck_assert_int_eq(cidr_match(&c, (struct sockaddr *)&ss), 1);
	ck_assert_int_eq(cidr_parse("0.0.0.0/0", &c), 0);
	ss = addr("203.0.113.9");
	ck_assert_int_eq(cidr_match(&c, (struct sockaddr *)&ss), 1);
	ck_assert_int_eq(cidr_parse("2001:db8::/32", &c), 0);
	ss = addr("2001:db8:1::1");
	ck_assert_int_eq(cidr_match(&c, (struct sockaddr *)&ss), 1);
	static const char *const bad[] = {
	        "192.0.2.0/33",   "192.0.2.1/24", "192.0.2.0/", "300.1.1.1", "",
	        "2001:db8::/129", "x/8"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(cidr_parse(bad[i], &c), -1);
}
END_TEST

static struct finding
finding(const char *method, const char *result, double score, enum action action)
{
	return (struct finding){.filter = "f",
	                        .method = (char *)method,
	                        .result = (char *)result,
	                        .score = score,
	                        .action = action};
}

START_TEST(test_evaluate)
{
	struct config *cfg = load("policies:\n"
	                          "  - name: p\n"
	                          "    spf: { fail: reject, softfail: tag }\n"
	                          "    spam: { tag: 5, reject: 10 }\n"
	                          "    reject_reply: 550 5.7.23 SPF says no\n"
	                          "  - name: m\n"
	                          "    match: { rcpt_domain: m.test }\n"
	                          "    mode: monitor\n"
	                          "    spf: { fail: reject }\n");
	const struct policy *p = &cfg->policies.policies[0], *m = &cfg->policies.policies[1];
	struct policy_decision d;
	struct finding f[3];

	policy_evaluate(p, NULL, 0, &d);
	ck_assert_int_eq(d.action, ACTION_ACCEPT);
	ck_assert(isnan(d.score));

	f[0] = finding("spf", "softfail", NAN, ACTION_NONE);
	policy_evaluate(p, f, 1, &d);
	ck_assert_int_eq(d.action, ACTION_TAG);
	ck_assert_str_eq(d.reason, "spf=softfail");

	f[1] = finding("spf", "fail", NAN, ACTION_NONE);
	policy_evaluate(p, f, 2, &d);
	ck_assert_int_eq(d.action, ACTION_REJECT);
	ck_assert_str_eq(d.reply, "550 5.7.23 SPF says no");
	ck_assert_int_eq(d.enforce, 1);

	/* Scores add up across findings. */
	f[0] = finding("spam", "scored", 3, ACTION_NONE);
	f[1] = finding("dnsbl", "listed", 2.5, ACTION_NONE);
	policy_evaluate(p, f, 2, &d);
	ck_assert_int_eq(d.action, ACTION_TAG);
	ck_assert(fabs(d.score - 5.5) < 1e-9);
	f[2] = finding("spam", "scored", 5, ACTION_NONE);
	policy_evaluate(p, f, 3, &d);
	ck_assert_int_eq(d.action, ACTION_REJECT);
	ck_assert_str_eq(d.reason, "score=10.5");

	/* A filter's own verdict and reply. */
	f[0] = finding("milter", "tempfail", NAN, ACTION_TEMPFAIL);
	f[0].reply = (char *)"451 4.7.0 milter says later";
	policy_evaluate(p, f, 1, &d);
	ck_assert_int_eq(d.action, ACTION_TEMPFAIL);
	ck_assert_str_eq(d.reply, "451 4.7.0 milter says later");
	f[0].reply = NULL;
	policy_evaluate(p, f, 1, &d);
	ck_assert_str_eq(d.reply, "451 4.7.1 Message deferred by policy, try again later");

	/* A rule's reject gives the reply the filter attached, when its class fits. */
	f[0] = finding("spf", "fail", NAN, ACTION_NONE);
	f[0].reply = (char *)"550 5.7.23 SPF fail for x.test: not a permitted sender";
	policy_evaluate(p, f, 1, &d);
	ck_assert_int_eq(d.action, ACTION_REJECT);
	ck_assert_str_eq(d.reply, "550 5.7.23 SPF fail for x.test: not a permitted sender");
	f[0].reply = (char *)"451 4.7.24 SPF temperror";
	policy_evaluate(p, f, 1, &d);
	ck_assert_str_eq(d.reply, "550 5.7.23 SPF says no"); /* a 4xx for a reject: the policy's */
	f[0].reply = (char *)"550 5.7.23 SPF softfail";
	f[0].result = (char *)"softfail";
	policy_evaluate(p, f, 1, &d);
	ck_assert_int_eq(d.action, ACTION_TAG); /* a tag has no reply */
	ck_assert_ptr_null(d.reply);

	/* Monitor: the same decision, not enforced. */
	f[0] = finding("spf", "fail", NAN, ACTION_NONE);
	policy_evaluate(m, f, 1, &d);
	ck_assert_int_eq(d.action, ACTION_REJECT);
	ck_assert_int_eq(d.enforce, 0);
	config_unref(cfg);
}
END_TEST

static struct finding
finding_of(const char *filter, const char *method, const char *result)
{
	struct finding f = finding(method, result, NAN, ACTION_NONE);

	f.filter = filter;
	return f;
}

/* SPF waits for the chain's dmarc filter; dmarc=pass forgives it; dmarc's default rules. */
START_TEST(test_dmarc_overrules_spf)
{
	struct config *cfg = load("filters:\n"
	                          "  dkim: {}\n"
	                          "  dmarc: {}\n"
	                          "policies:\n"
	                          "  - name: d\n"
	                          "    chain: [ dkim, dmarc ]\n"
	                          "    spf: { fail: reject }\n"
	                          "  - name: plain\n"
	                          "    match: { rcpt_domain: plain.test }\n"
	                          "    spf: { fail: reject }\n"
	                          "  - name: own\n"
	                          "    match: { rcpt_domain: own.test }\n"
	                          "    chain: [ dmarc ]\n"
	                          "    dmarc_policy: { reject: tag }\n");
	ck_assert_ptr_nonnull(cfg);
	const struct policy *p = &cfg->policies.policies[0], *plain = &cfg->policies.policies[1],
	                    *own = &cfg->policies.policies[2];
	struct policy_decision d;
	struct finding f[3];

	/* At MAIL the dmarc filter has not reported: SPF fail waits. */
	f[0] = finding_of("spf", "spf", "fail");
	policy_evaluate(p, f, 1, &d);
	ck_assert_int_eq(d.action, ACTION_ACCEPT);
	/* Without dmarc in the chain it decides at once. */
	policy_evaluate(plain, f, 1, &d);
	ck_assert_int_eq(d.action, ACTION_REJECT);
	/* An aligned DKIM signature passed: DMARC pass forgives the SPF fail. */
	f[1] = finding_of("dmarc", "dmarc", "pass");
	policy_evaluate(p, f, 2, &d);
	ck_assert_int_eq(d.action, ACTION_ACCEPT);
	/* DMARC failed (p=none), or the dmarc filter failed: SPF decides. */
	f[1] = finding_of("dmarc", "dmarc", "fail");
	f[2] = finding_of("dmarc", "dmarc_policy", "none");
	policy_evaluate(p, f, 3, &d);
	ck_assert_int_eq(d.action, ACTION_REJECT);
	ck_assert_str_eq(d.reason, "spf=fail");
	f[1] = finding_of("dmarc", "error", "timeout");
	policy_evaluate(p, f, 2, &d);
	ck_assert_int_eq(d.action, ACTION_REJECT);
	/* The default rules of dmarc, and a policy's own instead. */
	f[0] = finding_of("dmarc", "dmarc_policy", "reject");
	policy_evaluate(p, f, 1, &d);
	ck_assert_int_eq(d.action, ACTION_REJECT);
	f[0] = finding_of("dmarc", "dmarc_policy", "quarantine");
	policy_evaluate(p, f, 1, &d);
	ck_assert_int_eq(d.action, ACTION_QUARANTINE);
	f[0] = finding_of("dmarc", "dmarc_policy", "reject");
	policy_evaluate(own, f, 1, &d);
	ck_assert_int_eq(d.action, ACTION_TAG);
	f[0] = finding_of("dmarc", "dmarc_policy", "quarantine");
	policy_evaluate(own, f, 1, &d);
	ck_assert_int_eq(d.action, ACTION_ACCEPT);
	config_unref(cfg);
}
END_TEST

/* The dkim, dkim_sign and dmarc types' own keys: each error at its node. */
START_TEST(test_auth_filter_errors)
{
	assert_error(
	        "filters:\n  dkim: { max_signatures: 0 }\n",
	        "p.yaml:2:27: filters.dkim.max_signatures: \"0\" is not a number from 1 to 100");
	assert_error("filters:\n  dkim: { max_signature: 3 }\n",
	             "p.yaml:2:11: unknown key \"max_signature\" in dkim (did you mean "
	             "\"max_signatures\"?)");
	assert_error("filters:\n  dkim: { accept_rsa_sha1: maybe }\n",
	             "p.yaml:2:28: filters.dkim.accept_rsa_sha1: expected true or false, found "
	             "\"maybe\"");
	assert_error("filters:\n  dmarc: { public_suffix_list: /nonexistent/psl.dat }\n",
	             "p.yaml:2:32: filters.dmarc.public_suffix_list: cannot read "
	             "\"/nonexistent/psl.dat\"");
	assert_error("filters:\n  s: { type: dkim_sign }\n",
	             "p.yaml:2:6: filters.s: dkim_sign needs keys:");
	assert_error("filters:\n  s:\n    type: dkim_sign\n    keys:\n"
	             "      - { domain: a.test, selector: s, key_file: /nonexistent.key,"
	             " algorithm: rsa-sha1 }\n",
	             "p.yaml:5:79: filters.s.keys.algorithm: \"rsa-sha1\" is not rsa-sha256 or "
	             "ed25519-sha256");
	assert_error(
	        "filters:\n  s:\n    type: dkim_sign\n    outgoing: { clients: [ 10.0.0.1/8 ] }\n"
	        "    keys: [ { domain: a.test, selector: s } ]\n",
	        "p.yaml:4:28: filters.s.outgoing.clients: \"10.0.0.1/8\" is not a network "
	        "(e.g. 192.0.2.0/24)");
	/* Where their unknown keys are, as these types have always named it. */
	assert_error("filters:\n  s: { type: dkim_sign, keys: [ 3 ] }\n",
	             "p.yaml:2:33: keys entry: expected a mapping, found a scalar");
	assert_error("filters:\n  s: { type: dkim_sign, keys: [ { domian: a.test } ] }\n",
	             "p.yaml:2:35: unknown key \"domian\" in keys (did you mean \"domain\"?)");
	assert_error("filters:\n  s: { type: dkim_sign, outgoing: { client: 1 } }\n",
	             "p.yaml:2:37: unknown key \"client\" in outgoing (did you mean \"clients\"?)");
	assert_error("filters:\n  s: { type: dkim_sign, kyes: [] }\n",
	             "p.yaml:2:25: unknown key \"kyes\" in s");
	assert_error("filters:\n  dmarc: { public_suffix_lst: x }\n",
	             "p.yaml:2:12: unknown key \"public_suffix_lst\" in dmarc (did you mean "
	             "\"public_suffix_list\"?)");
}
END_TEST

START_TEST(test_config_errors)
{
	assert_error("policies:\n  - name: a\n    chain: [ nosuch ]\n",
	             "p.yaml:3:14: policy a: chain names \"nosuch\", which is not in filters:");
	assert_error("filters:\n  x: { type: nosuch }\n",
	             "p.yaml:2:14: filters.x: unknown filter type \"nosuch\"");
	assert_error("filters:\n  x: { timeout: soon }\n",
	             "p.yaml:2:17: filters.x.timeout: \"soon\" is not a duration");
	assert_error(
	        "filters:\n  x: { on_error: ignore }\n",
	        "p.yaml:2:18: filters.x.on_error: \"ignore\" is not one of continue (or accept), "
	        "tempfail, reject");
	assert_error("policies:\n  - name: a\n    match: { client: 10.0.0.1/33 }\n",
	             "p.yaml:3:22: match.client: \"10.0.0.1/33\" is not a network (e.g. "
	             "192.0.2.0/24, 2001:db8::/32, 192.0.2.1)");
	assert_error("policies:\n  - name: a\n    match: { rcpt_domian: x }\n",
	             "p.yaml:3:14: unknown key \"rcpt_domian\" in match (did you mean "
	             "\"rcpt_domain\"?)");
	assert_error("policies:\n  - name: a\n    spam: { tag: 10, reject: 5 }\n",
	             "p.yaml:3:30: spam: reject (5) must be above tag (10), or nothing is ever "
	             "tagged");
	assert_error("policies:\n  - name: a\n    spf: { fail: bounce }\n",
	             "p.yaml:3:18: spf.fail: \"bounce\" is not an action (accept, tag, "
	             "quarantine, discard, tempfail, reject)");
	assert_error("policies:\n  - name: a\n    chian: [ x ]\n",
	             "p.yaml:3:5: unknown key \"chian\" in policy (did you mean \"chain\"?)");
	assert_error("policies:\n  - name: a\n    mode: enforcing\n",
	             "p.yaml:3:11: mode: \"enforcing\" is not enforce or monitor");
	assert_error("policies:\n  - name: a\n    reject_reply: 450 not a reject\n",
	             "p.yaml:3:19: reply \"450 not a reject\": expected one line starting with a "
	             "5xx code");
	assert_error("policies:\n  - name: a\n  - name: a\n",
	             "p.yaml:3:5: policy name \"a\" is used twice");
	assert_error("policies:\n  - mode: monitor\n", "p.yaml:2:5: policy without a name");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_selection);
	tcase_add_test(tc, test_cidr);
	tcase_add_test(tc, test_evaluate);
	tcase_add_test(tc, test_dmarc_overrules_spf);
	tcase_add_test(tc, test_auth_filter_errors);
	tcase_add_test(tc, test_config_errors);
	suite_add_tcase(s, tc);

	int status = unit_run(s);

	config_diag_free(&diag);
	return status;
}
