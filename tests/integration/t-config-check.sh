#!/bin/bash
# sipedge -t checks a configuration; -V prints the version.
. "$(dirname "$0")/lib.sh"
se_init 6
se_need_daemon
se_pki

# check CONF : run sipedge -t -c CONF, sets RC and OUT (stdout+stderr)
check() { OUT=$(timeout 10 "$SIPEDGE" -t -c "$1" 2>&1); RC=$?; echo "$OUT" | sed 's/^/#   /'; }

SE_CONF=$RUN/good.conf se_write_conf
check "$RUN/good.conf"
se_eq "good config: exit 0" 0 $RC
se_match "good config: prints 'configuration OK'" 'configuration OK' "$OUT"

SE_CONF=$RUN/unknown.conf se_write_conf edge='{
  fqdn = "edge.test";
  frobnicate = 1;
}'
line=$(grep -n frobnicate "$RUN/unknown.conf" | cut -d: -f1)
check "$RUN/unknown.conf"
se_eq "unknown key: exit 1" 1 $RC
se_match "unknown key: error names unknown.conf:$line:" "unknown\.conf:$line:" "$OUT"

SE_CONF=$RUN/nocert.conf se_write_conf tls='{
  external = { certificate = "pki/missing.crt"; private_key = "pki/edge.key"; ca_file = "pki/ca.crt"; };
  internal = { certificate = "pki/edge-internal.crt"; private_key = "pki/edge-internal.key"; ca_file = "pki/internal-ca.crt"; };
}'
check "$RUN/nocert.conf"
se_eq "missing certificate file: exit 1" 1 $RC
se_match "missing certificate file: error names it" 'missing\.crt' "$OUT"

OUT=$(timeout 10 "$SIPEDGE" -V 2>&1); RC=$?
se_eq "-V: exit 0" 0 $RC
se_match "-V prints a version" '[0-9]+\.[0-9]+' "$OUT"
se_done
