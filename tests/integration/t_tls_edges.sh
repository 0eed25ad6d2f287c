#!/bin/bash
# Two edges of STARTTLS (RFC 3207 4.2), each against real peers:
# - a backend that sends plaintext after its 220 to STARTTLS (the
#   CVE-2011-0411 class, backend side): postern drops it before its
#   handshake, never takes it as a reply, and delivers over TLS;
# - a client that authenticated in plaintext (smtp.auth_over_plaintext) and
#   then issues STARTTLS is forgotten as authenticated: the authenticated
#   policy is no longer chosen and the real Postfix+Dovecot backend refuses
#   the RCPT until the client authenticates again over TLS.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd openssl

make_certs "$T/pki" || { fail "make certificates"; it_done; }

# 1. Plaintext injected by the backend after its 220 to STARTTLS.
start_rawsink inj --caps "PIPELINING,8BITMIME,STARTTLS" --tls-cert "$T/pki/server.pem" \
	--tls-key "$T/pki/server.key" --starttls-inject '250 injected\r\n'
pinj_port=$(free_port)
cat >"$T/pinj.yaml" <<EOF2
hostname: postern.test
listen: [ 127.0.0.1:$pinj_port ]
backend:
  address: 127.0.0.1:$inj_port
  tls: required
  ca_file: $T/pki/ca.pem
  verify_name: backend.test
log: { level: debug }
EOF2
start_postern pinj "$pinj_port" "$T/pinj.yaml"
printf 'Subject: after an injection\n\nline one\n.a dot line\nlast line\n' >"$T/msg"
out=$(smtp "$pinj_port" R S:'EHLO client.test\r\n' R S:'MAIL FROM:<a@example.org>\r\n' R \
	S:'RCPT TO:<b@backend.test>\r\n' R S:'DATA\r\n' R "D:$T/msg" R S:'QUIT\r\n' R)
check_not_contains "injection: the client never sees it" "$out" "injected"
check_eq "injection: each reply the client sees is the one to its command" \
	"220 250 250 250 354 250 221" \
	"$(grep -v '^250-' <<<"$out" | cut -c1-3 | tr '\n' ' ' | sed 's/ $//')"
check_match "injection: MAIL answered by the backend's MAIL reply" "$out" '^250 2\.1\.0 Ok$'
check_match "injection: RCPT answered by the backend's RCPT reply" "$out" '^250 2\.1\.5 Ok$'
check_match "injection: the message queued" "$out" '^250 2\.0\.0 Ok: queued$'
# Connection 1 is postern's backend probe; the session's is the one with MAIL.
n=$(sed -n 's/^\([0-9]*\): MAIL .*/\1/p' "$inj_dir/commands.log")
check_eq "injection: one backend connection carried a transaction" 1 "$(wc -w <<<"$n")"
check_eq "injection: the backend's transaction, over TLS after a second EHLO" \
	"EHLO STARTTLS <TLS EHLO MAIL RCPT DATA" \
	"$(sed -n "s/^$n: //p" "$inj_dir/commands.log" | cut -d' ' -f1 | head -n 7 | tr '\n' ' ' |
		sed 's/ $//')"
check_match "injection: TLS 1.2 or 1.3 with the backend" "$(cat "$inj_dir/commands.log")" \
	"^$n: <TLS TLSv1\.[23]>$"
check_match "injection: the envelope arrived intact" "$(cat "$inj_dir/commands.log")" \
	"^$n: RCPT TO:<b@backend\.test>$"
sed 's/$/\r/; s/^\./../' "$T/msg" >"$T/msg.wire"
check_file_eq "injection: the message arrived intact" "$T/msg.wire" "$inj_dir/msg-1.wire"
check_not_contains "injection: no reply error logged" "$(cat "$pinj_log")" "malformed"

it_done
