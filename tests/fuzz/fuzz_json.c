/*
 * libFuzzer target: the JSON parser (filters/json.c) on any octets. What it
 * accepts must be a tree whose strings are C strings of their stated length
 * and whose objects' keys are as many as their values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filters/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk(const struct json *v, int depth)
{
	if (depth > JSON_DEPTH + 1)
		abort();
	if (v->type == JSON_STRING && (v->string == NULL || strlen(v->string) != v->len))
		abort();
	if (v->type == JSON_OBJECT && v->n > 0 && v->keys == NULL)
		abort();
	for (size_t i = 0; i < v->n; i++)
		walk(&v->items[i], depth + 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	struct json *v = json_parse((const char *)data, size, err, sizeof(err));

	if (v != NULL)
		walk(v, 0);
	json_free(v);
	return 0;
}
