#!/bin/bash
# TLS towards clients: STARTTLS (swaks --tls, openssl s_client, a raw client),
# the plaintext sent after STARTTLS discarded (CVE-2011-0411), EHLO again
# after TLS, implicit TLS (swaks --tlsc), TLS facts in the log, a new
# certificate after SIGHUP, and `postern -t` on bad certificate paths.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd swaks openssl

make_certs "$T/pki" || { fail "make certificates"; it_done; }
start_sink sink
p_starttls=$(free_port)
p_implicit=$(free_port)
p_plain=$(free_port)
cat >"$T/px.yaml" <<EOF
hostname: postern.test
listen:
  - address: 127.0.0.1:$p_starttls
    tls: { cert: $T/pki/server.pem, key: $T/pki/server.key }
  - address: 127.0.0.1:$p_implicit
    tls: { cert: $T/pki/server.pem, key: $T/pki/server.key, implicit: true }
  - address: 127.0.0.1:$p_plain
backend:
  address: 127.0.0.1:$sink_port
EOF
start_postern px "$p_starttls" "$T/px.yaml"
wait_port "$p_implicit" "$px_pid"

out=$(smtp "$p_starttls" R S:'EHLO client.test\r\n' R S:'QUIT\r\n' R)
check_contains "EHLO before TLS offers STARTTLS" "$out" "250-STARTTLS"
out=$(smtp "$p_plain" R S:'EHLO client.test\r\n' R S:'STARTTLS\r\n' R S:'QUIT\r\n' R)
check_not_contains "no STARTTLS offered on a listener without tls" "$out" "250-STARTTLS"
check_contains "STARTTLS there: 502" "$out" "502 5.5.1 Error: command not implemented"

out=$(timeout 30 swaks --tls -s 127.0.0.1 -p "$p_starttls" --ehlo client.test \
	--from sender@example.org --to user@example.com 2>&1)
check_eq "swaks --tls: exit 0" 0 $?
check_contains "swaks --tls: TLS started" "$out" "=== TLS started with cipher TLSv1."
check_contains "swaks --tls: the backend's 250" "$out" "<~  250 2.0.0 Ok"
check_eq "swaks --tls: message at the sink" 1 "$(sink_count sink)"
check_match "transaction log: tls version and cipher" "$(cat "$px_log")" \
	'event=transaction .* tls=TLSv1\.[23] cipher=[A-Z0-9_-]+'
check_match "event=tls logged" "$(cat "$px_log")" \
	'event=tls session=[0-9a-f]+ client=127\.0\.0\.1:[0-9]+ version=TLSv1\.[23] cipher='

# A 5 MB message over TLS (records, SSL_pending, partial writes) arrives intact.
"$PYTHON" "$SMTPTOOL" genmsg --size 5000000 --seed 7 --dots >"$T/big"
out=$(SMTP_TIMEOUT=60 smtp "$p_starttls" R S:'EHLO client.test\r\n' R S:'STARTTLS\r\n' R T \
	S:'EHLO client.test\r\n' R S:'MAIL FROM:<big@client.test>\r\n' R \
	S:'RCPT TO:<rcpt@sink.test>\r\n' R S:'DATA\r\n' R "D:$T/big" R S:'QUIT\r\n' R)
check_match "5 MB over TLS: accepted" "$out" '^250 2\.0\.0 Ok$'
wait_until 10 test "$(sink_count sink)" -ge 2
check_contains "5 MB over TLS: intact at the sink" "$(sink_digest sink)" \
	"$(digest "$T/big" "<big@client.test>") 1"

# openssl s_client verifies the chain and name; EHLO after TLS has no STARTTLS.
out=$( (printf 'EHLO client.test\r\n'; sleep 1; printf 'QUIT\r\n'; sleep 0.5) |
	timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$p_starttls" -crlf \
		-CAfile "$T/pki/ca.pem" -verify_hostname postern.test -verify_return_error \
		-brief 2>&1)
check_contains "s_client: certificate verified" "$out" "Verification: OK"
check_match "s_client: TLS 1.2 or 1.3" "$out" "Protocol version: TLSv1\.[23]"
check_contains "s_client: EHLO answered over TLS" "$out" "250 CHUNKING"
check_not_contains "s_client: no STARTTLS offered over TLS" "$out" "250-STARTTLS"
out=$(timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$p_starttls" \
	-tls1_2 -brief </dev/null 2>&1)
check_contains "s_client: TLS 1.2 accepted" "$out" "Protocol version: TLSv1.2"
out=$(timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$p_starttls" \
	-tls1_1 -brief </dev/null 2>&1)
check_not_contains "s_client: TLS 1.1 refused" "$out" "Protocol version: TLSv1.1"

# STARTTLS injection: RSET in the same packet must not be answered over TLS.
# smtp-sink offers AUTH: postern relays it over TLS only.
out=$(smtp "$p_starttls" R S:'EHLO client.test\r\n' R S:'STARTTLS\r\nRSET\r\n' R \
	T:"$T/pki/ca.pem" S:'MAIL FROM:<a@example.org>\r\n' R S:'EHLO client.test\r\n' R \
	S:'QUIT\r\n' R)
mapfile -t lines <<<"$out"
check_eq "injection: 220, TLS, no reply to the injected RSET, EHLO needed again" \
	"$(joined "220 postern.test ESMTP postern" "250-postern.test" "250-PIPELINING" \
		"250-SIZE 52428800" "250-8BITMIME" "250-ENHANCEDSTATUSCODES" "250-DSN" \
		"250-STARTTLS" "250 CHUNKING" "220 2.0.0 Ready to start TLS" "<TLS TLSv1.3>" \
		"503 5.5.1 Error: send HELO/EHLO first" "250-postern.test" "250-PIPELINING" \
		"250-SIZE 52428800" "250-8BITMIME" "250-ENHANCEDSTATUSCODES" "250-DSN" \
		"250-AUTH PLAIN LOGIN" "250 CHUNKING" "221 2.0.0 Bye")" \
	"$(joined "${lines[@]}")"
out=$(smtp "$p_starttls" R S:'EHLO client.test\r\n' R S:'STARTTLS\r\n' R T \
	S:'EHLO client.test\r\n' R S:'STARTTLS\r\n' R S:'QUIT\r\n' R)
check_contains "STARTTLS twice: 554" "$out" "554 5.5.1 Error: TLS already active"

# Implicit TLS (RFC 8314): the greeting comes over TLS.
out=$(timeout 30 swaks --tlsc -s 127.0.0.1 -p "$p_implicit" --ehlo client.test \
	--from sender@example.org --to user@example.com 2>&1)
check_eq "swaks --tlsc: exit 0" 0 $?
check_contains "swaks --tlsc: TLS first" "$out" "=== TLS started with cipher TLSv1."
check_contains "swaks --tlsc: greeting over TLS" "$out" "<~  220 postern.test ESMTP postern"
check_eq "swaks --tlsc: third message at the sink" 3 "$(sink_count sink)"
out=$(SMTP_TIMEOUT=2 smtp "$p_implicit" R)
check_not_contains "implicit TLS: no plaintext greeting" "$out" "220"

# SIGHUP: new sessions get the new certificate.
make_certs "$T/pki" renewed
sed -i "s|$T/pki/server\.|$T/pki/renewed.|g" "$T/px.yaml"
kill -HUP "$px_pid"
wait_until 10 grep -q 'event=reload status=ok' "$px_log"
out=$(timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$p_starttls" \
	</dev/null 2>&1)
check_match "after SIGHUP: the new certificate" "$out" "subject=CN ?= ?renewed"
# A reload whose key does not fit is refused; the running certificate stays.
cp "$T/px.yaml" "$T/px.good"
sed -i "s|$T/pki/renewed\.key|$T/pki/server.key|" "$T/px.yaml"
kill -HUP "$px_pid"
check_true "SIGHUP with a wrong key: reload refused" \
	wait_until 10 grep -q 'event=reload status=failed' "$px_log"
check_match "SIGHUP with a wrong key: the reason on stderr" "$(cat "$px_log")" \
	"px\.yaml:[0-9]+:[0-9]+: listen\.tls: key $T/pki/server\.key: .*key values mismatch"
out=$(timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$p_starttls" \
	</dev/null 2>&1)
check_match "after the refused reload: still the renewed certificate" "$out" \
	"subject=CN ?= ?renewed"
cp "$T/px.good" "$T/px.yaml"

# postern -t names the key of a missing or wrong file.
cat >"$T/bad.yaml" <<EOF
listen:
  - address: 127.0.0.1:$p_plain
    tls: { cert: $T/pki/missing.pem, key: $T/pki/server.key }
EOF
out=$(timeout 10 "$POSTERN" -t -c "$T/bad.yaml" 2>&1)
check_eq "missing cert: -t exits 1" 1 $?
check_match "missing cert: file:line:column" "$out" \
	"^$T/bad\.yaml:3:[0-9]+: listen\.tls\.cert: .*No such file or directory"
cat >"$T/bad2.yaml" <<EOF
listen:
  - address: 127.0.0.1:$p_plain
    tls:
      cert: $T/pki/server.key
      key: $T/pki/server.key
  - address: 127.0.0.1:$p_implicit
    tls: { cert: $T/pki/server.pem, key: $T/pki/renewed.key }
EOF
out=$(timeout 10 "$POSTERN" -t -c "$T/bad2.yaml" 2>&1)
check_eq "wrong files: -t exits 1" 1 $?
check_match "a key given as cert: file:line:column" "$out" \
	"^$T/bad2\.yaml:4:7: listen\.tls: cert $T/pki/server\.key: "
check_match "a key not of the cert: file:line:column" "$out" \
	"^$T/bad2\.yaml:7:10: listen\.tls: key $T/pki/renewed\.key: .*key values mismatch"

it_done
