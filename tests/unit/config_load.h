/*
 * NAME
 *	config_load - loading a configuration in a unit test, and its errors
 * SYNOPSIS
 *	#include "tests/unit/config_load.h"
 *
 *	load(yaml)
 *	assert_error(yaml, message)
 *	assert_loads(yaml)
 * DESCRIPTION
 *	load() loads yaml as the file "t.yaml"; its diagnostics stay in diag
 *	until the next load. assert_error() fails the test unless loading
 *	fails with exactly the one message given ("t.yaml:LINE:COLUMN: ...");
 *	assert_loads() unless it loads without any, and returns the config.
 *	The caller frees diag (config_diag_free) when done.
 */
#ifndef POSTERN_TESTS_CONFIG_LOAD_H
#define POSTERN_TESTS_CONFIG_LOAD_H

#include <check.h>
#include <string.h>

#include "policies/config.h"

static struct config_diag diag;

static inline struct config *
load(const char *yaml)
{
	config_diag_free(&diag);
	return config_load_string("t.yaml", yaml, strlen(yaml), &diag);
}

static inline void
assert_error(const char *yaml, const char *message)
{
	struct config *cfg = load(yaml);

	ck_assert_msg(cfg == NULL, "loaded: %s", yaml);
	ck_assert_msg(diag.n == 1, "%zu messages for %s, first: %s", diag.n, yaml,
	              diag.n ? diag.msgs[0] : "");
	ck_assert_str_eq(diag.msgs[0], message);
}

static inline struct config *
assert_loads(const char *yaml)
{
	struct config *cfg = load(yaml);

	ck_assert_msg(cfg != NULL, "%s: %s", yaml, diag.n ? diag.msgs[0] : "");
	ck_assert_uint_eq(diag.n, 0);
	return cfg;
}

#endif
