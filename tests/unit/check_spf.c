/*
 * Unit tests for filters/spf_record.c (the checks before libspf2) and
 * filters/spf_eval.c (one check over zone data, tests/spf/zone.h): records
 * RFC 7208 refuses, the normalised form libspf2 gets, hostile macros (the
 * classes of CVE-2021-20314 and CVE-2023-42118), limits; and every input
 * of the fuzz target's corpus (tests/fuzz/corpus/spf, crashing inputs
 * included when there are any) replayed through the fuzz target's code.
 */
#include <arpa/nameser.h>
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "filters/spf_eval.h"
#include "filters/spf_record.h"
#include "tests/spf/zone.h"
#include "tests/unit/unit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *
prepared(const char *record, int family)
{
	static char out[SPF_RECORD_MAX + 256];
	char why[128];

	if (spf_record_prepare(record, family, out, sizeof(out), why, sizeof(why)) < 0)
		return NULL;
	return out;
}

START_TEST(test_valid)
{
	static const char *const ok[] = {
	        "v=spf1",
	        "v=spf1 -all",
	        "V=SPF1 +A -aLL",
	        "v=spf1 a mx ptr ip4:192.0.2.0/24 ip6:2001:db8::/32 -all",
	        "v=spf1 a:mail.example.org/24//64 mx:example.org//48 ~all",
	        "v=spf1 include:_spf.example.org exists:%{i}._spf.%{d} ?all",
	        "v=spf1 exists:%{l1r+-}.%{d2}.%{ir}.%{v}.arpa -all",
	        "v=spf1 a:foo.example.org. -all",
	        "v=spf1 a:xn--bcher-kva.example -all",
	        "v=spf1 redirect=_spf.example.org",
	        "v=spf1 -all exp=explain.%{d}",
	        "v=spf1 unknown-mod=%{l}anything -all",
	        "v=spf1 exists:a%%%{d} -all", /* a literal %, then a macro to end on */
	        "v=spf1 exists:%{d}.%{i}.x-1 -all",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(prepared(ok[i], AF_INET) != NULL, "%s", ok[i]);
}
END_TEST

START_TEST(test_invalid)
{
	static const char *const bad[] = {
	        "v=spf10",
	        "v=spf1 foo",
	        "v=spf1 a:museum",  /* a top label alone */
	        "v=spf1 a:1.2.3.4", /* an all-numeric top label */
	        "v=spf1 a:foo.-bar",
	        "v=spf1 a/33",
	        "v=spf1 a//129",
	        "v=spf1 a/024",
	        "v=spf1 ip4:192.0.2.1/33",
	        "v=spf1 ip4:192.0.2.01",
	        "v=spf1 ip4:1.2.3",
	        "v=spf1 ip6:2001:db8::1/129",
	        "v=spf1 include:",
	        "v=spf1 exists",
	        "v=spf1 -all redirect=a.example redirect=b.example",
	        "v=spf1 exp=a.example exp=b.example",
	        "v=spf1 all:foo.example",
	        "v=spf1 exists:%{c}.example.org", /* c, r, t are for explanations only */
	        "v=spf1 exists:%{x}.example.org",
	        "v=spf1 exists:%{l1234}.example.org", /* at most 3 digits */
	        "v=spf1 exists:%{l0}.example.org",
	        "v=spf1 exists:%{l.example.org",
	        "v=spf1 exists:%q.example.org",
	        "v=spf1 exists:%.example.org",
	        "v=spf1 exists:a%%{d}", /* "%%" then "{d}": no macro, no top label */
	        "v=spf1 a:exa\tmple.org",
	        "v=spf1 1bad=x",
	        "v=spf1 +",
	        "v=spf1 unknown-mod=%{x}anything -all", /* its macro-string must be valid too */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(prepared(bad[i], AF_INET) == NULL, "%s", bad[i]);
}
END_TEST

/* What libspf2 is given: redirect last or gone, no unknown modifiers, no /0. */
START_TEST(test_normalised)
{
	ck_assert_str_eq(prepared("v=spf1  redirect=r.example   a  mx", AF_INET),
	                 "v=spf1 a mx redirect=r.example");
	ck_assert_str_eq(prepared("v=spf1 redirect=r.example -all", AF_INET), "v=spf1 -all");
	ck_assert_str_eq(prepared("v=spf1 moo.cow-far_out=man:dog/cat -all", AF_INET),
	                 "v=spf1 -all");
	ck_assert_str_eq(prepared("v=spf1 -ip4:192.0.2.0/0", AF_INET),
	                 "v=spf1 -ip4:0.0.0.0/1 -ip4:128.0.0.0/1");
	ck_assert_str_eq(prepared("v=spf1 ip6:::/0", AF_INET6), "v=spf1 ip6:::/1 ip6:8000::/1");
	ck_assert_str_eq(prepared("v=spf1 a/0 -all", AF_INET),
	                 "v=spf1 a:%{d}." SPF_ANY_LABEL " -all");
	ck_assert_str_eq(prepared("v=spf1 a/0 -all", AF_INET6), "v=spf1 a -all");
	ck_assert_str_eq(prepared("v=spf1 ~mx:m.example.//0", AF_INET6),
	                 "v=spf1 ~mx:m.example." SPF_ANY_LABEL);
	ck_assert_str_eq(prepared("v=spf1 a:x.example/24//0", AF_INET), "v=spf1 a:x.example/24");
	ck_assert_str_eq(prepared("v=spf1 a:x.example/24//64", AF_INET),
	                 "v=spf1 a:x.example/24//64");
}
END_TEST

START_TEST(test_long_terms)
{
	char record[2048] = "v=spf1 a:", text[2048];

	/* One term of 512 octets passes, of 513 not (SPF_TERM_MAX). */
	memset(record + 9, 'a', 512 - 2 - 12);
	strcpy(record + 9 + 512 - 2 - 12, ".example.org");
	ck_assert_uint_eq(strlen(record + 7), 512);
	ck_assert_ptr_nonnull(prepared(record, AF_INET));
	memmove(record + 10, record + 9, strlen(record + 9) + 1);
	ck_assert_ptr_null(prepared(record, AF_INET));
	memset(text, 'x', 513);
	text[513] = '\0';
	ck_assert_int_eq(spf_explanation_prepare(text, record, sizeof(record)), -1);
	text[512] = '\0';
	ck_assert_int_eq(spf_explanation_prepare(text, record, sizeof(record)), 0);
}
END_TEST

START_TEST(test_explanations)
{
	char out[512];

	ck_assert_int_eq(
	        spf_explanation_prepare("%{i} is not %{c}, %{r} at %{t}: %_%-%%", out, sizeof(out)),
	        0);
	ck_assert_str_eq(out, "%{i} is not %{c}, %{r} at %{t}:  %%20%%");
	ck_assert_int_eq(spf_explanation_prepare("bad %{z}", out, sizeof(out)), -1);
	ck_assert_int_eq(spf_explanation_prepare("bad %", out, sizeof(out)), -1);
	ck_assert_int_eq(spf_explanation_prepare("ctl \x01", out, sizeof(out)), -1);
	ck_assert_int_eq(spf_explanation_prepare("tiny", out, 3), -1);
}
END_TEST

START_TEST(test_domains)
{
	ck_assert(spf_domain_ok("example.org"));
	ck_assert(!spf_domain_ok("localhost"));
	ck_assert(!spf_domain_ok("example..org"));
	ck_assert(!spf_domain_ok("[192.0.2.1]"));
	ck_assert(!spf_domain_ok("192.0.2.1"));
	ck_assert(spf_domain_ok("1.example.org."));
	ck_assert(spf_is_record("v=spf1"));
	ck_assert(spf_is_record("V=Spf1 -all"));
	ck_assert(!spf_is_record("v=spf1-all"));
	ck_assert(!spf_is_record("v=spf"));
}
END_TEST

static enum spf_res
check(struct zone *z, const char *ip, const char *sender, struct spf_verdict *v)
{
	struct spf_query q = {.client_ip = ip,
	                      .helo = "helo.example.org",
	                      .sender = sender,
	                      .receiver = "mx.test"};

	spf_evaluate(zone_lookup, z, &q, v);
	return v->result;
}

/* Hostile macros: long expansions, URL escapes of long parts, many delimiters. */
START_TEST(test_hostile_macros)
{
	struct zone z = {0};
	struct spf_verdict v;
	char record[SPF_RECORD_MAX + 64] = "v=spf1", sender[128];

	for (int i = 0; i < 40; i++)
		strcat(record, " exists:%{L128r.-+,/_=}%{S}%{O}.x.example.org");
	strcat(record, " -all exp=e.example.org");
	zone_add_text(&z, "example.org", ns_t_txt, record);
	zone_add_text(&z, "e.example.org", ns_t_txt,
	              "%{L}%{L}%{L}%{L}%{L}%{L}%{L}%{L}%{S}%{S}%{S}%{S}%{O}%{D}%{I}%{P}%{V}%{H}%{C}"
	              "%{R}%{T}%{l128r.-+,/_=}%{s999}");
	memset(sender, 'a', 64);
	memcpy(sender + 64, "@example.org", 13);
	sender[1] = '%';
	sender[2] = '.';
	/* More than 10 DNS terms: permerror, whatever the expansions were. */
	ck_assert_int_eq(check(&z, "192.0.2.1", sender, &v), SPF_RES_PERMERROR);
	zone_free(&z);
	zone_add_text(&z, "example.org", ns_t_txt,
	              "v=spf1 exists:%{L}.%{S}.x.example.org -all exp=e.example.org");
	zone_add_text(&z, "e.example.org", ns_t_txt, "%{L}%{L}%{L}%{L} %{S} %{c} %{r}");
	ck_assert_int_eq(check(&z, "2001:db8::1", sender, &v), SPF_RES_FAIL);
	ck_assert(strlen(v.explanation) < sizeof(v.explanation));
	ck_assert_ptr_nonnull(strstr(v.explanation, "mx.test"));
	/* A local part longer than RFC 5321 allows is not checked at all. */
	char longer[200];

	memset(longer, 'b', 100);
	memcpy(longer + 100, "@example.org", 13);
	ck_assert_int_eq(check(&z, "192.0.2.1", longer, &v), SPF_RES_NONE);
	zone_free(&z);
}
END_TEST

START_TEST(test_limits)
{
	struct zone z = {0};
	struct spf_verdict v;

	/* Void lookups: 2 are allowed, the third is permerror (section 4.6.4). */
	zone_add_text(&z, "void2.example.org", ns_t_txt,
	              "v=spf1 a:n1.example.org a:n2.example.org ?all");
	zone_add_text(&z, "void3.example.org", ns_t_txt,
	              "v=spf1 a:n1.example.org a:n2.example.org a:n3.example.org ?all");
	ck_assert_int_eq(check(&z, "192.0.2.1", "u@void2.example.org", &v), SPF_RES_NEUTRAL);
	ck_assert_int_eq(check(&z, "192.0.2.1", "u@void3.example.org", &v), SPF_RES_PERMERROR);
	ck_assert_ptr_nonnull(strstr(v.problem, "void"));
	/* include: loops end in the term limit. */
	zone_add_text(&z, "loop.example.org", ns_t_txt, "v=spf1 include:loop2.example.org -all");
	zone_add_text(&z, "loop2.example.org", ns_t_txt, "v=spf1 include:loop.example.org -all");
	ck_assert_int_eq(check(&z, "192.0.2.1", "u@loop.example.org", &v), SPF_RES_PERMERROR);
	/* A record with a NUL inside is unreadable: permerror. */
	zone_add(&z, "nul.example.org", ns_t_txt, "\x0fv=spf1 -all\0abc", 16);
	ck_assert_int_eq(check(&z, "192.0.2.1", "u@nul.example.org", &v), SPF_RES_PERMERROR);
	/* Loopback clients are evaluated like any other (libspf2 would pass them). */
	zone_add_text(&z, "lo.example.org", ns_t_txt, "v=spf1 -all");
	ck_assert_int_eq(check(&z, "127.0.0.1", "u@lo.example.org", &v), SPF_RES_FAIL);
	ck_assert_int_eq(check(&z, "::ffff:127.0.0.1", "u@lo.example.org", &v), SPF_RES_FAIL);
	ck_assert_int_eq(check(&z, "not an address", "u@lo.example.org", &v), SPF_RES_PERMERROR);
	/*
	 * libspf2 holds 511 octets of compiled mechanisms and drops the rest
	 * silently: 50 ip4 terms fit (fail), 80 would lose "-all" (neutral), so
	 * they are permerror.
	 */
	char big[4096] = "v=spf1";

	for (int i = 0; i < 80; i++) {
		snprintf(big + strlen(big), sizeof(big) - strlen(big), " ip4:198.51.100.%d", i);
		if (i == 49) {
			zone_add_text(&z, "fits.example.org", ns_t_txt, strcat(big, " -all"));
			big[strlen(big) - 5] = '\0';
		}
	}
	zone_add_text(&z, "big.example.org", ns_t_txt, strcat(big, " -all"));
	ck_assert_int_eq(check(&z, "192.0.2.1", "u@fits.example.org", &v), SPF_RES_FAIL);
	ck_assert_int_eq(check(&z, "192.0.2.1", "u@big.example.org", &v), SPF_RES_PERMERROR);
	ck_assert_ptr_nonnull(strstr(v.problem, "longer than libspf2 can hold"));
	zone_add_timeout(&z, "slow.example.org");
	ck_assert_int_eq(check(&z, "192.0.2.1", "u@slow.example.org", &v), SPF_RES_TEMPERROR);
	zone_free(&z);
}
END_TEST

/* The fuzz target's corpus, replayed (it aborts on a broken invariant). */
START_TEST(test_fuzz_corpus)
{
	const char *top = getenv("top_srcdir");
	char dir[4096], path[8192];
	struct dirent *d;
	DIR *dp;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/spf", top ? top : "..");
	dp = opendir(dir);
	ck_assert_msg(dp != NULL, "%s", dir);
	while ((d = readdir(dp)) != NULL) {
		unsigned char buf[8192];
		FILE *f;
		size_t len;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		f = fopen(path, "rb");
		ck_assert_ptr_nonnull(f);
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
		n++;
	}
	closedir(dp);
	ck_assert_int_gt(n, 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_normalised);
	tcase_add_test(tc, test_long_terms);
	tcase_add_test(tc, test_explanations);
	tcase_add_test(tc, test_domains);
	tcase_add_test(tc, test_hostile_macros);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_fuzz_corpus);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
