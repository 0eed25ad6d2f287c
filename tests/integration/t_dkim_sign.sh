#!/bin/bash
# DKIM signing through a real postern: outgoing mail (a trusted client
# network, or a listed sender domain) is signed with the From domain's key,
# rsa-sha256 or ed25519-sha256, and the signatures verify with dkimpy and
# Mail::DKIM (keys served by unbound on loopback); From is oversigned; mail
# that is not outgoing, or whose From domain has no key, is not signed; a
# key file that is missing or not a key fails postern -t at file:line:column.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink swaks openssl perl
# Sanitizer builds: libopendkim's own ed25519 leak is not postern's (the file says why).
export ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$IT_DIR/lsan-libopendkim.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

openssl genrsa -out "$T/rsa.key" 2048 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$T/ed.pem"
rsa=$(openssl rsa -in "$T/rsa.key" -pubout -outform DER 2>/dev/null | base64 -w0)
ed=$(openssl pkey -in "$T/ed.pem" -pubout -outform DER | tail -c 32 | base64 -w0)
start_unbound dns \
	"s1._domainkey.example.test. TXT \"v=DKIM1; k=rsa; p=${rsa:0:200}\" \"${rsa:200}\"" \
	"e1._domainkey.ed.test. TXT \"v=DKIM1; k=ed25519; p=$ed\""

start_sink sink
keys="    keys:
      - { domain: example.test, selector: s1, key_file: $T/rsa.key }
      - { domain: ed.test, selector: e1, key_file: $T/ed.pem, algorithm: ed25519-sha256,
          canonicalization: relaxed/simple, headers: [ from, to, subject, message-id ] }"
start_px px "$sink_port" "filters:
  sign:
    type: dkim_sign
    outgoing: { clients: [ 127.0.0.0/8 ] }
$keys
policies:
  - name: default
    chain: [ sign ]"
start_px elsewhere "$sink_port" "filters:
  sign:
    type: dkim_sign
    outgoing: { clients: [ 192.0.2.0/24 ], sender_domains: [ listed.test ] }
$keys
policies:
  - name: default
    chain: [ sign ]"

# send PORT CASE FROM [ENVELOPE_FROM] -> the message as the backend got it (CRLF)
send() {
	local f
	swaks --server "127.0.0.1:$1" --from "${4:-sender@example.test}" --to bob@example.org \
		--header "From: $3" --header "Subject: signing case $2" \
		--header "Message-ID: <$2@sign.test>" --body "Body of case $2.
With a second line, and a trailing space 
and an empty line at the end.

" >/dev/null 2>&1
	f=$(grep -l "Message-ID: <$2@sign.test>" $(sink_files sink) 2>/dev/null | head -n 1)
	[ -n "$f" ] && sink_body "$f"
}

send "$px_port" rsa 'Alice <alice@example.test>' >"$T/rsa.eml"
check_match "rsa: signed" "$(cat "$T/rsa.eml")" '^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example\.test; s=s1;'
out=$("$PYTHON" "$IT_DIR/dkim_verify.py" "$dns_port" <"$T/rsa.eml")
check_eq "rsa: dkimpy verifies" "pass d=example.test s=s1" "$out"
out=$(perl "$IT_DIR/dkim_verify.pl" "$dns_port" <"$T/rsa.eml")
check_eq "rsa: Mail::DKIM verifies" "pass d=example.test s=s1" "$out"
h=$(tr -d '\r\n\t ' <"$T/rsa.eml" | sed -n 's/.*;h=\([^;]*\);.*/\1/p' | head -n 1)
check_eq "From oversigned: h= names it once more than it occurs" 2 "$(tr ':' '\n' <<<"$h" | grep -ci '^from$')"

# An added From breaks the signature: that is what oversigning is for.
sed '0,/^From:/s//From: Mallory <mallory@example.test>\r\nFrom:/' "$T/rsa.eml" >"$T/rsa-from.eml"
check_true "a From added after signing: dkimpy fails it" \
	sh -c "! '$PYTHON' '$IT_DIR/dkim_verify.py' '$dns_port' <'$T/rsa-from.eml' >/dev/null"

send "$px_port" sub 'alice@mail.example.test' >"$T/sub.eml"
check_eq "From a subdomain: the parent's key, dkimpy verifies" "pass d=example.test s=s1" \
	"$("$PYTHON" "$IT_DIR/dkim_verify.py" "$dns_port" <"$T/sub.eml")"

send "$px_port" ed 'Eve <eve@ed.test>' >"$T/ed.eml"
check_match "ed25519: signed" "$(cat "$T/ed.eml")" '^DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/simple; d=ed\.test; s=e1;'
check_eq "ed25519: dkimpy verifies (RFC 8463)" "pass d=ed.test s=e1" \
	"$("$PYTHON" "$IT_DIR/dkim_verify.py" "$dns_port" <"$T/ed.eml")"

send "$px_port" nokey 'nobody@nokey.test' >"$T/nokey.eml"
check_not_contains "no key for the From domain: not signed" "$(cat "$T/nokey.eml")" 'DKIM-Signature'
check_contains "no key for the From domain: the finding says so" "$(cat "$px_log")" 'sign.dkim_sign=none'

send "$elsewhere_port" incoming 'alice@example.test' >"$T/incoming.eml"
check_match "not outgoing: delivered" "$(cat "$T/incoming.eml")" 'signing case incoming'
check_not_contains "not outgoing: not signed" "$(cat "$T/incoming.eml")" 'DKIM-Signature'

send "$elsewhere_port" listed 'alice@example.test' someone@listed.test >"$T/listed.eml"
check_eq "a listed sender domain is outgoing: signed, Mail::DKIM verifies" "pass d=example.test s=s1" \
	"$(perl "$IT_DIR/dkim_verify.pl" "$dns_port" <"$T/listed.eml")"

# Key files that cannot be used fail the configuration, at their node.
cat >"$T/bad.yaml" <<EOF
filters:
  sign:
    type: dkim_sign
    keys:
      - { domain: a.test, selector: s, key_file: $T/missing.key }
      - { domain: b.test, selector: s, key_file: $T/ed.pem }
EOF
out=$("$POSTERN" -t -c "$T/bad.yaml" 2>&1)
check_true "postern -t fails on them" sh -c "! '$POSTERN' -t -c '$T/bad.yaml' >/dev/null 2>&1"
check_match "a missing key file: file:line:column" "$out" \
	"bad\.yaml:5:[0-9]+: filters\.sign\.keys\.key_file: cannot read \"$T/missing\.key\": No such file"
check_match "an ed25519 key as rsa: file:line:column" "$out" \
	"bad\.yaml:6:[0-9]+: filters\.sign\.keys\.key_file: \"$T/ed\.pem\" is not a PEM private key for rsa-sha256"

it_done
