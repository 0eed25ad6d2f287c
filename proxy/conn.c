/*
 * NAME
 *	conn - a non-blocking socket with input and output buffers
 * SYNOPSIS
 *	See conn.h.
 * DESCRIPTION
 *	One persistent read event and one write event, both carrying the same
 *	inactivity timeout. A request/response protocol like SMTP writes
 *	each reply in one go, so the write event is almost never registered:
 *	per exchange that is one read and one write system call, nothing else.
 *
 *	With TLS, OpenSSL reads and writes the socket itself (SSL_set_fd) and
 *	the same events drive it: SSL_read() replaces readv(), SSL_write()
 *	replaces writev(), and each call's WANT_READ or WANT_WRITE says which
 *	event to wait for. Decrypted octets OpenSSL holds beyond what one read
 *	took are not visible to the kernel's readiness, so the read event is
 *	made active again while SSL_pending() says there are some.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "common/xalloc.h"
#include "proxy/conn.h"
#include "proxy/tls.h"

#define CONN_READ_SIZE 16384
#define CONN_TLS_RECORD 16384 /* one TLS record's worth per SSL_write() */

struct conn {
	int fd;
	struct event rev, wev;
	struct evbuffer *in, *out;
	struct conn_callbacks cbs;
	void *arg;
	struct timeval timeout;
	size_t read_max; /* octets one read may take; 0: CONN_READ_SIZE */
	SSL *ssl;        /* TLS is on (or its handshake runs) */
	SSL *tls_next;   /* TLS starts once the plaintext output is sent */
	char error[256]; /* why TLS failed */
	unsigned has_timeout : 1;
	unsigned handshaking : 1;
	unsigned write_wants_read : 1; /* SSL_write() said WANT_READ */
	unsigned read_wants_write : 1; /* SSL_read() said WANT_WRITE */
	unsigned reading : 1;
	unsigned writing : 1; /* wev is registered */
	unsigned connecting : 1;
	unsigned dead : 1;
};

static void conn_readcb(evutil_socket_t fd, short what, void *arg);
static void conn_writecb(evutil_socket_t fd, short what, void *arg);
static void tls_begin(struct conn *c);
static void tls_handshake(struct conn *c);
static void tls_read(struct conn *c);
static void read_ended(struct conn *c, int what);

static const struct timeval *
timeout_of(const struct conn *c)
{
	return c->has_timeout ? &c->timeout : NULL;
}

struct conn *
conn_new(struct event_base *base, int fd, const struct conn_callbacks *cbs, void *arg)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->fd = fd;
	c->cbs = *cbs;
	c->arg = arg;
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	if (c->in == NULL || c->out == NULL)
		abort();
	event_assign(&c->rev, base, fd, EV_READ | EV_PERSIST, conn_readcb, c);
	event_assign(&c->wev, base, fd, EV_WRITE | EV_PERSIST, conn_writecb, c);
	if (fd >= 0)
		conn_read(c, 1);
	return c;
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	event_del(&c->rev);
	event_del(&c->wev);
	if (c->ssl != NULL) {
		/* close_notify, best effort: the socket is non-blocking. */
		if (!c->handshaking && !c->dead)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_free(c->tls_next);
	if (c->fd >= 0)
		close(c->fd);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	free(c);
}

struct evbuffer *
conn_input(struct conn *c)
{
	return c->in;
}

struct evbuffer *
conn_output(struct conn *c)
{
	return c->out;
}

void
conn_read(struct conn *c, int on)
{
	/* While TLS waits to start, the next octets are its handshake: not ours to read. */
	if (c->dead || c->connecting || c->fd < 0 || on == c->reading || c->tls_next != NULL)
		return;
	c->reading = on != 0;
	if (on)
		event_add(&c->rev, timeout_of(c));
	else
		event_del(&c->rev);
	if (on && c->ssl != NULL && !c->handshaking && SSL_pending(c->ssl) > 0)
		event_active(&c->rev, EV_READ, 0);
}

void
conn_set_read_max(struct conn *c, size_t n)
{
	c->read_max = n;
}

const char *
conn_error(const struct conn *c)
{
	return c->error[0] ? c->error : NULL;
}

const char *
conn_tls_version(const struct conn *c)
{
	return c->ssl != NULL && !c->handshaking ? SSL_get_version(c->ssl) : NULL;
}

const char *
conn_tls_cipher(const struct conn *c)
{
	return c->ssl != NULL && !c->handshaking ? SSL_get_cipher_name(c->ssl) : NULL;
}

int
conn_tls_cipher_bits(const struct conn *c)
{
	return c->ssl != NULL && !c->handshaking ? SSL_get_cipher_bits(c->ssl, NULL) : 0;
}

/* Why TLS failed: a certificate check, OpenSSL's error queue, or the system's. */
static void
tls_set_error(struct conn *c, int ssl_error)
{
	long verify = SSL_get_verify_result(c->ssl);

	if (verify != X509_V_OK)
		snprintf(c->error, sizeof(c->error), "certificate verification failed: %s",
		         X509_verify_cert_error_string(verify));
	else if (ERR_peek_error() == 0)
		snprintf(c->error, sizeof(c->error), "%s",
		         ssl_error == SSL_ERROR_SYSCALL && errno ? strerror(errno)
		                                                 : "connection closed during TLS");
	else
		tls_error_text(c->error, sizeof(c->error));
}

void
conn_start_tls(struct conn *c, SSL *ssl)
{
	/* Whatever came with or after the command that started TLS is not trusted. */
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	if (c->reading) {
		event_del(&c->rev);
		c->reading = 0;
	}
	c->tls_next = ssl;
	if (evbuffer_get_length(c->out) == 0)
		tls_begin(c);
	else
		conn_flush(c);
}

/* The plaintext output is out: hand the socket to OpenSSL, handshake from the loop. */
static void
tls_begin(struct conn *c)
{
	c->ssl = c->tls_next;
	c->tls_next = NULL;
	SSL_set_fd(c->ssl, c->fd);
	c->handshaking = 1;
	c->reading = 1;
	event_add(&c->rev, timeout_of(c));
	event_active(&c->rev, EV_READ, 0);
}

static void
tls_handshake(struct conn *c)
{
	errno = 0; /* SSL_ERROR_SYSCALL with errno 0 is the peer closing */
	int r = SSL_do_handshake(c->ssl);

	if (r == 1) {
		c->handshaking = 0;
		if (c->writing && evbuffer_get_length(c->out) == 0) {
			event_del(&c->wev);
			c->writing = 0;
		}
		/* Application data may have come with the handshake's last flight. */
		event_active(&c->rev, EV_READ, 0);
		c->cbs.event(c, CONN_TLS_READY, c->arg);
		return;
	}
	int e = SSL_get_error(c->ssl, r);

	if (e == SSL_ERROR_WANT_READ) {
		if (c->writing) {
			event_del(&c->wev);
			c->writing = 0;
		}
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		if (!c->writing) {
			c->writing = 1;
			event_add(&c->wev, timeout_of(c));
		}
		return;
	}
	tls_set_error(c, e);
	event_del(&c->wev);
	c->writing = 0;
	read_ended(c, CONN_ERROR);
}

/* Write some output: >0 octets written, 0 when the socket must wait, -1 on failure. */
static int
write_some(struct conn *c)
{
	if (c->ssl == NULL) {
		int n = evbuffer_write(c->out, c->fd);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		return n;
	}
	size_t len = evbuffer_get_length(c->out);

	if (len > CONN_TLS_RECORD)
		len = CONN_TLS_RECORD;
	errno = 0;
	int n = SSL_write(c->ssl, evbuffer_pullup(c->out, (ev_ssize_t)len), (int)len);

	if (n > 0) {
		evbuffer_drain(c->out, (size_t)n);
		return n;
	}
	int e = SSL_get_error(c->ssl, n);

	if (e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (e == SSL_ERROR_WANT_READ) {
		c->write_wants_read = 1;
		return 0;
	}
	tls_set_error(c, e);
	return -1;
}

void
conn_set_timeout(struct conn *c, unsigned ms)
{
	int had = c->has_timeout;

	c->has_timeout = ms > 0;
	c->timeout.tv_sec = ms / 1000;
	c->timeout.tv_usec = (ms % 1000) * 1000;
	/* event_add() without a timeout keeps an old one: take the event off first. */
	if (had && !c->has_timeout) {
		if (c->reading)
			event_del(&c->rev);
		if (c->writing)
			event_del(&c->wev);
	}
	if (c->reading)
		event_add(&c->rev, timeout_of(c));
	if (c->writing)
		event_add(&c->wev, timeout_of(c));
}

/* Report a failure from the loop, never from inside the caller's own call. */
static void
fail_later(struct conn *c)
{
	c->dead = 1;
	event_del(&c->rev);
	c->reading = 0;
	event_active(&c->wev, EV_WRITE, 0);
}

int
conn_connect(struct conn *c, const struct sockaddr *sa, socklen_t salen)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	c->fd = fd;
	c->connecting = 1;
	event_assign(&c->rev, event_get_base(&c->rev), fd, EV_READ | EV_PERSIST, conn_readcb, c);
	event_assign(&c->wev, event_get_base(&c->wev), fd, EV_WRITE | EV_PERSIST, conn_writecb, c);
	c->writing = 1;
	event_add(&c->wev, timeout_of(c));
	return 0;
}

void
conn_when_drained(struct conn *c)
{
	event_active(&c->wev, EV_WRITE, 0);
}

int
conn_flush(struct conn *c)
{
	if (c->dead)
		return -1;
	if (c->connecting || c->handshaking)
		return 0;
	c->write_wants_read = 0;
	while (evbuffer_get_length(c->out) > 0) {
		int n = write_some(c);

		if (n < 0) {
			fail_later(c);
			return -1;
		}
		if (n == 0)
			break;
	}
	if (evbuffer_get_length(c->out) == 0 && c->tls_next != NULL) {
		tls_begin(c);
		return 0;
	}
	/* A write that waits for the peer's data waits on the read event, not this one. */
	if (c->write_wants_read) {
		if (c->writing) {
			c->writing = 0;
			event_del(&c->wev);
		}
		return 0;
	}
	if (evbuffer_get_length(c->out) > 0 && !c->writing) {
		c->writing = 1;
		event_add(&c->wev, timeout_of(c));
	} else if (evbuffer_get_length(c->out) == 0 && c->writing) {
		c->writing = 0;
		event_del(&c->wev);
	}
	return 0;
}

static void
conn_writecb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->dead) {
		event_del(&c->wev);
		c->writing = 0;
		c->cbs.event(c, CONN_ERROR, c->arg);
		return;
	}
	if (what & EV_TIMEOUT) {
		c->cbs.event(c, CONN_TIMEOUT, c->arg);
		return;
	}
	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		c->connecting = 0;
		event_del(&c->wev);
		c->writing = 0;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			errno = err ? err : errno;
			c->dead = 1;
			c->cbs.event(c, CONN_ERROR, c->arg);
			return;
		}
		conn_read(c, 1);
		c->cbs.event(c, CONN_CONNECTED, c->arg);
		return;
	}
	if (c->handshaking) {
		tls_handshake(c);
		return;
	}
	if (c->read_wants_write) {
		c->read_wants_write = 0;
		if (evbuffer_get_length(c->out) == 0) {
			event_del(&c->wev);
			c->writing = 0;
		}
		conn_readcb(fd, EV_READ, c);
		return;
	}
	if (conn_flush(c) == 0 && evbuffer_get_length(c->out) == 0 && c->cbs.drained)
		c->cbs.drained(c, c->arg);
}

static void
conn_readcb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct evbuffer_iovec vec[2];

	if (what & EV_TIMEOUT) {
		c->cbs.event(c, CONN_TIMEOUT, c->arg);
		return;
	}
	if (c->handshaking) {
		tls_handshake(c);
		return;
	}
	if (c->write_wants_read && conn_flush(c) < 0)
		return;
	if (c->ssl != NULL) {
		tls_read(c);
		return;
	}
	size_t want = c->read_max ? c->read_max : CONN_READ_SIZE;
	int nvec = evbuffer_reserve_space(c->in, (ev_ssize_t)want, vec, 2);

	/* The reservation may be larger than asked: a limit is a limit. */
	for (int i = 0; i < nvec; i++) {
		if (vec[i].iov_len > want)
			vec[i].iov_len = want;
		want -= vec[i].iov_len;
	}
	ssize_t n = readv(c->fd, (struct iovec *)vec, nvec);

	if (n < 0) {
		evbuffer_commit_space(c->in, vec, 0);
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		read_ended(c, CONN_ERROR);
		return;
	}
	if (n == 0) {
		evbuffer_commit_space(c->in, vec, 0);
		read_ended(c, CONN_EOF);
		return;
	}
	int used = 0;

	for (; used < nvec && n > 0; used++) {
		size_t take = (size_t)n < vec[used].iov_len ? (size_t)n : vec[used].iov_len;

		vec[used].iov_len = take;
		n -= (ssize_t)take;
	}
	evbuffer_commit_space(c->in, vec, used);
	c->cbs.readable(c, c->arg);
}

/* The peer closed, or the connection failed: it is dead, only conn_free() is left. */
static void
read_ended(struct conn *c, int what)
{
	event_del(&c->rev);
	c->reading = 0;
	c->dead = 1;
	c->cbs.event(c, what, c->arg);
}

static void
tls_read(struct conn *c)
{
	struct evbuffer_iovec vec;
	size_t want = c->read_max ? c->read_max : CONN_READ_SIZE;

	if (evbuffer_reserve_space(c->in, (ev_ssize_t)want, &vec, 1) < 1)
		abort();
	errno = 0;
	int n = SSL_read(c->ssl, vec.iov_base, (int)(vec.iov_len < want ? vec.iov_len : want));

	if (n > 0) {
		vec.iov_len = (size_t)n;
		evbuffer_commit_space(c->in, &vec, 1);
		if (SSL_pending(c->ssl) > 0)
			event_active(&c->rev, EV_READ, 0);
		c->cbs.readable(c, c->arg);
		return;
	}
	evbuffer_commit_space(c->in, &vec, 0);
	int e = SSL_get_error(c->ssl, n);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		return;
	case SSL_ERROR_WANT_WRITE:
		c->read_wants_write = 1;
		if (!c->writing) {
			c->writing = 1;
			event_add(&c->wev, timeout_of(c));
		}
		return;
	case SSL_ERROR_ZERO_RETURN:
		read_ended(c, CONN_EOF);
		return;
	default:
		tls_set_error(c, e);
		read_ended(c, CONN_ERROR);
		return;
	}
}
