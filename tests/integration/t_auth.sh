#!/bin/bash
# AUTH through postern to a real Postfix whose SASL is Dovecot's (its own
# instance, its own config in $T): PLAIN and LOGIN succeed (235) and fail
# (535) with the backend's replies unchanged, "*" aborts; AUTH is offered
# over TLS only; the session counts as authenticated for policy selection;
# the password never appears in postern's log.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd swaks openssl dovecot

make_certs "$T/pki" || { fail "make certificates"; it_done; }
start_postfix_sasl pf
px_port=$(free_port)
px_465=$(free_port)
cat >"$T/px.yaml" <<EOF
hostname: postern.test
listen:
  - address: 127.0.0.1:$px_port
    tls: { cert: $T/pki/server.pem, key: $T/pki/server.key }
  - address: 127.0.0.1:$px_465
    tls: { cert: $T/pki/server.pem, key: $T/pki/server.key, implicit: true }
backend:
  address: 127.0.0.1:$pf_port
log:
  level: debug
filters:
  t: { type: test }
policies:
  - name: inbound
    chain: [ t ]
  - name: submission
    match: { authenticated: true }
    chain: [ t ]
EOF
start_postern px "$px_port" "$T/px.yaml"
wait_until 10 grep -q 'event=backend_probe.*status=ok' "$px_log"

auth() { # PORT MECH PASSWORD [MORE SWAKS OPTIONS]
	local port=$1 mech=$2 pw=$3
	shift 3
	timeout 30 swaks -s 127.0.0.1 -p "$port" --ehlo client.test --from alice@backend.test \
		--to user@backend.test --auth "$mech" --auth-user alice@backend.test \
		--auth-password "$pw" "$@" 2>&1
}
# What Postfix itself answers, to compare with what the client hears through postern.
direct_fail=$(auth "$pf_port" PLAIN wrong-pw | grep '^<\*\* 535')
check_match "Postfix itself: 535 for a wrong password" "$direct_fail" '^<\*\* 535 5\.7\.8 '

out=$(smtp "$px_port" R S:'EHLO client.test\r\n' R S:'AUTH PLAIN AGFsaWNlAHB3\r\n' R \
	S:'QUIT\r\n' R)
check_not_contains "plaintext: AUTH not offered" "$out" "AUTH"
check_contains "plaintext: AUTH refused, STARTTLS first" "$out" \
	"530 5.7.0 Must issue a STARTTLS command first"

for mech in PLAIN LOGIN; do
	out=$(auth "$px_port" "$mech" s3cret-Pw --tls)
	check_eq "$mech: swaks exit 0" 0 $?
	check_contains "$mech: AUTH offered over TLS" "$out" "<~  250-AUTH PLAIN LOGIN"
	check_contains "$mech: Postfix's 235 relayed" "$out" \
		"<~  235 2.7.0 Authentication successful"
	check_match "$mech: message queued at Postfix" "$out" "^<~  250 2\.0\.0 Ok: [0-9]+ bytes queued"
	out=$(auth "$px_port" "$mech" wrong-pw --tls)
	check_eq "$mech failure: Postfix's 535 relayed unchanged" "${direct_fail#<\*\* }" \
		"$(grep '^<~\* 535' <<<"$out" | sed 's/^<~\* //')"
done
check_match "Postfix saw the logins" "$(cat "$pf_log")" \
	'sasl_method=LOGIN, sasl_username=alice@backend.test'
check_match "event=auth: mechanism, code and user" "$(cat "$px_log")" \
	'event=auth session=[0-9a-f]+ client=127\.0\.0\.1:[0-9]+ mechanism=PLAIN status=235 user="alice@backend\.test"'
check_match "event=auth: the failure's code, no user" "$(cat "$px_log")" \
	'event=auth .*mechanism=LOGIN status=535 user=-'
check_match "transaction log: the authenticated user" "$(cat "$px_log")" \
	'event=transaction .* tls=TLSv1\.3 cipher=[A-Z0-9_]+ auth="alice@backend\.test" policy=submission '
check_eq "two authenticated transactions chose the submission policy" 2 \
	"$(grep -c 'event=transaction .*policy=submission' "$px_log")"

# Submission on 465: implicit TLS, then AUTH.
out=$(auth "$px_465" PLAIN s3cret-Pw --tlsc)
check_contains "465: Postfix's 235 relayed" "$out" "<~  235 2.7.0 Authentication successful"
check_match "465: message queued at Postfix" "$out" "^<~  250 2\.0\.0 Ok: [0-9]+ bytes queued"

# smtp.auth_over_plaintext: AUTH without TLS (a trusted network).
plain_port=$(free_port)
noauth_port=$(free_port)
cat >"$T/plain.yaml" <<EOF
hostname: postern.test
listen:
  - 127.0.0.1:$plain_port
  - address: 127.0.0.1:$noauth_port
    auth: false
backend: { address: 127.0.0.1:$pf_port }
smtp: { auth_over_plaintext: true }
EOF
start_postern plainauth "$plain_port" "$T/plain.yaml"
wait_until 10 grep -q 'event=backend_probe.*status=ok' "$plainauth_log"
out=$(auth "$plain_port" LOGIN s3cret-Pw)
check_contains "auth_over_plaintext: AUTH offered without TLS" "$out" "<-  250-AUTH PLAIN LOGIN"
check_contains "auth_over_plaintext: 235" "$out" "<-  235 2.7.0 Authentication successful"
# STARTTLS is not offered there (no tls:); over plaintext, a second AUTH is refused.
out=$(smtp "$plain_port" R S:'EHLO client.test\r\n' R S:'AUTH PLAIN AGFsaWNlQGJhY2tlbmQudGVzdABzM2NyZXQtUHc=\r\n' R \
	S:'AUTH PLAIN AGFsaWNlQGJhY2tlbmQudGVzdABzM2NyZXQtUHc=\r\n' R S:'QUIT\r\n' R)
check_contains "AUTH with an initial response: 235" "$out" "235 2.7.0 Authentication successful"
check_contains "AUTH again: 503" "$out" "503 5.5.1 Error: already authenticated"
wait_port "$noauth_port" "$plainauth_pid"
out=$(smtp "$noauth_port" R S:'EHLO client.test\r\n' R S:'AUTH PLAIN AGFsaWNlAHB3\r\n' R \
	S:'QUIT\r\n' R)
check_not_contains "listen auth: false: AUTH not offered" "$out" "AUTH"
check_contains "listen auth: false: AUTH refused" "$out" "502 5.5.1 Error: command not implemented"

# "*" aborts the exchange; the backend's 501 comes back.
out=$(smtp "$px_port" R S:'EHLO client.test\r\n' R S:'STARTTLS\r\n' R T S:'EHLO client.test\r\n' \
	R S:'AUTH LOGIN\r\n' R S:'*\r\n' R S:'MAIL FROM:<a@example.org>\r\n' R S:'QUIT\r\n' R)
check_contains "AUTH LOGIN: the backend's 334" "$out" "334 VXNlcm5hbWU6"
check_contains "*: the backend's 501" "$out" "501 5.7.0 Authentication aborted"
check_contains "after the abort the session goes on" "$out" "250 2.1.0 Ok"
# An unauthenticated session is inbound.
out=$(timeout 30 swaks --tls -s 127.0.0.1 -p "$px_port" --ehlo client.test \
	--from sender@example.org --to user@backend.test 2>&1)
check_match "no AUTH: the inbound policy" "$(grep 'event=transaction' "$px_log" | tail -n 1)" \
	'policy=inbound '

# No secret in postern's log, however encoded.
plain_b64=$(printf '\0alice@backend.test\0s3cret-Pw' | base64 -w0)
pw_b64=$(printf 's3cret-Pw' | base64 -w0)
for secret in s3cret-Pw "$plain_b64" "$pw_b64" "${plain_b64:0:20}"; do
	check_not_contains "the password is not in postern's log (${secret:0:6}...)" \
		"$(cat "$px_log" "$plainauth_log")" "$secret"
done

it_done
