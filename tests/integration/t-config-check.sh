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

# The example configurations of etc/examples/ (README), each checked as
# written, with the test PKI standing in for /etc/sipedge's files.
mkdir -p "$RUN/etc-sipedge"
for f in edge.crt edge.key edge-internal.crt edge-internal.key; do
	cp "$PKI/$f" "$RUN/etc-sipedge/$f"
done
cp "$PKI/ca.crt" "$RUN/etc-sipedge/federation-ca.pem"
cp "$PKI/internal-ca.crt" "$RUN/etc-sipedge/internal-ca.pem"
for ex in "$top_srcdir"/etc/examples/*.conf; do
	name=$(basename "$ex")
	sed "s|/etc/sipedge/|$RUN/etc-sipedge/|g" "$ex" >"$RUN/example-$name"
	if [ "$(id -u)" = 0 ]; then   # a root check wants the account it drops to
		printf 'admin = { user = "nobody"; group = "nogroup"; };\n' >>"$RUN/example-$name"
	fi
	check "$RUN/example-$name"
	se_eq "etc/examples/$name: sipedge -t exits 0" 0 $RC
	se_match "etc/examples/$name: configuration OK" 'configuration OK' "$OUT"
done
se_check "three example configurations" [ "$(ls "$top_srcdir"/etc/examples/*.conf | wc -l)" -ge 3 ]

OUT=$(timeout 10 "$SIPEDGE" -V 2>&1); RC=$?
se_eq "-V: exit 0" 0 $RC
se_match "-V prints a version" '[0-9]+\.[0-9]+' "$OUT"
se_done
