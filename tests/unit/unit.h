/*
 * NAME
 *	unit - what every Check test program of postern does in main()
 * SYNOPSIS
 *	unit_run(suite)
 * DESCRIPTION
 *	Runs the suite without forking (so AddressSanitizer sees every test in
 *	one process), frees it, and returns the exit status: EXIT_SUCCESS when
 *	no test failed.
 */
#ifndef POSTERN_UNIT_H
#define POSTERN_UNIT_H

#include <check.h>
#include <stdlib.h>

static inline int
unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);

	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);

	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
