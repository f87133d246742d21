#!/usr/bin/env python3
"""notify_listen.py - a stand-in for systemd's NOTIFY_SOCKET, for t-notify.sh.

Binds a unix datagram socket, asks the kernel for the sender's credentials
(SO_PASSCRED / SCM_CREDENTIALS) and appends one line per assignment of every
datagram received to --out, flushed at once:

    EPOCH-SECONDS SENDER-PID KEY=VALUE

With --check HOST:PORT (repeatable), every READY=1 is followed at once by a
TCP connect to each, logged as "EPOCH - READY-CHECK HOST:PORT ok|refused:...":
whoever says READY=1 must already accept connections.

Runs until SIGTERM or --timeout (bounded). Standard library only.
"""

import argparse
import os
import signal
import socket
import struct
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", required=True, help="path to bind")
    ap.add_argument("--out", required=True, help="file to append lines to")
    ap.add_argument("--check", action="append", default=[],
                    metavar="HOST:PORT")
    ap.add_argument("--ready", help="created once the socket is bound")
    ap.add_argument("--timeout", type=float, default=300)
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    s.bind(a.socket)
    # A daemon started as root sends as the user it dropped to (as systemd's
    # own socket, anyone may write).
    os.chmod(a.socket, 0o777)
    if a.ready:
        open(a.ready, "w").close()
    out = open(a.out, "a", buffering=1)
    end = time.monotonic() + a.timeout
    ucred = struct.calcsize("3i")
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(ucred))
            except socket.timeout:
                break
            now = time.time()
            pid = "?"
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = str(struct.unpack("3i", cdata[:ucred])[0])
            ready = False
            for line in data.decode("utf-8", "replace").split("\n"):
                if line:
                    out.write("%.6f %s %s\n" % (now, pid, line))
                    ready |= line == "READY=1"
            if ready:
                for hp in a.check:
                    host, _, port = hp.rpartition(":")
                    try:
                        socket.create_connection((host, int(port)), 2).close()
                        res = "ok"
                    except OSError as e:
                        res = "refused:%s" % e.__class__.__name__
                    out.write("%.6f - READY-CHECK %s %s\n" % (time.time(), hp, res))
    finally:
        s.close()
        try:
            os.unlink(a.socket)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
