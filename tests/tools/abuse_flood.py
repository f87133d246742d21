#!/usr/bin/env python3
"""abuse_flood.py - connection and message floods against sipedge (tests).

  conns     open many TCP connections from several source addresses at a
            steady pace, sending nothing; after a settle time tell which
            ones the daemon refused (closed at once) and which it holds.
            Holds them until --release FILE exists or --hold runs out.
  messages  send N copies of one message template on one mutual-TLS
            connection (as fast as possible, or --rate per second) while
            reading the answers; counts final responses by status.
            ${SEQ} in the template is the message's index (fresh domains).
  legit     a well-behaved partner: N requests at --rate per second, each
            on a fresh connection (mutual TLS, or --tcp for a node; or all
            on one: --one-connection), each waiting for its final
            response; counts successes.
  noread    send requests on one mutual-TLS connection and never read a
            response; tells when writing blocked and whether (when) the
            daemon closed the connection.
  tcpflood  plain TCP connections that never send a byte, from several
            source addresses, reopened as the daemon (or --close-after: the
            tool) closes them, for a bounded time.
  blackhole a UDP socket that swallows whatever comes (a DNS server that
            never answers), for a bounded time.

Both can run a legitimate mutual-TLS peer (--legit-bind, --cert, ...) from
another source address: `conns` opens its connection and sends a MESSAGE
before the flood, and another MESSAGE on that same connection while the
flood holds the daemon's slots; `messages` sends one on its own connection
when half the flood is out. Output: "KEY value" lines on stdout.

Only the standard library and sippeer.py (next to this file) are used.
Every wait is bounded. Exit 0 when the run completed (the caller asserts
on the numbers), 2 on usage or setup errors.
"""

import argparse
import asyncio
import errno
import os
import re
import select
import signal
import socket
import ssl
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sippeer  # noqa: E402


def out(*words):
    print(*words, flush=True)


def hostport(s):
    return sippeer.hostport(s)


def variables(local, user, transport="TLS", seq=0):
    d = {"LOCAL": local, "LOCAL_IP": local.rsplit(":", 1)[0],
         "LOCAL_PORT": local.rsplit(":", 1)[1], "TRANSPORT": transport,
         "BRANCH": "z9hG4bK" + sippeer.rand_token(16),
         "CALLID": sippeer.rand_token(20), "TAG": sippeer.rand_token(8),
         "SEQ": str(seq)}
    d.update(user)
    return d


def user_vars(a):
    try:
        return dict(v.split("=", 1) for v in a.var)
    except ValueError:
        sippeer.die("--var takes K=V")


class FastReader:
    """Content-Length framing of the responses to a flood, reading only
    what is counted (status, Retry-After): answers to a flood may carry
    thousands of header lines, and parsing them all would make the tool,
    not the daemon, the bottleneck. next() gives (status, retry_after) or
    None; requests come out as status None."""

    CL = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)", re.I | re.M)
    RA = re.compile(rb"^retry-after[ \t]*:[ \t]*(\d+)", re.I | re.M)

    def __init__(self, max_header=1 << 20):
        self.buf = bytearray()
        self.max_header = max_header
        self.seen = 0       # where to look for the end of headers from

    def feed(self, data):
        self.buf += data

    def next(self):
        while self.buf[:2] == b"\r\n":
            del self.buf[:2]
            self.seen = 0
        i = self.buf.find(b"\r\n\r\n", max(0, self.seen - 3))
        if i < 0:
            self.seen = len(self.buf)
            if len(self.buf) > self.max_header:
                raise ValueError("no end of headers in %d bytes" % len(self.buf))
            return None
        head = bytes(self.buf[:i + 2])
        m = self.CL.search(head)
        n = int(m.group(1)) if m else 0
        if len(self.buf) < i + 4 + n:
            self.seen = i
            return None
        del self.buf[:i + 4 + n]
        self.seen = 0
        first = head.split(b"\r\n", 1)[0].split()
        status = None
        if first and first[0].startswith(b"SIP/"):
            try:
                status = int(first[1])
            except (IndexError, ValueError):
                status = 0
        ra = self.RA.search(head)
        return status, (ra.group(1).decode() if ra else None)


async def final_response(reader, sr, branch, deadline):
    """Read until the final response with this top Via branch; its status,
    or "CLOSED"/"TIMEOUT"."""
    while True:
        try:
            m = sr.next()
        except ValueError as e:
            return "BAD_MESSAGE(%s)" % e
        if m is not None:
            if not m.is_request and m.top_branch() == branch and m.status >= 200:
                return m.status
            continue
        left = deadline - time.monotonic()
        if left <= 0:
            return "TIMEOUT"
        try:
            data = await asyncio.wait_for(reader.read(65536), left)
        except asyncio.TimeoutError:
            return "TIMEOUT"
        except (OSError, ssl.SSLError):
            return "CLOSED"
        if not data:
            return "CLOSED"
        sr.feed(data)


class Legit:
    """A well-behaved federated peer on one mutual-TLS connection."""

    def __init__(self, a):
        self.a = a
        with open(a.legit_template, encoding="utf-8",
                  errors="surrogateescape") as f:
            self.template = f.read()
        self.reader = self.writer = None

    async def open(self):
        a = self.a
        host, port = hostport(a.connect)
        ctx = sippeer.tls_context(False, a.cert, a.key, a.ca, a.sni)
        try:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=ctx,
                                        server_hostname=a.sni,
                                        local_addr=(a.legit_bind, 0)),
                a.legit_timeout)
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
            out("LEGIT_CONNECT_FAILED", repr(e))
            return False
        self.local = "%s:%d" % self.writer.get_extra_info("sockname")[:2]
        self.sr = sippeer.StreamReader(client=True)
        return True

    async def message(self, label):
        """Send one MESSAGE, print LEGIT_<label> <status> <seconds>."""
        t0 = time.monotonic()
        if self.writer is None and not await self.open():
            out("LEGIT_%s CONNECT_FAILED %.3f" % (label, time.monotonic() - t0))
            return None
        data = sippeer.build(self.template, variables(self.local, {}))
        req = sippeer.SipMessage.parse(data)
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (OSError, ssl.SSLError):
            out("LEGIT_%s CLOSED %.3f" % (label, time.monotonic() - t0))
            return None
        st = await final_response(self.reader, self.sr, req.top_branch(),
                                  time.monotonic() + self.a.legit_timeout)
        out("LEGIT_%s %s %.3f" % (label, st, time.monotonic() - t0))
        return st

    def close(self):
        if self.writer is not None:
            self.writer.close()


# ------------------------------------------------------------------ conns

def closed_now(s):
    """Has the other side closed (or reset) this idle socket?"""
    try:
        r, _, _ = select.select([s], [], [], 0)
        if not r:
            return False
        return s.recv(1) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


async def cmd_conns(a):
    loop = asyncio.get_running_loop()
    host, port = hostport(a.connect)
    legit = Legit(a) if a.legit_bind else None
    if legit:
        await legit.message("BEFORE")
    order = [src for _ in range(a.per_source) for src in a.source]
    socks = []          # (source, socket or None, attempt time)
    start = time.monotonic()
    first_wall = time.time()
    for k, src in enumerate(order):
        due = start + k / a.rate
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((src, 0))
            await asyncio.wait_for(loop.sock_connect(s, (host, port)), 3)
        except (OSError, asyncio.TimeoutError) as e:
            s.close()
            socks.append((src, None, time.time()))
            if a.verbose:
                out("# connect from %s failed: %r" % (src, e))
            continue
        socks.append((src, s, time.time()))
    last_wall = time.time()
    await asyncio.sleep(a.settle)
    per = {src: Counter() for src in a.source}
    refused_times = []
    for src, s, t in socks:
        if s is None:
            per[src]["failed"] += 1
        elif closed_now(s):
            per[src]["refused"] += 1
            refused_times.append(t)
        else:
            per[src]["held"] += 1
    tot = Counter()
    for src in a.source:
        tot.update(per[src])
        out("SOURCE %s held=%d refused=%d failed=%d" % (
            src, per[src]["held"], per[src]["refused"], per[src]["failed"]))
    out("ATTEMPTS", len(order))
    out("CONNECT_FAILED", tot["failed"])
    out("REFUSED", tot["refused"])
    out("HELD", tot["held"])
    # wall-clock seconds the flood covered (a log line per limit and
    # second at most can be checked against this)
    out("FIRST_EPOCH %.3f" % first_wall)
    out("LAST_EPOCH %.3f" % last_wall)
    out("REFUSED_SECONDS", len({int(t) for t in refused_times}))
    out("FLOOD_SECONDS %.3f" % (last_wall - first_wall))
    if legit:
        await legit.message("DURING")
        # the held ones must still be held: the daemon did not drop them
        still = sum(1 for _, s, _ in socks
                    if s is not None and not closed_now(s))
        out("STILL_HELD", still)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")
    end = time.monotonic() + a.hold
    while time.monotonic() < end and not (a.release and os.path.exists(a.release)):
        await asyncio.sleep(0.05)
    for _, s, _ in socks:
        if s is not None:
            s.close()
    if legit:
        legit.close()
    out("RELEASED")
    return 0


# --------------------------------------------------------------- messages

async def cmd_messages(a):
    host, port = hostport(a.connect)
    ctx = sippeer.tls_context(False, a.cert, a.key, a.ca, a.sni)
    legit = Legit(a) if a.legit_bind else None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ctx, server_hostname=a.sni,
                                    local_addr=(a.bind, 0)), 10)
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
        out("CONNECT_FAILED", repr(e))
        return 1
    local = "%s:%d" % writer.get_extra_info("sockname")[:2]
    if legit and not await legit.open():
        return 1
    with open(a.template, encoding="utf-8", errors="surrogateescape") as f:
        template = f.read()
    user = user_vars(a)
    msgs = [sippeer.build(template, variables(local, user, seq=i))
            for i in range(a.count)]
    out("MESSAGE_BYTES", len(msgs[0]))
    counts = Counter()
    provisional = Counter()
    retry_after = Counter()
    state = {"responses": 0, "closed": "", "sent": 0}
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    legit_task = None

    async def read_all():
        # answers copy the request's Via values: as large as it, or more
        sr = FastReader()
        while state["responses"] < a.count:
            try:
                while True:
                    m = sr.next()
                    if m is None:
                        break
                    status, ra = m
                    if status is None:
                        continue            # a request: not counted
                    state["last_response"] = time.monotonic()
                    if status >= 200:
                        counts[status] += 1
                        state["responses"] += 1
                        if ra is not None:
                            retry_after[ra] += 1
                    else:
                        provisional[status] += 1
            except ValueError as e:
                state["closed"] = "bad response stream: %s" % e
                return
            if state["responses"] >= a.count:
                return
            left = deadline - time.monotonic()
            if a.settle is not None and "sent_at" in state:
                # all sent: stop once nothing came for --settle seconds
                left = min(left, max(state["sent_at"],
                                     state.get("last_response", 0)) +
                           a.settle - time.monotonic())
            if left <= 0:
                return
            try:
                data = await asyncio.wait_for(reader.read(262144),
                                              min(left, 0.2))
            except asyncio.TimeoutError:
                continue
            except (OSError, ssl.SSLError) as e:
                state["closed"] = repr(e)
                return
            if not data:
                state["closed"] = "EOF"
                return
            sr.feed(data)

    async def write_all():
        nonlocal legit_task
        batch = []
        for i, m in enumerate(msgs):
            if a.rate > 0:          # paced: one at a time, on schedule
                due = t0 + i / a.rate
                if due > time.monotonic():
                    await asyncio.sleep(due - time.monotonic())
                if time.monotonic() >= deadline:
                    state["write_error"] = "deadline before all were sent"
                    return
            batch.append(m)
            if len(batch) == 50 or a.rate > 0 or i == len(msgs) - 1:
                try:
                    writer.write(b"".join(batch))
                    await asyncio.wait_for(writer.drain(),
                                           max(0.1, deadline - time.monotonic()))
                except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
                    state["write_error"] = repr(e)
                    return
                state["sent"] = i + 1
                batch = []
            if legit and legit_task is None and i + 1 >= len(msgs) // 2:
                out("LEGIT_AFTER_SENT", i + 1)
                legit_task = asyncio.ensure_future(legit.message("DURING"))
                # how far the flood's answers were when the peer got its own
                legit_task.add_done_callback(lambda _t: out(
                    "LEGIT_DONE_AT_RESPONSES", state["responses"]))

    rt = asyncio.ensure_future(read_all())
    await write_all()
    t_sent = time.monotonic()
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("sent\n")
    state["sent_at"] = t_sent
    await rt
    t_done = time.monotonic()
    if legit_task is not None:
        await legit_task
    out("SENT", state["sent"])
    out("SEND_SECONDS %.3f" % (t_sent - t0))
    out("RESPONSES", state["responses"])
    for code in sorted(counts):
        out("STATUS_%d %d" % (code, counts[code]))
    for code in sorted(provisional):
        out("PROVISIONAL_%d %d" % (code, provisional[code]))
    for v in sorted(retry_after):
        out("RETRY_AFTER_%s %d" % (v, retry_after[v]))
    out("CLOSED", state["closed"] or "no")
    if "write_error" in state:
        out("WRITE_ERROR", state["write_error"])
    out("ELAPSED %.3f" % (t_done - t0))
    # the connection still works after the flood (unless it was closed)
    if not state["closed"] and not a.no_after:
        sr = sippeer.StreamReader(client=True, max_header=1 << 20)
        data = sippeer.build(template, variables(local, user))
        try:
            writer.write(data)
            await writer.drain()
            st = await final_response(reader, sr,
                                      sippeer.SipMessage.parse(data).top_branch(),
                                      time.monotonic() + 10)
        except (OSError, ssl.SSLError):
            st = "CLOSED"
        out("AFTER", st)
    writer.close()
    if legit:
        legit.close()
    return 0


# ------------------------------------------------------------------ legit

async def one_request(a, i, ctx, template, user, results):
    """One request on a fresh connection; appends (i, status, seconds)."""
    host, port = hostport(a.connect)
    t0 = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ctx,
                                    server_hostname=a.sni if ctx else None,
                                    local_addr=(a.bind, 0)), a.timeout)
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
        results.append((i, "CONNECT_FAILED(%s)" % type(e).__name__,
                        time.monotonic() - t0))
        return
    try:
        local = "%s:%d" % writer.get_extra_info("sockname")[:2]
        data = sippeer.build(template, variables(
            local, user, "TCP" if ctx is None else "TLS", seq=i))
        writer.write(data)
        await asyncio.wait_for(writer.drain(), a.timeout)
        st = await final_response(reader, sippeer.StreamReader(client=True),
                                  sippeer.SipMessage.parse(data).top_branch(),
                                  t0 + a.timeout)
    except (OSError, ssl.SSLError, asyncio.TimeoutError):
        st = "CLOSED"
    results.append((i, st, time.monotonic() - t0))
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 1)
    except (OSError, ssl.SSLError, asyncio.TimeoutError):
        pass


async def same_connection(a, ctx, template, user, results):
    """--one-connection: every request on one connection, one after the
    other, on schedule (a late answer delays the next one)."""
    host, port = hostport(a.connect)
    t0 = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ctx,
                                    server_hostname=a.sni if ctx else None,
                                    local_addr=(a.bind, 0)), a.timeout)
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
        for i in range(a.count):
            results.append((i, "CONNECT_FAILED(%s)" % type(e).__name__, 0.0))
        return
    local = "%s:%d" % writer.get_extra_info("sockname")[:2]
    sr = sippeer.StreamReader(client=True)
    st = None
    for i in range(a.count):
        due = t0 + i / a.rate
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
        t1 = time.monotonic()
        if st == "CLOSED":
            results.append((i, "CLOSED", 0.0))
            continue
        data = sippeer.build(template, variables(
            local, user, "TCP" if ctx is None else "TLS", seq=i))
        try:
            writer.write(data)
            await asyncio.wait_for(writer.drain(), a.timeout)
            st = await final_response(reader, sr,
                                      sippeer.SipMessage.parse(data).top_branch(),
                                      t1 + a.timeout)
        except (OSError, ssl.SSLError, asyncio.TimeoutError):
            st = "CLOSED"
        results.append((i, st, time.monotonic() - t1))
    writer.close()


async def cmd_legit(a):
    ctx = None if a.tcp else sippeer.tls_context(False, a.cert, a.key, a.ca,
                                                 a.sni)
    with open(a.template, encoding="utf-8", errors="surrogateescape") as f:
        template = f.read()
    user = user_vars(a)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")
    results, tasks = [], []
    t0 = time.monotonic()
    first = time.time()
    if a.one_connection:
        tasks.append(asyncio.ensure_future(
            same_connection(a, ctx, template, user, results)))
    for i in range(0 if a.one_connection else a.count):
        due = t0 + i / a.rate
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
        tasks.append(asyncio.ensure_future(
            one_request(a, i, ctx, template, user, results)))
    # every request is bounded by --timeout (connect, then the answer)
    await asyncio.wait(tasks, timeout=(a.count / a.rate + a.timeout + 2
                                       if a.one_connection else
                                       2 * a.timeout + 2))
    last = time.time()
    results.sort()
    for i, st, secs in results:
        out("REQ %d %s %.3f" % (i, st, secs))
    ok = [r for r in results if r[1] == a.expect]
    lat = sorted(r[2] for r in ok)
    byst = Counter(str(r[1]) for r in results)
    out("LEGIT_SENT", a.count)
    out("LEGIT_OK", len(ok))
    out("LEGIT_FAILED", a.count - len(ok))
    for st in sorted(byst):
        out("LEGIT_STATUS_%s %d" % (st, byst[st]))
    out("LEGIT_MEDIAN_S %.3f" % (lat[len(lat) // 2] if lat else 0))
    out("LEGIT_MAX_S %.3f" % (lat[-1] if lat else 0))
    out("FIRST_EPOCH %.3f" % first)
    out("LAST_EPOCH %.3f" % last)
    return 0


# ----------------------------------------------------------------- noread

TCP_STATES = {1: "ESTABLISHED", 7: "CLOSE", 8: "CLOSE_WAIT", 4: "FIN_WAIT1",
              5: "FIN_WAIT2", 11: "CLOSING", 9: "LAST_ACK"}


def tcp_state(sock):
    """Linux TCP_INFO tcpi_state of a socket (1 = ESTABLISHED)."""
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    except OSError:
        return 0


def cmd_noread(a):
    host, port = hostport(a.connect)
    try:
        raw = socket.create_connection((host, port), timeout=10,
                                       source_address=(a.bind, 0))
        ctx = sippeer.tls_context(False, a.cert, a.key, a.ca, a.sni)
        ss = ctx.wrap_socket(raw, server_hostname=a.sni)
    except (OSError, ssl.SSLError) as e:
        out("CONNECT_FAILED", repr(e))
        return 1
    local = "%s:%d" % ss.getsockname()[:2]
    with open(a.template, encoding="utf-8", errors="surrogateescape") as f:
        template = f.read()
    user = user_vars(a)
    ss.setblocking(False)
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    last_progress = t0
    sent = sent_bytes = 0
    pending = b""
    blocked_at = None
    write_error = ""
    while sent < a.count and time.monotonic() < deadline:
        if not pending:
            pending = sippeer.build(template, variables(local, user, seq=sent))
            if sent == 0:
                out("MESSAGE_BYTES", len(pending))
        try:
            n = ss.send(pending)    # same buffer again after a WantWrite
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            n = 0
        except (OSError, ssl.SSLError) as e:
            write_error = repr(e)
            break
        now = time.monotonic()
        if n:
            pending = pending[n:]
            sent_bytes += n
            last_progress = now
            if not pending:
                sent += 1
        elif now - last_progress >= a.stall:
            blocked_at = last_progress
            break
        else:
            select.select([], [ss], [], 0.05)
    out("SENT", sent)
    out("SENT_BYTES", sent_bytes)
    out("WRITE_ERROR", write_error or "none")
    out("BLOCKED", "yes" if blocked_at is not None else "no")
    if blocked_at is not None:
        out("BLOCKED_AFTER_S %.3f" % (blocked_at - t0))
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")
    # hold the connection, never reading; watch for the daemon closing it
    since = time.monotonic()
    end = since + a.hold
    state = tcp_state(ss)
    while state == 1 and time.monotonic() < end and \
            not (a.release and os.path.exists(a.release)):
        time.sleep(0.05)
        state = tcp_state(ss)
    if state != 1:
        out("CLOSED_BY_PEER yes")
        out("CLOSED_AFTER_S %.3f" % (time.monotonic() - since))
        out("CLOSED_AFTER_FIRST_WRITE_S %.3f" % (time.monotonic() - t0))
    else:
        out("CLOSED_BY_PEER no")
    out("TCP_STATE", TCP_STATES.get(state, state))
    ss.close()
    return 0


# --------------------------------------------------------------- tcpflood

def cmd_tcpflood(a):
    host, port = hostport(a.connect)
    poller = select.poll()
    socks = {}          # fd -> [socket, source, opened at]
    per = Counter()     # open sockets per source
    st = Counter()
    held_max = 0
    start = time.monotonic()
    end = start + a.duration
    k = 0
    while time.monotonic() < end and not (a.release and os.path.exists(a.release)):
        now = time.monotonic()
        budget = int((now - start) * a.rate) + 1 - st["attempts"]
        tried = 0
        while budget > 0 and tried < len(a.source):
            src = a.source[k % len(a.source)]
            k += 1
            tried += 1
            if per[src] >= a.per_source:
                continue
            tried = 0
            budget -= 1
            st["attempts"] += 1
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.bind((src, 0))
                err = s.connect_ex((host, port))
            except OSError:
                err = -1
            if err not in (0, errno.EINPROGRESS):
                st["connect_failed"] += 1
                s.close()
                continue
            socks[s.fileno()] = [s, src, now]
            per[src] += 1
            poller.register(s.fileno(), select.POLLIN | select.POLLRDHUP
                            if hasattr(select, "POLLRDHUP") else select.POLLIN)
        held_max = max(held_max, len(socks))
        if a.close_after is not None:   # connect-and-close: we hang up
            for fd, (s, src, opened) in list(socks.items()):
                if time.monotonic() - opened >= a.close_after:
                    poller.unregister(fd)
                    del socks[fd]
                    per[src] -= 1
                    s.close()
                    st["closed_by_us"] += 1
        for fd, ev in poller.poll(10):
            ent = socks.get(fd)
            if ent is None:
                continue
            s, src, opened = ent
            gone = bool(ev & (select.POLLHUP | select.POLLERR))
            if not gone:
                try:
                    gone = s.recv(1, socket.MSG_DONTWAIT) == b""
                except (BlockingIOError, InterruptedError):
                    gone = False
                except OSError:
                    gone = True
            if gone:
                poller.unregister(fd)
                del socks[fd]
                per[src] -= 1
                s.close()
                st["closed_by_peer"] += 1
                if time.monotonic() - opened < a.fast:
                    st["closed_fast"] += 1
    out("ATTEMPTS", st["attempts"])
    out("CONNECT_FAILED", st["connect_failed"])
    out("CLOSED_BY_PEER", st["closed_by_peer"])
    out("CLOSED_FAST", st["closed_fast"])
    out("CLOSED_BY_US", st["closed_by_us"])
    out("HELD_MAX", held_max)
    out("HELD_END", len(socks))
    out("SECONDS %.3f" % (time.monotonic() - start))
    for s, _, _ in socks.values():
        s.close()
    return 0


# -------------------------------------------------------------- blackhole

def cmd_blackhole(a):
    host, port = hostport(a.listen)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    n = 0
    end = time.monotonic() + a.duration
    while not stop and time.monotonic() < end:
        r, _, _ = select.select([s], [], [], 0.2)
        if r:
            try:
                s.recvfrom(65536)
                n += 1
            except OSError:
                pass
    out("RECEIVED", n)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(q):
        q.add_argument("--connect", required=True, metavar="HOST:PORT")
        q.add_argument("--cert", help="client certificate (PEM)")
        q.add_argument("--key", help="its private key")
        q.add_argument("--ca", help="CA to verify the daemon")
        q.add_argument("--sni", default="edge.test")
        q.add_argument("--legit-bind", metavar="IP",
                       help="run a legitimate peer from this address")
        q.add_argument("--legit-template", metavar="FILE",
                       help="its MESSAGE template (sippeer syntax)")
        q.add_argument("--legit-timeout", type=float, default=10)
        q.add_argument("-v", "--verbose", action="store_true")

    c = sub.add_parser("conns", help="connection flood")
    common(c)
    c.add_argument("--source", action="append", required=True, metavar="IP",
                   help="source address (repeat); attempts go round-robin")
    c.add_argument("--per-source", type=int, required=True,
                   help="connection attempts per source address")
    c.add_argument("--rate", type=float, default=100,
                   help="attempts per second, all sources together")
    c.add_argument("--settle", type=float, default=1.0,
                   help="seconds after the last attempt before classifying")
    c.add_argument("--hold", type=float, default=10,
                   help="keep the held connections this long at most")
    c.add_argument("--release", metavar="FILE",
                   help="stop holding as soon as FILE exists")
    c.add_argument("--ready", metavar="FILE",
                   help="created once the results are printed")

    m = sub.add_parser("messages", help="message flood on one connection")
    common(m)
    m.add_argument("--bind", required=True, metavar="IP")
    m.add_argument("--template", required=True)
    m.add_argument("--var", action="append", default=[], metavar="K=V")
    m.add_argument("--count", type=int, default=10000)
    m.add_argument("--timeout", type=float, default=60)
    m.add_argument("--rate", type=float, default=0,
                   help="messages per second (default: as fast as possible)")
    m.add_argument("--settle", type=float,
                   help="once all are sent, stop reading when no response "
                   "came for this long")
    m.add_argument("--ready", metavar="FILE",
                   help="created once every message is sent")
    m.add_argument("--no-after", action="store_true",
                   help="no extra message on the connection afterwards")

    g = sub.add_parser("legit", help="a partner's requests, fresh connections")
    common(g)
    g.add_argument("--bind", required=True, metavar="IP")
    g.add_argument("--tcp", action="store_true",
                   help="plain TCP (a node), not mutual TLS")
    g.add_argument("--template", required=True)
    g.add_argument("--var", action="append", default=[], metavar="K=V")
    g.add_argument("--count", type=int, default=40)
    g.add_argument("--rate", type=float, default=4,
                   help="requests per second")
    g.add_argument("--timeout", type=float, default=8,
                   help="seconds for each: connect, then its final response")
    g.add_argument("--expect", type=int, default=200)
    g.add_argument("--one-connection", action="store_true",
                   help="all on one connection, one after the other")
    g.add_argument("--ready", metavar="FILE", help="created when starting")

    n = sub.add_parser("noread", help="never read the responses")
    common(n)
    n.add_argument("--bind", required=True, metavar="IP")
    n.add_argument("--template", required=True)
    n.add_argument("--var", action="append", default=[], metavar="K=V")
    n.add_argument("--count", type=int, default=2000)
    n.add_argument("--timeout", type=float, default=20,
                   help="seconds of writing at most")
    n.add_argument("--stall", type=float, default=2,
                   help="no progress this long: writing is blocked")
    n.add_argument("--hold", type=float, default=20,
                   help="then keep the connection this long at most")
    n.add_argument("--release", metavar="FILE",
                   help="stop holding as soon as FILE exists")
    n.add_argument("--ready", metavar="FILE",
                   help="created once writing stopped")

    t = sub.add_parser("tcpflood", help="TCP connections that send nothing")
    t.add_argument("--connect", required=True, metavar="HOST:PORT")
    t.add_argument("--source", action="append", required=True, metavar="IP")
    t.add_argument("--per-source", type=int, default=64,
                   help="open connections per source address at most")
    t.add_argument("--rate", type=float, default=300,
                   help="connection attempts per second, all sources")
    t.add_argument("--duration", type=float, default=10)
    t.add_argument("--fast", type=float, default=1.0,
                   help="closed within this many seconds: refused")
    t.add_argument("--close-after", type=float, metavar="SECONDS",
                   help="close each connection this long after opening it "
                   "(default: hold it until the daemon closes it)")
    t.add_argument("--release", metavar="FILE",
                   help="stop as soon as FILE exists")

    b = sub.add_parser("blackhole", help="a DNS server that never answers")
    b.add_argument("--listen", required=True, metavar="HOST:PORT")
    b.add_argument("--duration", type=float, default=300)
    b.add_argument("--ready", metavar="FILE")

    a = p.parse_args()
    if getattr(a, "legit_bind", None) and not a.legit_template:
        sippeer.die("--legit-bind needs --legit-template")
    fn = {"conns": cmd_conns, "messages": cmd_messages, "legit": cmd_legit,
          "noread": cmd_noread, "tcpflood": cmd_tcpflood,
          "blackhole": cmd_blackhole}[a.cmd]
    r = fn(a)
    sys.exit(asyncio.run(r) if asyncio.iscoroutine(r) else r)


if __name__ == "__main__":
    main()
