#!/bin/bash
# DKIM signing of authenticated submission: a message sent through postern
# with AUTH (over STARTTLS) to a real Postfix whose SASL is Dovecot's is
# signed, and the signature in Postfix's queue verifies with dkimpy; the same
# message without AUTH, from a client that is not in outgoing.clients, is
# queued unsigned; outgoing: { authenticated: false } turns the rule off.
# The same for postern-milter behind a Postfix that does the AUTH.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd swaks openssl dovecot postcat

make_certs "$T/pki" || { fail "make certificates"; it_done; }
openssl genrsa -out "$T/rsa.key" 2048 2>/dev/null
rsa=$(openssl rsa -in "$T/rsa.key" -pubout -outform DER 2>/dev/null | base64 -w0)
start_unbound dns \
	"s1._domainkey.example.test. TXT \"v=DKIM1; k=rsa; p=${rsa:0:200}\" \"${rsa:200}\""
start_postfix_sasl pf

# px: the default (authenticated sessions are outgoing); nosub: they are not.
# Neither trusts 127.0.0.1 as a client network.
for name in px nosub; do
	port=$(free_port)
	extra=
	[ "$name" = nosub ] && extra=", authenticated: false"
	cat >"$T/$name.yaml" <<YAML
hostname: postern.test
listen:
  - address: 127.0.0.1:$port
    tls: { cert: $T/pki/server.pem, key: $T/pki/server.key }
backend: { address: 127.0.0.1:$pf_port }
log: { level: debug }
filters:
  sign:
    type: dkim_sign
    outgoing: { clients: [ 192.0.2.0/24 ]$extra }
    keys:
      - { domain: example.test, selector: s1, key_file: $T/rsa.key }
policies:
  - name: default
    chain: [ sign ]
YAML
	printf -v "${name}_port" %s "$port"
	start_postern "$name" "$port" "$T/$name.yaml"
done
# AUTH is offered once postern knows the backend's capabilities.
wait_until 10 grep -q 'event=backend_probe.*status=ok' "$px_log"
wait_until 10 grep -q 'event=backend_probe.*status=ok' "$nosub_log"

auth=(--auth PLAIN --auth-user alice@backend.test --auth-password s3cret-Pw)
# send PF CASE SWAKS_OPTION... -> the message as Postfix PF queued it (CRLF), in $T/CASE.eml
send() {
	local conf=${1}_conf name=$2 out id
	shift 2
	out=$(timeout 30 swaks -s 127.0.0.1 --ehlo client.test \
		--from alice@example.test --to user@backend.test \
		--header "From: Alice <alice@example.test>" --header "Subject: submission $name" \
		--header "Message-Id: <$name@sign.test>" --body "Body of $name.
Second line.
" "$@" 2>&1)
	id=$(sed -n 's/^<[-~]  250 2\.0\.0 Ok: \([0-9]* bytes \)\{0,1\}queued as \([0-9A-F]*\)\r\{0,1\}$/\2/p' <<<"$out")
	if [ -z "$id" ]; then
		fail "$name: queued at Postfix" "$(it_show "$out")"
		: >"$T/$name.eml"
		return
	fi
	pass "$name: queued at Postfix"
	postcat -c "${!conf}" -h -b -q "$id" 2>/dev/null | sed 's/$/\r/' >"$T/$name.eml"
}

send pf auth -p "$px_port" --tls "${auth[@]}"
check_contains "authenticated: Postfix's 235 relayed" "$(cat "$px_log")" 'mechanism=PLAIN status=235'
check_match "authenticated: signed" "$(cat "$T/auth.eml")" \
	'^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example\.test; s=s1;'
check_eq "authenticated: dkimpy verifies the queued message" "pass d=example.test s=s1" \
	"$("$PYTHON" "$IT_DIR/dkim_verify.py" "$dns_port" <"$T/auth.eml")"
check_match "authenticated: the finding" "$(cat "$px_log")" \
	'event=transaction .*auth="alice@backend\.test".*sign\.dkim_sign=signed'

send pf plain -p "$px_port" --tls
check_match "no AUTH: queued with its body" "$(cat "$T/plain.eml")" 'Body of plain\.'
check_not_contains "no AUTH, client not trusted: not signed" "$(cat "$T/plain.eml")" 'DKIM-Signature'

send pf nosub -p "$nosub_port" --tls "${auth[@]}"
check_contains "authenticated: false: AUTH still 235" "$(cat "$nosub_log")" 'mechanism=PLAIN status=235'
check_match "authenticated: false: queued" "$(cat "$T/nosub.eml")" 'Body of nosub\.'
check_not_contains "authenticated: false: not signed" "$(cat "$T/nosub.eml")" 'DKIM-Signature'

# postern-milter behind Postfix: Postfix's {auth_authen} makes the session
# authenticated for its filters too.
if [ -x "$POSTERN_MILTER" ]; then
	pm_port=$(free_port)
	cat >"$T/pm.yaml" <<YAML
hostname: postern.test
milter: { socket: "inet:127.0.0.1:$pm_port" }
filters:
  sign:
    type: dkim_sign
    outgoing: { clients: [ 192.0.2.0/24 ] }
    keys:
      - { domain: example.test, selector: s1, key_file: $T/rsa.key }
policies:
  - name: default
    chain: [ sign ]
YAML
	"$POSTERN_MILTER" -c "$T/pm.yaml" 2>"$T/pm.log" &
	it_track $!
	IT_LOGS+=("$T/pm.log")
	wait_port "$pm_port" $! || { fail "start postern-milter" "$(cat "$T/pm.log")"; it_done; }
	start_postfix_sasl mta "smtpd_milters = inet:127.0.0.1:$pm_port" \
		"milter_default_action = tempfail" "milter_protocol = 6"
	send mta milter-auth -p "$mta_port" "${auth[@]}"
	check_eq "postern-milter, AUTH at Postfix: signed, dkimpy verifies" "pass d=example.test s=s1" \
		"$("$PYTHON" "$IT_DIR/dkim_verify.py" "$dns_port" <"$T/milter-auth.eml")"
	send mta milter-plain -p "$mta_port"
	check_match "postern-milter, no AUTH: queued with its body" "$(cat "$T/milter-plain.eml")" \
		'Body of milter-plain\.'
	check_not_contains "postern-milter, no AUTH: not signed" "$(cat "$T/milter-plain.eml")" \
		'DKIM-Signature'
else
	it_log "no postern-milter at $POSTERN_MILTER: its signing of AUTH sessions is not checked"
fi

# The key is checked like the others.
cat >"$T/bad.yaml" <<YAML
filters:
  sign:
    type: dkim_sign
    outgoing: { authenticated: maybe }
    keys: [ { domain: example.test, selector: s1, key_file: $T/rsa.key } ]
YAML
check_match "outgoing.authenticated not a boolean: file:line:column" \
	"$("$POSTERN" -t -c "$T/bad.yaml" 2>&1)" 'bad\.yaml:4:[0-9]+: .*outgoing\.authenticated'

it_done
