/* unit.h - what every unit test's main() shares. */
#ifndef SIPEDGE_UNIT_H
#define SIPEDGE_UNIT_H

#include <check.h>
#include <stdlib.h>

/* Run one suite; the exit status automake's test driver expects. */
static inline int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
