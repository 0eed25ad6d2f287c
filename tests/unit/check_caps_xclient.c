/*
 * Unit tests for proxy/caps.c (the backend's EHLO reply as Postfix, Exim,
 * smtp-sink and Exchange send it; postern's own EHLO reply) and
 * proxy/xclient.c (XCLIENT/XFORWARD lines, xtext, the 512-octet limit).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "proxy/caps.h"
#include "proxy/xclient.h"
#include "tests/unit/unit.h"

#define XCLIENT_ALL                                                                      \
	(XATTR_NAME | XATTR_ADDR | XATTR_PORT | XATTR_PROTO | XATTR_HELO | XATTR_LOGIN | \
	 XATTR_DESTADDR | XATTR_DESTPORT)

/* Everything in b as a string; b is left empty. */
static char *
take(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(evbuffer_remove(b, s, n), (int)n);
	s[n] = '\0';
	return s;
}

/* The keyword lines of an EHLO reply, as the backend reader passes them. */
static struct smtp_caps
parse_all(const char *const *lines)
{
	struct smtp_caps caps = {0};

	for (; *lines != NULL; lines++)
		caps_parse_line(&caps, *lines, strlen(*lines));
	return caps;
}

static struct smtp_caps
parse_one(const char *line)
{
	const char *lines[] = {line, NULL};

	return parse_all(lines);
}

START_TEST(test_parse_postfix)
{
	static const char *const lines[] = {
	        "PIPELINING",
	        "SIZE 10240000",
	        "VRFY",
	        "ETRN",
	        "STARTTLS",
	        "AUTH PLAIN LOGIN",
	        "AUTH=PLAIN LOGIN",
	        "ENHANCEDSTATUSCODES",
	        "8BITMIME",
	        "DSN",
	        "SMTPUTF8",
	        "CHUNKING",
	        "XCLIENT NAME ADDR PORT PROTO HELO REVERSE_NAME LOGIN DESTADDR DESTPORT",
	        "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT",
	        NULL,
	};
	struct smtp_caps caps = parse_all(lines);

	ck_assert_uint_eq(caps.flags, CAP_PIPELINING | CAP_SIZE | CAP_STARTTLS | CAP_AUTH |
	                                      CAP_ENHANCEDSTATUSCODES | CAP_8BITMIME | CAP_DSN |
	                                      CAP_SMTPUTF8 | CAP_CHUNKING | CAP_XCLIENT |
	                                      CAP_XFORWARD);
	ck_assert_uint_eq(caps.size, 10240000);
	ck_assert_uint_eq(caps.xclient_attrs, XCLIENT_ALL | XATTR_REVERSE_NAME);
	ck_assert_uint_eq(caps.xforward_attrs, XATTR_NAME | XATTR_ADDR | XATTR_PROTO | XATTR_HELO |
	                                               XATTR_SOURCE | XATTR_PORT | XATTR_IDENT);
}
END_TEST

START_TEST(test_parse_exim)
{
	static const char *const lines[] = {
	        "SIZE 52428800",  "8BITMIME", "PIPELINING", "PIPE_CONNECT",
	        "X_PIPE_CONNECT", "CHUNKING", "PRDR",       "AUTH PLAIN LOGIN CRAM-MD5",
	        "STARTTLS",       "HELP",     NULL,
	};
	struct smtp_caps caps = parse_all(lines);

	ck_assert_uint_eq(caps.flags, CAP_SIZE | CAP_8BITMIME | CAP_PIPELINING | CAP_CHUNKING |
	                                      CAP_AUTH | CAP_STARTTLS);
	ck_assert_uint_eq(caps.size, 52428800);
	ck_assert_uint_eq(caps.xclient_attrs, 0);
}
END_TEST

/* What Postfix's smtp-sink announces by default (seen on the wire). */
START_TEST(test_parse_smtp_sink)
{
	static const char *const lines[] = {
	        "PIPELINING",
	        "8BITMIME",
	        "AUTH PLAIN LOGIN",
	        "XCLIENT NAME HELO",
	        "XFORWARD NAME ADDR PROTO HELO",
	        "ENHANCEDSTATUSCODES",
	        "DSN",
	        "",
	        NULL,
	};
	struct smtp_caps caps = parse_all(lines);

	ck_assert_uint_eq(caps.flags, CAP_PIPELINING | CAP_8BITMIME | CAP_AUTH | CAP_XCLIENT |
	                                      CAP_XFORWARD | CAP_ENHANCEDSTATUSCODES | CAP_DSN);
	ck_assert_uint_eq(caps.size, 0);
	ck_assert_uint_eq(caps.xclient_attrs, XATTR_NAME | XATTR_HELO);
	ck_assert_uint_eq(caps.xforward_attrs, XATTR_NAME | XATTR_ADDR | XATTR_PROTO | XATTR_HELO);
}
END_TEST

START_TEST(test_parse_exchange)
{
	static const char *const modern[] = {
	        "SIZE 37748736",
	        "PIPELINING",
	        "DSN",
	        "ENHANCEDSTATUSCODES",
	        "STARTTLS",
	        "X-ANONYMOUSTLS",
	        "AUTH NTLM",
	        "X-EXPS GSSAPI NTLM",
	        "8BITMIME",
	        "BINARYMIME",
	        "CHUNKING",
	        "XRDST",
	        NULL,
	};
	static const char *const old[] = {
	        "TURN",
	        "ATRN",
	        "SIZE",
	        "ETRN",
	        "PIPELINING",
	        "DSN",
	        "ENHANCEDSTATUSCODES",
	        "8bitmime",
	        "BINARYMIME",
	        "CHUNKING",
	        "VRFY",
	        "X-EXPS GSSAPI NTLM LOGIN",
	        "X-EXPS=LOGIN",
	        "AUTH GSSAPI NTLM LOGIN",
	        "AUTH=LOGIN",
	        "X-LINK2STATE",
	        "XEXCH50",
	        NULL,
	};
	struct smtp_caps caps = parse_all(modern);

	ck_assert_uint_eq(caps.flags, CAP_SIZE | CAP_PIPELINING | CAP_DSN |
	                                      CAP_ENHANCEDSTATUSCODES | CAP_STARTTLS | CAP_AUTH |
	                                      CAP_8BITMIME | CAP_BINARYMIME | CAP_CHUNKING);
	ck_assert_uint_eq(caps.size, 37748736);
	caps = parse_all(old);
	ck_assert_uint_eq(caps.flags, CAP_SIZE | CAP_PIPELINING | CAP_DSN |
	                                      CAP_ENHANCEDSTATUSCODES | CAP_8BITMIME |
	                                      CAP_BINARYMIME | CAP_CHUNKING | CAP_AUTH);
	ck_assert_uint_eq(caps.size, 0);
	/* Only the "AUTH=" form, as broken_sasl_auth_clients servers may send alone. */
	ck_assert_uint_eq(parse_one("AUTH=LOGIN").flags, CAP_AUTH);
}
END_TEST

START_TEST(test_parse_case)
{
	static const char *const lines[] = {
	        "pipelining",
	        "Size 2048",
	        "8bitMIME",
	        "EnhancedStatusCodes",
	        "smtputf8",
	        "dsn",
	        "chunking",
	        "starttls",
	        "auth login",
	        "xclient name Addr helo",
	        "xForward proto source",
	        NULL,
	};
	struct smtp_caps caps = parse_all(lines);

	ck_assert_uint_eq(caps.flags, CAP_PIPELINING | CAP_SIZE | CAP_8BITMIME |
	                                      CAP_ENHANCEDSTATUSCODES | CAP_SMTPUTF8 | CAP_DSN |
	                                      CAP_CHUNKING | CAP_STARTTLS | CAP_AUTH | CAP_XCLIENT |
	                                      CAP_XFORWARD);
	ck_assert_uint_eq(caps.size, 2048);
	ck_assert_uint_eq(caps.xclient_attrs, XATTR_NAME | XATTR_ADDR | XATTR_HELO);
	ck_assert_uint_eq(caps.xforward_attrs, XATTR_PROTO | XATTR_SOURCE);
}
END_TEST

START_TEST(test_parse_size)
{
	struct smtp_caps caps;

	caps = parse_one("SIZE");
	ck_assert_uint_eq(caps.flags, CAP_SIZE);
	ck_assert_uint_eq(caps.size, 0);
	caps = parse_one("SIZE 0");
	ck_assert_uint_eq(caps.flags, CAP_SIZE);
	ck_assert_uint_eq(caps.size, 0);
	ck_assert_uint_eq(parse_one("SIZE 10240000").size, 10240000);
	ck_assert_uint_eq(parse_one("SIZE  4096 ").size, 4096);
	ck_assert_uint_eq(parse_one("SIZE 18446744073709551615").size, 18446744073709551615ULL);
	/* Too big to hold: as large as it gets, never a wrapped small number. */
	ck_assert_uint_eq(parse_one("SIZE 99999999999999999999999").size, 18446744073709551615ULL);
	/* Not a number: no limit known. */
	ck_assert_uint_eq(parse_one("SIZE 12abc").size, 0);
	ck_assert_uint_eq(parse_one("SIZE 10 24").size, 0);
	ck_assert_uint_eq(parse_one("SIZE -5").size, 0);
	/* A later SIZE line replaces an earlier one. */
	static const char *const twice[] = {"SIZE 1000", "SIZE 2000", NULL};

	ck_assert_uint_eq(parse_all(twice).size, 2000);
}
END_TEST

START_TEST(test_parse_whole_words)
{
	static const char *const lines[] = {
	        "SIZEX 100", "DSNX",        "8BITMIMEX",     "XPIPELINING", "PIPELININGS",
	        "STARTTLSX", "AUTHX PLAIN", "XCLIENTX NAME", " PIPELINING", "=AUTH",
	        "",          NULL,
	};
	struct smtp_caps caps = parse_all(lines);

	ck_assert_uint_eq(caps.flags, 0);
	ck_assert_uint_eq(caps.size, 0);
	ck_assert_uint_eq(caps.xclient_attrs, 0);
	/* Only len octets count: "PIPELINING" out of "PIPELININGX". */
	caps = (struct smtp_caps){0};
	caps_parse_line(&caps, "PIPELININGX", 10);
	ck_assert_uint_eq(caps.flags, CAP_PIPELINING);
	caps = (struct smtp_caps){0};
	caps_parse_line(&caps, "SIZE 12345", 7);
	ck_assert_uint_eq(caps.size, 12);
	/* A NUL inside the line is not the end of a keyword. */
	caps = (struct smtp_caps){0};
	caps_parse_line(&caps, "DSN\0XX", 6);
	ck_assert_uint_eq(caps.flags, 0);
}
END_TEST

START_TEST(test_parse_attributes)
{
	struct smtp_caps caps;

	caps = parse_one("XCLIENT");
	ck_assert_uint_eq(caps.flags, CAP_XCLIENT);
	ck_assert_uint_eq(caps.xclient_attrs, 0);
	caps = parse_one("XCLIENT  NAME FOO  ADDR NAMEX XNAME ");
	ck_assert_uint_eq(caps.xclient_attrs, XATTR_NAME | XATTR_ADDR);
	/* Exim's experimental XCLIENT, another order. */
	caps = parse_one("XCLIENT ADDR NAME PORT LOGIN DESTADDR DESTPORT");
	ck_assert_uint_eq(caps.xclient_attrs, XATTR_ADDR | XATTR_NAME | XATTR_PORT | XATTR_LOGIN |
	                                              XATTR_DESTADDR | XATTR_DESTPORT);
	ck_assert_uint_eq(caps.xforward_attrs, 0);
	/* A second announcement replaces the first (a new EHLO after XCLIENT). */
	static const char *const twice[] = {"XFORWARD NAME ADDR", "XFORWARD HELO", NULL};

	caps = parse_all(twice);
	ck_assert_uint_eq(caps.xforward_attrs, XATTR_HELO);
	ck_assert_uint_eq(caps.xclient_attrs, 0);
}
END_TEST

/* AUTH's mechanisms, as the front EHLO will offer them. */
START_TEST(test_parse_auth)
{
	static const char *const postfix[] = {"AUTH PLAIN LOGIN", "AUTH=PLAIN LOGIN", NULL};
	static const char *const old_only[] = {"AUTH=login plain", NULL};
	static const char *const hostile[] = {
	        "AUTH PLAIN  X\x01Y CRAM-MD5 ABCDEFGHIJKLMNOPQRSTUVWXYZ "
	        "SCRAM-SHA-256",
	        NULL};
	static const char *const empty[] = {"AUTH", NULL};
	struct smtp_caps caps;

	caps = parse_all(postfix);
	ck_assert(caps.flags & CAP_AUTH);
	ck_assert_str_eq(caps.auth_mechs, "PLAIN LOGIN");
	caps = parse_all(old_only);
	ck_assert_str_eq(caps.auth_mechs, "LOGIN PLAIN");
	/* Control characters and overlong names are left out, never passed to clients. */
	caps = parse_all(hostile);
	ck_assert_str_eq(caps.auth_mechs, "PLAIN CRAM-MD5 SCRAM-SHA-256");
	caps = parse_all(empty);
	ck_assert(caps.flags & CAP_AUTH);
	ck_assert_str_eq(caps.auth_mechs, "");
}
END_TEST

/* STARTTLS and AUTH come from the session, never from the backend's keywords. */
START_TEST(test_front_starttls_auth)
{
	struct smtp_caps backend = {.flags = CAP_AUTH | CAP_STARTTLS};
	struct caps_front front = {.starttls = 1, .auth_mechs = "PLAIN LOGIN"};
	struct evbuffer *out = evbuffer_new();

	caps_front_ehlo(&backend, 0, "mx.test", &front, out);
	char *s = take(out);

	ck_assert_str_eq(s, "250-mx.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
	                    "250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 CHUNKING\r\n");
	free(s);
	front = (struct caps_front){.starttls = 0, .auth_mechs = ""};
	caps_front_ehlo(&backend, 0, "mx.test", &front, out);
	s = take(out);
	ck_assert_ptr_null(strstr(s, "STARTTLS"));
	ck_assert_ptr_null(strstr(s, "AUTH"));
	free(s);
	evbuffer_free(out);
}
END_TEST

/* Check the shape of an EHLO reply and return its keyword lines joined by "|". */
static char *
front_keywords(const struct smtp_caps *backend, unsigned long long limit)
{
	struct evbuffer *out = evbuffer_new();
	char *s, *line, *end;
	size_t nlines = 0;

	caps_front_ehlo(backend, limit, "mx.example.net", NULL, out);
	s = take(out);
	evbuffer_free(out);
	ck_assert(strncmp(s, "250-mx.example.net\r\n", 20) == 0);
	char *keywords = calloc(1, strlen(s) + 1);

	ck_assert_ptr_nonnull(keywords);
	for (line = s + 20; (end = strstr(line, "\r\n")) != NULL; line = end + 2) {
		nlines++;
		/* "250-" on every line but the last, which has "250 ". */
		ck_assert(strncmp(line, end[2] == '\0' ? "250 " : "250-", 4) == 0);
		ck_assert_ptr_null(memchr(line, '\n', (size_t)(end - line)));
		if (*keywords != '\0')
			strcat(keywords, "|");
		strncat(keywords, line + 4, (size_t)(end - line - 4));
	}
	ck_assert_str_eq(line, "");
	ck_assert_uint_ge(nlines, 3);
	free(s);
	return keywords;
}

static void
assert_front(const struct smtp_caps *backend, unsigned long long limit, const char *want)
{
	char *got = front_keywords(backend, limit);

	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(test_front_ehlo)
{
	struct smtp_caps all = {
	        .flags = ~0u, .size = 1000, .xclient_attrs = ~0u, .xforward_attrs = ~0u};
	struct smtp_caps none = {0};
	struct evbuffer *out = evbuffer_new();

	/* The whole reply, byte for byte. */
	caps_front_ehlo(&all, 5000, "mx.test", NULL, out);
	char *s = take(out);

	ck_assert_str_eq(s, "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n"
	                    "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250-DSN\r\n"
	                    "250 CHUNKING\r\n");
	free(s);
	evbuffer_free(out);
	/* Never what is postern's business with the backend. */
	char *kw = front_keywords(&all, 0);

	ck_assert_ptr_null(strstr(kw, "STARTTLS"));
	ck_assert_ptr_null(strstr(kw, "AUTH"));
	ck_assert_ptr_null(strstr(kw, "XCLIENT"));
	ck_assert_ptr_null(strstr(kw, "XFORWARD"));
	ck_assert_ptr_null(strstr(kw, "BINARYMIME"));
	free(kw);
	/* A backend with nothing: what postern does itself. */
	assert_front(&none, 0, "PIPELINING|ENHANCEDSTATUSCODES|CHUNKING");
	/* SMTPUTF8 needs 8BITMIME too. */
	struct smtp_caps utf8 = {.flags = CAP_SMTPUTF8 | CAP_DSN};

	assert_front(&utf8, 0, "PIPELINING|ENHANCEDSTATUSCODES|DSN|CHUNKING");
	utf8.flags |= CAP_8BITMIME;
	assert_front(&utf8, 0, "PIPELINING|8BITMIME|ENHANCEDSTATUSCODES|SMTPUTF8|DSN|CHUNKING");
}
END_TEST

START_TEST(test_front_size)
{
	struct smtp_caps backend = {.flags = CAP_SIZE};

	/* Both limits: the smaller. */
	backend.size = 1000;
	assert_front(&backend, 5000, "PIPELINING|SIZE 1000|ENHANCEDSTATUSCODES|CHUNKING");
	backend.size = 9000;
	assert_front(&backend, 5000, "PIPELINING|SIZE 5000|ENHANCEDSTATUSCODES|CHUNKING");
	/* One side without a limit: the other's. */
	backend.size = 0;
	assert_front(&backend, 5000, "PIPELINING|SIZE 5000|ENHANCEDSTATUSCODES|CHUNKING");
	backend.size = 1000;
	assert_front(&backend, 0, "PIPELINING|SIZE 1000|ENHANCEDSTATUSCODES|CHUNKING");
	/* Neither: no SIZE at all. */
	backend.size = 0;
	assert_front(&backend, 0, "PIPELINING|ENHANCEDSTATUSCODES|CHUNKING");
	backend.size = 18446744073709551615ULL;
	assert_front(&backend, 0,
	             "PIPELINING|SIZE 18446744073709551615|ENHANCEDSTATUSCODES|CHUNKING");
}
END_TEST

START_TEST(test_xclient_all)
{
	struct evbuffer *out = evbuffer_new();
	struct client_identity c = {.addr = "192.0.2.1",
	                            .port = 4321,
	                            .name = "mail.example.org",
	                            .helo = "client.example.org",
	                            .esmtp = 1,
	                            .dest_addr = "198.51.100.25",
	                            .dest_port = 25,
	                            .login = "alice"};
	char *s;

	ck_assert_int_eq(xclient_build(out, "XCLIENT", ~0u, &c), 1);
	s = take(out);
	ck_assert_str_eq(s, "XCLIENT NAME=mail.example.org ADDR=192.0.2.1 PORT=4321 PROTO=ESMTP "
	                    "HELO=client.example.org LOGIN=alice DESTADDR=198.51.100.25 "
	                    "DESTPORT=25\r\n");
	free(s);
	/* XFORWARD: no LOGIN or DEST*, and SOURCE=REMOTE last. */
	ck_assert_int_eq(xclient_build(out, "XFORWARD", ~0u, &c), 1);
	s = take(out);
	ck_assert_str_eq(s, "XFORWARD NAME=mail.example.org ADDR=192.0.2.1 PORT=4321 "
	                    "PROTO=ESMTP HELO=client.example.org SOURCE=REMOTE\r\n");
	free(s);
	/* Only what the backend announced. */
	ck_assert_int_eq(xclient_build(out, "XCLIENT", XATTR_NAME | XATTR_HELO, &c), 1);
	s = take(out);
	ck_assert_str_eq(s, "XCLIENT NAME=mail.example.org HELO=client.example.org\r\n");
	free(s);
	ck_assert_int_eq(xclient_build(out, "XFORWARD", XATTR_ADDR | XATTR_LOGIN, &c), 1);
	s = take(out);
	ck_assert_str_eq(s, "XFORWARD ADDR=192.0.2.1\r\n");
	free(s);
	/* Nothing in common: no line at all. */
	ck_assert_int_eq(xclient_build(out, "XCLIENT", XATTR_SOURCE | XATTR_IDENT, &c), 0);
	ck_assert_int_eq(xclient_build(out, "XCLIENT", 0, &c), 0);
	ck_assert_uint_eq(evbuffer_get_length(out), 0);
	evbuffer_free(out);
}
END_TEST

START_TEST(test_xclient_missing)
{
	struct evbuffer *out = evbuffer_new();
	struct client_identity c = {.addr = "2001:db8::1",
	                            .port = 0,
	                            .esmtp = 0,
	                            .dest_addr = "::1",
	                            .dest_port = 70000,
	                            .login = ""};
	char *s;

	ck_assert_int_eq(xclient_build(out, "XCLIENT", ~0u, &c), 1);
	s = take(out);
	ck_assert_str_eq(s, "XCLIENT NAME=[UNAVAILABLE] ADDR=IPV6:2001:db8::1 PROTO=SMTP "
	                    "DESTADDR=IPV6:::1\r\n");
	free(s);
	c.addr = NULL;
	c.name = "";
	c.helo = "";
	ck_assert_int_eq(xclient_build(out, "XFORWARD", ~0u, &c), 1);
	s = take(out);
	ck_assert_str_eq(s, "XFORWARD NAME=[UNAVAILABLE] PROTO=SMTP SOURCE=REMOTE\r\n");
	free(s);
	evbuffer_free(out);
}
END_TEST

START_TEST(test_xclient_xtext)
{
	struct evbuffer *out = evbuffer_new();
	struct client_identity c = {.addr = "192.0.2.1", .helo = "bad helo=+x\t\xe9~!", .esmtp = 1};
	char *s;

	ck_assert_int_eq(xclient_build(out, "XCLIENT", XATTR_HELO, &c), 1);
	s = take(out);
	ck_assert_str_eq(s, "XCLIENT HELO=bad+20helo+3D+2Bx+09+E9~!\r\n");
	free(s);
	xtext_encode(out, "");
	ck_assert_uint_eq(evbuffer_get_length(out), 0);
	xtext_encode(out, "[UNAVAILABLE]");
	xtext_encode(out, " ");
	s = take(out);
	ck_assert_str_eq(s, "[UNAVAILABLE]+20");
	free(s);
	/* Every octet: the result is xchars and "+XX" only, and decodes back. */
	char all[256];

	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	xtext_encode(out, all);
	s = take(out);
	size_t n = 0;

	for (const char *p = s; *p; n++) {
		unsigned char ch = (unsigned char)*p;

		ck_assert(ch >= 33 && ch <= 126 && ch != '=');
		if (ch == '+') {
			ck_assert(strchr("0123456789ABCDEF", p[1]) && p[1]);
			ck_assert(strchr("0123456789ABCDEF", p[2]) && p[2]);
			ck_assert_uint_eq(strtoul((char[]){p[1], p[2], 0}, NULL, 16),
			                  (unsigned char)all[n]);
			p += 3;
		} else {
			ck_assert_uint_eq(ch, (unsigned char)all[n]);
			p++;
		}
	}
	ck_assert_uint_eq(n, 255);
	free(s);
	evbuffer_free(out);
}
END_TEST

/* Every line ends in CRLF, starts with the verb, and fits in 512 octets; returns the count. */
static int
check_lines(const char *s, const char *verb)
{
	int lines = 0;
	const char *line, *end;

	for (line = s; (end = strstr(line, "\r\n")) != NULL; line = end + 2) {
		ck_assert_uint_le((size_t)(end - line) + 2, 512);
		ck_assert(strncmp(line, verb, strlen(verb)) == 0 && line[strlen(verb)] == ' ');
		ck_assert_ptr_null(memchr(line, '\n', (size_t)(end - line)));
		lines++;
	}
	ck_assert_str_eq(line, "");
	return lines;
}

START_TEST(test_xclient_split)
{
	struct evbuffer *out = evbuffer_new();
	char name[256], helo[256], login[201];
	struct client_identity c = {.addr = "192.0.2.1",
	                            .port = 1,
	                            .name = name,
	                            .helo = helo,
	                            .esmtp = 1,
	                            .login = login};
	char *s;

	/* NAME, ADDR, PORT, PROTO take 302 octets; HELO (480 encoded) and LOGIN follow. */
	memset(name, 'n', 255);
	name[255] = '\0';
	memset(helo, '=', 160);
	helo[160] = '\0';
	memset(login, 'l', 200);
	login[200] = '\0';
	ck_assert_int_eq(xclient_build(out, "XCLIENT", XCLIENT_ALL, &c), 3);
	s = take(out);
	ck_assert_int_eq(check_lines(s, "XCLIENT"), 3);
	/* The order holds across lines. */
	const char *want[] = {
	        "XCLIENT NAME=nnn", " ADDR=192.0.2.1",     " PORT=1",
	        " PROTO=ESMTP\r\n", "XCLIENT HELO=+3D+3D", "+3D\r\nXCLIENT LOGIN=lll"};
	const char *at = s;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *p = strstr(at, want[i]);

		ck_assert_msg(p != NULL, "%s not after %.20s", want[i], at);
		at = p + strlen(want[i]);
	}
	free(s);
	evbuffer_free(out);
}
END_TEST

START_TEST(test_xclient_limits)
{
	struct evbuffer *out = evbuffer_new();
	char helo[300];
	struct client_identity c = {.addr = "192.0.2.1", .helo = helo, .esmtp = 1};
	char *s;

	/* "XCLIENT HELO=" + 497 octets + CRLF is exactly 512: allowed, on its own line. */
	memset(helo, '=', 165);
	memcpy(helo + 165, "ab", 3);
	ck_assert_int_eq(xclient_build(out, "XCLIENT", XATTR_ADDR | XATTR_HELO, &c), 2);
	s = take(out);
	ck_assert_int_eq(check_lines(s, "XCLIENT"), 2);
	ck_assert_uint_eq(strlen(strstr(s, "\r\n") + 2), 512);
	free(s);
	/* One octet more fits on no line: left out, not cut. */
	memcpy(helo + 165, "abc", 4);
	ck_assert_int_eq(xclient_build(out, "XCLIENT", XATTR_ADDR | XATTR_HELO, &c), 1);
	s = take(out);
	ck_assert_str_eq(s, "XCLIENT ADDR=192.0.2.1\r\n");
	free(s);
	/* A HELO over 255 octets would fit, but Postfix answers 501: left out. */
	memset(helo, 'h', 256);
	helo[256] = '\0';
	ck_assert_int_eq(xclient_build(out, "XCLIENT", XATTR_HELO | XATTR_NAME, &c), 1);
	s = take(out);
	ck_assert_str_eq(s, "XCLIENT NAME=[UNAVAILABLE]\r\n");
	free(s);
	helo[255] = '\0';
	ck_assert_int_eq(xclient_build(out, "XCLIENT", XATTR_HELO, &c), 1);
	s = take(out);
	ck_assert_uint_eq(strlen(s), strlen("XCLIENT HELO=\r\n") + 255);
	free(s);
	/* Such a NAME becomes [UNAVAILABLE]. */
	c.name = helo;
	helo[255] = 'h';
	ck_assert_int_eq(xclient_build(out, "XFORWARD", XATTR_NAME, &c), 1);
	s = take(out);
	ck_assert_str_eq(s, "XFORWARD NAME=[UNAVAILABLE]\r\n");
	free(s);
	evbuffer_free(out);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("caps_xclient");
	TCase *caps = tcase_create("caps");
	TCase *xclient = tcase_create("xclient");

	tcase_add_test(caps, test_parse_postfix);
	tcase_add_test(caps, test_parse_exim);
	tcase_add_test(caps, test_parse_smtp_sink);
	tcase_add_test(caps, test_parse_exchange);
	tcase_add_test(caps, test_parse_case);
	tcase_add_test(caps, test_parse_size);
	tcase_add_test(caps, test_parse_whole_words);
	tcase_add_test(caps, test_parse_attributes);
	tcase_add_test(caps, test_front_ehlo);
	tcase_add_test(caps, test_front_size);
	tcase_add_test(caps, test_parse_auth);
	tcase_add_test(caps, test_front_starttls_auth);
	tcase_add_test(xclient, test_xclient_all);
	tcase_add_test(xclient, test_xclient_missing);
	tcase_add_test(xclient, test_xclient_xtext);
	tcase_add_test(xclient, test_xclient_split);
	tcase_add_test(xclient, test_xclient_limits);
	suite_add_tcase(s, caps);
	suite_add_tcase(s, xclient);

	return unit_run(s);
}
