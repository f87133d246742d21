#!/usr/bin/env python3
"""abuse_slowloris.py - slow connections against sipedge (tests).

  tls     N TCP connections to a TLS listener that never finish the TLS
          handshake: every other one sends nothing, the rest the first half
          of a real ClientHello. The daemon must cut them at its
          limits.handshake_timeout.
  header  N mutual-TLS connections that complete the handshake, then send
          the first half of a SIP request (no end of headers) and stop. The
          daemon must cut them at its limits.header_timeout.

Connections go round-robin over the --source addresses (so that a per
address limit does not hide the effect). For each connection the time from
its last byte sent (tls: from the connect or the partial hello) to the
daemon's close is measured. Output, "KEY value" lines:

  OPENED n / OPEN_FAILED n / HANDSHAKE_FAILED n (header)
  OPEN_SECONDS s          how long opening all of them took
  CLOSED n                closed by the daemon before the tool gave up
  IN_TIME n               closed within --expect + --grace seconds
  EARLY n                 closed before --expect - 0.5 s (not the timeout)
  LATE n / NEVER n        closed later / not at all (within the wait)
  MIN_S / MEDIAN_S / MAX_S  close times

--ready FILE is created once every connection is open (and has sent its
bytes), so a caller can check a legitimate peer during the stall. Only the
standard library and sippeer.py are used; every wait is bounded.
"""

import argparse
import asyncio
import os
import ssl
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sippeer  # noqa: E402


def out(*words):
    print(*words, flush=True)


def partial_client_hello(sni):
    """The first half of a ClientHello an ordinary TLS client would send."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, outg, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outg.read()
    return hello[:len(hello) // 2]


async def wait_close(reader, limit):
    """Seconds until the other side closes, or None within limit."""
    t0 = time.monotonic()
    end = t0 + limit
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return None
        try:
            data = await asyncio.wait_for(reader.read(4096), left)
        except asyncio.TimeoutError:
            return None
        except (OSError, ssl.SSLError, EOFError):
            return time.monotonic() - t0
        if not data:
            return time.monotonic() - t0


async def run(a):
    host, port = sippeer.hostport(a.connect)
    hello = partial_client_hello(a.sni) if a.cmd == "tls" else b""
    ctx = None
    half = b""
    if a.cmd == "header":
        ctx = sippeer.tls_context(False, a.cert, a.key, a.ca, a.sni)
        with open(a.template, encoding="utf-8", errors="surrogateescape") as f:
            tmpl = f.read()
        full = sippeer.build(tmpl, {"LOCAL": "%s:5061" % a.source[0],
                                    "LOCAL_IP": a.source[0], "LOCAL_PORT": "5061",
                                    "TRANSPORT": "TLS",
                                    "BRANCH": "z9hG4bKslow", "CALLID": "slow",
                                    "TAG": "slow"})
        half = full[:full.index(b"\r\n\r\n") // 2]
    wait_limit = a.expect + a.grace + a.extra
    sem = asyncio.Semaphore(a.parallel)
    results = []        # close time, or None
    stats = {"opened": 0, "open_failed": 0, "handshake_failed": 0}
    all_open = asyncio.Event()
    conns = []

    async def one(i):
        src = a.source[i % len(a.source)]
        async with sem:
            try:
                if ctx is None:
                    r, w = await asyncio.wait_for(asyncio.open_connection(
                        host, port, local_addr=(src, 0)), 5)
                else:
                    r, w = await asyncio.wait_for(asyncio.open_connection(
                        host, port, local_addr=(src, 0), ssl=ctx,
                        server_hostname=a.sni), 5)
            except ssl.SSLError as e:
                stats["handshake_failed"] += 1
                if a.verbose:
                    out("# %d: handshake failed: %r" % (i, e))
                return
            except (OSError, asyncio.TimeoutError) as e:
                stats["open_failed"] += 1
                if a.verbose:
                    out("# %d: connect failed: %r" % (i, e))
                return
            if a.cmd == "tls" and i % 2 == 1:
                w.write(hello)
            elif a.cmd == "header":
                w.write(half)
            try:
                await w.drain()
            except (OSError, ssl.SSLError):
                pass
            stats["opened"] += 1
        conns.append(w)
        results.append(await wait_close(r, wait_limit))

    t0 = time.monotonic()
    tasks = [asyncio.ensure_future(one(i)) for i in range(a.count)]

    async def watch_open():
        while stats["opened"] + stats["open_failed"] + stats["handshake_failed"] < a.count:
            await asyncio.sleep(0.01)
        out("OPEN_SECONDS %.3f" % (time.monotonic() - t0))
        if a.ready:
            with open(a.ready, "w") as f:
                f.write("ready\n")
        all_open.set()

    watcher = asyncio.ensure_future(watch_open())
    await asyncio.gather(*tasks)
    if not all_open.is_set():
        watcher.cancel()
    for w in conns:
        w.close()
    times = [t for t in results if t is not None]
    limit = a.expect + a.grace
    out("OPENED", stats["opened"])
    out("OPEN_FAILED", stats["open_failed"])
    if a.cmd == "header":
        out("HANDSHAKE_FAILED", stats["handshake_failed"])
    out("CLOSED", len(times))
    out("IN_TIME", sum(1 for t in times if t <= limit))
    out("EARLY", sum(1 for t in times if t < a.expect - 0.5))
    out("LATE", sum(1 for t in times if t > limit))
    out("NEVER", sum(1 for t in results if t is None))
    if times:
        out("MIN_S %.3f" % min(times))
        out("MEDIAN_S %.3f" % statistics.median(times))
        out("MAX_S %.3f" % max(times))
    out("TOTAL_SECONDS %.3f" % (time.monotonic() - t0))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("tls", "header"):
        q = sub.add_parser(name)
        q.add_argument("--connect", required=True, metavar="HOST:PORT")
        q.add_argument("--source", action="append", required=True, metavar="IP")
        q.add_argument("--count", type=int, default=500)
        q.add_argument("--expect", type=float, required=True,
                       help="the daemon's timeout, seconds")
        q.add_argument("--grace", type=float, default=3,
                       help="allowed beyond --expect (default 3)")
        q.add_argument("--extra", type=float, default=2,
                       help="wait this much longer still, to report late ones")
        q.add_argument("--parallel", type=int, default=100,
                       help="connections being opened at once")
        q.add_argument("--sni", default="edge.test")
        q.add_argument("--ready", metavar="FILE")
        q.add_argument("-v", "--verbose", action="store_true")
        if name == "header":
            q.add_argument("--cert", required=True)
            q.add_argument("--key", required=True)
            q.add_argument("--ca", required=True)
            q.add_argument("--template", required=True,
                           help="SIP request template; its first half is sent")
    a = p.parse_args()
    sys.exit(asyncio.run(run(a)))


if __name__ == "__main__":
    main()
