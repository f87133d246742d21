#!/usr/bin/env python3
"""msgload.py - a steady stream of MESSAGEs for failover tests (t-cluster,
t-cluster-srv): one request at a time, every INTERVAL seconds, over TCP or
mutual TLS, each on a new connection (--mode new) or all on one (--mode
keep: a new connection only after a failure). Prints one line per request:

    START_MS END_MS RESULT      RESULT = STATUS_<code> | CLOSED | NO_ANSWER
                                         | ERROR_<exception name>

Bounded: --seconds of sending, --timeout per request."""
import argparse
import socket
import ssl
import time
import uuid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True, help="HOST:PORT")
    ap.add_argument("--bind", default="", help="local address")
    ap.add_argument("--tls", metavar="PKI", help="mutual TLS with PKI/partner.crt")
    ap.add_argument("--sni", default="edge.test")
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--mode", choices=("new", "keep"), default="new")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--tag", default="load", help="Call-ID prefix")
    a = ap.parse_args()
    host, port = a.connect.rsplit(":", 1)
    ctx = None
    if a.tls:
        ctx = ssl.create_default_context(cafile=a.tls + "/ca.crt")
        ctx.load_cert_chain(a.tls + "/partner.crt", a.tls + "/partner.key")
    proto = "TLS" if ctx else "TCP"
    s = None
    end = time.time() + a.seconds
    while time.time() < end:
        t0 = time.time()
        res = "NO_ANSWER"
        try:
            if s is None:
                raw = socket.create_connection((host, int(port)), timeout=a.timeout,
                                               source_address=(a.bind, 0))
                s = ctx.wrap_socket(raw, server_hostname=a.sni) if ctx else raw
            s.settimeout(a.timeout)
            lip, lport = s.getsockname()[:2]
            cid = uuid.uuid4().hex
            body = b"steady load"
            s.sendall(("MESSAGE sip:bob@example.test SIP/2.0\r\n"
                       "Via: SIP/2.0/%s %s:%d;branch=z9hG4bK%s\r\n"
                       "Max-Forwards: 70\r\nFrom: <sip:alice@partner.test>;tag=%s\r\n"
                       "To: <sip:bob@example.test>\r\nCall-ID: %s-%s\r\nCSeq: 1 MESSAGE\r\n"
                       "Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                       % (proto, lip, lport, cid[:10], cid[10:16], a.tag, cid,
                          len(body))).encode() + body)
            buf = b""
            while res == "NO_ANSWER":
                d = s.recv(4096)
                if not d:
                    res = "CLOSED"
                    break
                buf += d
                while b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    code = head.split(b" ", 2)[1].decode()
                    if not code.startswith("1"):
                        res = "STATUS_" + code
                        break
        except (OSError, ssl.SSLError, IndexError, UnicodeDecodeError) as e:
            res = "ERROR_" + type(e).__name__
        if s is not None and (a.mode == "new" or res != "STATUS_200"):
            try:
                s.close()
            except OSError:
                pass
            s = None
        t1 = time.time()
        print("%d %d %s" % (t0 * 1000, t1 * 1000, res), flush=True)
        time.sleep(max(0, a.interval - (t1 - t0)))


if __name__ == "__main__":
    main()
