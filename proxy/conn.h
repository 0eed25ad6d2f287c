/*
 * NAME
 *	conn - a non-blocking socket with input and output buffers
 * SYNOPSIS
 *	conn_new(base, fd, cbs, arg), conn_free(conn)
 *	conn_connect(conn, sa, salen)
 *	conn_input(conn), conn_output(conn)
 *	conn_flush(conn)
 *	conn_set_timeout(conn, ms)
 *	conn_read(conn, on)
 *	conn_when_drained(conn)
 *	conn_start_tls(conn, ssl), conn_tls_version(conn), conn_tls_cipher(conn),
 *	conn_tls_cipher_bits(conn)
 *	conn_set_read_max(conn, n)
 *	conn_error(conn)
 * DESCRIPTION
 *	What postern needs of libevent's bufferevent, at a fraction of its
 *	system calls: output is written at once by conn_flush() and the write
 *	event is only registered while the kernel's buffer is full; input is
 *	read without asking the kernel how much there is first.
 *
 *	conn_new() takes a connected socket (or -1 with conn_connect()). The
 *	callbacks: readable (new input was appended), drained (the output became
 *	empty after a conn_flush() that could not finish at once), and event
 *	(CONN_CONNECTED, CONN_EOF, CONN_ERROR, CONN_TIMEOUT). After CONN_EOF or
 *	CONN_ERROR the connection is dead and only conn_free() is left.
 *
 *	conn_flush() writes what it can now; returns 0, or -1 when the socket
 *	failed (the event callback is also called, from the loop).
 *
 *	conn_set_timeout() arms an inactivity timeout (0: none): CONN_TIMEOUT
 *	when nothing could be read, or nothing written while output waits, for
 *	that long. The timer restarts with every read and write.
 *
 *	conn_read() stops or resumes reading (back-pressure).
 *
 *	conn_when_drained() has drained() called from the event loop as soon as
 *	the output is empty, even if it is empty already (to close after a last
 *	reply without freeing anything from inside the caller's own call).
 *
 *	conn_start_tls() turns the connection into TLS (ssl is made in accept
 *	or connect state and is owned by the conn from now on). What is queued
 *	for output is sent in plaintext first; the input not yet consumed is
 *	DISCARDED: octets a peer sent after STARTTLS in the same packet must
 *	never be taken as if they came over TLS (CVE-2011-0411). The handshake
 *	runs from the loop; its end is reported as CONN_TLS_READY, its failure
 *	as CONN_ERROR with the reason in conn_error(). Afterwards input and
 *	output are plaintext as before, and conn_flush() still writes at once.
 *	conn_tls_version() and conn_tls_cipher() are NULL before,
 *	conn_tls_cipher_bits() (the cipher's secret bits) 0.
 *
 *	conn_set_read_max() lets one read take at most n octets (0: no limit),
 *	so that a PROXY protocol header can be read without reading past it.
 *
 *	conn_error() says why the connection failed (a TLS alert or
 *	certificate problem, or the system's error text).
 */
#ifndef POSTERN_CONN_H
#define POSTERN_CONN_H

#include <sys/socket.h>

struct conn;
struct evbuffer;
struct event_base;

#include <openssl/ssl.h>

enum { CONN_CONNECTED = 1, CONN_EOF = 2, CONN_ERROR = 4, CONN_TIMEOUT = 8, CONN_TLS_READY = 16 };

struct conn_callbacks {
	void (*readable)(struct conn *conn, void *arg);
	void (*drained)(struct conn *conn, void *arg);
	void (*event)(struct conn *conn, int what, void *arg);
};

struct conn *conn_new(struct event_base *base, int fd, const struct conn_callbacks *cbs, void *arg);
void conn_free(struct conn *conn);
int conn_connect(struct conn *conn, const struct sockaddr *sa, socklen_t salen);
struct evbuffer *conn_input(struct conn *conn);
struct evbuffer *conn_output(struct conn *conn);
int conn_flush(struct conn *conn);
void conn_set_timeout(struct conn *conn, unsigned ms);
void conn_read(struct conn *conn, int on);
void conn_when_drained(struct conn *conn);
void conn_start_tls(struct conn *conn, SSL *ssl);
const char *conn_tls_version(const struct conn *conn);
const char *conn_tls_cipher(const struct conn *conn);
int conn_tls_cipher_bits(const struct conn *conn);
void conn_set_read_max(struct conn *conn, size_t n);
const char *conn_error(const struct conn *conn);

#endif
