/*
 * libFuzzer target: what a milter sends, framed and decoded as postern
 * does: packets one after another, each reply decoded, negotiation and
 * reply texts checked. Every pointer returned must stay inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filters/milter_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
inside(const char *p, const char *start, size_t size)
{
	if (p != NULL &&
	    (p < start || p >= start + size || memchr(p, '\0', (size_t)(start + size - p)) == NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t off = 0;

	for (;;) {
		struct milter_packet pk;
		long n = milter_frame(buf + off, size - off, 65536, &pk);

		if (n <= 0)
			break;
		if ((size_t)n > size - off || pk.data + pk.len > buf + size)
			abort();
		struct milter_reply r;
		struct milter_optneg o;
		char text[1024];

		if (milter_decode(&pk, &r) == 0) {
			inside(r.s1, pk.data, pk.len);
			inside(r.s2, pk.data, pk.len);
			if (r.cmd == SMFIR_REPLYCODE &&
			    milter_reply_text(r.s1, strlen(r.s1), text, sizeof(text)) >= 0 &&
			    strcmp(text, r.s1) != 0)
				abort();
		}
		if (milter_decode_optneg(pk.data, pk.len, &o) == 0)
			for (int i = 0; i < MILTER_MACRO_STAGES; i++)
				inside(o.macros[i], pk.data, pk.len);
		off += (size_t)n;
	}
	return 0;
}
