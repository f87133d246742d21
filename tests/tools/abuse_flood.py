#!/usr/bin/env python3
"""abuse_flood.py - connection and message floods against sipedge (tests).

  conns     open many TCP connections from several source addresses at a
            steady pace, sending nothing; after a settle time tell which
            ones the daemon refused (closed at once) and which it holds.
            Holds them until --release FILE exists or --hold runs out.
  messages  send N copies of one message template on one mutual-TLS
            connection as fast as possible while reading the answers;
            counts final responses by status.

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
import os
import select
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


def variables(local, user, transport="TLS"):
    d = {"LOCAL": local, "LOCAL_IP": local.rsplit(":", 1)[0],
         "LOCAL_PORT": local.rsplit(":", 1)[1], "TRANSPORT": transport,
         "BRANCH": "z9hG4bK" + sippeer.rand_token(16),
         "CALLID": sippeer.rand_token(20), "TAG": sippeer.rand_token(8)}
    d.update(user)
    return d


def user_vars(a):
    try:
        return dict(v.split("=", 1) for v in a.var)
    except ValueError:
        sippeer.die("--var takes K=V")


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
    msgs = [sippeer.build(template, variables(local, user)) for _ in range(a.count)]
    out("MESSAGE_BYTES", len(msgs[0]))
    counts = Counter()
    state = {"responses": 0, "closed": "", "sent": 0}
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    legit_task = None

    async def read_all():
        sr = sippeer.StreamReader(client=True)
        while state["responses"] < a.count:
            try:
                while True:
                    m = sr.next()
                    if m is None:
                        break
                    if not m.is_request and m.status >= 200:
                        counts[m.status] += 1
                        state["responses"] += 1
            except ValueError as e:
                state["closed"] = "bad response stream: %s" % e
                return
            if state["responses"] >= a.count:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                data = await asyncio.wait_for(reader.read(262144), left)
            except asyncio.TimeoutError:
                return
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
            batch.append(m)
            if len(batch) == 50 or i == len(msgs) - 1:
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
    await rt
    t_done = time.monotonic()
    if legit_task is not None:
        await legit_task
    out("SENT", state["sent"])
    out("SEND_SECONDS %.3f" % (t_sent - t0))
    out("RESPONSES", state["responses"])
    for code in sorted(counts):
        out("STATUS_%d %d" % (code, counts[code]))
    out("CLOSED", state["closed"] or "no")
    if "write_error" in state:
        out("WRITE_ERROR", state["write_error"])
    out("ELAPSED %.3f" % (t_done - t0))
    # the connection still works after the flood (unless it was closed)
    if not state["closed"]:
        sr = sippeer.StreamReader(client=True)
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

    a = p.parse_args()
    if a.legit_bind and not a.legit_template:
        sippeer.die("--legit-bind needs --legit-template")
    fn = cmd_conns if a.cmd == "conns" else cmd_messages
    sys.exit(asyncio.run(fn(a)))


if __name__ == "__main__":
    main()
