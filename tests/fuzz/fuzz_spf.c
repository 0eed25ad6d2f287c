/*
 * libFuzzer target: hostile SPF records and macros through postern's SPF
 * path (spf_evaluate(), filters/spf_eval.h: our record checks, our DNS
 * layer, libspf2's compiler, interpreter and macro expander), the DNS
 * answered from a zone built from the input (tests/spf/zone.h).
 *
 * The input is lines: the first byte picks the client (IPv4 or IPv6) and
 * whether the HELO identity or a sender is checked; line 1 is the sender's
 * local part (macro %{l} material); line 2 is the TXT of fz.example (the
 * record checked), line 3 the TXT of exp.fz.example (for exp=), lines 4 on
 * the TXT of i1.fz.example, i2.fz.example ... (include: and redirect=
 * targets). a.fz.example has addresses, mx.fz.example an MX, the client's
 * address a PTR to a.fz.example. Each line also goes through
 * spf_record_prepare() and spf_explanation_prepare() alone, whose output
 * must be a string within its buffer.
 */
#include <arpa/nameser.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "filters/spf_eval.h"
#include "filters/spf_record.h"
#include "tests/spf/zone.h"

#define LINES_MAX 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A TXT record from raw octets (NULs and all), in strings of 255. */
static void
add_raw_txt(struct zone *z, const char *name, const uint8_t *p, size_t n)
{
	unsigned char rdata[8192];
	size_t o = 0;

	for (size_t i = 0; (i < n || o == 0) && o + 256 < sizeof(rdata); i += 255) {
		size_t l = n - i > 255 ? 255 : n - i;

		rdata[o++] = (unsigned char)l;
		memcpy(rdata + o, p + i, l);
		o += l;
	}
	zone_add(z, name, ns_t_txt, rdata, o);
}

static void
check_prepare(const uint8_t *p, size_t n)
{
	char text[SPF_RECORD_MAX + 2], out[SPF_RECORD_MAX + 256], why[128];

	if (n > SPF_RECORD_MAX + 1)
		n = SPF_RECORD_MAX + 1;
	memcpy(text, p, n);
	text[n] = '\0';
	for (int family = AF_INET; family <= AF_INET6; family += AF_INET6 - AF_INET)
		if (spf_record_prepare(text, family, out, sizeof(out), why, sizeof(why)) == 0 &&
		    (memchr(out, '\0', sizeof(out)) == NULL || !spf_is_record(out)))
			abort();
	if (spf_explanation_prepare(text, out, sizeof(out)) == 0 &&
	    memchr(out, '\0', sizeof(out)) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *line[LINES_MAX];
	size_t len[LINES_MAX], n = 0;
	struct zone z = {0};
	char sender[128], local[65];
	struct spf_verdict v;
	unsigned mode;

	if (size < 1)
		return 0;
	mode = data[0];
	for (const uint8_t *p = data + 1, *end = data + size; p <= end && n < LINES_MAX;) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));

		line[n] = p;
		len[n] = nl ? (size_t)(nl - p) : (size_t)(end - p);
		n++;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	for (size_t i = 0; i < n; i++)
		check_prepare(line[i], len[i]);

	snprintf(local, sizeof(local), "%.*s", (int)(n > 0 && len[0] < 64 ? len[0] : 0),
	         n > 0 ? (const char *)line[0] : "");
	if (strlen(local) != (n > 0 && len[0] < 64 ? len[0] : 0) || strchr(local, '@'))
		local[0] = '\0'; /* a NUL or an @ inside: the sender is a plain one */
	snprintf(sender, sizeof(sender), "%s@fz.example", local[0] ? local : "user");
	if (n > 1)
		add_raw_txt(&z, "fz.example", line[1], len[1]);
	if (n > 2)
		add_raw_txt(&z, "exp.fz.example", line[2], len[2]);
	for (size_t i = 3; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "i%zu.fz.example", i - 2);
		add_raw_txt(&z, name, line[i], len[i]);
	}
	zone_add_text(&z, "a.fz.example", ns_t_a, "192.0.2.1");
	zone_add_text(&z, "a.fz.example", ns_t_aaaa, "2001:db8::1");
	zone_add_text(&z, "mx.fz.example", ns_t_mx, "10 a.fz.example");
	zone_add_text(&z, "1.2.0.192.in-addr.arpa", ns_t_ptr, "a.fz.example");
	zone_add_text(&z,
	              "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	              ns_t_ptr, "a.fz.example");

	struct spf_query q = {.client_ip = mode & 1 ? "2001:db8::1" : "192.0.2.1",
	                      .helo = "fz.example",
	                      .sender = mode & 2 ? NULL : sender,
	                      .receiver = "mx.example.org"};

	spf_evaluate(zone_lookup, &z, &q, &v);
	if ((unsigned)v.result > SPF_RES_PERMERROR ||
	    memchr(v.explanation, '\0', sizeof(v.explanation)) == NULL)
		abort();
	zone_free(&z);
	return 0;
}
