#!/usr/bin/python3
"""dkim_verify.py - verify each DKIM signature of a message with dkimpy.

usage: dkim_verify.py DNS_PORT < MSG

Keys are looked up with dnspython at 127.0.0.1:DNS_PORT (the test's
unbound). Prints one line per signature, "pass d=D s=S" or "fail d=D s=S",
and exits 0 when every signature passed.
"""
import sys

import dkim
import dns.resolver


def main():
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = int(sys.argv[1])
    resolver.lifetime = 5

    def txt(name, timeout=5):
        try:
            answer = resolver.resolve(name.decode() if isinstance(name, bytes) else name, "TXT")
        except dns.exception.DNSException:
            return None
        return b"".join(answer[0].strings)

    msg = sys.stdin.buffer.read()
    d = dkim.DKIM(msg)
    sigs = [v for k, v in d.headers if k.lower() == b"dkim-signature"]
    ok = bool(sigs)
    for i, sig in enumerate(sigs):
        passed = d.verify(idx=i, dnsfunc=txt)
        tags = dkim.util.parse_tag_value(sig)
        print("%s d=%s s=%s" % ("pass" if passed else "fail", tags[b"d"].decode(),
                                 tags[b"s"].decode()))
        ok = ok and passed
    sys.exit(0 if ok else 1)


main()
