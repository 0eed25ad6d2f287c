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

#include "common/xalloc.h"
#include "proxy/conn.h"

#define CONN_READ_SIZE 16384

struct conn {
	int fd;
	struct event rev, wev;
	struct evbuffer *in, *out;
	struct conn_callbacks cbs;
	void *arg;
	struct timeval timeout;
	unsigned has_timeout : 1;
	unsigned reading : 1;
	unsigned writing : 1; /* wev is registered */
	unsigned connecting : 1;
	unsigned dead : 1;
};

static void conn_readcb(evutil_socket_t fd, short what, void *arg);
static void conn_writecb(evutil_socket_t fd, short what, void *arg);

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
	if (c->dead || c->connecting || c->fd < 0 || on == c->reading)
		return;
	c->reading = on != 0;
	if (on)
		event_add(&c->rev, timeout_of(c));
	else
		event_del(&c->rev);
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
	if (c->connecting)
		return 0;
	while (evbuffer_get_length(c->out) > 0) {
		int n = evbuffer_write(c->out, c->fd);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			fail_later(c);
			return -1;
		}
		if (n == 0)
			break;
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
	int nvec = evbuffer_reserve_space(c->in, CONN_READ_SIZE, vec, 2);
	ssize_t n = readv(c->fd, (struct iovec *)vec, nvec);

	if (n < 0) {
		evbuffer_commit_space(c->in, vec, 0);
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		c->dead = 1;
		event_del(&c->rev);
		c->reading = 0;
		c->cbs.event(c, CONN_ERROR, c->arg);
		return;
	}
	if (n == 0) {
		evbuffer_commit_space(c->in, vec, 0);
		event_del(&c->rev);
		c->reading = 0;
		c->dead = 1;
		c->cbs.event(c, CONN_EOF, c->arg);
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
