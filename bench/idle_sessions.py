#!/usr/bin/env python3
"""idle_sessions.py - resident memory per idle SMTP session of a server.

Usage: idle_sessions.py PORT PID COUNT [SECONDS]

Opens COUNT client connections to 127.0.0.1:PORT with non-blocking sockets,
takes each past the greeting (220) and an EHLO (250), and leaves it idle.
At most WINDOW connections are on their way at a time, so the server's listen
queue never overflows (an overflow costs a SYN retransmission, a second). Then
it reads VmRSS of process PID, before and after, closes the connections and
prints one line:

    ready=N failed=N pending=N rss_before_kib=N rss_after_kib=N bytes_per_session=N

failed counts connections refused, closed, or answered with another code
(e.g. 421 above a session limit); pending those still on their way when
SECONDS (default 60) ran out. Exit status 1 when not every session got ready.
Standard library only; loopback only.
"""

import errno
import resource
import selectors
import socket
import sys
import time

WINDOW = 100


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        limit = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


class Session:
    """One client: connecting, then a reply to wait for (220, then 250)."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        err = self.sock.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, "connect: " + errno.errorcode.get(err, str(err)))
        self.buf = b""
        self.expect = b"220"

    def reply(self):
        """The code of the complete reply in buf, or None while incomplete."""
        lines = self.buf.split(b"\r\n")
        for line in lines[:-1]:
            if len(line) < 4 or line[3:4] == b" ":
                return line[:3]
        return None

    def on_readable(self):
        """Returns "wait", "ready" or "failed"."""
        try:
            data = self.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return "wait"
        except OSError:
            return "failed"
        if not data:
            return "failed"
        self.buf += data
        code = self.reply()
        if code is None:
            return "wait" if len(self.buf) < 65536 else "failed"
        if code != self.expect:
            return "failed"
        if self.expect == b"250":
            return "ready"
        self.buf = b""
        self.expect = b"250"
        try:
            self.sock.send(b"EHLO idle.bench.test\r\n")
        except OSError:
            return "failed"
        return "wait"


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit("usage: idle_sessions.py PORT PID COUNT [SECONDS]")
    port, pid, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    deadline = time.monotonic() + (float(sys.argv[4]) if len(sys.argv) == 5 else 60.0)
    raise_nofile(count + 64)

    before = rss_kib(pid)
    sel = selectors.DefaultSelector()
    idle, started, failed, inflight = [], 0, 0, 0
    while time.monotonic() < deadline and len(idle) + failed < count:
        while inflight < WINDOW and started < count:
            s = Session(port)
            sel.register(s.sock, selectors.EVENT_READ, s)
            started += 1
            inflight += 1
        for key, _ in sel.select(timeout=min(1.0, max(0.0, deadline - time.monotonic()))):
            s = key.data
            state = s.on_readable()
            if state == "wait":
                continue
            sel.unregister(s.sock)
            inflight -= 1
            if state == "ready":
                idle.append(s)
            else:
                s.sock.close()
                failed += 1
    after = rss_kib(pid)
    print("ready=%d failed=%d pending=%d rss_before_kib=%d rss_after_kib=%d "
          "bytes_per_session=%d" % (len(idle), failed, count - len(idle) - failed, before,
                                    after, (after - before) * 1024 // max(1, len(idle))))
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    for s in idle:
        s.sock.close()
    return 0 if len(idle) == count else 1


if __name__ == "__main__":
    sys.exit(main())
