#!/usr/bin/env python3
"""Test helpers for postern's integration tests (python3 standard library only).

  smtptool.py freeport
      Print a TCP port on 127.0.0.1 that was free a moment ago (chosen below
      the kernel's ephemeral range, so outgoing connections cannot hold it).

  smtptool.py client [--bind IP] [--timeout S] HOST PORT STEP...
      A raw SMTP client for byte-exact (and hostile) input. Bytes to send are
      buffered and written in one go before the next read, so consecutive send
      steps are pipelined. Replies go to stdout, one line each, without CRLF;
      a transcript goes to stderr. Steps:
        S:TEXT      send TEXT, with Python escapes (\\r \\n \\xHH) decoded
        F:PATH      send the file's bytes as they are
        D:PATH      send the file (LF lines) as DATA content: CRLF line endings,
                    dot-stuffed, then the terminating ".\\r\\n"
        B:PATH:N    send the file (LF lines, turned into CRLF) as BDAT chunks of
                    N octets, the last one with LAST
        R / RN      read one / N complete replies (prints <TIMEOUT>, or <EOF>
                    once, when the server has closed)
        E           read until the server closes (then <EOF>, unless shown
                    already; <TIMEOUT> if it does not)
        Z:SECONDS   flush, then sleep
        X           flush, then close the connection at once (no QUIT)
        T[:CAFILE]  flush, then start TLS on the connection (after the 220 to
                    STARTTLS was read, or at once for implicit TLS); prints
                    "<TLS version>" or "<TLS-FAILED reason>". With CAFILE the
                    server's certificate must verify for postern.test.
                    Octets that came in plaintext before the handshake are
                    printed as "<PLAINTEXT data>" and dropped
      Exit status 0, or 2 when the connection could not be made.

  smtptool.py rawsink --port P --dir D [options]
      A recording SMTP server: every octet received on connection N is
      appended to D/conn-N.in, every command line to D/commands.log
      ("N: line"), and each message as received on the wire (dot-stuffed,
      without the terminating dot line; BDAT chunks concatenated) to
      D/msg-M.wire. Ends DATA only at CRLF.CRLF. Options:
        --caps "PIPELINING,SIZE 50000000,..."  EHLO keywords (one per item)
        --greeting TEXT        first reply (default "220 rawsink ESMTP")
        --reply VERB=TEXT      answer VERB (MAIL, RCPT, XCLIENT, DOT, ...) so
        --close-at VERB        close without a reply when VERB arrives
        --delay VERB=SECONDS   wait before answering VERB
        --tls-cert PEM --tls-key KEY
                               answer STARTTLS with 220 and do TLS as the
                               server (plaintext pipelined after STARTTLS is
                               dropped); commands.log gets "N: <TLS version>"
        --starttls-inject TEXT octets (Python escapes) sent after the 220 to
                               STARTTLS in the same send, in plaintext, as a
                               hostile server would (CVE-2011-0411 class)
        --starttls-inject-delay SECONDS
                               send the injected octets on their own, that
                               long after the 220 (so they arrive after the
                               client started its handshake)

  smtptool.py sinkbody FILE
      Print the message of a smtp-sink dump file: without the X-* and
      Received lines smtp-sink prepends and the empty line it appends.

  smtptool.py sinkdigest DIR
      For each smtp-sink dump file in DIR print one line "FROM SHA256 SIZE
      NRCPT": the X-Mail-Args sender, the sha256 and size of the message (as
      sinkbody prints it) and the number of X-Rcpt-Args; sorted.

  smtptool.py genmsg --size N [--seed S] [--dots]
      Print a deterministic message of about N octets (LF lines of 76 octets,
      "Subject:" header). --dots makes every 50th line start with ".".
  smtptool.py genmsgs [--dots]
      The same for each line "SIZE SEED PATH" of stdin, written to PATH.
"""

import argparse
import codecs
import hashlib
import os
import random
import re
import socket
import ssl
import sys
import threading
import time


def cmd_freeport(_args):
    rnd = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(200):
        port = rnd.randint(12000, 31999)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        print(port)
        return 0
    print("no free port found", file=sys.stderr)
    return 1


def to_crlf(data):
    return re.sub(rb"\r?\n", b"\r\n", data)


def dot_stuff(data):
    out = re.sub(rb"(^|\r\n)\.", rb"\1..", data)
    if out and not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out + b".\r\n"


def show(prefix, data):
    for line in data.split(b"\n"):
        if line == b"":
            continue
        text = line.rstrip(b"\r").decode("utf-8", "replace")
        if len(text) > 200:
            text = text[:200] + "...(%d octets)" % len(line)
        print(prefix + text, file=sys.stderr)


class Client:
    def __init__(self, sock, timeout):
        self.sock = sock
        self.timeout = timeout
        self.inbuf = b""
        self.outbuf = b""
        self.eof = False
        self.eof_shown = False

    def queue(self, data):
        self.outbuf += data

    def flush(self):
        if not self.outbuf:
            return
        nlines = self.outbuf.count(b"\n")
        if nlines > 40:
            print("C: (%d octets, %d lines)" % (len(self.outbuf), nlines), file=sys.stderr)
        else:
            show("C: ", self.outbuf)
        try:
            self.sock.sendall(self.outbuf)
        except OSError as e:
            print("C: send failed: %s" % e, file=sys.stderr)
        self.outbuf = b""

    def fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.inbuf += data
        return True

    def read_reply(self):
        """Read one complete (possibly multi-line) reply and print it."""
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\n" in self.inbuf:
                line, self.inbuf = self.inbuf.split(b"\n", 1)
                text = line.rstrip(b"\r").decode("utf-8", "replace")
                print(text)
                print("S: " + text, file=sys.stderr)
                if len(text) < 4 or text[3] != "-":
                    return True
            if not self.fill(deadline):
                if self.inbuf:
                    text = self.inbuf.decode("utf-8", "replace")
                    print(text)
                    print("S: (partial) " + text, file=sys.stderr)
                    self.inbuf = b""
                self.show_end()
                return False

    def read_eof(self):
        deadline = time.monotonic() + self.timeout
        while self.fill(deadline):
            pass
        if self.inbuf:
            text = self.inbuf.decode("utf-8", "replace")
            for line in text.split("\n"):
                if line:
                    print(line.rstrip("\r"))
            show("S: ", self.inbuf)
            self.inbuf = b""
        self.show_end()

    def start_tls(self, cafile):
        if self.inbuf:
            print("<PLAINTEXT %r>" % self.inbuf)
            self.inbuf = b""
        if cafile:
            ctx = ssl.create_default_context(cafile=cafile)
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        try:
            self.sock.settimeout(self.timeout)
            self.sock = ctx.wrap_socket(self.sock, server_hostname="postern.test")
        except (OSError, ssl.SSLError) as e:
            print("<TLS-FAILED %s>" % e)
            print("S: TLS failed: %s" % e, file=sys.stderr)
            return False
        print("<TLS %s>" % self.sock.version())
        print("S: TLS %s %s" % (self.sock.version(), self.sock.cipher()[0]), file=sys.stderr)
        return True

    def show_end(self):
        """Print <TIMEOUT>, or <EOF> the first time the end is seen."""
        if self.eof and self.eof_shown:
            return
        self.eof_shown = self.eof
        word = "<EOF>" if self.eof else "<TIMEOUT>"
        print(word)
        print("S: " + word, file=sys.stderr)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def cmd_client(args):
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if args.bind:
            sock.bind((args.bind, 0))
        sock.settimeout(args.timeout)
        sock.connect((args.host, args.port))
    except OSError as e:
        print("<CONNECT-FAILED %s>" % e)
        return 2
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c = Client(sock, args.timeout)
    for step in args.steps:
        kind, _, arg = step.partition(":")
        if kind == "S":
            c.queue(codecs.escape_decode(arg.encode("utf-8"))[0])
        elif kind == "F":
            c.queue(read_file(arg))
        elif kind == "D":
            c.queue(dot_stuff(to_crlf(read_file(arg))))
        elif kind == "B":
            path, _, size = arg.rpartition(":")
            data = to_crlf(read_file(path))
            size = int(size)
            chunks = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
            for i, chunk in enumerate(chunks):
                last = " LAST" if i == len(chunks) - 1 else ""
                c.queue(b"BDAT %d%s\r\n" % (len(chunk), last.encode()) + chunk)
        elif kind == "R" or re.fullmatch(r"R\d+", kind):
            c.flush()
            for _ in range(int(kind[1:] or 1)):
                if not c.read_reply():
                    break
        elif kind == "E":
            c.flush()
            c.read_eof()
        elif kind == "Z":
            c.flush()
            time.sleep(float(arg))
        elif kind == "X":
            c.flush()
            break
        elif kind == "T":
            c.flush()
            if not c.start_tls(arg):
                break
        else:
            print("bad step %r" % step, file=sys.stderr)
            return 2
    c.flush()
    sock.close()
    return 0


class RawSink:
    def __init__(self, args):
        self.dir = args.dir
        self.caps = [c.strip() for c in args.caps.split(",") if c.strip()]
        self.greeting = args.greeting
        self.replies = dict(kv.split("=", 1) for kv in args.reply)
        self.delays = {k: float(v) for k, v in (kv.split("=", 1) for kv in args.delay)}
        self.close_at = set(v.upper() for v in args.close_at)
        self.tls = None
        if args.tls_cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(args.tls_cert, args.tls_key)
        self.inject = codecs.escape_decode(args.starttls_inject.encode("utf-8"))[0]
        self.inject_delay = args.starttls_inject_delay
        self.lock = threading.Lock()
        self.nconn = 0
        self.nmsg = 0

    def log_command(self, conn_id, line):
        with self.lock:
            with open(os.path.join(self.dir, "commands.log"), "ab") as f:
                f.write(b"%d: %s\n" % (conn_id, line))

    def save_message(self, data):
        with self.lock:
            self.nmsg += 1
            n = self.nmsg
        with open(os.path.join(self.dir, "msg-%d.wire" % n), "wb") as f:
            f.write(data)

    def serve(self, conn):
        with self.lock:
            self.nconn += 1
            conn_id = self.nconn
        rec = open(os.path.join(self.dir, "conn-%d.in" % conn_id), "wb")
        buf = b""
        conn.settimeout(120)

        def more():
            nonlocal buf
            data = conn.recv(65536)
            if not data:
                raise EOFError
            rec.write(data)
            rec.flush()
            buf += data

        def answer(verb, text):
            if verb in self.delays:
                time.sleep(self.delays[verb])
            conn.sendall(self.replies.get(verb, text).encode("utf-8") + b"\r\n")

        try:
            if "CONNECT" in self.close_at:
                return
            answer("CONNECT", self.greeting)
            while True:
                while b"\r\n" not in buf:
                    more()
                line, buf = buf.split(b"\r\n", 1)
                self.log_command(conn_id, line)
                verb = line.split(b" ", 1)[0].decode("ascii", "replace").upper()
                if verb in self.close_at:
                    return
                if verb in ("EHLO", "HELO"):
                    if verb == "EHLO" and self.caps:
                        lines = ["250-rawsink"] + ["250-" + c for c in self.caps[:-1]]
                        lines.append("250 " + self.caps[-1])
                        answer(verb, "\r\n".join(lines))
                    else:
                        answer(verb, "250 rawsink")
                elif verb == "XCLIENT":
                    answer(verb, self.greeting)
                elif verb in ("XFORWARD", "RSET", "NOOP"):
                    answer(verb, "250 2.0.0 Ok")
                elif verb == "MAIL":
                    answer(verb, "250 2.1.0 Ok")
                elif verb == "RCPT":
                    answer(verb, "250 2.1.5 Ok")
                elif verb == "DATA":
                    answer(verb, "354 End data with <CR><LF>.<CR><LF>")
                    if not self.replies.get("DATA", "354").startswith("354"):
                        continue
                    # The DATA line's own CRLF precedes the first line.
                    data, buf = b"\r\n" + buf, b""
                    seen = 0
                    while data.find(b"\r\n.\r\n", seen) < 0:
                        seen = max(0, len(data) - 4)
                        more()
                        data, buf = data + buf, b""
                    end = data.find(b"\r\n.\r\n", seen)
                    self.save_message(data[2:end + 2])
                    buf = data[end + 5:]
                    if "DOT" in self.close_at:
                        return
                    answer("DOT", "250 2.0.0 Ok: queued")
                elif verb == "BDAT":
                    words = line.decode("ascii", "replace").split()
                    size = int(words[1])
                    while len(buf) < size:
                        more()
                    chunk, buf = buf[:size], buf[size:]
                    with open(os.path.join(self.dir, "bdat-%d.tmp" % conn_id), "ab") as f:
                        f.write(chunk)
                    if len(words) > 2 and words[2].upper() == "LAST":
                        path = os.path.join(self.dir, "bdat-%d.tmp" % conn_id)
                        self.save_message(read_file(path))
                        os.unlink(path)
                        if "DOT" in self.close_at:
                            return
                        answer("DOT", "250 2.0.0 Ok: queued")
                    else:
                        answer("BDAT", "250 2.0.0 Ok")
                elif verb == "STARTTLS" and self.tls is not None:
                    ready = self.replies.get(verb, "220 2.0.0 Ready").encode("utf-8") + b"\r\n"
                    if self.inject_delay > 0:
                        conn.sendall(ready)
                        time.sleep(self.inject_delay)
                        conn.sendall(self.inject)
                    else:
                        conn.sendall(ready + self.inject)
                    buf = b""
                    conn = self.tls.wrap_socket(conn, server_side=True)
                    self.log_command(conn_id, b"<TLS %s>" % conn.version().encode())
                elif verb == "QUIT":
                    answer(verb, "221 2.0.0 Bye")
                    return
                else:
                    answer(verb, "502 5.5.2 Error: command not recognized")
        except (EOFError, OSError, ValueError, IndexError) as e:
            print("conn %d: %r" % (conn_id, e), file=sys.stderr)
        finally:
            rec.close()
            conn.close()


def cmd_rawsink(args):
    sink = RawSink(args)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(64)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=sink.serve, args=(conn,), daemon=True).start()


def sink_split(data):
    """Split a smtp-sink dump into (header lines smtp-sink added, message)."""
    lines = data.split(b"\n")
    i = 0
    while i < len(lines) and not lines[i].startswith(b"Received: from "):
        i += 1
    i += 1
    while i < len(lines) and lines[i].startswith(b"\t"):
        i += 1
    body = b"\n".join(lines[i:])
    # smtp-sink ends each dump with an empty line of its own.
    if body == b"\n" or body.endswith(b"\n\n"):
        body = body[:-1]
    return lines[:i], body


def cmd_sinkbody(args):
    sys.stdout.buffer.write(sink_split(read_file(args.file))[1])
    return 0


def cmd_sinkdigest(args):
    out = []
    for name in os.listdir(args.dir):
        if not name.startswith("m."):
            continue
        head, body = sink_split(read_file(os.path.join(args.dir, name)))
        sender = b"-"
        nrcpt = 0
        for line in head:
            if line.startswith(b"X-Mail-Args: "):
                sender = line[13:].split(b" ")[0]
            elif line.startswith(b"X-Rcpt-Args: "):
                nrcpt += 1
        out.append("%s %s %d %d" % (sender.decode("utf-8", "replace"),
                                    hashlib.sha256(body).hexdigest(), len(body), nrcpt))
    for line in sorted(out):
        print(line)
    return 0


def cmd_genmsg(args):
    sys.stdout.buffer.write(genmsg(args.size, args.seed, args.dots))
    return 0


def cmd_genmsgs(args):
    for line in sys.stdin:
        size, seed, path = line.split(None, 2)
        with open(path.rstrip("\n"), "wb") as f:
            f.write(genmsg(int(size), int(seed), args.dots))
    return 0


def genmsg(want, seed, dots):
    out = [b"Subject: generated test message seed=%d\n" % seed, b"\n"]
    size = sum(len(x) for x in out)
    h = hashlib.sha256(b"%d" % seed).digest()
    n = 0
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ .,"
    while size < want:
        h = hashlib.sha512(h).digest()
        line = bytes(alphabet[b % len(alphabet)] for b in (h + hashlib.sha256(h).digest())[:75])
        n += 1
        if dots and n % 50 == 0:
            line = b"." + line[1:]
        out.append(line + b"\n")
        size += 76
    return b"".join(out)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("freeport")
    c = sub.add_parser("client")
    c.add_argument("--bind")
    c.add_argument("--timeout", type=float, default=10)
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("steps", nargs="*")
    r = sub.add_parser("rawsink")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--dir", required=True)
    r.add_argument("--caps", default="PIPELINING,SIZE 52428800,8BITMIME,ENHANCEDSTATUSCODES")
    r.add_argument("--greeting", default="220 rawsink ESMTP")
    r.add_argument("--reply", action="append", default=[])
    r.add_argument("--delay", action="append", default=[])
    r.add_argument("--close-at", action="append", default=[])
    r.add_argument("--tls-cert")
    r.add_argument("--tls-key")
    r.add_argument("--starttls-inject", default="")
    r.add_argument("--starttls-inject-delay", type=float, default=0)
    s = sub.add_parser("sinkbody")
    s.add_argument("file")
    gs = sub.add_parser("genmsgs")
    gs.add_argument("--dots", action="store_true")
    d = sub.add_parser("sinkdigest")
    d.add_argument("dir")
    g = sub.add_parser("genmsg")
    g.add_argument("--size", type=int, required=True)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--dots", action="store_true")
    args = p.parse_args()
    return {
        "freeport": cmd_freeport,
        "client": cmd_client,
        "rawsink": cmd_rawsink,
        "sinkbody": cmd_sinkbody,
        "sinkdigest": cmd_sinkdigest,
        "genmsg": cmd_genmsg,
        "genmsgs": cmd_genmsgs,
    }[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
