/*
 * NAME
 *	registry - the filter types postern knows, by name
 * SYNOPSIS
 *	filter_type_find(name)
 * DESCRIPTION
 *	One line per filter type. The test filter (filters/test_filter.c) is
 *	only compiled into test builds (./configure --enable-test-filter).
 */
#include <string.h>

#include "filters/filter.h"

extern const struct filter_type milter_filter_type;
extern const struct filter_type spf_filter_type;
extern const struct filter_type dkim_filter_type;
extern const struct filter_type dkim_sign_filter_type;
extern const struct filter_type dmarc_filter_type;
#ifdef POSTERN_TEST_FILTER
extern const struct filter_type test_filter_type;
#endif
extern const struct filter_type spamd_filter_type;
extern const struct filter_type rules_filter_type;
extern const struct filter_type helo_filter_type;
extern const struct filter_type dnsbl_filter_type;
extern const struct filter_type rspamd_filter_type;

/* One line per type, so that adding one is a one-line change. */
/* clang-format off */
static const struct filter_type *const types[] = {
        &milter_filter_type,
        &spf_filter_type,
        &dkim_filter_type,
        &dkim_sign_filter_type,
        &dmarc_filter_type,
#ifdef POSTERN_TEST_FILTER
        &test_filter_type,
#endif
        &spamd_filter_type,
        &rules_filter_type,
        &helo_filter_type,
        &dnsbl_filter_type,
        &rspamd_filter_type,
        NULL,
};
/* clang-format on */

const struct filter_type *
filter_type_find(const char *name)
{
	for (size_t i = 0; types[i] != NULL; i++)
		if (strcmp(types[i]->name, name) == 0)
			return types[i];
	return NULL;
}
