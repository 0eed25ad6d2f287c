#!/bin/bash
# Two edges of STARTTLS (RFC 3207 4.2), each against real peers:
# - a backend that sends plaintext after its 220 to STARTTLS (the
#   CVE-2011-0411 class, backend side): postern drops it before its
#   handshake, never takes it as a reply, and delivers over TLS; sent apart,
#   after postern began its handshake, it breaks the handshake and with
#   backend.tls: required nothing goes in plaintext (451);
# - a client that authenticated in plaintext (smtp.auth_over_plaintext) and
#   then issues STARTTLS is forgotten as authenticated: the authenticated
#   policy is no longer chosen and the real Postfix+Dovecot backend refuses
#   the RCPT until the client authenticates again over TLS.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd openssl dovecot

make_certs "$T/pki" || { fail "make certificates"; it_done; }

# 1. Plaintext injected by the backend after its 220 to STARTTLS.
start_rawsink inj --caps "PIPELINING,8BITMIME,STARTTLS" --tls-cert "$T/pki/server.pem" \
	--tls-key "$T/pki/server.key" --starttls-inject '250 injected\r\n'
tls_px() { # NAME BACKEND_PORT: postern with backend.tls: required, verified
	local port
	port=$(free_port)
	cat >"$T/$1.yaml" <<EOF2
hostname: postern.test
listen: [ 127.0.0.1:$port ]
backend:
  address: 127.0.0.1:$2
  tls: required
  ca_file: $T/pki/ca.pem
  verify_name: backend.test
log: { level: debug }
EOF2
	start_postern "$1" "$port" "$T/$1.yaml"
	printf -v "${1}_port" %s "$port"
}
tls_px pinj "$inj_port"
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

# The same octets sent apart, once postern has begun its handshake: they are not
# TLS, so the handshake fails, and with tls: required nothing goes in plaintext.
start_rawsink late --caps "PIPELINING,8BITMIME,STARTTLS" --tls-cert "$T/pki/server.pem" \
	--tls-key "$T/pki/server.key" --starttls-inject '250 injected\r\n' \
	--starttls-inject-delay 0.3
tls_px plate "$late_port"
out=$(smtp "$plate_port" R S:'EHLO client.test\r\n' R S:'MAIL FROM:<a@example.org>\r\n' R \
	S:'RCPT TO:<b@backend.test>\r\n' R S:'QUIT\r\n' R)
check_not_contains "late injection: the client never sees it" "$out" "injected"
check_contains "late injection: 451 to the client" "$out" "451 4.4.1"
check_not_contains "late injection: no MAIL reached the backend" \
	"$(cat "$late_dir/commands.log")" "MAIL FROM"
check_match "late injection: the failed handshake logged" "$(cat "$plate_log")" \
	'event=backend_unavailable .*reason="TLS: [^"]*wrong version number"'

# 2. STARTTLS after AUTH in plaintext: Postfix relays for authenticated clients only.
start_postfix_sasl pf "smtpd_recipient_restrictions = permit_sasl_authenticated, reject"
pa_port=$(free_port)
cat >"$T/pa.yaml" <<EOF2
hostname: postern.test
listen:
  - address: 127.0.0.1:$pa_port
    tls: { cert: $T/pki/server.pem, key: $T/pki/server.key }
backend: { address: 127.0.0.1:$pf_port }
smtp: { auth_over_plaintext: true }
log: { level: debug }
filters:
  t: { type: test }
policies:
  - name: inbound
    chain: [ t ]
  - name: submission
    match: { authenticated: true }
    chain: [ t ]
EOF2
start_postern pa "$pa_port" "$T/pa.yaml"
wait_until 10 grep -q 'event=backend_probe.*status=ok' "$pa_log"
login=$(printf '\0alice@backend.test\0s3cret-Pw' | base64 -w0)
printf 'Subject: relayed\n\nbody\n' >"$T/sub"
last_tx() { grep 'event=transaction' "$pa_log" | tail -n 1; }

# Control: authenticated in plaintext, no STARTTLS: Postfix takes the RCPT.
out=$(smtp "$pa_port" R S:'EHLO client.test\r\n' R S:"AUTH PLAIN $login\r\n" R \
	S:'MAIL FROM:<alice@backend.test>\r\n' R S:'RCPT TO:<user@backend.test>\r\n' R \
	S:'DATA\r\n' R "D:$T/sub" R S:'QUIT\r\n' R)
check_contains "plaintext AUTH: 235" "$out" "235 2.7.0 Authentication successful"
check_match "plaintext AUTH: Postfix accepts the RCPT" "$out" '^250 2\.1\.5 Ok$'
check_match "plaintext AUTH: queued" "$out" '^250 2\.0\.0 Ok: [0-9]+ bytes queued as'
check_match "plaintext AUTH: the submission policy" "$(last_tx)" \
	' status=250 .* auth="alice@backend\.test" policy=submission '
check_not_contains "plaintext AUTH: no TLS in the transaction log" "$(last_tx)" " tls="


# AUTH in plaintext, then STARTTLS: the login is forgotten.
ntx=$(grep -c 'event=transaction' "$pa_log")
out=$(smtp "$pa_port" R S:'EHLO client.test\r\n' R S:"AUTH PLAIN $login\r\n" R \
	S:'STARTTLS\r\n' R T S:'EHLO client.test\r\n' R S:'MAIL FROM:<alice@backend.test>\r\n' R \
	S:'RCPT TO:<user@backend.test>\r\n' R S:'RSET\r\n' R S:"AUTH PLAIN $login\r\n" R \
	S:'MAIL FROM:<alice@backend.test>\r\n' R S:'RCPT TO:<user@backend.test>\r\n' R \
	S:'DATA\r\n' R "D:$T/sub" R S:'QUIT\r\n' R)
check_eq "AUTH, STARTTLS: the replies, in order" \
	"220 250 235 220 <TLS 250 250 554 250 235 250 250 354 250 221" \
	"$(grep -v '^250-' <<<"$out" | cut -d' ' -f1 | tr '\n' ' ' | sed 's/ $//')"
check_eq "AUTH, STARTTLS: two logins accepted, one before TLS and one after" 2 \
	"$(grep -c '^235 2\.7\.0 Authentication successful$' <<<"$out")"
check_not_contains "AUTH after TLS is not 'already authenticated'" "$out" "already authenticated"
check_match "after TLS, before the new AUTH: Postfix refuses the RCPT" "$out" \
	'^554 5\.7\.1 <user@backend\.test>: Recipient address rejected: Access denied$'
check_match "after the AUTH over TLS: Postfix accepts the RCPT" "$out" '^250 2\.1\.5 Ok$'
check_match "after the AUTH over TLS: queued" "$out" '^250 2\.0\.0 Ok: [0-9]+ bytes queued as'
check_eq "Postfix holds the two authenticated messages" 2 "$(postfix_queue_ids pf | wc -l)"
txs=$(grep 'event=transaction' "$pa_log" | tail -n +$((ntx + 1)))
# The refused transaction ends at RSET.
check_match "after TLS, unauthenticated: no login, the inbound policy" \
	"$(grep 'reply="reset"' <<<"$txs")" 'tls=TLSv1\.[23] cipher=[A-Z0-9_]+ policy=inbound '
check_match "after the AUTH over TLS: the submission policy" "$(grep 'status=250' <<<"$txs")" \
	'tls=TLSv1\.[23] .*auth="alice@backend\.test" policy=submission '
pw_b64=$(printf 's3cret-Pw' | base64 -w0)
for secret in s3cret-Pw "$login" "$pw_b64" "${login:0:20}"; do
	check_not_contains "the password is not in postern's log (${secret:0:6}...)" \
		"$(cat "$pa_log")" "$secret"
done

it_done
