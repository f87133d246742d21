#!/usr/bin/env python3
"""mkcorpus.py - (re)write the seed corpora of the fuzz harnesses.

    tests/fuzz/mkcorpus.py [TORTURE_DIR]

TORTURE_DIR holds the RFC 4475 messages (*.dat); default
/work/shared/testdata/rfc4475, else tests/torture/rfc4475. Writes
tests/fuzz/corpus/<harness>/. The seeds are kept in git: run this only to
change them. The header bytes each harness expects are described at the
top of its .c file.
"""
import hashlib
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")


def torture_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    for d in ("/work/shared/testdata/rfc4475",
              os.path.join(TOP, "tests/torture/rfc4475")):
        if os.path.isdir(d):
            return d
    sys.exit("mkcorpus: no RFC 4475 directory; give one")


def render(template, variables):
    """${VAR} / ${VAR:-default}, CRLF, Content-Length (as sippeer.py)."""
    def sub(m):
        if m.group(1) in variables:
            return variables[m.group(1)]
        return m.group(2) or ""
    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}", sub, template)
    text = text.replace("\r\n", "\n").lstrip("\n")
    head, body = (text.split("\n\n", 1) + [""])[:2] if "\n\n" in text \
        else (text.rstrip("\n"), "")
    lines = [ln for ln in head.split("\n")
             if ln.split(":", 1)[0].strip().lower() not in ("content-length", "l")]
    body = body.replace("\r\n", "\n").replace("\n", "\r\n").encode()
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def msg(text):
    """A literal message: LF -> CRLF, Content-Length from the body."""
    return render(text, {})


SCEN = os.path.join(TOP, "tests/integration/scenarios")
PEER_VARS = {"TRANSPORT": "TLS", "LOCAL": "198.51.100.7:5061",
             "BRANCH": "z9hG4bKpeer1", "TAG": "a1", "CALLID": "call-1@peer",
             "CSEQ": "1", "METHOD": "MESSAGE", "RURI": "sip:bob@example.test",
             "FROM": "<sip:alice@partner.test>;tag=a1",
             "TO": "<sip:bob@example.test>;tag=b1",
             "ROUTE": "<sip:edge.example.com:5061;transport=tls;lr;sipedge=ext>, "
                      "<sip:edge.example.com:5061;transport=tls;lr;sipedge=int>",
             "PAI": "sip:alice@partner.test", "NODE": "10.1.1.11"}


def scenario(name, **over):
    v = dict(PEER_VARS)
    v.update(over)
    with open(os.path.join(SCEN, name)) as f:
        return render(f.read(), v)


def write(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def framing(tdir):
    files = sorted(f for f in os.listdir(tdir) if f.endswith(".dat"))
    for i, f in enumerate(files):
        data = open(os.path.join(tdir, f), "rb").read()
        # header: max size, 1..3 chunks, cut positions (see fuzz_framing.c)
        flags = (i % 4) | ((i % 3) << 2)
        c1, c2 = (len(data) * 2 // 5) % 65536, (len(data) * 4 // 5) % 65536
        hdr = bytes([flags, c1 >> 8, c1 & 255, c2 >> 8, c2 & 255])
        write("fuzz_framing", "rfc4475-" + f[:-4], hdr + data)
    m = scenario("message.sip")
    inv = scenario("invite.sip")
    write("fuzz_framing", "scen-message", b"\0\0\0\0\0" + m)
    write("fuzz_framing", "scen-two-split", bytes([8, 0, 40, 1, 0]) + m + inv)
    write("fuzz_framing", "scen-keepalive", bytes([4, 0, 2, 0, 0]) + b"\r\n\r\n" + m + b"\r\n\r\n")
    write("fuzz_framing", "scen-service-1024", bytes([3, 0, 0, 0, 0]) + scenario("service.sip"))
    write("fuzz_framing", "scen-subscribe", b"\0\0\0\0\0" + scenario("subscribe.sip"))
    write("fuzz_framing", "scen-benotify", b"\0\0\0\0\0" + scenario("benotify.sip", TOTAG=";tag=x"))
    write("fuzz_framing", "scen-pat-invite", bytes([4, 0, 99, 0, 0]) + scenario("pat-node-invite.sip"))
    write("fuzz_framing", "scen-response", b"\0\0\0\0\0" + msg(
        "SIP/2.0 200 OK\nVia: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKpeer1\n"
        "From: <sip:alice@partner.test>;tag=a1\nTo: <sip:bob@example.test>;tag=b9\n"
        "Call-ID: call-1\nCSeq: 1 MESSAGE\nContact: <sip:bob@10.1.1.11:5062;transport=tcp>\n\n"))


# ------------------------------------------------------------------ rewrite
# flags: 1 public_address, 2 wildcard main listener, 4 inward to imp2,
# 32 imp1 over TLS, 64 no internal TLS listener; local: 1 the edge answers
# each forwarded request itself, bits 1-3 the status (see fuzz_rewrite.c).
def hdr(flags=0, who=(), local=0):
    plan = 0
    for i, w in enumerate(who):
        plan |= w << (2 * i)
    return bytes([flags, plan & 255, plan >> 8, local, 0])


SEP = b"\n%%\n"
PEER, PEER_PUB, NODE1, NODE2 = 0, 1, 2, 3

INBOUND = msg("""MESSAGE sip:bob@example.test SIP/2.0
Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKpeer1
Max-Forwards: 70
From: <sip:alice@partner.test>;tag=a1
To: <sip:bob@example.test>
Call-ID: call-1
CSeq: 1 MESSAGE
Contact: <sip:alice@198.51.100.7:5061;transport=tls>

hi""")

NODE_200 = msg("""SIP/2.0 200 OK
Via: SIP/2.0/TCP 10.1.1.1:5060;branch=$BRANCH
Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKpeer1
From: <sip:alice@partner.test>;tag=a1
To: <sip:bob@example.test>;tag=b9
Call-ID: call-1
CSeq: 1 MESSAGE
Contact: <sip:bob@10.1.1.11:5062;transport=tcp>
Record-Route: <sip:10.1.1.11:5062;lr>

""")

OUTBOUND = msg("""SUBSCRIBE sip:bob@partner.test SIP/2.0
Via: SIP/2.0/TCP 10.1.1.11:5062;branch=z9hG4bKnode1
Via: SIP/2.0/TCP 10.1.1.11:5080;branch=z9hG4bKinner
Route: <sip:10.1.1.1:5060;transport=tcp;lr>
Max-Forwards: 70
From: <sip:alice@example.test>;tag=n1
To: <sip:bob@partner.test>
Call-ID: out-1
CSeq: 1 SUBSCRIBE
Event: presence
Contact: <sip:alice@10.1.1.11:5062;transport=tcp>
P-Asserted-Identity: <sip:alice@10.1.1.11:5062>
Referred-By: <sip:carol@10.1.1.11:5062>
Record-Route: <sip:10.1.1.11:5072;lr>

""")

PEER_200 = msg("""SIP/2.0 200 OK
Via: SIP/2.0/TLS edge.example.com:5061;branch=$BRANCH
From: <sip:alice@example.test>;tag=n1
To: <sip:bob@partner.test>;tag=p
Call-ID: out-1
CSeq: 1 SUBSCRIBE
Contact: <sip:bob@sip.partner.test:5061;transport=tls>
Record-Route: <sip:edge.example.com:5061;transport=tls;lr;sipedge=ext>, <sip:edge.example.com:5061;transport=tls;lr;sipedge=int>

""")

INVITE = msg("""INVITE sip:bob@example.test SIP/2.0
Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKinv
Max-Forwards: 70
From: <sip:alice@partner.test>;tag=a1
To: <sip:bob@example.test>
Call-ID: inv-1
CSeq: 1 INVITE
Contact: <sip:alice@198.51.100.7:5061;transport=tls>
Content-Type: application/sdp

v=0
o=alice 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=message 5060 sip null
""")

CANCEL = msg("""CANCEL sip:bob@example.test SIP/2.0
Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKinv
Max-Forwards: 70
From: <sip:alice@partner.test>;tag=a1
To: <sip:bob@example.test>
Call-ID: inv-1
CSeq: 1 CANCEL

""")

NODE_487 = msg("""SIP/2.0 487 Request Terminated
Via: SIP/2.0/TCP 10.1.1.1:5060;branch=$BRANCH
Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKinv
From: <sip:alice@partner.test>;tag=a1
To: <sip:bob@example.test>;tag=b7
Call-ID: inv-1
CSeq: 1 INVITE

""")

ACK = msg("""ACK sip:bob@example.test SIP/2.0
Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKinv
Max-Forwards: 70
From: <sip:alice@partner.test>;tag=a1
To: <sip:bob@example.test>;tag=b7
Call-ID: inv-1
CSeq: 1 ACK

""")

BYE_IN_DIALOG = msg("""BYE sip:bob@edge.example.com:5061;transport=tls SIP/2.0
Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKbye1
Route: <sip:edge.example.com:5061;transport=tls;lr;sipedge=ext>
Route: <sip:edge.example.com:5061;transport=tls;lr;sipedge=int>
Max-Forwards: 70
From: <sip:alice@partner.test>;tag=a1
To: <sip:bob@example.test>;tag=b1
Call-ID: d-1
CSeq: 2 BYE

""")

NODE_NOTIFY = msg("""NOTIFY sip:alice@sip.partner.test:5061;transport=tls SIP/2.0
Via: SIP/2.0/TCP [fd00::12]:5062;branch=z9hG4bKn2
Route: <sip:10.1.1.1:5060;transport=tcp;lr;sipedge=int>
Route: <sip:edge.example.com:5061;transport=tls;lr;sipedge=ext>
Max-Forwards: 70
From: <sip:bob@example.test>;tag=b1
To: <sip:alice@partner.test>;tag=a1
Call-ID: sub-1
CSeq: 3 NOTIFY
Event: presence
Subscription-State: active;expires=600
Contact: <sip:bob@[fd00::12]:5062;transport=tcp>

""")

DISCOVERED = msg("""MESSAGE sip:bob@Sub.Example.Test. SIP/2.0
Via: SIP/2.0/TLS 198.51.100.9:5061;branch=z9hG4bKd1
Max-Forwards: 70
From: <sip:carol@srv.test>;tag=c1
To: <sip:bob@sub.example.test>
P-Asserted-Identity: <sip:carol@wild.test>, <sips:carol@discovered.test>
Call-ID: disc-1
CSeq: 1 MESSAGE
ms-edge-proxy-message-trust: ms-source-type=AuthorizedServer

hello""")

NODE_TO_SRV = msg("""MESSAGE sip:dave@somewhere.example SIP/2.0
Via: SIP/2.0/TCP 10.1.1.11:5062;branch=z9hG4bKout2
Max-Forwards: 70
From: <sip:alice@example.test>;tag=n2
To: <sip:dave@somewhere.example>
Call-ID: out-2
CSeq: 1 MESSAGE
Contact: <sip:alice@10.1.1.11>

hi""")

NODE_TO_STATIC = msg("""INVITE sip:erin@static.test SIP/2.0
Via: SIP/2.0/TCP 10.1.1.11:5072;branch=z9hG4bKout3
Max-Forwards: 70
From: <sip:alice@example.test>;tag=n3
To: <sip:erin@static.test>
Call-ID: out-3
CSeq: 7 INVITE
Contact: <sips:alice@10.1.1.11:5072>

""")


def rewrite(tdir):
    w = lambda name, data: write("fuzz_rewrite", name, data)
    w("inbound-message", hdr() + INBOUND)
    w("inbound-200", hdr(who=(PEER, NODE1)) + INBOUND + SEP + NODE_200)
    w("outbound-subscribe", hdr(who=(NODE1,)) + OUTBOUND)
    w("outbound-200", hdr(who=(NODE1, PEER)) + OUTBOUND + SEP + PEER_200)
    w("invite-cancel-487", hdr(who=(PEER, PEER, NODE1, PEER)) + INVITE + SEP + CANCEL
      + SEP + NODE_487 + SEP + ACK)
    w("invite-node-fails", hdr(who=(PEER,), local=1 | (4 << 1)) + INVITE)
    w("invite-timeout", hdr(who=(PEER,), local=1) + INVITE)
    w("bye-in-dialog", hdr(who=(PEER,)) + BYE_IN_DIALOG)
    w("node2-notify", hdr(who=(NODE2,)) + NODE_NOTIFY)
    w("discovery", hdr(flags=1 | 4, who=(PEER_PUB,)) + DISCOVERED)
    w("discovery-srv-failed", hdr(flags=1 | 2, who=(PEER_PUB,), local=3) + DISCOVERED)
    w("node-srv", hdr(flags=1, who=(NODE1,), local=1 | (3 << 1)) + NODE_TO_SRV)
    w("node-srv-none-match", hdr(flags=1 | 2, who=(NODE1,), local=1 | (6 << 1))
      + NODE_TO_SRV)
    w("node-static-backup", hdr(flags=32, who=(NODE1,), local=1) + NODE_TO_STATIC)
    w("proxy-require", hdr(who=(NODE1,)) + NODE_TO_STATIC.replace(
        b"Max-Forwards: 70", b"Proxy-Require: foo, bar\r\nMax-Forwards: 1"))
    w("stopping", hdr(flags=32 | 64, who=(PEER, NODE1)) + INBOUND + SEP + OUTBOUND)
    w("trace", hdr(flags=64, who=(NODE1, PEER)) + OUTBOUND + SEP + PEER_200)
    w("pat-invite", hdr(who=(NODE1,)) + scenario("pat-node-invite.sip", RURI="sip:bob@partner.test"))
    w("pat-subscribe", hdr(who=(NODE1,)) + scenario("pat-node-subscribe.sip"))
    # a node naming itself in every header it may write (t-topology)
    w("topo-invite", hdr(who=(NODE1,)) + scenario("topo-node-invite.sip",
      CALLID="xyz@10.1.1.11", EDGE_INT="10.1.1.1"))
    w("pat-notify", hdr(who=(PEER,)) + scenario("pat-notify.sip", METHOD="NOTIFY",
      RURI="sip:alice@edge.example.com:5061;transport=tls", TO="<sip:alice@example.test>;tag=n1",
      FROM="<sip:bob@partner.test>;tag=p", CSEQ="2"))
    w("policy-pai", hdr(who=(PEER,)) + scenario("policy-message-pai.sip",
      FROM="sip:alice@partner.test", PAI="sip:boss@lync.test"))
    w("service", hdr(who=(PEER,)) + scenario("service.sip"))
    w("benotify", hdr(who=(PEER,)) + scenario("benotify.sip"))
    w("cancel-orphan", hdr(who=(PEER,)) + scenario("cancel-orphan.sip"))
    w("no-callid", hdr(who=(PEER,)) + scenario("no-callid.sip"))
    w("inbound-imp2-200", hdr(flags=4, who=(PEER, NODE2)) + INBOUND + SEP + NODE_200)
    w("route-to-public-address", hdr(flags=1 | 2, who=(PEER,)) + INBOUND.replace(
        b"Max-Forwards: 70", b"Route: <sip:192.0.2.10:5061;lr>\r\nMax-Forwards: 70"))
    w("topo-invite-local-503", hdr(who=(NODE1,), local=1 | (3 << 1)) + scenario(
      "topo-node-invite.sip", CALLID="xyz@10.1.1.11", EDGE_INT="10.1.1.1"))
    files = sorted(f for f in os.listdir(tdir) if f.endswith(".dat"))
    for i, f in enumerate(files):
        data = open(os.path.join(tdir, f), "rb").read()
        who = PEER if i % 2 == 0 else NODE1
        w("rfc4475-" + f[:-4], hdr(flags=i & 1, who=(who,)) + data)


# ------------------------------------------------------------------ conf
def conf():
    srcs = [os.path.join(TOP, "tests/unit/conf", f)
            for f in sorted(os.listdir(os.path.join(TOP, "tests/unit/conf")))
            if f.endswith(".conf")]
    srcs.append(os.path.join(TOP, "etc/edge.conf"))
    for s in srcs:
        name = os.path.basename(s) if "unit/conf" in s else "etc-edge.conf"
        shutil.copyfile(s, os.path.join(OUT, "fuzz_conf", name))
    with open(os.path.join(OUT, "fuzz_conf", "include.conf"), "wb") as f:
        f.write(b'@include "inc.conf"\nedge = { fqdn = "edge.example.com"; };\n'
                b'tls = { external = { certificate = "e.crt"; private_key = "e.key"; '
                b'ca_file = "ca.pem"; }; };\n'
                b'listen = ( { zone = "external"; address = "::"; port = 5061; } );\n')


# ------------------------------------------------------------------ policy
def policy():
    seeds = {
        "peer-accept": b"\x00partner.test\n\nsip.partner.test\n\n\n\n\n\n\n",
        "peer-wrong-cert": b"\x00Partner.Test.\n\nsip.other.test\n\n\n\n\n\n\n",
        "srv-found": b"\x09srv.test\n\nsip.srv.test\n\n\n\nsip.srv.test\nother.example\n\n",
        "srv-lookup": b"\x01srv.test\n",
        "srv-failed": b"\x19discovered.example\n\nsip.discovered.example\n",
        "srv-none": b"\x11discovered.example\n",
        "srv-not-in-domain": b"\x09srv.test\n\nsip.srv.test\n\n\n\nsip.sub.srv.test\nsip.other.test\nsrv.test\n",
        "wildcard": b"\x0bwild.example\n\n*.wild.example\n\n\n\nsip.wild.example\n",
        "blocked": b"\x01x.bad.test\nevil.srv.test\n",
        "headers": b"\x49<sip:alice@srv.test>;tag=1\n<sips:bob@Sub.Srv.Test.>\nsip.srv.test\nsip.sub.srv.test\n\n\nsip.srv.test\nsip.sub.srv.test\n",
        "headers-tel": b"\x49<tel:+15551234>;tag=1\n\"Bob\" <sip:bob@partner.test;user=phone>\nsip.partner.test\n",
        "x509-uri-dns": b"\x69<sip:alice@srv.test>;tag=1\n<sip:bob@srv.test>\nUsip:sip.srv.test\nDsip.srv.test\nUsip:bob@sip.srv.test\nUsip:sip.srv.test:5061\nsip.srv.test\nsip.sub.srv.test\n",
        "x509-cn": b"\x29SRV.TEST.\nsub.srv.test\nCsip.srv.test\nCSIP.SUB.SRV.TEST.\n\n\nsip.SRV.test.\nsip.sub.srv.test\n",
        "x509-nul": b"\x29srv.test\n\nDsip.srv.test\x00.evil\nUsip:sip.srv.test;transport=tls\n\n\nsip.srv.test\n",
        "srv-match-none": b"\x0dsrv.test\n\nsip.other.test\n\n\n\nsip.other.test\n",
        "fixed-under-srv": b"\x09x.fixed.sub.srv.test\n\nedge.fixed.test\n",
        "example-org": b"\x09WWW.example.org\n\nsip.www.example.org\n\n\n\nsip.www.example.org.\n",
    }
    for name, data in seeds.items():
        write("fuzz_policy", name, data)


def main():
    tdir = torture_dir()
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    for h in ("fuzz_framing", "fuzz_policy", "fuzz_rewrite", "fuzz_conf"):
        os.makedirs(os.path.join(OUT, h))
    framing(tdir)
    rewrite(tdir)
    conf()
    policy()
    total = sum(os.path.getsize(os.path.join(d, f))
                for d, _, fs in os.walk(OUT) for f in fs)
    print("mkcorpus: %d bytes in %s" % (total, OUT))


if __name__ == "__main__":
    main()
