/*
 * libFuzzer target: the PROXY protocol header parser. A complete header lies
 * inside the input; more input is asked for only beyond what was given; a
 * refusal always says why. Feeding exactly the octets asked for must end in
 * the same answer as the whole input.
 */
#include <stdint.h>
#include <stdlib.h>

#include "proxy/proxy_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_proto_header h, step;
	enum proxy_proto_status st = proxy_proto_parse(data, size, &h);

	if (st == PROXY_PROTO_OK && (h.length == 0 || h.length > size))
		abort();
	if (st == PROXY_PROTO_MORE && h.need <= size)
		abort();
	if (st == PROXY_PROTO_BAD && h.error == NULL)
		abort();
	/* As the daemon reads: never more than asked for. */
	size_t have = 0;
	enum proxy_proto_status s;

	while ((s = proxy_proto_parse(data, have, &step)) == PROXY_PROTO_MORE && step.need <= size)
		have = step.need;
	if (s == PROXY_PROTO_OK && (st != PROXY_PROTO_OK || step.length != h.length))
		abort();
	if (st == PROXY_PROTO_OK && s != PROXY_PROTO_OK)
		abort();
	return 0;
}
