#!/bin/bash
# TLS towards the backend: a real Postfix with STARTTLS under backend.tls:
# required (chain and name verified), opportunistic to a backend without
# STARTTLS (plaintext), and required to backends that cannot do it: no
# STARTTLS, a refused STARTTLS, a certificate for another name -> 451, and
# not one command of the transaction in plaintext.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd swaks openssl

make_certs "$T/pki" || { fail "make certificates"; it_done; }
start_postfix pf "smtpd_tls_cert_file = $T/pki/server.pem" \
	"smtpd_tls_key_file = $T/pki/server.key" "smtpd_tls_security_level = may" \
	"smtpd_tls_loglevel = 1" "smtpd_discard_ehlo_keywords = chunking"
start_rawsink plain
start_rawsink drops --caps "PIPELINING,STARTTLS" --close-at STARTTLS
start_rawsink refuses --caps "PIPELINING,STARTTLS,XCLIENT NAME ADDR PORT PROTO HELO" \
	--reply "STARTTLS=454 4.7.0 TLS not available due to local problem"

send() {
	timeout 30 swaks -s 127.0.0.1 -p "$1" --ehlo client.test --from sender@example.org \
		--to user@backend.test 2>&1
}

backend_px() { # NAME PORT TLS [MORE YAML]
	local port
	port=$(free_port)
	cat >"$T/$1.yaml" <<EOF
hostname: postern.test
listen:
  - address: 127.0.0.1:$port
backend:
  address: 127.0.0.1:$2
  tls: $3
${4:-}
EOF
	start_postern "$1" "$port" "$T/$1.yaml"
	printf -v "${1}_port" %s "$port"
}

backend_px req "$pf_port" required "  ca_file: $T/pki/ca.pem
  verify_name: backend.test"
out=$(send "$req_port")
check_match "required, verified: Postfix's 250" "$out" "^<-  250 2\.0\.0 Ok: queued as [0-9A-F]+$"
check_eq "required: Postfix holds the message" 1 "$(postfix_queue_ids pf | wc -l)"
check_match "Postfix saw TLS from postern" "$(cat "$pf_log")" \
	'Anonymous TLS connection established from [a-z]+\[127\.0\.0\.1\]: TLSv1\.[23] with cipher'
check_match "Postfix learned the client by XCLIENT over TLS" "$(cat "$pf_log")" \
	'client=.*127\.0\.0\.1'

# A 5 MB message over the backend's TLS, dot-stuffed block by block as the TLS socket
# drains (this Postfix offers no CHUNKING, so postern sends DATA).
"$PYTHON" "$SMTPTOOL" genmsg --size 5000000 --seed 3 --dots >"$T/big"
out=$(SMTP_TIMEOUT=60 smtp "$req_port" R S:'EHLO client.test\r\n' R \
	S:'MAIL FROM:<big@example.org>\r\n' R S:'RCPT TO:<user@backend.test>\r\n' R \
	S:'DATA\r\n' R "D:$T/big" R S:'QUIT\r\n' R)
check_match "5 MB over TLS to Postfix: queued" "$out" '^250 2\.0\.0 Ok: queued as'
check_eq "5 MB over TLS: Postfix holds two messages" 2 "$(postfix_queue_ids pf | wc -l)"
big_id=$(sed -n 's/^250 2\.0\.0 Ok: queued as \([0-9A-F]*\)$/\1/p' <<<"$out")
# postcat -b prints the empty line that ends the header, then the body.
check_eq "5 MB over TLS: the body Postfix holds is the one sent" \
	"$( (echo; sed '1,/^$/d' "$T/big") | sha256sum)" \
	"$(postcat -c "$pf_conf" -b -q "$big_id" 2>/dev/null | sha256sum)"
check_match "Postfix's trace: ESMTPS from postern" "$(postcat -c "$pf_conf" -h -q "$big_id")" \
	'with ESMTPS id '"$big_id"

backend_px opp "$plain_port" opportunistic
out=$(send "$opp_port")
check_contains "opportunistic, no STARTTLS: delivered in plaintext" "$out" "<-  250 "
check_not_contains "opportunistic: STARTTLS not tried when not offered" \
	"$(cat "$plain_dir/commands.log")" "STARTTLS"

backend_px oppdrop "$drops_port" opportunistic
out=$(send "$oppdrop_port")
check_contains "opportunistic, connection lost at STARTTLS: delivered" "$out" "<-  250 "
check_match "opportunistic fallback: MAIL on a new plaintext connection" \
	"$(cat "$drops_dir/commands.log")" '^[0-9]+: MAIL FROM:<sender@example\.org>'
check_match "opportunistic fallback: logged" "$(cat "$oppdrop_log")" \
	'event=backend_tls_failed .*action=plaintext'

backend_px reqplain "$plain_port" required
before=$(grep -c 'MAIL FROM' "$plain_dir/commands.log")
out=$(send "$reqplain_port")
check_contains "required, no STARTTLS: 451 to the client" "$out" \
	"<** 451 4.4.1 Error: backend not available"
check_eq "required, no STARTTLS: no MAIL in plaintext" "$before" \
	"$(grep -c 'MAIL FROM' "$plain_dir/commands.log")"
check_match "required, no STARTTLS: the reason logged" "$(cat "$reqplain_log")" \
	'event=backend_unavailable .*reason="backend does not offer STARTTLS \(backend.tls: required\)"'

backend_px reqrefused "$refuses_port" required
out=$(send "$reqrefused_port")
check_contains "required, STARTTLS refused: 451" "$out" "<** 451 4.4.1"
check_not_contains "required, STARTTLS refused: no MAIL" "$(cat "$refuses_dir/commands.log")" \
	"MAIL FROM"
check_match "required, STARTTLS refused: logged" "$(cat "$reqrefused_log")" \
	'reason="STARTTLS refused: 454 4.7.0 TLS not available'

backend_px wrongname "$pf_port" required "  ca_file: $T/pki/ca.pem
  verify_name: mx.elsewhere.test"
out=$(send "$wrongname_port")
check_contains "required, certificate for another name: 451" "$out" "<** 451 4.4.1"
check_match "certificate for another name: logged" "$(cat "$wrongname_log")" \
	'reason="TLS: certificate verification failed: [^"]*hostname mismatch'
check_eq "wrong name: Postfix got no third message" 2 "$(postfix_queue_ids pf | wc -l)"

it_done
