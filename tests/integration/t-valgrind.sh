#!/bin/bash
# The proxy suites (and CANCEL) once more with the daemon under valgrind: a memory error
# or a definite/possible leak makes the daemon exit 99 on SIGTERM, which
# fails the suite. Own addresses (127.0.10x) so it runs beside the others.
. "$(dirname "$0")/lib.sh"
se_need valgrind
export SE_VALGRIND=1 SE_NET_SHIFT=100 SE_RUN_SUFFIX=-valgrind
rc=0
for t in t-inbound-proxy t-outbound-static t-cancel t-reload; do
	bash "$(dirname "$0")/$t.sh" || rc=1
done
exit $rc
