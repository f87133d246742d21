#!/usr/bin/env python3
"""reload_peers.py - many long-lived mutual-TLS SIP clients, for t-reload.sh.

Subcommands:
  hold   open --count TLS connections (source addresses from --bind, round
         robin), keep them open and answer commands on the unix stream socket
         --control until "quit" or --timeout:
           status       open=N closed=M cert.LABEL=K... (LABEL: the --known
                        certificate each connection saw at its handshake)
           message      one MESSAGE on every open connection, at once; wait
                        (bounded) for the final responses on that same
                        connection: sent=N ok=K (200) other=X noanswer=Y
                        closed=Z [fail=...]
           quit
  ctl    send one command to a hold process, print the answer
  probe  one new connection: print the server certificate it saw
         ("CERT LABEL SERIAL hex SHA256 hex"), with --message also one
         MESSAGE and its final status ("STATUS 200")

Only the Python standard library, loopback addresses, bounded waits.
Exit status: 0 success, 1 an expectation failed, 2 usage or setup error.
"""

import argparse
import hashlib
import os
import re
import selectors
import socket
import ssl
import sys
import time


def die(msg, code=2):
    print("reload_peers: " + msg, file=sys.stderr, flush=True)
    sys.exit(code)


def hostport(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def fingerprint_of_pem(path):
    with open(path, encoding="ascii") as f:
        pem = f.read()
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                  pem, re.S)
    if not m:
        die("no certificate in %s" % path)
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(m.group(0))).hexdigest()


def known_certs(specs):
    out = {}
    for spec in specs:
        label, _, path = spec.partition("=")
        out[fingerprint_of_pem(path)] = label
    return out


def client_context(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.load_verify_locations(a.ca)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class Peer:
    """One established TLS connection and what it saw."""

    def __init__(self, ctx, a, src, known, timeout):
        host, port = hostport(a.connect)
        raw = socket.create_connection((host, port), timeout=timeout,
                                       source_address=(src, 0))
        try:
            s = ctx.wrap_socket(raw, server_hostname=a.sni)
        except BaseException:
            raw.close()
            raise
        self.sock = s
        self.local = "%s:%d" % s.getsockname()[:2]
        der = s.getpeercert(binary_form=True)
        self.sha256 = hashlib.sha256(der).hexdigest()
        self.label = known.get(self.sha256, "other")
        self.serial = (s.getpeercert() or {}).get("serialNumber", "?")
        self.version = s.version()
        self.buf = b""
        self.closed = False
        self.why = ""
        s.settimeout(0.0)

    def drain(self):
        """Read what is there without waiting; False once closed."""
        if self.closed:
            return False
        while True:
            try:
                data = self.sock.recv(65536)
            except (ssl.SSLWantReadError, BlockingIOError):
                return True
            except ssl.SSLWantWriteError:
                return True
            except (ssl.SSLError, OSError) as e:
                self.closed, self.why = True, str(e)
                return False
            if not data:
                self.closed, self.why = True, "EOF"
                return False
            self.buf += data

    def send(self, data, timeout):
        try:
            self.sock.settimeout(timeout)
            self.sock.sendall(data)
            return True
        except (ssl.SSLError, OSError) as e:
            self.closed, self.why = True, "send: %s" % e
            return False
        finally:
            try:
                self.sock.settimeout(0.0)
            except OSError:
                pass

    def messages(self):
        """Complete SIP messages in the buffer: [(start line, headers)]."""
        out = []
        while True:
            self.buf = self.buf.lstrip(b"\r\n")
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return out
            head = self.buf[:end].decode("utf-8", "replace").split("\r\n")
            hdrs = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                hdrs.setdefault(name.strip().lower(), value.strip())
            clen = int(hdrs.get("content-length", hdrs.get("l", "0")) or 0)
            if len(self.buf) < end + 4 + clen:
                return out
            self.buf = self.buf[end + 4 + clen:]
            out.append((head[0], hdrs))


def message(peer, callid, a):
    ip, port = peer.local.rsplit(":", 1)
    body = "hello over an old connection\r\n"
    return ("MESSAGE {ruri} SIP/2.0\r\n"
            "Via: SIP/2.0/TLS {ip}:{port};branch=z9hG4bK{cid}\r\n"
            "Max-Forwards: 70\r\n"
            "From: <{frm}>;tag=t{cid}\r\n"
            "To: <{ruri}>\r\n"
            "Call-ID: {cid}\r\n"
            "CSeq: 1 MESSAGE\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: {n}\r\n\r\n{body}").format(
                ruri=a.ruri, frm=a.from_uri, ip=ip, port=port, cid=callid,
                n=len(body), body=body).encode()


def round_trip(peers, a, tag, timeout):
    """A MESSAGE on each open peer at once; final responses, bounded."""
    deadline = time.monotonic() + timeout
    want = {}
    res = {"sent": 0, "ok": 0, "other": 0, "noanswer": 0, "closed": 0}
    fails = []
    for i, p in enumerate(peers):
        if not p.drain():
            res["closed"] += 1
            fails.append("%d:closed-before(%s)" % (i, p.why))
            continue
        p.buf = b""
        cid = "%s-%d-%s" % (tag, i, os.urandom(4).hex())
        if p.send(message(p, cid, a), 5):
            res["sent"] += 1
            want[p] = (i, cid)
        else:
            res["closed"] += 1
            fails.append("%d:%s" % (i, p.why))
    sel = selectors.DefaultSelector()
    for p in want:
        sel.register(p.sock, selectors.EVENT_READ, p)

    def settle(p, status):
        i, _ = want.pop(p)
        sel.unregister(p.sock)
        if status == 200:
            res["ok"] += 1
        elif status is None:
            res["closed"] += 1
            fails.append("%d:closed(%s)" % (i, p.why))
        else:
            res["other"] += 1
            fails.append("%d:%s" % (i, status))

    while want and time.monotonic() < deadline:
        ready = sel.select(max(0.0, min(0.5, deadline - time.monotonic())))
        for key, _ in ready:
            p = key.data
            if p not in want:
                continue
            alive = p.drain()
            for start, hdrs in p.messages():
                parts = start.split(" ", 2)
                if (start.startswith("SIP/2.0 ") and hdrs.get("call-id") == want[p][1]
                        and parts[1].isdigit() and int(parts[1]) >= 200):
                    settle(p, int(parts[1]))
                    break
            if p in want and not alive:
                settle(p, None)
    for p, (i, _) in list(want.items()):
        res["noanswer"] += 1
        fails.append("%d:noanswer" % i)
    sel.close()
    out = " ".join("%s=%d" % kv for kv in res.items())
    if fails:
        out += " fail=" + ",".join(fails[:10]) + (",..." if len(fails) > 10 else "")
    return out


def cmd_hold(a):
    known = known_certs(a.known)
    ctx = client_context(a)
    end = time.monotonic() + a.timeout
    peers, failed = [], []
    t0 = time.monotonic()
    for i in range(a.count):
        src = a.bind[i % len(a.bind)]
        try:
            peers.append(Peer(ctx, a, src, known, 10))
        except (ssl.SSLError, OSError) as e:
            failed.append("%d:%s" % (i, e))
        if time.monotonic() > end:
            die("timeout while connecting")
    took = time.monotonic() - t0
    try:
        os.unlink(a.control)
    except FileNotFoundError:
        pass
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ctl.bind(a.control)
    ctl.listen(4)
    labels = {}
    for p in peers:
        labels[p.label] = labels.get(p.label, 0) + 1
    with open(a.ready + ".tmp", "w") as f:
        f.write("opened=%d failed=%d seconds=%.2f %s%s\n" % (
            len(peers), len(failed), took,
            " ".join("cert.%s=%d" % kv for kv in sorted(labels.items())),
            (" fail=" + ",".join(failed[:5])) if failed else ""))
        for i, p in enumerate(peers):
            f.write("%d %s %s %s %s %s\n" % (i, p.local, p.label, p.serial,
                                             p.sha256, p.version))
    os.rename(a.ready + ".tmp", a.ready)
    rounds = 0
    while time.monotonic() < end:
        ctl.settimeout(max(0.1, min(1.0, end - time.monotonic())))
        try:
            c, _ = ctl.accept()
        except socket.timeout:
            for p in peers:     # consume TLS tickets, notice closes
                p.drain()
            continue
        c.settimeout(5)
        try:
            cmd = c.makefile("r").readline().split()
        except OSError:
            c.close()
            continue
        if not cmd:
            c.close()
            continue
        if cmd[0] == "status":
            for p in peers:
                p.drain()
            labels = {}
            for p in peers:
                labels[p.label] = labels.get(p.label, 0) + 1
            closed = [p for p in peers if p.closed]
            ans = "open=%d closed=%d %s" % (
                len(peers) - len(closed), len(closed),
                " ".join("cert.%s=%d" % kv for kv in sorted(labels.items())))
            if closed:
                ans += " why=" + ",".join(sorted({p.why for p in closed}))[:200]
        elif cmd[0] == "message":
            rounds += 1
            ans = round_trip(peers, a, "rp%d-%d" % (os.getpid(), rounds),
                             float(cmd[1]) if len(cmd) > 1 else 30)
        elif cmd[0] == "quit":
            c.sendall(b"bye\n")
            c.close()
            break
        else:
            ans = "ERROR unknown command"
        try:
            c.sendall((ans + "\n").encode())
        except OSError:
            pass
        c.close()
    ctl.close()
    os.unlink(a.control)
    for p in peers:
        try:
            p.sock.close()
        except OSError:
            pass
    return 0


def cmd_ctl(a):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    try:
        s.connect(a.control)
        s.sendall((" ".join(a.command) + "\n").encode())
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except OSError as e:
        print("ERROR %s" % e, flush=True)
        return 2
    out = data.decode().strip()
    print(out, flush=True)
    return 1 if out.startswith("ERROR") or not out else 0


def cmd_probe(a):
    known = known_certs(a.known)
    ctx = client_context(a)
    try:
        p = Peer(ctx, a, a.bind[0], known, a.timeout)
    except (ssl.SSLError, OSError) as e:
        print("CONNECT_FAILED %s" % e, flush=True)
        return 1
    print("CERT %s SERIAL %s SHA256 %s" % (p.label, p.serial, p.sha256),
          flush=True)
    if not a.message:
        p.sock.close()
        return 0
    ans = round_trip([p], a, "probe%d" % os.getpid(), a.timeout)
    p.sock.close()
    m = re.search(r"\bok=1\b", ans)
    print("STATUS 200" if m else "FAILED %s" % ans, flush=True)
    return 0 if m else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def conn_opts(q):
        q.add_argument("--connect", required=True, metavar="HOST:PORT")
        q.add_argument("--bind", action="append", required=True,
                       metavar="ADDR", help="source address (repeatable)")
        q.add_argument("--cert", required=True)
        q.add_argument("--key", required=True)
        q.add_argument("--ca", required=True)
        q.add_argument("--sni", required=True, help="server name verified")
        q.add_argument("--known", action="append", default=[],
                       metavar="LABEL=PEM", help="name a server certificate")
        q.add_argument("--ruri", default="sip:bob@example.test")
        q.add_argument("--from-uri", default="sip:alice@partner.test")

    h = sub.add_parser("hold", help="open and keep many connections")
    conn_opts(h)
    h.add_argument("--count", type=int, default=200)
    h.add_argument("--control", required=True, help="unix socket path")
    h.add_argument("--ready", required=True,
                   help="written once connected: summary, then one line "
                   "per connection (index local label serial sha256 version)")
    h.add_argument("--timeout", type=float, default=300,
                   help="lifetime in seconds (default 300)")

    c = sub.add_parser("ctl", help="send a command to a hold process")
    c.add_argument("control")
    c.add_argument("command", nargs="+")
    c.add_argument("--timeout", type=float, default=60)

    p = sub.add_parser("probe", help="one new connection")
    conn_opts(p)
    p.add_argument("--message", action="store_true")
    p.add_argument("--timeout", type=float, default=10)

    a = ap.parse_args()
    return {"hold": cmd_hold, "ctl": cmd_ctl, "probe": cmd_probe}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
