#!/bin/sh
# mkpki.sh DIR [EDGE_FQDN] - make a throw-away test PKI (EC P-256) in DIR.
#
#   ca.crt/.key               federation CA
#   edge.crt/.key             EDGE_FQDN (default edge.test), serverAuth+clientAuth, by ca
#   edge2.crt/.key            EDGE_FQDN again, own key and serial (reload tests), by ca
#   partner.crt/.key          DNS:sip.partner.test, serverAuth+clientAuth, by ca
#   wrongsan.crt/.key         DNS:other.partner.test, by ca
#   expired.crt/.key          DNS:sip.partner.test, valid 2020-01-01..2020-02-01, by ca
#   noclientauth.crt/.key     DNS:sip.partner.test, serverAuth only, by ca
#   untrusted-ca.crt/.key     a second, unrelated CA
#   untrusted.crt/.key        DNS:sip.partner.test, by untrusted-ca
#   internal-ca.crt/.key      CA of the internal zone
#   edge-internal.crt/.key    DNS:edge.internal, by internal-ca
#   node1.crt/.key            DNS:node1.internal, by internal-ca
#   node2.crt/.key            DNS:node2.internal, by internal-ca (not node1's name)
#   (policy tests; all by ca, serverAuth+clientAuth)
#   sancn.crt/.key            CN=sip.cnonly.test, DNS:other.cnonly.test
#   wild.crt/.key             DNS:*.wild.test
#   lync.crt/.key             DNS:sip.lync.test
#   open.crt/.key             DNS:sip.open.test
#   sub.crt/.key              DNS:sip.sub.sub.test
#   otherdom.crt/.key         DNS:sip.other.test
#   mismatch.crt/.key         DNS:other.mismatch.test
#   (outbound SRV tests; all by ca, serverAuth+clientAuth)
#   srv.crt/.key              DNS:sip.srv.test
#   srv2.crt/.key             DNS:sip2.srv.test
#   vcse.crt/.key             DNS:vcse.sub.tac.test
#   primary.crt/.key          DNS:sip.primary.test
#   backup.crt/.key           DNS:sip.backup.test
#   soon.crt/.key             DNS:sip.partner.test, valid 10 days (sipedge-check)
#   notyet.crt/.key           DNS:sip.partner.test, valid 2099-01-01..2100-01-01, by ca
#   selfsigned.crt/.key       DNS:sip.partner.test, self-signed (not a CA)
#
# Never for production. Quiet on success; on failure prints the openssl
# output and exits non-zero. Re-running with the same FQDN keeps an existing
# complete PKI (so the README demo and the tests can call it freely).
set -eu

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 DIR [EDGE_FQDN]" >&2; exit 2; }
dir=$1
fqdn=${2:-edge.test}
files="ca edge edge2 partner wrongsan expired noclientauth untrusted-ca untrusted
       internal-ca edge-internal node1 node2
       sancn wild lync open sub otherdom mismatch
       srv srv2 vcse primary backup soon notyet selfsigned"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

pki_complete() {
	[ "$(cat "$dir/.mkpki-stamp" 2>/dev/null)" = "$fqdn" ] || return 1
	for f in $files; do
		[ -s "$dir/$f.crt" ] && [ -s "$dir/$f.key" ] || return 1
	done
	# still good for at least a day?
	openssl x509 -checkend 86400 -noout -in "$dir/edge.crt" >/dev/null 2>&1
}
pki_complete && exit 0

tmp=$(mktemp -d "$dir/.mkpki.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log=$tmp/openssl.log

run() {
	if ! "$@" >>"$log" 2>&1; then
		echo "mkpki.sh: failed: $*" >&2
		cat "$log" >&2
		exit 1
	fi
}

# ca NAME "CN"
ca() {
	run openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -keyout "$tmp/$1.key" -out "$tmp/$1.crt" -days 3650 \
		-subj "/O=sipedge tests/CN=$2" -sha256 \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash"
}

# csr NAME CN
csr() {
	run openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tmp/$1.key" -out "$tmp/$1.csr" -subj "/O=sipedge tests/CN=$2"
}

# ext NAME SAN EKU -> extension file
ext() {
	cat >"$tmp/$1.ext" <<-EOF
	[ leaf ]
	basicConstraints = critical,CA:FALSE
	keyUsage = critical,digitalSignature,keyEncipherment
	extendedKeyUsage = $3
	subjectAltName = $2
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid
	EOF
}

# leaf NAME ISSUER CN SAN [EKU [DAYS]]
leaf() {
	csr "$1" "$3"
	ext "$1" "$4" "${5:-serverAuth,clientAuth}"
	run openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/$2.crt" -CAkey "$tmp/$2.key" \
		-set_serial "0x$(openssl rand -hex 8)" -days "${6:-825}" -sha256 \
		-extfile "$tmp/$1.ext" -extensions leaf -out "$tmp/$1.crt"
}

ca ca "sipedge test federation CA"
ca untrusted-ca "sipedge untrusted CA"
ca internal-ca "sipedge internal CA"

leaf edge ca "$fqdn" "DNS:$fqdn"
leaf edge2 ca "$fqdn" "DNS:$fqdn"
leaf partner ca sip.partner.test DNS:sip.partner.test
leaf wrongsan ca other.partner.test DNS:other.partner.test
leaf noclientauth ca sip.partner.test DNS:sip.partner.test serverAuth
leaf untrusted untrusted-ca sip.partner.test DNS:sip.partner.test
leaf edge-internal internal-ca edge.internal DNS:edge.internal
leaf node1 internal-ca node1.internal DNS:node1.internal
leaf node2 internal-ca node2.internal DNS:node2.internal
leaf sancn ca sip.cnonly.test DNS:other.cnonly.test
leaf wild ca '*.wild.test' 'DNS:*.wild.test'
leaf lync ca sip.lync.test DNS:sip.lync.test
leaf open ca sip.open.test DNS:sip.open.test
leaf sub ca sip.sub.sub.test DNS:sip.sub.sub.test
leaf otherdom ca sip.other.test DNS:sip.other.test
leaf mismatch ca other.mismatch.test DNS:other.mismatch.test
leaf srv ca sip.srv.test DNS:sip.srv.test
leaf srv2 ca sip2.srv.test DNS:sip2.srv.test
leaf vcse ca vcse.sub.tac.test DNS:vcse.sub.tac.test
leaf primary ca sip.primary.test DNS:sip.primary.test
leaf backup ca sip.backup.test DNS:sip.backup.test
leaf soon ca sip.partner.test DNS:sip.partner.test serverAuth,clientAuth 10
run openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$tmp/selfsigned.key" -out "$tmp/selfsigned.crt" -days 825 -sha256 \
	-subj "/O=sipedge tests/CN=sip.partner.test" \
	-addext "basicConstraints=critical,CA:FALSE" \
	-addext "keyUsage=critical,digitalSignature,keyEncipherment" \
	-addext "extendedKeyUsage=serverAuth,clientAuth" \
	-addext "subjectAltName=DNS:sip.partner.test"

# OpenSSL 3.0's "x509 -req" cannot back-date; "openssl ca" can.
csr expired sip.partner.test
ext expired DNS:sip.partner.test serverAuth,clientAuth
mkdir "$tmp/cadb"
: >"$tmp/cadb/index.txt"
openssl rand -hex 8 >"$tmp/cadb/serial"
cat >"$tmp/cadb/ca.cnf" <<EOF
[ ca ]
default_ca = test
[ test ]
dir = $tmp/cadb
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
default_md = sha256
policy = any
unique_subject = no
[ any ]
commonName = supplied
organizationName = optional
EOF
run openssl ca -batch -notext -preserveDN -config "$tmp/cadb/ca.cnf" \
	-cert "$tmp/ca.crt" -keyfile "$tmp/ca.key" -in "$tmp/expired.csr" \
	-startdate 20200101000000Z -enddate 20200201000000Z \
	-extfile "$tmp/expired.ext" -extensions leaf -out "$tmp/expired.crt"
csr notyet sip.partner.test
ext notyet DNS:sip.partner.test serverAuth,clientAuth
run openssl ca -batch -notext -preserveDN -config "$tmp/cadb/ca.cnf" \
	-cert "$tmp/ca.crt" -keyfile "$tmp/ca.key" -in "$tmp/notyet.csr" \
	-startdate 20990101000000Z -enddate 21000101000000Z \
	-extfile "$tmp/notyet.ext" -extensions leaf -out "$tmp/notyet.crt"

for f in $files; do
	chmod 600 "$tmp/$f.key"
	chmod 644 "$tmp/$f.crt"
	mv -f "$tmp/$f.key" "$tmp/$f.crt" "$dir/"
done
echo "$fqdn" >"$dir/.mkpki-stamp"
