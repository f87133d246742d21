#!/usr/bin/env python3
"""sippeer.py - a scripted SIP peer over TCP or mutual TLS, for sipedge tests.

Subcommands (see --help of each):
  send     connect, send SIP messages from templates, check the responses
  serve    listen, record every request, answer with a fixed code
  inspect  parse a recorded file (sippeer --out/--record or a sipp
           -message_file) and print header counts / values
  wait     wait (bounded) until TCP listeners exist and/or files appear
  listeners  list TCP listeners on addresses with a given prefix

Only the Python standard library is used. Every wait is bounded.

Exit status: 0 success, 1 an expectation failed, 2 usage or setup error.
"""

import argparse
import binascii
import os
import random
import re
import select
import signal
import socket
import ssl
import string
import sys
import threading
import time

# --------------------------------------------------------------- parsing

COMPACT = {
    "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type",
    "d": "Request-Disposition", "e": "Content-Encoding", "f": "From",
    "i": "Call-ID", "j": "Reject-Contact", "k": "Supported",
    "l": "Content-Length", "m": "Contact", "n": "Identity-Info",
    "o": "Event", "r": "Refer-To", "s": "Subject", "t": "To",
    "u": "Allow-Events", "v": "Via", "x": "Session-Expires", "y": "Identity",
}

# Headers whose value is a comma-separated list (RFC 3261 7.3.1): counted
# and listed per element, however the sender spread them over lines.
LIST_HEADERS = {
    "via", "route", "record-route", "contact", "path", "service-route",
    "allow", "supported", "require", "proxy-require", "unsupported",
    "accept", "accept-encoding", "accept-language", "allow-events",
    "content-encoding", "p-asserted-identity", "history-info",
}


def canon(name):
    """Lower-case full header name (compact forms expanded)."""
    name = name.strip()
    if len(name) == 1:
        name = COMPACT.get(name.lower(), name)
    return name.lower()


def split_list(value):
    """Split a header value on commas outside quotes and <...>."""
    out, cur, quote, angle, esc = [], [], False, False, False
    for ch in value:
        if esc:
            cur.append(ch)
            esc = False
            continue
        if quote and ch == "\\":
            esc = True
        elif ch == '"':
            quote = not quote
        elif not quote and ch == "<":
            angle = True
        elif not quote and ch == ">":
            angle = False
        elif ch == "," and not quote and not angle:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    tail = "".join(cur).strip()
    if tail or not out:
        out.append(tail)
    return [v for v in out if v != ""]


class SipMessage:
    """A parsed SIP message: start line, ordered headers, body (bytes)."""

    def __init__(self, start, headers, body, raw=b""):
        self.start = start
        self.headers = headers          # [(name as written, value)]
        self.body = body
        self.raw = raw
        self.peer = ""
        parts = start.split(" ", 2)
        self.is_request = not start.startswith("SIP/")
        if self.is_request:
            self.method = parts[0]
            self.uri = parts[1] if len(parts) > 1 else ""
            self.status = None
        else:
            self.method = None
            self.uri = None
            try:
                self.status = int(parts[1])
            except (IndexError, ValueError):
                self.status = 0
            self.reason = parts[2] if len(parts) > 2 else ""

    @classmethod
    def parse(cls, data):
        """Parse one message (bytes or str); tolerant of bare LF."""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        m = re.search(rb"\r?\n\r?\n", data)
        if m:
            head, body = data[:m.start()], data[m.end():]
        else:
            head, body = data, b""
        lines = re.split(r"\r?\n", head.decode("utf-8", "replace"))
        while lines and lines[0] == "":
            lines.pop(0)
        if not lines:
            raise ValueError("empty message")
        headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and headers:      # folded line
                n, v = headers[-1]
                headers[-1] = (n, v + " " + line.strip())
            elif ":" in line:
                n, v = line.split(":", 1)
                headers.append((n.strip(), v.strip()))
            elif line.strip():
                headers.append((line.strip(), ""))      # malformed, kept
        return cls(lines[0].strip(), headers, body, data)

    def values(self, name):
        """All values of a header; list headers split per element."""
        c = canon(name)
        out = []
        for n, v in self.headers:
            if canon(n) == c:
                out.extend(split_list(v) if c in LIST_HEADERS else [v])
        return out

    def get(self, name, default=None):
        c = canon(name)
        for n, v in self.headers:
            if canon(n) == c:
                return v
        return default

    def cseq(self):
        v = (self.get("CSeq") or "").split()
        return (int(v[0]) if v and v[0].isdigit() else 0,
                v[1] if len(v) > 1 else "")

    def top_branch(self):
        vias = self.values("Via")
        m = re.search(r";\s*branch=([^;,\s]+)", vias[0]) if vias else None
        return m.group(1) if m else None

    def describe(self):
        return self.start if self.is_request else "%d %s" % (self.status,
                                                            self.cseq()[1])


class StreamReader:
    """Content-Length framing over a byte stream, plus RFC 5626 CRLFs."""

    def __init__(self, client=False, max_header=65536):
        self.buf = b""
        self.client = client    # a lone CRLF is a pong (client) or may
        self.max_header = max_header    # start a ping (server)
        self.pings = 0          # CRLFCRLF seen between messages
        self.pongs = 0          # lone CRLF seen between messages

    def feed(self, data):
        self.buf += data

    def next(self):
        """Return the next complete SipMessage, or None."""
        while self.buf.startswith(b"\r\n"):
            if self.buf.startswith(b"\r\n\r\n"):
                self.pings += 1
                self.buf = self.buf[4:]
            elif b"\r\n\r\n".startswith(self.buf) and not self.client:
                return None     # maybe the start of a ping: wait
            else:
                self.pongs += 1
                self.buf = self.buf[2:]
        m = re.search(rb"\r?\n\r?\n", self.buf)
        if not m:
            if len(self.buf) > self.max_header:
                raise ValueError("no end of headers in %d bytes" % len(self.buf))
            return None
        head = self.buf[:m.end()]
        msg = SipMessage.parse(head)
        cl = msg.get("Content-Length")
        try:
            n = int(cl) if cl is not None else 0
        except ValueError:
            raise ValueError("bad Content-Length %r" % cl)
        if len(self.buf) < m.end() + n:
            return None
        raw = self.buf[:m.end() + n]
        self.buf = self.buf[m.end() + n:]
        msg = SipMessage.parse(raw)
        msg.body = raw[m.end():]
        return msg


# Files written by --out / --record: each message, exactly as received, is
# preceded by a marker line and followed by one separating newline.
MARK = "=== sippeer %s %s from %s ==="
MARK_RE = re.compile(r"^=== sippeer (\S+) (\S+) from (\S*) ===\r?$", re.M)
# sipp -trace_msg / -message_file blocks
SIPP_RE = re.compile(r"^-{20,} .*\r?\n\S+ message (received|sent) "
                     r"(?:\[\d+\] bytes ?|\(\d+ bytes\)):\r?\n\r?\n", re.M)


def record(path, lock, direction, peer, raw):
    stamp = time.strftime("%H:%M:%S", time.localtime()) + ".%03d" % (
        int(time.time() * 1000) % 1000)
    with lock:
        with open(path, "ab") as f:
            f.write((MARK % (direction, stamp, peer) + "\n").encode())
            f.write(raw + b"\n")      # the newline is the separator


def load_messages(path):
    """[(direction, SipMessage)] from a sippeer record or a sipp trace."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return []               # nothing recorded: no messages
    out = []
    marks = list(MARK_RE.finditer(text))
    if marks:
        for i, m in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            chunk = text[m.end() + 1:end]
            if chunk.endswith("\n"):
                chunk = chunk[:-1]      # the separator newline we added
            try:
                msg = SipMessage.parse(chunk)
            except ValueError:
                continue
            msg.peer = m.group(3)
            out.append((m.group(1), msg))
        return out
    blocks = list(SIPP_RE.finditer(text))
    for i, m in enumerate(blocks):
        end = blocks[i + 1].start() if i + 1 < len(blocks) else len(text)
        chunk = text[m.end():end]
        # sipp ends each block with a blank line; trim trailing whitespace
        # of the header part only (bodies are not asserted on sipp traces)
        chunk = chunk.rstrip("\r\n") + "\r\n"
        if "\n\n" not in chunk.replace("\r\n", "\n"):
            chunk += "\r\n"
        try:
            out.append((m.group(1), SipMessage.parse(chunk)))
        except ValueError:
            pass
    return out


# --------------------------------------------------------------- helpers

def die(msg, code=2):
    print("sippeer: " + msg, file=sys.stderr)
    sys.exit(code)


def hostport(s, default_port=None):
    m = re.match(r"^\[([^\]]+)\](?::(\d+))?$", s) or \
        re.match(r"^([^:]+)(?::(\d+))?$", s)
    if not m or (m.group(2) is None and default_port is None):
        die("bad HOST:PORT %r" % s)
    return m.group(1), int(m.group(2) or default_port)


def rand_token(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits)
                   for _ in range(n))


def crlf(text):
    return re.sub(r"\r?\n", "\r\n", text)


def build(template, variables):
    """Substitute ${VAR} / ${VAR:-default}, normalise to CRLF, set
    Content-Length (any Content-Length in the template is replaced)."""
    def sub(m):
        if m.group(1) in variables:
            return variables[m.group(1)]
        if m.group(2) is not None:
            return m.group(2)
        die("template uses undefined variable ${%s}" % m.group(1))
    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}", sub,
                  template)
    text = text.replace("\r\n", "\n").lstrip("\n")
    if "\n\n" in text:
        head, body = text.split("\n\n", 1)
    else:
        head, body = text.rstrip("\n"), ""
    lines = [ln for ln in head.split("\n")
             if canon(ln.split(":", 1)[0]) != "content-length"]
    body = crlf(body).encode("utf-8", "surrogateescape")
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode(
        "utf-8", "surrogateescape") + body


def tls_context(server, cert, key, ca, verify_name, version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server
                         else ssl.PROTOCOL_TLS_CLIENT)
    if version:
        v = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[version]
        ctx.minimum_version = ctx.maximum_version = v
    if cert:
        ctx.load_cert_chain(cert, key or cert)
    if ca:
        ctx.load_verify_locations(ca)
    if server:
        ctx.verify_mode = ssl.CERT_REQUIRED if ca else ssl.CERT_NONE
    else:
        ctx.check_hostname = bool(verify_name) and bool(ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if ca else ssl.CERT_NONE
    return ctx


def peer_names(sock):
    try:
        c = sock.getpeercert()
    except (AttributeError, ValueError):
        return ""
    if not c:
        return ""
    return ",".join(v for k, v in c.get("subjectAltName", ()) if k == "DNS")


# ------------------------------------------------------------------ send

class Conn:
    """Client connection with a deadline-bounded message reader."""

    def __init__(self, a):
        self.a = a
        self.deadline = time.monotonic() + a.timeout
        self.reader = StreamReader(client=True)
        self.closed = False
        self.close_reason = ""
        self.lock = threading.Lock()
        host, port = hostport(a.connect)
        src = hostport(a.bind, 0) if a.bind else None
        try:
            s = socket.create_connection((host, port), timeout=a.timeout,
                                         source_address=src)
        except OSError as e:
            print("CONNECT_FAILED %s" % e, flush=True)
            sys.exit(2)
        self.local = "%s:%d" % s.getsockname()[:2]
        self.remote = "%s:%d" % (host, port)
        self.handshake_error = None
        if a.tls:
            ctx = tls_context(False, a.cert, a.key, a.ca, a.sni, a.tls_version)
            s = ctx.wrap_socket(s, server_hostname=a.sni or None,
                                do_handshake_on_connect=False)
            s.settimeout(max(0.1, self.deadline - time.monotonic()))
            try:
                s.do_handshake()
            except (ssl.SSLError, OSError) as e:
                self.handshake_error = e
        self.sock = s

    def send(self, data):
        try:
            self.sock.settimeout(max(0.1, self.deadline - time.monotonic()))
            self.sock.sendall(data)
            if self.a.sent_out and data.strip(b"\r\n"):
                record(self.a.sent_out, self.lock, "sent", self.remote, data)
            return True
        except (OSError, ssl.SSLError) as e:
            print("SEND_FAILED %s" % e, file=sys.stderr)
            self.close_reason = str(e)
            self.closed = True
            return False

    def fill(self, until):
        """Read once, waiting until `until`; False on close/timeout."""
        if self.closed:
            return False
        left = min(until, self.deadline) - time.monotonic()
        if left <= 0:
            return False
        if not (isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()):
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return False
        try:
            self.sock.settimeout(0.5)
            data = self.sock.recv(65536)
        except socket.timeout:
            return True     # TLS record incomplete; try again
        except (ssl.SSLError, OSError) as e:
            self.close_reason = str(e)
            self.closed = True
            return False
        if not data:
            self.close_reason = "EOF"
            self.closed = True
            return False
        self.reader.feed(data)
        return True

    def next_message(self, until=None):
        until = until or self.deadline
        while True:
            try:
                m = self.reader.next()
            except ValueError as e:
                print("BAD_MESSAGE %s" % e, flush=True)
                return None
            if m:
                m.peer = self.remote
                if self.a.out:
                    record(self.a.out, self.lock, "received", self.remote, m.raw)
                if self.a.verbose:
                    sys.stderr.write("<<< %s\n%s\n" % (
                        self.remote, m.raw.decode("utf-8", "replace")))
                return m
            if not self.fill(until):
                return None


def uri_of(nameaddr):
    m = re.search(r"<([^>]*)>", nameaddr)
    return m.group(1) if m else nameaddr.split(";")[0].strip()


def in_dialog(req, resp, method, cseq, branch, same_ruri=False):
    """ACK/BYE built from the request and its final response."""
    via = re.sub(r"branch=[^;,\s]+", "branch=" + branch, req.values("Via")[0])
    if same_ruri:               # ACK of a non-2xx: same transaction
        ruri, routes = req.uri, req.values("Route")
    else:
        contacts = resp.values("Contact")
        ruri = uri_of(contacts[0]) if contacts else req.uri
        routes = list(reversed(resp.values("Record-Route")))
    lines = ["%s %s SIP/2.0" % (method, ruri), "Via: " + via]
    lines += ["Route: " + r for r in routes]
    lines += ["Max-Forwards: 70", "From: " + req.get("From"),
              "To: " + resp.get("To"), "Call-ID: " + req.get("Call-ID"),
              "CSeq: %d %s" % (cseq, method), "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def check_headers(a, resp):
    """Every --expect-header 'Name: regex' must match a value of Name."""
    ok = True
    for spec in a.expect_header:
        name, _, rx = spec.partition(":")
        rx = rx.strip()
        vals = [v for n, v in resp.headers if canon(n) == canon(name)]
        vals += resp.values(name)
        if not any(re.search(rx, v) for v in vals):
            print("HEADER_MISMATCH %s: %r not matched in %r" % (
                name.strip(), rx, vals), flush=True)
            ok = False
    return ok


def wait_final(conn, req_branch, method):
    """Wait for the final response of the transaction with req_branch."""
    while True:
        m = conn.next_message()
        if m is None:
            return None
        if m.is_request:
            print("REQUEST %s" % m.method, flush=True)
            continue
        if m.top_branch() != req_branch or m.cseq()[1] != method:
            print("STRAY %d %s" % (m.status, m.cseq()[1]), flush=True)
            continue
        if m.status < 200:
            print("PROVISIONAL %d %s" % (m.status, method), flush=True)
            continue
        print("STATUS %d %s" % (m.status, method), flush=True)
        show_headers(conn.a, m)
        return m


def show_headers(a, resp):
    """--show-header NAME: print each value of NAME in a final response."""
    for name in a.show_header:
        for v in resp.values(name):
            print("HEADER %s: %s" % (name, v), flush=True)


def wait_provisional(conn, req_branch, code):
    """Wait for provisional CODE of the INVITE with req_branch; a final
    response ends the wait early (and is returned)."""
    while True:
        m = conn.next_message()
        if m is None:
            return None
        if m.is_request:
            print("REQUEST %s" % m.method, flush=True)
            continue
        if m.top_branch() != req_branch or m.cseq()[1] != "INVITE":
            print("STRAY %d %s" % (m.status, m.cseq()[1]), flush=True)
            continue
        if m.status < 200:
            print("PROVISIONAL %d INVITE" % m.status, flush=True)
            if m.status == code:
                return m
            continue
        print("STATUS %d INVITE" % m.status, flush=True)
        return m


def wait_finals(conn, req_branch, methods):
    """Final responses of several transactions sharing req_branch (INVITE
    and its CANCEL), in whatever order: {method: response} or None."""
    got = {}
    while len(got) < len(methods):
        m = conn.next_message()
        if m is None:
            return None
        if m.is_request:
            print("REQUEST %s" % m.method, flush=True)
            continue
        meth = m.cseq()[1]
        if m.top_branch() != req_branch or meth not in methods:
            print("STRAY %d %s" % (m.status, meth), flush=True)
            continue
        if m.status < 200:
            print("PROVISIONAL %d %s" % (m.status, meth), flush=True)
            continue
        print("STATUS %d %s" % (m.status, meth), flush=True)
        if meth in got:
            print("DUPLICATE_FINAL %d %s" % (m.status, meth), flush=True)
            continue
        got[meth] = m
    return got


def end_of_wait(conn):
    if conn.closed:
        print("CLOSED %s" % conn.close_reason, flush=True)
    else:
        print("TIMEOUT", flush=True)


def collect(conn, settle):
    """--collect: report whatever comes back for raw bytes, one line per
    message, until --timeout, a close, or SETTLE seconds after the last
    final response; then CLOSED (the peer hung up) or OPEN. Exit 0."""
    end = conn.deadline
    while True:
        m = conn.next_message()
        if m is None:
            break
        if m.is_request:
            print("REQUEST %s" % m.method, flush=True)
        elif m.status < 200:
            print("PROVISIONAL %d %s" % (m.status, m.cseq()[1]), flush=True)
        else:
            print("STATUS %d %s" % (m.status, m.cseq()[1]), flush=True)
            conn.deadline = min(end, time.monotonic() + settle)
    print("CLOSED %s" % conn.close_reason if conn.closed else "OPEN", flush=True)
    return 0


def send_pipelined(a, conn, templates, variables):
    """--pipeline: send the requests without waiting for answers (at most
    --window outstanding, one every --interval seconds), collect one final
    response each (matched by branch, in whatever order they come)."""
    wanted = {}
    failures = 0
    i = 0
    next_send = time.monotonic()
    while i < len(templates) or wanted:
        room = i < len(templates) and (not a.window or len(wanted) < a.window)
        now = time.monotonic()
        if room and now >= next_send:
            data = build(templates[i], variables())
            req = SipMessage.parse(data)
            if not conn.send(data):
                end_of_wait(conn)
                return 1
            i += 1
            wanted[req.top_branch()] = req.method
            next_send = max(now, next_send) + a.interval
            if a.interval <= 0:
                continue
        m = conn.next_message(until=next_send if room else None)
        if m is None:
            if room and not conn.closed and time.monotonic() < conn.deadline:
                continue        # only the pace: time to send the next one
            end_of_wait(conn)
            print("MISSING %d final response(s)" % (len(wanted) + len(templates) - i),
                  flush=True)
            return 1
        if m.is_request:
            print("REQUEST %s" % m.method, flush=True)
            continue
        meth = m.cseq()[1]
        if wanted.get(m.top_branch()) != meth:
            print("STRAY %d %s" % (m.status, meth), flush=True)
            continue
        if m.status < 200:
            print("PROVISIONAL %d %s" % (m.status, meth), flush=True)
            continue
        del wanted[m.top_branch()]
        print("STATUS %d %s" % (m.status, meth), flush=True)
        if a.expect and m.status != a.expect:
            failures += 1
        if not check_headers(a, m):
            failures += 1
    return 1 if failures else 0


def cmd_send(a):
    templates = []
    for path in a.templates:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            templates.append(f.read())
    templates += a.msg
    templates *= max(1, a.repeat)
    raw = None
    if a.raw_file:
        with open(a.raw_file, "rb") as f:
            raw = f.read()
    elif a.raw_hex is not None:
        raw = binascii.unhexlify(re.sub(r"\s+", "", a.raw_hex))
    if raw is None and not templates and not a.expect_handshake_failure:
        die("nothing to send (templates, --msg, --raw-file or --raw-hex)")

    conn = Conn(a)
    if conn.handshake_error is not None and not a.expect_handshake_failure:
        print("HANDSHAKE_FAILED %s" % conn.handshake_error, flush=True)
        return 1
    if a.tls and conn.handshake_error is None and a.verbose:
        print("# TLS %s, server %s" % (conn.sock.version(), peer_names(conn.sock)),
              file=sys.stderr)

    base = {"LOCAL": conn.local, "LOCAL_IP": conn.local.rsplit(":", 1)[0],
            "LOCAL_PORT": conn.local.rsplit(":", 1)[1],
            "TRANSPORT": "TLS" if a.tls else "TCP"}
    user = dict(v.split("=", 1) for v in a.var)

    seq = [0]

    def variables():
        seq[0] += 1
        d = dict(base)
        d.update(BRANCH="z9hG4bK" + rand_token(16), CALLID=rand_token(20),
                 TAG=rand_token(8), SEQ=str(seq[0]))
        d.update(user)
        return d

    if a.expect_handshake_failure:
        if isinstance(conn.handshake_error, ssl.SSLCertVerificationError):
            # we refused the server, which is not what is being tested
            print("SERVER_CERT_REJECTED %s" % conn.handshake_error, flush=True)
            return 1
        if conn.handshake_error is not None:
            print("HANDSHAKE_FAILED %s" % conn.handshake_error, flush=True)
            return 0
        # TLS 1.3: the server judges the client certificate after the
        # client's handshake is done; its alert arrives on the first read.
        for t in templates:
            conn.send(build(t, variables()))
        m = conn.next_message()
        if m is not None:
            print("HANDSHAKE_OK got %s" % m.describe(), flush=True)
            return 1
        if conn.closed:
            print("HANDSHAKE_FAILED %s" % conn.close_reason, flush=True)
            return 0
        print("HANDSHAKE_OK no alert within %ss" % a.timeout, flush=True)
        return 1

    failures = 0
    if raw is not None:
        conn.send(raw)
        if a.collect is not None:
            return collect(conn, a.collect)
        if a.expect_pong:
            end = time.monotonic() + a.timeout
            while len(conn.reader.buf) < 2 and conn.fill(end):
                pass
            conn.fill(time.monotonic() + 0.5)       # anything beyond it?
            got = conn.reader.buf
            if got == b"\r\n":
                print("PONG", flush=True)
                return 0
            print("RECEIVED %s" % binascii.hexlify(got).decode(), flush=True)
            if conn.closed:
                end_of_wait(conn)
            return 1
        if not (a.expect_close or a.no_response):
            m = conn.next_message()
            while m is not None and (m.is_request or m.status < 200):
                m = conn.next_message()
            if m is None:
                end_of_wait(conn)
                return 1
            print("STATUS %d %s" % (m.status, m.cseq()[1]), flush=True)
            if a.expect and m.status != a.expect:
                failures += 1
            if not check_headers(a, m):
                failures += 1

    if a.expect_close:
        for t in templates:
            if not conn.send(build(t, variables())):
                break
        # from the last byte sent (or the connection being up) to the close
        since = time.monotonic()
        while not conn.closed:
            m = conn.next_message()
            if m is None:
                break
            print(("REQUEST %s" if m.is_request else "STATUS %s") % (
                m.method or "%d %s" % (m.status, m.cseq()[1])), flush=True)
        if conn.closed:
            print("CLOSED %s" % conn.close_reason, flush=True)
            print("ELAPSED %.3f" % (time.monotonic() - since), flush=True)
            return 0
        print("TIMEOUT (connection still open)", flush=True)
        return 1

    if a.pipeline:
        return send_pipelined(a, conn, templates, variables)

    for i, t in enumerate(templates):
        data = build(t, variables())
        req = SipMessage.parse(data)
        if a.keepalive and i > 0:
            # RFC 5626 4.4.1: a CRLFCRLF ping between messages; the pong
            # (a lone CRLF) must come back before the next message
            pongs = conn.reader.pongs
            conn.send(b"\r\n\r\n")
            until = time.monotonic() + 2
            while conn.reader.pongs == pongs and len(conn.reader.buf) < 2 \
                    and conn.fill(until):
                pass
            try:
                conn.reader.next()      # consumes a lone CRLF as a pong
            except ValueError:
                pass
            if conn.reader.pongs == pongs:
                print("NO_PONG before message %d" % (i + 1), flush=True)
                failures += 1
            else:
                print("PONG", flush=True)
        if not conn.send(data):
            end_of_wait(conn)
            return 1
        if a.no_response or req.method == "ACK":
            continue
        if a.cancel_after is not None and req.method == "INVITE":
            resp = wait_provisional(conn, req.top_branch(), a.cancel_after)
            if resp is not None and resp.status < 200:
                # RFC 3261 9.1: same Request-URI, Call-ID, From, To, CSeq
                # number, Route and top Via (branch included) as the INVITE
                conn.send(in_dialog(req, req, "CANCEL", req.cseq()[0],
                                    req.top_branch(), True))
                finals = wait_finals(conn, req.top_branch(),
                                     ("CANCEL", "INVITE"))
                resp = finals and finals["INVITE"]
                if finals and a.expect_cancel is not None and \
                        finals["CANCEL"].status != a.expect_cancel:
                    failures += 1
        else:
            resp = wait_final(conn, req.top_branch(), req.method)
        if resp is None:
            end_of_wait(conn)
            return 1
        if a.expect and resp.status != a.expect:
            failures += 1
        if not check_headers(a, resp):
            failures += 1
        if req.method != "INVITE":
            continue
        n = req.cseq()[0]
        if resp.status >= 300:
            conn.send(in_dialog(req, resp, "ACK", n, req.top_branch(), True))
            continue
        if not a.dialog:
            continue
        conn.send(in_dialog(req, resp, "ACK", n, "z9hG4bK" + rand_token(16)))
        bye = in_dialog(req, resp, "BYE", n + 1, "z9hG4bK" + rand_token(16))
        conn.send(bye)
        r = wait_final(conn, SipMessage.parse(bye).top_branch(), "BYE")
        if r is None:
            end_of_wait(conn)
            return 1
        if r.status != 200:
            failures += 1

    if a.hold:
        # a UA that keeps its connection: answer whatever request comes in
        # on it with 200 until --hold seconds have passed
        conn.deadline = time.monotonic() + a.hold
        tag = rand_token(8)
        while True:
            m = conn.next_message()
            if m is None:
                break
            if m.is_request:
                print("ANSWERED %s" % m.method, flush=True)
                if m.method not in ("ACK", "BENOTIFY"):
                    conn.send(make_response(m, 200, tag, (), "sip:ua@%s;transport=%s"
                                            % (conn.local, "tls" if a.tls else "tcp")))
        if conn.closed:
            print("CLOSED %s" % conn.close_reason, flush=True)

    if a.no_response:
        # nothing may come back within the grace period
        conn.deadline = min(conn.deadline, time.monotonic() + a.grace)
        m = conn.next_message()
        if m is not None:
            print("UNEXPECTED %s" % m.describe(), flush=True)
            return 1
        if conn.closed:         # silence, but not by hanging up on us
            print("CLOSED %s" % conn.close_reason, flush=True)
            return 1
        print("NORESPONSE", flush=True)
    return 1 if failures else 0


# ----------------------------------------------------------------- serve

REASONS = {100: "Trying", 180: "Ringing", 183: "Session Progress",
           200: "OK", 202: "Accepted", 403: "Forbidden", 404: "Not Found",
           408: "Request Timeout", 480: "Temporarily Unavailable",
           486: "Busy Here", 488: "Not Acceptable Here",
           500: "Server Internal Error", 503: "Service Unavailable",
           603: "Decline"}


def make_response(req, code, tag, extra=(), contact=None, record_route=()):
    """The response a simple UAS sends to req: Via, From, Call-ID, CSeq
    copied, To with tag (unless it has one); on a 2xx to INVITE/SUBSCRIBE
    the Record-Route set (record_route prepended, as a proxy of ours
    would) and Contact; then the extra header lines."""
    lines = ["SIP/2.0 %d %s" % (code, REASONS.get(code, "Response"))]
    lines += ["Via: " + v for v in req.values("Via")]
    lines.append("From: " + (req.get("From") or ""))
    to = req.get("To") or ""
    if not re.search(r";\s*tag=", to):
        to += ";tag=" + tag
    lines.append("To: " + to)
    lines.append("Call-ID: " + (req.get("Call-ID") or ""))
    lines.append("CSeq: " + (req.get("CSeq") or ""))
    if code < 300 and req.method in ("INVITE", "SUBSCRIBE"):
        rr = list(record_route or ()) + req.values("Record-Route")
        lines += ["Record-Route: " + v for v in rr]
        if contact:
            lines.append("Contact: <%s>" % contact)
    lines += list(extra or ())
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Server:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.requests = 0
        self.conns = 0
        self.done = threading.Event()
        self.ctx = None
        if a.tls:
            self.ctx = tls_context(True, a.cert, a.key, a.ca, None, a.tls_version)
        host, port = hostport(a.listen)
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.ls = socket.socket(fam, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((host, port))
        self.ls.listen(64)
        self.local = "%s:%d" % self.ls.getsockname()[:2]
        self.tag = rand_token(8)

    def log(self, msg):
        if self.a.verbose:
            print("sippeer serve: " + msg, file=sys.stderr, flush=True)

    def code_for(self, req):
        for spec in self.a.respond_method:
            method, _, code = spec.partition("=")
            if method.upper() == (req.method or "").upper():
                return int(code)
        return self.a.respond

    def response(self, req):
        return make_response(req, self.code_for(req), self.tag, self.a.respond_header,
                             self.a.contact or "sip:peer@%s;transport=%s" % (
                                 self.local, "tls" if self.a.tls else "tcp"),
                             self.a.record_route)

    @staticmethod
    def send(s, data):
        """sendall with room for a busy peer: the 0.2 s receive poll is
        no time limit for a write (a peer busy with a flood reads late)."""
        s.settimeout(10)
        try:
            s.sendall(data)
        finally:
            s.settimeout(0.2)

    def handle(self, s, addr):
        peer = "%s:%d" % addr[:2]
        try:
            s.settimeout(5)
            if self.ctx:
                try:
                    s = self.ctx.wrap_socket(s, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    print("sippeer serve: TLS handshake with %s failed: %s"
                          % (peer, e), file=sys.stderr, flush=True)
                    return
                self.log("TLS %s from %s (%s)" % (s.version(), peer,
                                                  peer_names(s)))
            reader = StreamReader(max_header=self.a.max_header)
            s.settimeout(0.2)
            # --delay: answers wait here, sent from this thread (an SSL
            # socket is not to be written from another one) when due
            later = []
            while not self.done.is_set():
                now = time.monotonic()
                released = later and self.a.release and os.path.exists(self.a.release)
                while later and (released or later[0][0] <= now):
                    self.send(s, later.pop(0)[1])
                s.settimeout(min(0.2, max(0.01, later[0][0] - now))
                             if later else 0.2)
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    continue
                except (OSError, ssl.SSLError) as e:
                    self.log("%s: %s" % (peer, e))
                    return
                if not data:
                    self.log("%s closed" % peer)
                    return
                reader.feed(data)
                while True:
                    pings = reader.pings
                    try:
                        m = reader.next()
                    except ValueError as e:
                        print("sippeer serve: %s: %s" % (peer, e),
                              file=sys.stderr)
                        return
                    for _ in range(reader.pings - pings):
                        self.send(s, b"\r\n")
                    if m is None:
                        break
                    if not m.is_request:
                        self.log("%s: ignoring response %s" % (peer, m.describe()))
                        continue
                    if self.a.record:
                        record(self.a.record, self.lock, "received", peer, m.raw)
                    self.log("%s: %s" % (peer, m.start))
                    if m.method not in ("ACK", "BENOTIFY") and self.code_for(m):
                        if self.a.delay > 0:
                            later.append((time.monotonic() + self.a.delay,
                                          self.response(m)))
                        else:
                            self.send(s, self.response(m))
                    with self.lock:
                        self.requests += 1
                        if self.a.count and self.requests >= self.a.count:
                            self.done.set()
        finally:
            try:
                s.close()
            except OSError:
                pass

    def run(self):
        a = self.a
        if a.pidfile:
            with open(a.pidfile, "w") as f:
                f.write("%d\n" % os.getpid())
        if a.ready:
            with open(a.ready, "w") as f:
                f.write("%s\n" % self.local)
        print("LISTENING %s" % self.local, flush=True)
        deadline = time.monotonic() + a.timeout
        threads = []
        while not self.done.is_set() and time.monotonic() < deadline:
            r, _, _ = select.select([self.ls], [], [], 0.2)
            if not r:
                continue
            s, addr = self.ls.accept()
            with self.lock:
                self.conns += 1
                if a.conn_count_file:
                    tmp = a.conn_count_file + ".tmp"
                    with open(tmp, "w") as f:
                        f.write("%d\n" % self.conns)
                    os.replace(tmp, a.conn_count_file)
            t = threading.Thread(target=self.handle, args=(s, addr), daemon=True)
            t.start()
            threads.append(t)
        self.done.set()
        for t in threads:
            t.join(2)
        print("REQUESTS %d CONNECTIONS %d" % (self.requests, self.conns),
              flush=True)
        if a.count and self.requests < a.count:
            print("TIMEOUT after %d of %d requests" % (self.requests, a.count),
                  flush=True)
            return 1
        return 0


def cmd_serve(a):
    srv = Server(a)

    def stop(signum, frame):
        srv.done.set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return srv.run()
    finally:
        if a.pidfile:
            try:
                os.unlink(a.pidfile)
            except OSError:
                pass


# --------------------------------------------------------------- inspect

class Query(argparse.Action):
    """Keep the queries in command-line order."""

    def __call__(self, parser, ns, value, option_string=None):
        q = getattr(ns, "queries", None) or []
        q.append((self.dest, value))
        setattr(ns, "queries", q)


def cmd_inspect(a):
    msgs = load_messages(a.file)
    sel = []
    for direction, m in msgs:
        if a.received and direction != "received":
            continue
        if a.sent and direction != "sent":
            continue
        if a.method and not (m.is_request and m.method == a.method.upper()):
            continue
        if a.status is not None and (m.is_request or m.status != a.status):
            continue
        if a.cseq_method and m.cseq()[1] != a.cseq_method.upper():
            continue
        if a.call_id and m.get("Call-ID") != a.call_id:
            continue
        sel.append(m)
    if a.reply is not None:
        # the response a UAS would send to the selected request, as raw
        # bytes (CRLF) for send --raw-file
        try:
            m = sel[a.index]
        except IndexError:
            print("sippeer inspect: no message #%d matching in %s (%d match)" % (
                a.index, a.file, len(sel)), file=sys.stderr)
            return 1
        if not m.is_request:
            print("sippeer inspect: --reply: message #%d is a response" % a.index,
                  file=sys.stderr)
            return 1
        sys.stdout.buffer.write(make_response(m, a.reply, rand_token(8),
                                              a.reply_header))
        sys.stdout.flush()
        return 0
    queries = getattr(a, "queries", None) or []
    if queries == [] and not a.count_messages:
        queries = [("raw", True)]
    if a.count_messages:
        print(len(sel))
        if not queries or queries == [("raw", True)]:
            return 0
    try:
        m = sel[a.index]
    except IndexError:
        print("sippeer inspect: no message #%d matching in %s (%d match)" % (
            a.index, a.file, len(sel)), file=sys.stderr)
        return 1
    for kind, arg in queries:
        if kind == "count_header":
            print(len(m.values(arg)))
        elif kind == "header":
            v = m.get(arg)
            if v is None:
                print("sippeer inspect: no %s header" % arg, file=sys.stderr)
                return 1
            print(v)
        elif kind == "values":
            for v in m.values(arg):
                print(v)
        elif kind == "start_line":
            print(m.start)
        elif kind == "body":
            print(m.body.decode("utf-8", "replace").replace("\r\n", "\n"),
                  end="" if m.body.endswith(b"\n") else "\n")
        elif kind == "raw":
            text = m.raw.decode("utf-8", "replace").replace("\r\n", "\n")
            print(text, end="" if text.endswith("\n") else "\n")
    return 0


# --------------------------------------------------------------- compare

def raw_fields(raw):
    """(start line, [(name, exact line text)], body bytes) of a message as
    it was on the wire: header lines as written (folded lines joined with
    their CRLF), names as written."""
    m = re.search(rb"\r?\n\r?\n", raw)
    head, body = (raw[:m.start()], raw[m.end():]) if m else (raw, b"")
    lines = head.decode("utf-8", "surrogateescape").split("\r\n")
    out = []
    for ln in lines[1:]:
        if ln[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + "\r\n" + ln)
        else:
            out.append((ln.split(":", 1)[0], ln))
    return lines[0], out, body


def pick(path, direction, call_id, method, nth=0):
    found = [m for d, m in load_messages(path)
             if d == direction and m.is_request and m.method == method and
             m.get("Call-ID") == call_id]
    return found[nth] if len(found) > nth else None


def cmd_compare(a):
    """Exit 0 when the node got every header line, parameter and body byte
    of the request exactly as sent, except the documented rewrites: the
    edge's Via on top, its Record-Route entries, Max-Forwards minus one,
    Route entries naming the edge consumed, PAT (--map), headers removed
    (--removed) or added (--added). Prints each difference."""
    sent = pick(a.sent, "sent", a.call_id, a.method, a.nth)
    got = pick(a.got, "received", a.call_id, a.method, a.nth)
    if sent is None or got is None:
        print("MISSING %s %s in %s" % (a.method, a.call_id,
              a.sent if sent is None else a.got))
        return 1
    s_start, s_hdrs, s_body = raw_fields(sent.raw)
    g_start, g_hdrs, g_body = raw_fields(got.raw)
    problems = []
    notes = []

    def remap(text):
        for f, t in a.map:
            text = text.replace(f, t)
        return text

    removed = {canon(n) for n in a.removed}
    added = {canon(n) for n in a.added}
    own = [re.compile(r) for r in a.own_route]
    edge_rr = re.compile(a.edge_route)

    # the sent side, as the node should see it
    want = []
    for name, line in s_hdrs:
        c = canon(name)
        if c in removed:
            continue
        if c == "max-forwards":
            v = line.split(":", 1)[1].strip()
            want.append(("max-forwards", "%s: %d" % (name, int(v) - 1)))
            continue
        if c == "route" and own:
            vals = split_list(line.split(":", 1)[1])
            keep = [v for v in vals if not any(r.search(v) for r in own)]
            if len(keep) == len(vals):
                want.append((c, remap(line)))
            elif keep:      # partly consumed: the rest, whatever the layout
                want.append(("route*", ", ".join(keep)))
            continue
        want.append((c, remap(line)))

    # the node side, without what the edge adds
    have = []
    edge_via_done = False
    via_re = re.compile(a.edge_via)
    for name, line in g_hdrs:
        c = canon(name)
        value = line.split(":", 1)[1] if ":" in line else ""
        if c == "via" and not edge_via_done:
            edge_via_done = True
            vals = split_list(value)
            if not vals or not via_re.search(vals[0]):
                problems.append("top Via is not the edge's: %r" % line)
            elif len(vals) > 1:
                have.append(("via*", ", ".join(vals[1:])))
            notes.append("edge Via: " + vals[0] if vals else "")
            continue
        if c == "record-route":
            vals = split_list(value)
            ours = [v for v in vals if edge_rr.search(v)]
            if len(ours) == len(vals):
                notes.append("edge Record-Route: " + value.strip())
                continue
        if c in added:
            notes.append("added: " + line)
            continue
        if c in removed:
            problems.append("removed header still there: %r" % line)
            continue
        if c == "max-forwards" and not any(w[0] == c for w in want):
            notes.append("added: " + line)
            continue
        if c == "route" and any(w[0] == "route*" for w in want):
            have.append(("route*", ", ".join(split_list(value))))
            continue
        have.append((c, line))
    # a partly kept Via line of ours compares by value too
    if any(h[0] == "via*" for h in have):
        k = next((i for i, w in enumerate(want) if w[0] == "via"), None)
        if k is not None:
            want[k] = ("via*", ", ".join(split_list(want[k][1].split(":", 1)[1])))

    wanted = {}
    for spec in a.want:
        n, _, v = spec.partition(":")
        wanted.setdefault(canon(n), []).append(v.strip())
    for c, vals in wanted.items():
        got_vals = [l.split(":", 1)[1].strip() for n, l in g_hdrs if canon(n) == c]
        if got_vals != vals:
            problems.append("%s: want %r, got %r" % (c, vals, got_vals))
    if remap(s_start) != g_start:
        problems.append("request line: sent %r, got %r" % (s_start, g_start))
    w_lines = [l for _, l in want]
    h_lines = [l for _, l in have]
    if w_lines != h_lines:
        import difflib
        for d in difflib.unified_diff(w_lines, h_lines, "expected at node",
                                      "node got", lineterm="", n=1):
            problems.append("  " + d)
    if s_body != g_body:
        i = next((k for k in range(min(len(s_body), len(g_body)))
                  if s_body[k] != g_body[k]), min(len(s_body), len(g_body)))
        problems.append("body: %d bytes sent, %d got, first difference at "
                        "byte %d" % (len(s_body), len(g_body), i))
    for n in notes:
        print("# " + n)
    if problems:
        for p in problems:
            print("DIFF " + p)
        return 1
    print("SAME %d header lines, %d body bytes" % (len(h_lines), len(g_body)))
    return 0


# ------------------------------------------------------------------ wait

def listening(host, port):
    """Is there a TCP socket in LISTEN state on host:port (or wildcard)?"""
    want = []
    try:
        packed = socket.inet_pton(socket.AF_INET, host)
        want.append(("/proc/net/tcp", "%08X" % int.from_bytes(packed, "little")))
        want.append(("/proc/net/tcp", "00000000"))
    except OSError:
        packed = socket.inet_pton(socket.AF_INET6, host)
        words = [int.from_bytes(packed[i:i + 4], "little") for i in range(0, 16, 4)]
        want.append(("/proc/net/tcp6", "".join("%08X" % w for w in words)))
    want.append(("/proc/net/tcp6", "0" * 32))
    for path, addr in want:
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    la, st = fields[1], fields[3]
                    a, p = la.split(":")
                    if st == "0A" and int(p, 16) == port and a == addr:
                        return True
        except OSError:
            continue
    return False


def tcp_listeners():
    """[(ip, port)] of every IPv4 TCP socket in LISTEN state."""
    out = []
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                addr, port = fields[1].split(":")
                if fields[3] == "0A":
                    ip = socket.inet_ntoa(int(addr, 16).to_bytes(4, "little"))
                    out.append((ip, int(port, 16)))
    except OSError:
        pass
    return out


def cmd_listeners(a):
    """Print ip:port of TCP listeners whose address starts with PREFIX."""
    found = sorted(set("%s:%d" % l for l in tcp_listeners()
                       if l[0].startswith(a.prefix)))
    for x in found:
        print(x)
    return 0


def cmd_wait(a):
    deadline = time.monotonic() + a.timeout
    targets = [hostport(x) for x in a.listen]
    while True:
        missing = [("%s:%d" % t) for t in targets if not listening(*t)]
        missing += [f for f in a.file if not os.path.exists(f)]
        if not missing:
            return 0
        if a.pid:
            try:
                os.kill(a.pid, 0)
                with open("/proc/%d/stat" % a.pid) as f:
                    if f.read().split(")")[-1].split()[0] == "Z":
                        raise OSError("zombie")
            except OSError:
                print("sippeer wait: process %d exited; still missing %s" % (
                    a.pid, " ".join(missing)), file=sys.stderr)
                return 1
        if time.monotonic() >= deadline:
            print("sippeer wait: after %ss still missing %s" % (
                a.timeout, " ".join(missing)), file=sys.stderr)
            return 1
        time.sleep(0.05)


# ------------------------------------------------------------------ main

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def tls_opts(q):
        q.add_argument("--tls", action="store_true", help="use TLS")
        q.add_argument("--cert", help="PEM certificate (chain)")
        q.add_argument("--key", help="PEM private key")
        q.add_argument("--ca", help="CA file to verify the other side")
        q.add_argument("--tls-version", choices=("1.2", "1.3"),
                       help="pin the TLS version")
        q.add_argument("-v", "--verbose", action="store_true")

    s = sub.add_parser("send", help="send SIP messages and check responses")
    s.add_argument("templates", nargs="*", metavar="TEMPLATE",
                   help="message template files, sent in order")
    s.add_argument("--connect", required=True, metavar="HOST:PORT")
    s.add_argument("--bind", metavar="HOST[:PORT]", help="source address")
    tls_opts(s)
    s.add_argument("--sni", help="server name sent and verified")
    s.add_argument("--msg", action="append", default=[],
                   help="message template given inline (after the files)")
    s.add_argument("--var", action="append", default=[], metavar="K=V",
                   help="define ${K}; templates may say ${K:-default}. Built in"
                   " (fresh per message unless given): BRANCH CALLID TAG SEQ; and"
                   " LOCAL LOCAL_IP LOCAL_PORT TRANSPORT (TLS/TCP)")
    s.add_argument("--timeout", type=float, default=10,
                   help="overall limit in seconds (default 10)")
    s.add_argument("--out", help="append every received message here")
    s.add_argument("--sent-out", metavar="FILE",
                   help="append every message sent here, byte for byte "
                   "(marker: sent ... from REMOTE)")
    s.add_argument("--keepalive", action="store_true",
                   help="a CRLFCRLF ping before each message but the first;"
                   " its CRLF pong must come back (PONG / NO_PONG)")
    s.add_argument("--expect", type=int, metavar="CODE",
                   help="every final response must have this code")
    s.add_argument("--expect-header", action="append", default=[],
                   metavar="'Name: regex'",
                   help="must match a value of Name in the final response")
    s.add_argument("--show-header", action="append", default=[], metavar="NAME",
                   help="print 'HEADER NAME: value' after each final "
                   "response's STATUS line, for each value of NAME")
    s.add_argument("--dialog", action="store_true",
                   help="INVITE, then ACK and BYE built from the 200")
    s.add_argument("--hold", type=float, metavar="SECONDS",
                   help="after the messages, keep the connection SECONDS and"
                   " answer 200 to every request that comes in on it"
                   " (ANSWERED METHOD)")
    s.add_argument("--no-response", action="store_true",
                   help="send only; fail if anything comes back within --grace")
    s.add_argument("--grace", type=float, default=2.0,
                   help="seconds to wait with --no-response (default 2)")
    s.add_argument("--cancel-after", type=int, metavar="CODE",
                   help="INVITE: on provisional CODE send its CANCEL (same "
                   "branch), then wait for the final responses of both")
    s.add_argument("--expect-cancel", type=int, metavar="CODE",
                   help="with --cancel-after: the CANCEL's final response")
    s.add_argument("--pipeline", action="store_true",
                   help="send all requests at once, then wait for a final "
                   "response to each (any order)")
    s.add_argument("--window", type=int, default=0, metavar="N",
                   help="with --pipeline: at most N requests unanswered")
    s.add_argument("--interval", type=float, default=0, metavar="SECONDS",
                   help="with --pipeline: one request every SECONDS")
    s.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="send the templates N times over (${SEQ} counts "
                   "the messages: 1, 2, ...)")
    s.add_argument("--raw-file", help="send these exact bytes first")
    s.add_argument("--raw-hex", help="send these exact bytes (hex) first")
    s.add_argument("--expect-close", action="store_true",
                   help="succeed iff the server closes the connection (then"
                   " prints ELAPSED: seconds since the last byte sent)")
    s.add_argument("--collect", type=float, metavar="SETTLE",
                   help="with raw bytes: print every message that comes back"
                   " (STATUS/PROVISIONAL/REQUEST lines) until --timeout, a"
                   " close, or SETTLE s after a final response; then CLOSED"
                   " or OPEN; exit 0")
    s.add_argument("--expect-pong", action="store_true",
                   help="with a raw ping: succeed iff exactly CRLF comes back")
    s.add_argument("--expect-handshake-failure", action="store_true",
                   help="succeed iff the server refuses the TLS handshake "
                   "(fails if we reject the server's certificate)")
    s.set_defaults(func=cmd_send)

    v = sub.add_parser("serve", help="answer requests with a fixed code")
    v.add_argument("--listen", required=True, metavar="HOST:PORT")
    tls_opts(v)
    v.add_argument("--respond", type=int, default=200, metavar="CODE",
                   help="response code, 0 = never answer (default 200)")
    v.add_argument("--respond-method", action="append", default=[],
                   metavar="METHOD=CODE",
                   help="answer METHOD with CODE instead (INVITE=180: "
                   "rings for ever; 0: no answer)")
    v.add_argument("--respond-header", action="append", default=[],
                   metavar="'Name: value'", help="extra header in responses")
    v.add_argument("--delay", type=float, default=0, metavar="SECONDS",
                   help="answer each request this long after it came "
                   "(requests keep being read and recorded meanwhile)")
    v.add_argument("--release", metavar="FILE",
                   help="with --delay: answer as soon as FILE exists (at "
                   "the latest after the delay)")
    v.add_argument("--record-route", action="append", default=[],
                   metavar="'<URI>'", help="Record-Route entry put before "
                   "the request's ones in a 2xx to INVITE/SUBSCRIBE (as a "
                   "proxy on this side would have added)")
    v.add_argument("--contact", metavar="URI",
                   help="Contact URI of 2xx to INVITE/SUBSCRIBE (default "
                   "sip:peer@LISTEN;transport=tls|tcp)")
    v.add_argument("--record", help="append every request received here")
    v.add_argument("--count", type=int, default=0,
                   help="stop after N requests (0 = run until --timeout)")
    v.add_argument("--timeout", type=float, default=30)
    v.add_argument("--conn-count-file", help="number of accepted connections")
    v.add_argument("--max-header", type=int, default=65536, metavar="BYTES",
                   help="largest header section accepted (default 65536)")
    v.add_argument("--pidfile")
    v.add_argument("--ready", help="created once listening")
    v.set_defaults(func=cmd_serve)

    i = sub.add_parser("inspect", help="query a recorded file")
    i.add_argument("file")
    i.add_argument("--index", type=int, default=0,
                   help="which matching message (0 = first, -1 = last)")
    i.add_argument("--method", help="only requests with this method")
    i.add_argument("--status", type=int, help="only responses with this code")
    i.add_argument("--cseq-method", help="only messages with this CSeq method")
    i.add_argument("--call-id", help="only messages with this Call-ID")
    i.add_argument("--received", action="store_true", help="only received")
    i.add_argument("--sent", action="store_true", help="only sent (sipp traces)")
    i.add_argument("--count-messages", action="store_true",
                   help="print the number of matching messages")
    i.add_argument("--count-header", action=Query, metavar="NAME",
                   help="print how many values NAME has (lists split)")
    i.add_argument("--header", action=Query, metavar="NAME",
                   help="print the first value of NAME")
    i.add_argument("--values", action=Query, metavar="NAME",
                   help="print every value of NAME, one per line")
    i.add_argument("--reply", type=int, metavar="CODE",
                   help="print (raw, CRLF) the CODE response a UAS would "
                   "send to the selected request, nothing else")
    i.add_argument("--reply-header", action="append", default=[],
                   metavar="'Name: value'", help="extra header in --reply")
    i.add_argument("--start-line", action=Query, nargs=0)
    i.add_argument("--body", action=Query, nargs=0)
    i.add_argument("--raw", action=Query, nargs=0)
    i.set_defaults(func=cmd_inspect)

    c = sub.add_parser("compare", help="a request as sent vs as a node got "
                       "it, modulo the edge's documented rewrites")
    c.add_argument("sent", help="file with the request as sent (--sent-out)")
    c.add_argument("got", help="file with the request as received (--record)")
    c.add_argument("--call-id", required=True)
    c.add_argument("--method", required=True)
    c.add_argument("--nth", type=int, default=0,
                   help="compare the Nth such request in both files (0: first)")
    c.add_argument("--edge-via", metavar="ERE", required=True,
                   help="the edge's own Via (top of the received request)")
    c.add_argument("--edge-route", metavar="ERE", default=r";sipedge|^$",
                   help="Route/Record-Route entries that are the edge's "
                   "(consumed from the sent Route, added as Record-Route)")
    c.add_argument("--own-route", metavar="ERE", action="append", default=[],
                   help="sent Route entries naming the edge (consumed)")
    c.add_argument("--removed", action="append", default=[], metavar="NAME",
                   help="header the edge removes (must be absent at the node)")
    c.add_argument("--added", action="append", default=[], metavar="NAME",
                   help="header the edge adds (printed, then ignored)")
    c.add_argument("--map", action="append", default=[], nargs=2,
                   metavar=("FROM", "TO"),
                   help="PAT: text FROM in the sent request is TO at the node")
    c.add_argument("--want", action="append", default=[], metavar="'Name: v'",
                   help="the received request has exactly these values of "
                   "Name (repeat for several), one line each")
    c.set_defaults(func=cmd_compare)

    w = sub.add_parser("wait", help="bounded wait for listeners and files")
    w.add_argument("--listen", action="append", default=[], metavar="HOST:PORT",
                   help="a TCP socket listening there (checked in /proc)")
    w.add_argument("--file", action="append", default=[])
    w.add_argument("--pid", type=int, help="give up if this process exits")
    w.add_argument("--timeout", type=float, default=10)
    w.set_defaults(func=cmd_wait)

    l = sub.add_parser("listeners", help="TCP listeners on addresses PREFIX*")
    l.add_argument("prefix", help='e.g. "127.0.2."')
    l.set_defaults(func=cmd_listeners)

    a = p.parse_args()
    sys.exit(a.func(a))


if __name__ == "__main__":
    main()
