/*
 * NAME
 *	test_milter - a libmilter milter for the test suite (built by make check)
 * SYNOPSIS
 *	test_milter -p inet:PORT@127.0.0.1
 * DESCRIPTION
 *	Does what the message asks in a header "X-Milter-Action: WORD ...",
 *	at the end of the message, so tests drive every milter reply and every
 *	modification through a real libmilter:
 *
 *	addheader=NAME:VALUE, insheader=NAME:VALUE (at index 0),
 *	chgheader=NAME:VALUE (its first field), delheader=NAME,
 *	chgfrom=ADDR[+ARGS] (ARGS with "+" for spaces), addrcpt=ADDR,
 *	addrcpt_par=ADDR+ARGS, delrcpt=ADDR, replbody=TEXT (the body becomes
 *	TEXT, "+" for spaces, and CRLF, sent in two calls), quarantine=REASON, progress (three
 *	times, each after 900 ms), inject (a header value whose line break
 *	does not fold), sleep=MS, report (adds a header
 *	X-Milter-Seen: with what the milter saw: macros j, i, {client_addr},
 *	{client_port} and {daemon_addr} (asked for with SETSYMLIST at
 *	CONNECT), {mail_addr},
 *	the sender and its ESMTP arguments, the recipients, the header count
 *	and body octets; and a header X-Milter-Session: with the macros of the
 *	last HELO, {tls_version} {cipher} {cipher_bits}, and of MAIL,
 *	{auth_type} {auth_authen}, "-" for one not sent), and
 *	a final reply: accept, reject, tempfail, discard, replycode (550 5.7.1
 *	"test milter says no"), mlreply (a three-line 550). skip makes the body
 *	callback answer SKIP after the first chunk.
 *
 *	A sender starting with "milter-reject@" is rejected at MAIL; a
 *	recipient starting with "milter-tempfail@" is tempfailed at RCPT. The
 *	milter asks for no replies to header fields (NR_HDR) and offers SKIP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

struct priv {
	char actions[1024];
	char from[256];
	char mail_args[256];
	char rcpts[1024];
	char client_port[32];
	char daemon_addr[64];
	char helo_macros[256]; /* of the last HELO */
	char auth_macros[256]; /* of MAIL */
	unsigned headers;
	size_t body;
	int skip;
};

static struct priv *
priv_of(SMFICTX *ctx)
{
	struct priv *p = smfi_getpriv(ctx);

	if (p == NULL) {
		p = calloc(1, sizeof(*p));
		smfi_setpriv(ctx, p);
	}
	return p;
}

static void
reset(struct priv *p)
{
	p->actions[0] = p->from[0] = p->rcpts[0] = p->mail_args[0] = '\0';
	p->headers = 0;
	p->body = 0;
	p->skip = 0;
}

static sfsistat
tm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
             unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	*pf0 = f0;
	*pf1 = (f1 & (SMFIP_SKIP | SMFIP_NR_HDR));
	*pf2 = 0;
	*pf3 = 0;
	smfi_setsymlist(ctx, SMFIM_CONNECT, "j {client_addr} {client_port} {daemon_addr}");
	return SMFIS_CONTINUE;
}

static sfsistat
tm_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct priv *p = priv_of(ctx);
	const char *port = smfi_getsymval(ctx, "{client_port}");
	const char *daemon = smfi_getsymval(ctx, "{daemon_addr}");

	snprintf(p->client_port, sizeof(p->client_port), "%s", port ? port : "-");
	snprintf(p->daemon_addr, sizeof(p->daemon_addr), "%s", daemon ? daemon : "-");
	/* One line per connection: tests count them. */
	fprintf(stderr, "test_milter: connect %s\n", host);
	return SMFIS_CONTINUE;
}

/* "name=value ..." of the macros names, as the milter got them at this stage. */
static void
macros_seen(SMFICTX *ctx, const char *const *names, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (; *names && n < size; names++) {
		const char *v = smfi_getsymval(ctx, (char *)*names);

		n += (size_t)snprintf(out + n, size - n, "%s%.*s=%s", n ? " " : "",
		                      (int)strlen(*names) - 2, *names + 1, v ? v : "-");
	}
}

static sfsistat
tm_helo(SMFICTX *ctx, char *helo)
{
	static const char *const names[] = {"{tls_version}", "{cipher}", "{cipher_bits}", NULL};
	struct priv *p = priv_of(ctx);

	macros_seen(ctx, names, p->helo_macros, sizeof(p->helo_macros));
	return SMFIS_CONTINUE;
}

static sfsistat
tm_envfrom(SMFICTX *ctx, char **argv)
{
	static const char *const names[] = {"{auth_type}", "{auth_authen}", NULL};
	struct priv *p = priv_of(ctx);

	reset(p);
	macros_seen(ctx, names, p->auth_macros, sizeof(p->auth_macros));
	snprintf(p->from, sizeof(p->from), "%s", argv[0]);
	for (char **a = argv + 1; *a; a++) {
		size_t n = strlen(p->mail_args);

		snprintf(p->mail_args + n, sizeof(p->mail_args) - n, "%s%s", n ? "," : "", *a);
	}
	if (strncasecmp(argv[0], "<milter-reject@", 15) == 0)
		return SMFIS_REJECT;
	return SMFIS_CONTINUE;
}

static sfsistat
tm_envrcpt(SMFICTX *ctx, char **argv)
{
	struct priv *p = priv_of(ctx);

	if (strncasecmp(argv[0], "<milter-tempfail@", 17) == 0)
		return SMFIS_TEMPFAIL;
	size_t n = strlen(p->rcpts);

	snprintf(p->rcpts + n, sizeof(p->rcpts) - n, "%s%s", n ? "," : "", argv[0]);
	return SMFIS_CONTINUE;
}

static sfsistat
tm_header(SMFICTX *ctx, char *name, char *value)
{
	struct priv *p = priv_of(ctx);

	p->headers++;
	if (strcasecmp(name, "X-Milter-Action") == 0)
		snprintf(p->actions, sizeof(p->actions), "%s", value);
	/* NR_HDR was negotiated: header fields get no reply. */
	return SMFIS_NOREPLY;
}

static sfsistat
tm_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	struct priv *p = priv_of(ctx);

	p->body += len;
	if (strstr(p->actions, "skip") != NULL) {
		p->skip++;
		return SMFIS_SKIP;
	}
	return SMFIS_CONTINUE;
}

/* "NAME:VALUE" split at the colon; "+" in VALUE stands for a space. */
static char *
split(char *w)
{
	char *colon = strchr(w, ':');

	if (colon == NULL)
		return NULL;
	*colon = '\0';
	for (char *c = colon + 1; *c; c++)
		if (*c == '+')
			*c = ' ';
	return colon + 1;
}

static sfsistat
tm_eom(SMFICTX *ctx)
{
	struct priv *p = priv_of(ctx);
	char actions[1024], *save = NULL;
	sfsistat rc = SMFIS_CONTINUE;

	snprintf(actions, sizeof(actions), "%s", p->actions);
	for (char *w = strtok_r(actions, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		char *v;

		if (strncmp(w, "addheader=", 10) == 0 && (v = split(w + 10)))
			smfi_addheader(ctx, w + 10, v);
		else if (strncmp(w, "insheader=", 10) == 0 && (v = split(w + 10)))
			smfi_insheader(ctx, 0, w + 10, v);
		else if (strncmp(w, "chgheader=", 10) == 0 && (v = split(w + 10)))
			smfi_chgheader(ctx, w + 10, 1, v);
		else if (strncmp(w, "delheader=", 10) == 0)
			smfi_chgheader(ctx, w + 10, 1, NULL);
		else if (strncmp(w, "chgfrom=", 8) == 0) {
			char *args = strchr(w + 8, '+');

			if (args != NULL) {
				*args++ = '\0';
				for (char *c = args; *c; c++)
					if (*c == '+')
						*c = ' ';
			}
			smfi_chgfrom(ctx, w + 8, args);
		} else if (strncmp(w, "addrcpt=", 8) == 0)
			smfi_addrcpt(ctx, w + 8);
		else if (strncmp(w, "addrcpt_par=", 12) == 0) {
			char *args = strchr(w + 12, '+');

			if (args != NULL)
				*args++ = '\0';
			smfi_addrcpt_par(ctx, w + 12, args);
		} else if (strncmp(w, "delrcpt=", 8) == 0)
			smfi_delrcpt(ctx, w + 8);
		else if (strncmp(w, "replbody=", 9) == 0) {
			for (char *c = w + 9; *c; c++)
				if (*c == '+')
					*c = ' ';
			smfi_replacebody(ctx, (unsigned char *)w + 9, (int)strlen(w + 9));
			smfi_replacebody(ctx, (unsigned char *)"\r\n", 2);
		} else if (strncmp(w, "quarantine=", 11) == 0)
			smfi_quarantine(ctx, w + 11);
		else if (strcmp(w, "progress") == 0) {
			/* 2.7 s in all, each pause shorter than the tests' 2 s eom timeout. */
			for (int i = 0; i < 3; i++) {
				usleep(900000);
				smfi_progress(ctx);
			}
		} else if (strcmp(w, "inject") == 0) {
			/* A line break that does not fold: a field smuggled in. */
			smfi_addheader(ctx, "X-Inject", "a\nBcc: evil@example.org");
		} else if (strncmp(w, "sleep=", 6) == 0)
			usleep((useconds_t)atoi(w + 6) * 1000);
		else if (strcmp(w, "report") == 0) {
			char seen[2048];
			const char *j = smfi_getsymval(ctx, "j"), *i = smfi_getsymval(ctx, "i");
			const char *ca = smfi_getsymval(ctx, "{client_addr}");
			const char *ma = smfi_getsymval(ctx, "{mail_addr}");

			snprintf(seen, sizeof(seen),
			         "j=%s i=%s client_addr=%s client_port=%s daemon_addr=%s "
			         "mail_addr=%s from=%s "
			         "rcpts=%s headers=%u body=%zu skipped=%d mail_args=%s",
			         j ? j : "-", i ? "yes" : "-", ca ? ca : "-", p->client_port,
			         p->daemon_addr, ma ? ma : "-", p->from, p->rcpts, p->headers,
			         p->body, p->skip, p->mail_args[0] ? p->mail_args : "-");
			smfi_addheader(ctx, "X-Milter-Seen", seen);
			snprintf(seen, sizeof(seen), "%s %s",
			         p->helo_macros[0] ? p->helo_macros : "no-helo", p->auth_macros);
			smfi_addheader(ctx, "X-Milter-Session", seen);
		} else if (strcmp(w, "accept") == 0)
			rc = SMFIS_ACCEPT;
		else if (strcmp(w, "reject") == 0)
			rc = SMFIS_REJECT;
		else if (strcmp(w, "tempfail") == 0)
			rc = SMFIS_TEMPFAIL;
		else if (strcmp(w, "discard") == 0)
			rc = SMFIS_DISCARD;
		else if (strcmp(w, "replycode") == 0) {
			smfi_setreply(ctx, "550", "5.7.1", "test milter says no");
			rc = SMFIS_REJECT;
		} else if (strcmp(w, "mlreply") == 0) {
			smfi_setmlreply(ctx, "550", "5.7.1", "first line", "second line",
			                "third line", NULL);
			rc = SMFIS_REJECT;
		}
	}
	reset(p);
	return rc;
}

static sfsistat
tm_abort(SMFICTX *ctx)
{
	reset(priv_of(ctx));
	return SMFIS_CONTINUE;
}

static sfsistat
tm_close(SMFICTX *ctx)
{
	free(smfi_getpriv(ctx));
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

int
main(int argc, char **argv)
{
	struct smfiDesc desc = {
	        .xxfi_name = "postern-test-milter",
	        .xxfi_version = SMFI_VERSION,
	        .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT |
	                      SMFIF_ADDRCPT_PAR | SMFIF_DELRCPT | SMFIF_QUARANTINE | SMFIF_CHGFROM |
	                      SMFIF_SETSYMLIST,
	        .xxfi_connect = tm_connect,
	        .xxfi_helo = tm_helo,
	        .xxfi_envfrom = tm_envfrom,
	        .xxfi_envrcpt = tm_envrcpt,
	        .xxfi_header = tm_header,
	        .xxfi_body = tm_body,
	        .xxfi_eom = tm_eom,
	        .xxfi_abort = tm_abort,
	        .xxfi_close = tm_close,
	        .xxfi_negotiate = tm_negotiate,
	};

	if (argc != 3 || strcmp(argv[1], "-p") != 0) {
		fprintf(stderr, "usage: test_milter -p SOCKET\n");
		return 2;
	}
	if (smfi_setconn(argv[2]) == MI_FAILURE || smfi_register(desc) == MI_FAILURE) {
		fprintf(stderr, "test_milter: cannot set up %s\n", argv[2]);
		return 1;
	}
	smfi_settimeout(30);
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
