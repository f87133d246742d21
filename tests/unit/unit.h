/* unit.h - what every unit test's main() shares. */
#ifndef SIPEDGE_UNIT_H
#define SIPEDGE_UNIT_H

#include <check.h>
#include <stdlib.h>

#include "daemon/conf.h"

/* Run one suite; the exit status automake's test driver expects. */
static inline int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* edge.conf(5)'s limits, for tests that build a struct conf by hand. */
static inline void unit_default_limits(struct conf *cf)
{
	cf->limits.max_message_size = 65535;
	cf->limits.transaction_timeout = 32;
	cf->limits.max_transactions = 10000;
	cf->limits.invite_timeout = 180;
	cf->limits.handshake_timeout = 10;
	cf->limits.max_via = 70;
	cf->limits.max_header_values = 64;
	cf->limits.max_output_buffer = 1 << 20;
	cf->limits.output_stall_timeout = 30;
	cf->limits.max_transactions_per_peer = 1000;
	cf->limits.max_invites_per_peer = 100;
	cf->limits.max_dns_pending = 1024;
	cf->limits.max_dns_pending_per_peer = 32;
}

#endif
