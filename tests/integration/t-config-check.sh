#!/bin/bash
# sipedge -t checks a configuration, -T prints the effective one; -V
# prints the version.
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
	timeout 10 "$SIPEDGE" -tT -c "$RUN/example-$name" >"$RUN/example-$name.T" 2>/dev/null
	check "$RUN/example-$name.T"
	se_eq "etc/examples/$name: its -tT output passes sipedge -t" 0 $RC
done
se_check "three example configurations" [ "$(ls "$top_srcdir"/etc/examples/*.conf | wc -l)" -ge 3 ]

# -T: the effective configuration, defaults filled in, read back by -t.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 64 >"$RUN/secret"
SECRET=$(cat "$RUN/secret")
SE_CONF=$RUN/dump.conf se_write_conf edge='{ fqdn = "edge.test"; secret_file = "secret"; }'
timeout 10 "$SIPEDGE" -tT -c "$RUN/dump.conf" >"$RUN/dump.out" 2>"$RUN/dump.err"; RC=$?
sed 's/^/#   /' "$RUN/dump.err"
se_eq "-tT: exit 0" 0 $RC
se_match "-tT: 'configuration OK' on stderr" 'configuration OK' "$(cat "$RUN/dump.err")"
se_nomatch "-tT: stdout is the configuration only" 'configuration OK' "$(cat "$RUN/dump.out")"
se_match "-tT: a header names the file" "^# read from $(re "$RUN/dump.conf")\$" "$(cat "$RUN/dump.out")"
se_match "-tT: a key not in the file shows its default" '^  max_transactions = 10000;$' "$(cat "$RUN/dump.out")"
se_match "-tT: the default list of supported_extensions" 'supported_extensions = \[ "ms-benotify" \];' "$(cat "$RUN/dump.out")"
se_match "-tT: secret_file is named, absolute" "secret_file = \"$(re "$RUN/secret")\";" "$(cat "$RUN/dump.out")"
se_nomatch "-tT: the secret itself is not printed" "$SECRET" "$(cat "$RUN/dump.out")"
check "$RUN/dump.out"
se_eq "-tT output: sipedge -t -c of it exits 0" 0 $RC
timeout 10 "$SIPEDGE" -T -c "$RUN/dump.out" >"$RUN/dump2.out" 2>/dev/null; RC=$?
se_eq "-T alone implies -t: exit 0" 0 $RC
se_eq "-T of the -T output: the same configuration" "$(grep -v '^# ' "$RUN/dump.out")" \
	"$(grep -v '^# ' "$RUN/dump2.out")"
SE_CONF=$RUN/dump-bad.conf se_write_conf edge='{ fqdn = "edge.test"; frobnicate = 1; }'
OUT=$(timeout 10 "$SIPEDGE" -tT -c "$RUN/dump-bad.conf" 2>/dev/null); RC=$?
se_eq "-tT of a bad file: exit 1" 1 $RC
se_eq "-tT of a bad file: prints no configuration" "" "$OUT"

# Started as root with admin.user empty the daemon refuses to start
# (t-privs); -t says so before, as a warning: a start as the account itself
# (systemd User=sipedge) needs no admin.user.
if [ "$(id -u)" = 0 ]; then
	SE_AS_ROOT=1 SE_CONF=$RUN/root.conf se_write_conf
	check "$RUN/root.conf"
	se_eq "root, admin.user empty: -t still exits 0" 0 $RC
	se_match "root, admin.user empty: -t warns on stderr" \
		'root\.conf: warning: admin\.user is empty: started as root, sipedge refuses to start .*reason=root_without_user' "$OUT"
	OUT=$(timeout 10 "$SIPEDGE" -t -c "$RUN/root.conf" 2>/dev/null)
	se_nomatch "root, admin.user empty: the warning is not on stdout" 'warning' "$OUT"
	check "$RUN/good.conf"
	se_nomatch "root, admin.user set: no warning" 'admin\.user' "$OUT"
else
	note "not root: the admin.user warning is not checked"
fi

OUT=$(timeout 10 "$SIPEDGE" -V 2>&1); RC=$?
se_eq "-V: exit 0" 0 $RC
se_match "-V prints a version" '[0-9]+\.[0-9]+' "$OUT"
se_done
