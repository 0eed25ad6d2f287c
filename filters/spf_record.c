/*
 * NAME
 *	spf_record - SPF records and explanations checked before libspf2 sees them
 * SYNOPSIS
 *	See spf_record.h.
 * DESCRIPTION
 *	RFC 7208 section 12's ABNF read one term at a time, each rule a
 *	function; pure functions over strings, no allocation.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filters/dns.h"
#include "filters/spf_record.h"

#define MACRO_DIGITS_MAX 3 /* "transformers = *DIGIT": 128 is plenty (section 7.3) */

struct span {
	const char *p;
	size_t n;
};

int
spf_is_record(const char *text)
{
	return strncasecmp(text, "v=spf1", 6) == 0 && (text[6] == ' ' || text[6] == '\0');
}

static int
is_alnum(char c)
{
	return isascii((unsigned char)c) && isalnum((unsigned char)c);
}

/*
 * macro-expand at s (which is '%'): its length, or 0 when invalid. exp
 * allows the letters c, r and t, which only explanations may use.
 */
static size_t
macro_expand(const char *s, size_t n, int exp)
{
	const char *letters = exp ? "slodiphvcrt" : "slodiphv";
	size_t i, digits = 0;

	if (n >= 2 && (s[1] == '%' || s[1] == '_' || s[1] == '-'))
		return 2;
	if (n < 4 || s[1] != '{' || s[2] == '\0' ||
	    strchr(letters, tolower((unsigned char)s[2])) == NULL)
		return 0;
	for (i = 3; i < n && isdigit((unsigned char)s[i]); i++)
		if (++digits > MACRO_DIGITS_MAX)
			return 0;
	/* "%{l0}" would keep no part at all (section 7.3: digits is at least one). */
	if (digits > 0 && strspn(s + 3, "0") >= digits)
		return 0;
	if (i < n && (s[i] == 'r' || s[i] == 'R'))
		i++;
	while (i < n && strchr(".-+,/_=", s[i]) != NULL && s[i] != '\0')
		i++;
	return i < n && s[i] == '}' ? i + 1 : 0;
}

/* macro-string over all of s: 0 when valid. exp: an explanation (spaces allowed). */
static int
macro_string(const char *s, size_t n, int exp)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			size_t m = macro_expand(s + i, n - i, exp);

			if (m == 0)
				return -1;
			i += m;
		} else if ((c >= 0x21 && c <= 0x7e) || (exp && c == ' ')) {
			i++;
		} else {
			return -1;
		}
	}
	return 0;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static int
toplabel(const char *s, size_t n)
{
	int alpha = 0;

	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-')
			alpha = 1; /* the second form: a hyphen inside makes it a name */
		else if (!is_alnum(s[i]))
			return 0;
		else if (isalpha((unsigned char)s[i]))
			alpha = 1;
	}
	return alpha;
}

/* domain-spec = macro-string domain-end; domain-end = "." toplabel ["."] / macro-expand */
static int
domain_spec(const char *s, size_t n)
{
	size_t last = n; /* where the last macro-expand starts, n: none yet */

	if (n == 0 || macro_string(s, n, 0) < 0)
		return -1;
	for (size_t i = 0; i < n;) {
		size_t m = s[i] == '%' ? macro_expand(s + i, n - i, 0) : 1;

		if (m == 0)
			return -1;
		last = s[i] == '%' ? i : n;
		i += m;
	}
	if (last < n)
		return 0; /* ends in a macro-expand */
	if (n >= 2 && s[n - 1] == '.' && s[n - 2] != '.')
		n--;
	const char *dot = NULL;

	for (size_t i = n; i-- > 0;)
		if (s[i] == '.') {
			dot = s + i;
			break;
		}
	if (dot == NULL || !toplabel(dot + 1, (size_t)(s + n - dot - 1)))
		return -1;
	return 0;
}

/* "/N" with N from 0 to max, 1 to 3 digits without a leading zero (but "0"). */
static size_t
cidr(const char *s, size_t n, unsigned max)
{
	size_t i = 1;
	unsigned v = 0;

	if (n < 2 || s[0] != '/' || !isdigit((unsigned char)s[1]))
		return 0;
	if (s[1] == '0' && n > 2 && isdigit((unsigned char)s[2]))
		return 0;
	for (; i < n && i <= 3 && isdigit((unsigned char)s[i]); i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (i < n && isdigit((unsigned char)s[i]))
		return 0;
	return v <= max ? i : 0;
}

/* The length of a trailing "/" 1*3DIGIT of s, or 0. */
static size_t
trailing_cidr(const char *s, size_t n, unsigned max)
{
	size_t i = n;

	while (i > 0 && n - i < 4 && isdigit((unsigned char)s[i - 1]))
		i--;
	if (i == n || i == 0 || s[i - 1] != '/')
		return 0;
	return cidr(s + i - 1, n - i + 1, max) == n - i + 1 ? n - i + 1 : 0;
}

/*
 * [ ":" domain-spec ] [ ip4-cidr ] [ "/" ip6-cidr ] after "a" or "mx". The
 * CIDRs are read from the end: a domain-spec never ends in "/digits", but
 * may hold a '/' as a macro delimiter.
 */
static int
domain_and_cidrs(const char *s, size_t n)
{
	size_t c6 = trailing_cidr(s, n, 128), c4;

	if (c6 > 0 && n > c6 && s[n - c6 - 1] == '/')
		n -= c6 + 1; /* "//N" */
	c4 = trailing_cidr(s, n, 32);
	if (c4 > 0 && (n == c4 || s[n - c4 - 1] != '/'))
		n -= c4; /* "/N" */
	if (n == 0)
		return 0;
	if (s[0] != ':')
		return -1;
	return domain_spec(s + 1, n - 1);
}

/* qnum "." qnum "." qnum "." qnum, no leading zeros */
static int
ip4_network(const char *s, size_t n)
{
	char buf[16];
	struct in_addr a;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '0' && (i == 0 || buf[i - 1] == '.') && i + 1 < n &&
		    isdigit((unsigned char)buf[i + 1]))
			return -1;
	return inet_pton(AF_INET, buf, &a) == 1 ? 0 : -1;
}

static int
ip6_network(const char *s, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1 ? 0 : -1;
}

/* ip4:NET[/N] or ip6:NET[/N] (s is after "ip4" or "ip6"). */
static int
ip_term(const char *s, size_t n, int six)
{
	size_t slash = n;

	if (n < 2 || s[0] != ':')
		return -1;
	for (size_t i = 1; i < n; i++)
		if (s[i] == '/') {
			slash = i;
			break;
		}
	if ((six ? ip6_network : ip4_network)(s + 1, slash - 1) < 0)
		return -1;
	if (slash == n)
		return 0;
	return cidr(s + slash, n - slash, six ? 128 : 32) == n - slash ? 0 : -1;
}

/* TERM_HOSTS: a and mx, whose CIDR lengths rewrite_cidr0() may write otherwise. */
enum term_kind { TERM_MECH, TERM_ALL, TERM_REDIRECT, TERM_EXP, TERM_OTHER_MOD, TERM_HOSTS };

/* One term: its kind, or -1 when it is not valid. */
static int
term(const char *s, size_t n, char *why, size_t whylen)
{
	static const struct {
		const char *name;
		int kind; /* 0 bare, 1 ":domain-spec" required, 2 optional, 3 a/mx, 4 ip4, 6 ip6 */
	} mechs[] = {{"all", 0}, {"include", 1}, {"exists", 1}, {"ptr", 2},
	             {"a", 3},   {"mx", 3},      {"ip4", 4},    {"ip6", 6}};
	const char *eq = memchr(s, '=', n);
	const char *colon = memchr(s, ':', n);
	const char *slash = memchr(s, '/', n);
	size_t name_len = 0;

	/* A modifier: name "=" macro-string, the name before any ':' or '/'. */
	if (eq != NULL && (colon == NULL || eq < colon) && (slash == NULL || eq < slash)) {
		name_len = (size_t)(eq - s);
		if (name_len == 0 || !isalpha((unsigned char)s[0]))
			goto bad;
		for (size_t i = 1; i < name_len; i++)
			if (!is_alnum(s[i]) && strchr("-_.", s[i]) == NULL)
				goto bad;
		if (name_len == 8 && strncasecmp(s, "redirect", 8) == 0)
			return domain_spec(eq + 1, n - name_len - 1) == 0 ? TERM_REDIRECT : -1;
		if (name_len == 3 && strncasecmp(s, "exp", 3) == 0)
			return domain_spec(eq + 1, n - name_len - 1) == 0 ? TERM_EXP : -1;
		return macro_string(eq + 1, n - name_len - 1, 0) == 0 ? TERM_OTHER_MOD : -1;
	}
	if (n > 0 && strchr("+-~?", s[0]) != NULL) {
		s++;
		n--;
	}
	for (size_t m = 0; m < sizeof(mechs) / sizeof(mechs[0]); m++) {
		size_t len = strlen(mechs[m].name);

		if (n < len || strncasecmp(s, mechs[m].name, len) != 0 ||
		    (n > len && s[len] != ':' && s[len] != '/'))
			continue;
		const char *rest = s + len;
		size_t rn = n - len;

		switch (mechs[m].kind) {
		case 0:
			return rn == 0 ? TERM_ALL : -1;
		case 1:
			return rn > 1 && rest[0] == ':' && domain_spec(rest + 1, rn - 1) == 0
			               ? TERM_MECH
			               : -1;
		case 2:
			return rn == 0 || (rest[0] == ':' && domain_spec(rest + 1, rn - 1) == 0)
			               ? TERM_MECH
			               : -1;
		case 3:
			return domain_and_cidrs(rest, rn) == 0 ? TERM_HOSTS : -1;
		default:
			return ip_term(rest, rn, mechs[m].kind == 6) == 0 ? TERM_MECH : -1;
		}
	}
bad:
	snprintf(why, whylen, "unknown term \"%.*s\"", (int)(n > 60 ? 60 : n), s);
	return -1;
}

static int
append(char *out, size_t size, size_t *o, const char *s, size_t n)
{
	if (*o + n + 2 > size)
		return -1;
	out[(*o)++] = ' ';
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
	return 0;
}

/*
 * libspf2 refuses CIDR length 0, which RFC 7208 allows (section 5.6):
 * write such a term so that it means the same for this client. A network
 * /0 is two /1 halves. For a and mx only the client's family's length
 * applies; when that is 0, the domain gets the label SPF_ANY_LABEL, which
 * tells our DNS layer (spf_eval.c) to answer the client's own address when
 * the name has any address of that family. Returns the length written to
 * buf, or 0 when the term stays as it is.
 */
static size_t
rewrite_cidr0(const char *t, size_t n, int kind, int family, char *buf, size_t size)
{
	const char *q = strchr("+-~?", t[0]) != NULL ? t : NULL;
	const char *m = q ? t + 1 : t;
	size_t mn = n - (size_t)(m - t);
	int len;

	if (kind == TERM_MECH && mn > 5 &&
	    (strncasecmp(m, "ip4:", 4) == 0 || strncasecmp(m, "ip6:", 4) == 0) &&
	    m[mn - 2] == '/' && m[mn - 1] == '0') {
		int six = m[2] == '6';

		len = snprintf(buf, size,
		               six ? "%.*sip6:::/1 %.*sip6:8000::/1"
		                   : "%.*sip4:0.0.0.0/1 %.*sip4:128.0.0.0/1",
		               q ? 1 : 0, t, q ? 1 : 0, t);
		return len > 0 && (size_t)len < size ? (size_t)len : 0;
	}
	if (kind != TERM_HOSTS)
		return 0;
	size_t name = (mn >= 2 && strncasecmp(m, "mx", 2) == 0) ? 2 : 1, end = mn;
	size_t c6 = trailing_cidr(m, end, 128), c4;
	long v4 = -1, v6 = -1;

	if (c6 > 0 && end > c6 && m[end - c6 - 1] == '/') {
		v6 = strtol(m + end - c6 + 1, NULL, 10);
		end -= c6 + 1;
	}
	c4 = trailing_cidr(m, end, 32);
	if (c4 > 0 && (end == c4 || m[end - c4 - 1] != '/')) {
		v4 = strtol(m + end - c4 + 1, NULL, 10);
		end -= c4;
	}
	long mine = family == AF_INET6 ? v6 : v4, other = family == AF_INET6 ? v4 : v6;
	const char *dom = end > name ? m + name + 1 : "%{d}";
	int dlen = end > name ? (int)(end - name - 1) : 4;

	if (dlen > 1 && dom[dlen - 1] == '.')
		dlen--;

	if (mine == 0)
		len = snprintf(buf, size, "%.*s%.*s:%.*s." SPF_ANY_LABEL, q ? 1 : 0, t, (int)name,
		               m, dlen, dom);
	else if (other == 0 && mine > 0)
		len = snprintf(buf, size, "%.*s%.*s%s%.*s%s%ld", q ? 1 : 0, t, (int)name, m,
		               end > name ? ":" : "", end > name ? dlen : 0, dom,
		               family == AF_INET6 ? "//" : "/", mine);
	else if (other == 0)
		len = snprintf(buf, size, "%.*s%.*s%s%.*s", q ? 1 : 0, t, (int)name, m,
		               end > name ? ":" : "", end > name ? dlen : 0, dom);
	else
		return 0;
	return len > 0 && (size_t)len < size ? (size_t)len : 0;
}

int
spf_record_prepare(const char *text, int family, char *out, size_t size, char *why, size_t whylen)
{
	struct span redirect = {NULL, 0}, t;
	size_t len = strlen(text), o;
	int has_all = 0, has_exp = 0;
	char rewritten[600];

	why[0] = '\0';
	if (!spf_is_record(text)) {
		snprintf(why, whylen, "not an SPF record");
		return -1;
	}
	if (len > SPF_RECORD_MAX || size < 7) {
		snprintf(why, whylen, "record longer than %d octets", SPF_RECORD_MAX);
		return -1;
	}
	memcpy(out, "v=spf1", 7);
	o = 6;
	for (const char *p = text + 6; *p != '\0';) {
		if (*p == ' ') {
			p++;
			continue;
		}
		t.p = p;
		t.n = strcspn(p, " ");
		p += t.n;
		if (t.n > SPF_TERM_MAX) {
			snprintf(why, whylen, "a term longer than %d octets", SPF_TERM_MAX);
			return -1;
		}
		int kind = term(t.p, t.n, why, whylen);

		if (kind < 0) {
			if (why[0] == '\0')
				snprintf(why, whylen, "bad term \"%.*s\"",
				         (int)(t.n > 60 ? 60 : t.n), t.p);
			return -1;
		}
		if (kind == TERM_REDIRECT) {
			if (redirect.p != NULL) {
				snprintf(why, whylen, "redirect= more than once");
				return -1;
			}
			redirect = t;
			continue;
		}
		if (kind == TERM_EXP && has_exp++) {
			snprintf(why, whylen, "exp= more than once");
			return -1;
		}
		/* Section 6: unknown modifiers are ignored; libspf2 need not read them. */
		if (kind == TERM_OTHER_MOD)
			continue;
		has_all |= kind == TERM_ALL;
		size_t rn = rewrite_cidr0(t.p, t.n, kind, family, rewritten, sizeof(rewritten));

		if (append(out, size, &o, rn ? rewritten : t.p, rn ? rn : t.n) < 0)
			goto too_long;
	}
	if (redirect.p != NULL && !has_all && append(out, size, &o, redirect.p, redirect.n) < 0)
		goto too_long;
	return 0;
too_long:
	snprintf(why, whylen, "record too long");
	return -1;
}

int
spf_explanation_prepare(const char *text, char *out, size_t size)
{
	size_t n = strlen(text), o = 0;

	if (n > SPF_RECORD_MAX || macro_string(text, n, 1) < 0)
		return -1;
	/* libspf2 compiles each space-free piece alone (spf_eval.c): the same bound. */
	for (const char *p = text; *p != '\0';) {
		size_t word = strcspn(p, " ");

		if (word > SPF_TERM_MAX)
			return -1;
		p += word;
		p += strspn(p, " ");
	}
	for (size_t i = 0; i < n; i++) {
		const char *put = NULL;
		size_t m = 1;

		if (text[i] == '%' && (text[i + 1] == '_' || text[i + 1] == '-')) {
			put = text[i + 1] == '_' ? " " : "%%20";
			i++;
		} else if (text[i] == '%' && text[i + 1] == '%') {
			put = "%%";
			i++;
		}
		if (put != NULL)
			m = strlen(put);
		if (o + m + 1 > size)
			return -1;
		memcpy(out + o, put ? put : text + i, m);
		o += m;
	}
	out[o] = '\0';
	return 0;
}

int
spf_domain_ok(const char *domain)
{
	const char *last;
	size_t n = strlen(domain);

	if (!dns_name_ok(domain) || strchr(domain, '.') == NULL || strpbrk(domain, "[]") != NULL)
		return 0;
	if (domain[n - 1] == '.')
		n--;
	for (last = domain + n; last > domain && last[-1] != '.'; last--)
		;
	/* An address ("192.0.2.1") is no domain: its last label is all digits. */
	return last > domain && strspn(last, "0123456789") < (size_t)(domain + n - last);
}
