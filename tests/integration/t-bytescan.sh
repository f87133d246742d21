#!/bin/bash
# Topology hiding, suite-wide (SPEC section 3): no internal address may
# appear in any byte an external peer received. Run after the other
# integration tests (make check orders it last); it reads what they left in
# $top_builddir/tests/run/<test>/:
#   - sippeer --out / --record files (any file with "=== sippeer" markers):
#     every recorded message that did NOT come from the edge's internal
#     side (marker "from" = an internal listener or node address) is what an
#     external peer received;
#   - kamailio.out (Kamailio as the remote edge, t-kamailio): all of it.
# For each test directory, the internal addresses are that test's own: the
# node addresses, tls_names and names and the internal listener addresses
# of its edge.conf.
# A self-test first plants an internal address in a scratch directory and
# requires the scanner to find it (and nothing else there).
# Skips (77) when there is nothing to scan.
. "$(dirname "$0")/lib.sh"
TEST=t-bytescan
RUN=$top_builddir/tests/run/$TEST
se_need python3
rm -rf "$RUN"
mkdir -p "$RUN" || exit 99
trap se_done EXIT
trap 'not_ok "interrupted"; exit 1' INT TERM

cat >"$RUN/scan.py" <<'PY'
"""scan.py DIR... : report internal addresses in what external peers got.
Exit 0 clean, 1 found, 3 nothing scanned."""
import os
import re
import sys

MARK = re.compile(r"^=== sippeer (\S+) (\S+) from (\S*) ===\r?$", re.M)


def tokens(text):
    """libconfig tokens: strings, punctuation, bare words; no comments."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "#" or text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == '"':
            j, s = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                s.append(text[j])
                j += 1
            yield ("str", "".join(s))
            i = j + 1
        elif c in "=:;,{}()[]":
            yield ("p", c)
            i += 1
        else:
            m = re.compile(r"[^\s=:;,{}()\[\]\"#]+").match(text, i)
            yield ("word", m.group(0))
            i = m.end()


def parse(text):
    """A libconfig file as nested dicts/lists (scalars as strings)."""
    toks = list(tokens(text))
    pos = [0]

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else ("eof", "")

    def take():
        t = peek()
        pos[0] += 1
        return t

    def value():
        k, v = take()
        if (k, v) == ("p", "{"):
            return settings("}")
        if k == "p" and v in "([":
            close = ")" if v == "(" else "]"
            out = []
            while peek() != ("p", close):
                out.append(value())
                if peek() == ("p", ","):
                    take()
            take()
            return out
        while k == "str" and peek()[0] == "str":     # "a" "b" concatenation
            v += take()[1]
        return v

    def settings(close):
        d = {}
        while peek() != ("p", close) and peek()[0] != "eof":
            name = take()[1]
            take()                      # = or :
            d[name] = value()
            if peek() in (("p", ";"), ("p", ",")):
                take()
        take()
        return d

    return settings(None)


def internal_addresses(conf):
    nodes, listen = [], []
    for n in (conf.get("internal") or {}).get("nodes") or []:
        if isinstance(n, dict) and n.get("address"):
            nodes.append(n["address"])
        # node host names never show outside either (SPEC 3)
        if isinstance(n, dict) and isinstance(n.get("tls_name"), str):
            nodes.append(n["tls_name"])
        if isinstance(n, dict) and isinstance(n.get("names"), list):
            nodes += [x for x in n["names"] if isinstance(x, str)]
    for l in conf.get("listen") or []:
        if isinstance(l, dict) and l.get("zone") == "internal" and l.get("address"):
            listen.append(l["address"])
    return nodes, listen


def host_of(hp):
    m = re.match(r"^\[([^\]]+)\](?::\d+)?$", hp) or re.match(r"^([^:]+)(?::\d+)?$", hp)
    return m.group(1) if m else hp


def addr_re(addrs):
    alts = "|".join(re.escape(a) for a in sorted(set(addrs), key=len, reverse=True))
    return re.compile(r"(?<![0-9A-Za-z.])(?:%s)(?![0-9A-Za-z])" % alts, re.I)


def scan_dir(d, report):
    conf_path = os.path.join(d, "edge.conf")
    name = os.path.basename(d.rstrip("/"))
    if not os.path.exists(conf_path):
        print("# %s: no edge.conf, not scanned" % name)
        return 0, 0
    try:
        conf = parse(open(conf_path, encoding="utf-8", errors="replace").read())
    except Exception as e:      # a config we cannot read is a failure
        report.append("%s: cannot parse edge.conf: %s" % (name, e))
        return 0, 0
    nodes, listen = internal_addresses(conf)
    internal = set(nodes) | set(listen)
    if not internal:
        print("# %s: edge.conf names no internal address, not scanned" % name)
        return 0, 0
    pat = addr_re(internal)
    print("# %s: internal addresses %s" % (name, " ".join(sorted(internal))))
    nfiles = nmsgs = 0
    for fn in sorted(os.listdir(d)):
        path = os.path.join(d, fn)
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
        chunks = []         # (label, text) an external peer received
        skipped = 0
        if fn == "kamailio.out":
            chunks = [("whole log", text)]
        else:
            marks = list(MARK.finditer(text))
            if not marks:
                continue
            for i, m in enumerate(marks):
                end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
                if host_of(m.group(3)) in internal:
                    skipped += 1        # the edge's internal side: not external
                    continue
                chunks.append(("message %d (from %s)" % (i + 1, m.group(3)),
                               text[m.end():end]))
        nbytes = sum(len(c[1].encode("utf-8", "surrogateescape")) for c in chunks)
        print("# %s/%s: %d %s, %d bytes scanned%s" % (
            name, fn, len(chunks), "chunk" if fn == "kamailio.out" else "external messages",
            nbytes, ", %d internal-side messages skipped" % skipped if skipped else ""))
        nfiles += 1 if chunks else 0
        nmsgs += len(chunks)
        for label, chunk in chunks:
            for line in chunk.splitlines():
                m = pat.search(line)
                if m:
                    start = next((l for l in chunk.splitlines() if l.strip()), "")
                    report.append("%s/%s %s [%s]: %s in %r" % (
                        name, fn, label, start.strip()[:60], m.group(0), line.strip()[:160]))
    return nfiles, nmsgs


def main():
    report = []
    files = msgs = 0
    for d in sys.argv[1:]:
        f, m = scan_dir(d, report)
        files += f
        msgs += m
    print("# scanned %d files, %d external messages/chunks" % (files, msgs))
    for r in report:
        print("FOUND " + r)
    if report:
        return 1
    return 0 if files else 3


sys.exit(main())
PY

scan() { python3 "$RUN/scan.py" "$@" >"$RUN/scan.out" 2>&1; SCAN_RC=$?; }

# ---- self-test: a planted internal address is found, lookalikes are not
P=$RUN/plant
mkdir -p "$P"
cat >"$P/edge.conf" <<'EOF'
edge = { fqdn = "edge.test"; };   # comment with 127.0.250.77
listen = (
  { zone = "external"; address = "127.0.250.1"; port = 5061; transport = "tls"; },
  { zone = "internal"; address = "127.0.250.2"; port = 5060; transport = "tcp"; }
);
/* nodes */
internal = {
  domains = [ "example.test" ];
  nodes = ( { name = "imp1"; address = "127.0.250.11"; transport = "tcp";
              ports = ( { internal = 5062; public = 5061; } ); routing = true; priority = 1; } );
};
EOF
{
	printf '=== sippeer received 00:00:00.000 from 127.0.250.1:5061 ===\r\n'
	printf 'SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 127.0.250.21:40000;branch=z9hG4bKa\r\n'
	printf 'Contact: <sip:x@127.0.250.1:5061>\r\nWarning: 399 127.0.250.111 "x"\r\nContent-Length: 0\r\n\r\n\n'
	printf '=== sippeer received 00:00:00.000 from 127.0.250.2:5060 ===\r\n'
	printf 'SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.250.11:5062;branch=z9hG4bKb\r\nContent-Length: 0\r\n\r\n\n'
} >"$P/peer.out"
scan "$P"
se_eq "self-test: a clean external file scans clean" 0 "$SCAN_RC"
{
	printf '=== sippeer received 00:00:00.000 from 127.0.250.1:5061 ===\r\n'
	printf 'SIP/2.0 503 Service Unavailable\r\nVia: SIP/2.0/TLS 127.0.250.21:40001;branch=z9hG4bKc\r\n'
	printf 'Warning: 399 edge.test "node 127.0.250.11:5062 down"\r\nContent-Length: 0\r\n\r\n\n'
} >"$P/partner.rec"
scan "$P"
se_eq "self-test: a planted node address makes the scan fail" 1 "$SCAN_RC"
se_eq "self-test: exactly that one is reported" \
	'FOUND plant/partner.rec message 1 (from 127.0.250.1:5061) [SIP/2.0 503 Service Unavailable]: 127.0.250.11 in '"'"'Warning: 399 edge.test "node 127.0.250.11:5062 down"'"'" \
	"$(grep '^FOUND' "$RUN/scan.out")"
printf 'x NOTICE: <script>: KAM-REQ src=127.0.250.1:4000 via=[SIP/2.0/TLS 127.0.250.2:5060]\n' >"$P/kamailio.out"
rm -f "$P/partner.rec"
scan "$P"
se_match "self-test: the listener address in kamailio.out is found" \
	'^FOUND plant/kamailio.out whole log .*: 127\.0\.250\.2 in ' "$(grep '^FOUND' "$RUN/scan.out")"

# ---- the suite's run directories
dirs=()
for d in "$top_builddir"/tests/run/*/; do
	[ "$(basename "$d")" = "$TEST" ] || dirs+=("$d")
done
[ ${#dirs[@]} -gt 0 ] ||
	se_skip "no run directories in $top_builddir/tests/run (run the integration tests first)"
scan "${dirs[@]}"
sed -n '/^#/p' "$RUN/scan.out"
case $SCAN_RC in
0) ok "no internal address in what external peers received ($(sed -n 's/^# scanned //p' "$RUN/scan.out"))" ;;
3) se_skip "no external-peer recordings in $top_builddir/tests/run/*/ (run the integration tests first)" ;;
*) not_ok "internal addresses reached external peers:"
   grep -v '^#' "$RUN/scan.out" | sed 's/^/#   /' ;;
esac
se_done
