/*
 * NAME
 *	milter_proto - the milter protocol's packets, encoded and decoded (pure)
 * SYNOPSIS
 *	#include "filters/milter_proto.h"
 *
 *	milter_put(out, cmd, data, len)
 *	milter_put_strings(out, cmd, strings, n)
 *	milter_put_optneg(out, version, actions, protocol)
 *	milter_put_connect(out, hostname, family, port, address)
 *	milter_frame(buf, len, max, packet)
 *	milter_decode(packet, reply)
 *	milter_decode_optneg(data, len, optneg)
 *	milter_reply_text(text, len, out, size)
 * DESCRIPTION
 *	The MTA side of the Sendmail 8 milter protocol, version 6 (libmilter's
 *	mfdef.h names the commands and flags): a packet is a 4-octet length in
 *	network order (the command octet and the data), the command octet and
 *	the data. Nothing here does I/O.
 *
 *	milter_put() appends one packet to out; milter_put_strings() one whose
 *	data are the n strings, each NUL-terminated (HELO, MAIL, RCPT, HEADER,
 *	MACRO); milter_put_optneg() the negotiation; milter_put_connect() the
 *	CONNECT packet (family SMFIA_INET, SMFIA_INET6, SMFIA_UNIX or
 *	SMFIA_UNKNOWN, which sends no port or address).
 *
 *	milter_frame() finds one packet at the start of buf: it returns the
 *	octets it takes (packet points into buf), 0 when more input is needed,
 *	-1 when the length is 0 or above max (the peer talks nonsense).
 *
 *	milter_decode() checks a milter's reply packet and splits its data into
 *	reply: the index of SMFIR_INSHEADER and SMFIR_CHGHEADER, the strings of
 *	the others (s1, s2, NUL-terminated inside the packet), the raw data of
 *	SMFIR_REPLBODY. Returns 0, or -1 for an unknown reply or data that do
 *	not fit its type (a missing NUL, a missing field, an empty name).
 *
 *	milter_decode_optneg() reads the milter's negotiation: version,
 *	actions, protocol, and the macro lists it asks for per stage
 *	(SMFIR_SETSYMLIST's lists: SMFIM_CONNECT .. SMFIM_EOH; NULL where none).
 *	Returns 0, or -1 when too short or malformed.
 *
 *	milter_reply_text() checks the text of SMFIR_REPLYCODE: one or more
 *	lines "NNN[ -]text" (CRLF between lines, as libmilter's smfi_setmlreply
 *	makes them) with one 4xx or 5xx code throughout, continuation lines
 *	with "-", the last with " " or nothing, no other control octets, and
 *	copies it to out (NUL-terminated); returns the code, or -1.
 */
#ifndef POSTERN_MILTER_PROTO_H
#define POSTERN_MILTER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <libmilter/mfdef.h>

struct evbuffer;

#define MILTER_MACRO_STAGES 7 /* SMFIM_CONNECT .. SMFIM_EOH */

struct milter_packet {
	char cmd;
	const char *data;
	size_t len;
};

struct milter_reply {
	char cmd;
	uint32_t index;   /* SMFIR_INSHEADER, SMFIR_CHGHEADER */
	const char *s1;   /* header name, address, quarantine reason, reply text */
	const char *s2;   /* header value, ESMTP args (NULL: none) */
	const char *data; /* SMFIR_REPLBODY */
	size_t len;
};

struct milter_optneg {
	uint32_t version, actions, protocol;
	const char *macros[MILTER_MACRO_STAGES]; /* point into the packet, or NULL */
	size_t macros_len[MILTER_MACRO_STAGES];
};

void milter_put(struct evbuffer *out, char cmd, const void *data, size_t len);
void milter_put_strings(struct evbuffer *out, char cmd, const char *const *strings, size_t n);
void milter_put_optneg(struct evbuffer *out, uint32_t version, uint32_t actions, uint32_t protocol);
void milter_put_connect(struct evbuffer *out, const char *hostname, char family, uint16_t port,
                        const char *address);
long milter_frame(const char *buf, size_t len, size_t max, struct milter_packet *packet);
int milter_decode(const struct milter_packet *packet, struct milter_reply *reply);
int milter_decode_optneg(const char *data, size_t len, struct milter_optneg *optneg);
int milter_reply_text(const char *text, size_t len, char *out, size_t size);

#endif
