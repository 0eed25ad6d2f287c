/*
 * libFuzzer target: spamd's reply parser (filters/spamd_reply.c) on any
 * octets, as a complete reply and as one still coming; the rule list must
 * always be a C string within its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filters/spamd_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spamd_reply r;

	for (int eof = 0; eof <= 1; eof++)
		for (int report = 0; report <= 1; report++)
			if (spamd_reply_parse((const char *)data, size, eof, report, &r) ==
			            SPAMD_DONE &&
			    memchr(r.tests, '\0', sizeof(r.tests)) == NULL)
				abort();
	return 0;
}
