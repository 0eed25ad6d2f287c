#!/bin/bash
# postern calling milters: the test milter (tests/milter/test_milter.c, built
# with libmilter by make check) driven by an X-Milter-Action header, with
# swaks as the client and smtp-sink as the backend, whose dumps show the
# envelope and the octets the backend received. Every reply, every
# modification, macros and SETSYMLIST, SKIP, two milters in a row, one
# connection per session reused by its transactions; the TLS and AUTH
# macros of a session through STARTTLS and AUTH to a Postfix with Dovecot's
# SASL; and milters that are not there, too slow, or talk nonsense (a python
# peer), each following its on_error while postern goes on.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink swaks
TEST_MILTER=${TEST_MILTER:-${top_builddir:-.}/tests/milter/test_milter}
[ -x "$TEST_MILTER" ] || skip "no test milter at $TEST_MILTER (make check builds it)"

start_sink sink
milter_port=$(free_port)
"$TEST_MILTER" -p "inet:$milter_port@127.0.0.1" >"$T/milter.log" 2>&1 &
milter_pid=$!
it_track "$milter_pid"
wait_port "$milter_port" "$milter_pid" || { fail "start the test milter" "$(cat "$T/milter.log")"; it_done; }

# The same milter on a unix socket.
"$TEST_MILTER" -p "unix:$T/milter.sock" >"$T/milter-unix.log" 2>&1 &
it_track $!
wait_until 10 test -S "$T/milter.sock" || { fail "start the test milter on a unix socket"; it_done; }

# A peer that negotiates, then answers every command with garbage.
garbage_port=$(free_port)
"$PYTHON" - "$garbage_port" >"$T/garbage.log" 2>&1 <<'PY' &
import socket, struct, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); s.settimeout(60)
while True:
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    c.settimeout(10)
    try:
        c.recv(17)
        c.sendall(struct.pack(">I", 13) + b"O" + struct.pack(">III", 6, 0x1ff, 0))
        c.recv(65536)
        c.sendall(struct.pack(">I", 5) + b"Zjunk")
        c.recv(65536)
    except OSError:
        pass
    c.close()
PY
garbage_pid=$!
it_track "$garbage_pid"
wait_port "$garbage_port" "$garbage_pid"
dead_port=$(free_port)

px_port=$(free_port)
{
	postern_config "$px_port" "$sink_port"
	cat <<YAML
filters:
  m: { type: milter, socket: "inet:127.0.0.1:$milter_port", on_error: tempfail,
       timeouts: { connect: 2s, command: 2s, eom: 2s } }
  m2: { type: milter, socket: "inet:$milter_port@127.0.0.1", on_error: tempfail }
  local: { type: milter, socket: "unix:$T/milter.sock", on_error: tempfail }
  dead: { type: milter, socket: "inet:127.0.0.1:$dead_port", on_error: tempfail,
          timeouts: { connect: 2s } }
  deadok: { type: milter, socket: "inet:127.0.0.1:$dead_port", on_error: accept }
  garbage: { type: milter, socket: "inet:127.0.0.1:$garbage_port", on_error: reject }
policies:
  - name: default
    chain: [ m ]
  - name: two
    match: { rcpt_domain: [ two.test ] }
    chain: [ m, m2 ]
  - name: local
    match: { rcpt_domain: [ local.test ] }
    chain: [ local ]
  - name: dead
    match: { rcpt_domain: [ dead.test ] }
    chain: [ dead ]
  - name: deadok
    match: { rcpt_domain: [ deadok.test ] }
    chain: [ deadok ]
  - name: garbage
    match: { rcpt_domain: [ garbage.test ] }
    chain: [ garbage ]
YAML
} >"$T/px.yaml"
start_postern px "$px_port" "$T/px.yaml"

# send ACTIONS [swaks options...] -> the server's replies
send() {
	local action=$1
	shift
	swaks --server "127.0.0.1:$px_port" --from a@client.test --to b@sink.test \
		--header "X-Milter-Action: $action" --body "original body" "$@" 2>&1 | grep -E '^<'
}
last_file() { ls -t "$sink_dir"/m.* | head -n 1; }
count() { sink_count sink; }

n=$(count)
out=$(send "report addheader=X-Added:yes insheader=X-First:top chgheader=Subject:changed delheader=X-Gone")
check_match "header edits: delivered" "$out" '^<.* 250 2\.0\.0 Ok'
check_eq "header edits: one message at the backend" $((n + 1)) "$(count)"
msg=$(sink_body "$(last_file)")
check_match "ADDHEADER: last field" "$(printf '%s\n' "$msg" | sed -n '1,/^\r*$/p' | grep -v '^\r*$' | tail -n 1)" '^X-(Added: yes|Milter-Seen: )'
check_contains "ADDHEADER" "$msg" "X-Added: yes"
check_eq "INSHEADER at 0: the first field of the message" "X-First: top" "$(printf '%s\n' "$msg" | grep -v '^Received:\|^	' | sed -n 1p | tr -d '\r')"
check_contains "CHGHEADER" "$msg" "Subject: changed"
check_match "macros: j, i, client_addr, client_port and daemon_addr (SETSYMLIST), mail_addr" "$msg" \
	'X-Milter-Seen: j=postern\.test i=yes client_addr=127\.0\.0\.1 client_port=[0-9]+ daemon_addr=127\.0\.0\.1 mail_addr=a@client\.test from=<a@client\.test> rcpts=<b@sink\.test>'
check_match "the milter saw the body" "$msg" 'X-Milter-Seen: .* headers=[1-9][0-9]* body=[1-9][0-9]* skipped=0'
check_match "plaintext, no AUTH: no TLS or AUTH macros" "$msg" \
	'^X-Milter-Session: tls_version=- cipher=- cipher_bits=- auth_type=- auth_authen=-'

out=$(send "delheader=X-Milter-Action")
check_not_contains "CHGHEADER with an empty value deletes" "$(sink_body "$(last_file)")" "X-Milter-Action"

out=$(send "chgfrom=new@sender.test+BODY=8BITMIME addrcpt=added@sink.test addrcpt_par=par@sink.test+NOTIFY=NEVER delrcpt=<c@sink.test> replbody=new+body" --to b@sink.test,c@sink.test)
check_match "envelope and body: delivered" "$out" '^<.* 250 2\.0\.0 Ok'
dump=$(cat "$(last_file)")
check_contains "CHGFROM with args" "$dump" "X-Mail-Args: <new@sender.test> BODY=8BITMIME"
check_contains "ADDRCPT" "$dump" "X-Rcpt-Args: <added@sink.test>"
check_contains "ADDRCPT_PAR with args" "$dump" "X-Rcpt-Args: <par@sink.test> NOTIFY=NEVER"
check_contains "the kept recipient" "$dump" "X-Rcpt-Args: <b@sink.test>"
check_not_contains "DELRCPT" "$dump" "X-Rcpt-Args: <c@sink.test>"
check_eq "REPLBODY: the body the backend got" "new body" "$(sink_body "$(last_file)" | sed -n '/^\r*$/,$p' | sed 1d | tr -d '\r')"

n=$(count)
out=$(send reject)
check_match "reject: 550" "$out" '^<\*\* 550 5\.7\.1 Message rejected by policy'
out=$(send tempfail)
check_match "tempfail: 451" "$out" '^<\*\* 451 4\.7\.1'
out=$(send replycode)
check_match "reply code: the milter's 550" "$out" '^<\*\* 550 5\.7\.1 test milter says no'
out=$(send mlreply)
check_match "multi-line reply: first line" "$out" '^<\*\* 550-5\.7\.1 first line'
check_match "multi-line reply: last line" "$out" '^<\*\* 550 5\.7\.1 third line'
out=$(send discard)
check_match "discard: 250 from postern" "$out" '250 2\.0\.0 Ok: discarded by policy'
check_eq "nothing refused or discarded reached the backend" "$n" "$(count)"
out=$(send accept)
check_match "accept: delivered" "$out" '^<.* 250 2\.0\.0 Ok'
out=$(send "quarantine=suspicious")
check_match "quarantine (no quarantine configured): delivered, tagged" "$out" '^<.* 250 2\.0\.0 Ok'
check_contains "quarantine: tagged as such" "$(sink_body "$(last_file)")" "X-Postern-Action: quarantine"
check_contains "quarantine reason logged" "$(cat "$px_log")" 'event=milter_quarantine filter=m reason="suspicious"'

out=$(swaks --server "127.0.0.1:$px_port" --from milter-reject@client.test --to b@sink.test 2>&1 | grep -E '^<')
check_match "reject at MAIL" "$out" '^<\*\* 550 5\.7\.1'
out=$(swaks --server "127.0.0.1:$px_port" --from a@client.test --to milter-tempfail@sink.test 2>&1 | grep -E '^<')
check_match "tempfail at RCPT" "$out" '^<\*\* 451 4\.7\.1'

head -c 210000 /dev/zero | tr '\0' 'x' | fold -w 70 >"$T/big.txt"
out=$(send "report skip" --body "$T/big.txt")
check_match "SKIP: delivered" "$out" '^<.* 250 2\.0\.0 Ok'
check_match "SKIP: one chunk seen, the rest skipped" "$(sink_body "$(last_file)")" 'X-Milter-Seen: .* body=65535 skipped=1'
check_eq "SKIP: the whole body still reaches the backend" 1 "$(sink_body "$(last_file)" | grep -c "^x\{70\}" | awk '{print ($1 > 2800)}')"

out=$(send "progress")
check_match "PROGRESS keeps a milter alive past its eom timeout (2.7 s > 2 s)" "$out" '^<.* 250 2\.0\.0 Ok'
out=$(send "report" --to b@two.test)
check_match "two milters: delivered" "$out" '^<.* 250 2\.0\.0 Ok'
seen=$(sink_body "$(last_file)" | grep '^X-Milter-Seen:' | sed 's/.*headers=\([0-9]*\).*/\1/' | paste -sd' ')
read -r h1 h2 <<<"$seen"
check_eq "the second milter saw the fields the first added (-Seen, -Session)" "$((h1 + 2))" "${h2:-none}"

out=$(send "report addheader=X-Unix:yes" --to b@local.test)
check_match "a milter on a unix socket: delivered" "$out" '^<.* 250 2\.0\.0 Ok'
check_contains "a milter on a unix socket: its header" "$(sink_body "$(last_file)")" "X-Unix: yes"

# One connection per session, reused by each of its transactions.
before=$(grep -c 'test_milter: connect' "$T/milter.log")
out=$("$PYTHON" "$SMTPTOOL" client 127.0.0.1 "$px_port" R "S:EHLO c.test\r\n" R \
	"S:MAIL FROM:<a@client.test> BODY=8BITMIME\r\n" R "S:RCPT TO:<b@sink.test>\r\n" R "S:DATA\r\n" R \
	"S:X-Milter-Action: report\r\n\r\none\r\n.\r\n" R \
	"S:MAIL FROM:<a@client.test>\r\n" R "S:RCPT TO:<b@sink.test>\r\n" R "S:DATA\r\n" R \
	"S:X-Milter-Action: report\r\n\r\ntwo\r\n.\r\n" R "S:QUIT\r\n" R 2>/dev/null)
check_eq "two transactions in one session" 2 "$(printf '%s\n' "$out" | grep -c '^250 2\.0\.0 Ok')"
check_match "MAIL's ESMTP parameters reach the milter" "$(cat "$sink_dir"/m.* | grep X-Milter-Seen)" 'mail_args=BODY=8BITMIME'
check_eq "one milter connection for both" $((before + 1)) "$(grep -c 'test_milter: connect' "$T/milter.log")"
conns=$(ss -Htn state established "dport = :$milter_port" 2>/dev/null | wc -l)
check_le "no connection left open after the session" 0 "$conns"

out=$(send "" --to b@dead.test)
check_match "milter not there, on_error tempfail: 451" "$out" '^<\*\* 451 '
check_contains "milter error logged" "$(cat "$px_log")" "event=milter_error filter=dead"
check_match "dead: error=unreachable, at its first stage (RCPT)" "$(cat "$px_log")" 'event=milter_error filter=dead .*stage=rcpt error=unreachable'

out=$(send "" --to b@deadok.test)
check_match "milter not there, on_error accept: delivered" "$out" '^<.* 250 2\.0\.0 Ok'
out=$(send "sleep=3500")
check_match "milter too slow (eom timeout 2s), on_error tempfail: 451" "$out" '^<\*\* 451 '
out=$(send "inject")
check_match "a header value that smuggles in a field: on_error tempfail, 451" "$out" '^<\*\* 451 '
check_match "logged as a protocol error" "$(cat "$px_log")" 'event=milter_error filter=m .*error=protocol reason="modification not negotiated or malformed"'
out=$(send "" --to b@garbage.test)
check_match "milter talking nonsense, on_error reject: 550" "$out" '^<\*\* 550 '
check_contains "nonsense logged" "$(cat "$px_log")" 'event=milter_error filter=garbage'
check_match "garbage: error=protocol" "$(cat "$px_log")" 'event=milter_error filter=garbage .*error=protocol'
check_match "the slow one: m.error=timeout" "$(cat "$px_log")" 'event=transaction .*findings=m\.error=timeout'

out=$(send "report")
check_match "after all that, postern and the milter still work" "$out" '^<.* 250 2\.0\.0 Ok'

# The session's TLS and AUTH facts as Postfix's macros: {tls_version}
# {cipher} {cipher_bits} with the EHLO after STARTTLS, {auth_type}
# {auth_authen} with MAIL. AUTH needs a backend that authenticates: a Postfix
# whose SASL is Dovecot's (root only, as every Postfix backend here).
if [ "$(id -u)" -eq 0 ] && command -v dovecot >/dev/null && command -v postfix >/dev/null; then
	make_certs "$T/pki" || fail "make certificates"
	start_postfix_sasl pf
	tpx_port=$(free_port)
	cat >"$T/tpx.yaml" <<YAML
hostname: postern.test
listen:
  - address: 127.0.0.1:$tpx_port
    tls: { cert: $T/pki/server.pem, key: $T/pki/server.key }
backend: { address: 127.0.0.1:$pf_port }
log: { level: debug }
filters:
  m: { type: milter, socket: "inet:127.0.0.1:$milter_port", on_error: tempfail }
policies:
  - name: default
    chain: [ m ]
YAML
	start_postern tpx "$tpx_port" "$T/tpx.yaml"
	wait_until 10 grep -q 'event=backend_probe.*status=ok' "$tpx_log"
	# tls_send [SWAKS OPTION...] -> the X-Milter-Session field Postfix queued
	tls_send() {
		local out id
		out=$(timeout 30 swaks --tls -s 127.0.0.1 -p "$tpx_port" --ehlo client.test \
			--from alice@backend.test --to user@backend.test \
			--header "X-Milter-Action: report" "$@" 2>&1)
		id=$(sed -n 's/^<~  250 2\.0\.0 Ok: [0-9]* bytes queued as \([0-9A-F]*\)\r\{0,1\}$/\1/p' <<<"$out")
		[ -n "$id" ] || { it_show "$out"; return; }
		postcat -c "$pf_conf" -h -q "$id" 2>/dev/null | grep '^X-Milter-Session:'
	}
	seen=$(tls_send --auth PLAIN --auth-user alice@backend.test --auth-password s3cret-Pw)
	cipher=$(sed -n 's/^.*event=tls .* cipher=\([^ ]*\).*$/\1/p' "$tpx_log" | head -n 1)
	check_match "STARTTLS: the session's cipher was logged" "$cipher" '^TLS_[A-Z0-9_]+$'
	check_match "STARTTLS and AUTH: {tls_version} {cipher} {cipher_bits} {auth_type} {auth_authen}" \
		"$seen" "^X-Milter-Session: tls_version=TLSv1\.3 cipher=$cipher cipher_bits=(128|256) auth_type=PLAIN auth_authen=alice@backend\.test$"
	seen=$(tls_send --auth LOGIN --auth-user alice@backend.test --auth-password s3cret-Pw)
	check_match "AUTH LOGIN: {auth_type} LOGIN" "$seen" ' auth_type=LOGIN auth_authen=alice@backend\.test$'
	seen=$(tls_send)
	check_match "STARTTLS without AUTH: TLS macros, no AUTH macros" "$seen" \
		'^X-Milter-Session: tls_version=TLSv1\.3 cipher=[A-Z0-9_]+ cipher_bits=[0-9]+ auth_type=- auth_authen=-$'
else
	it_log "the STARTTLS and AUTH macros are not checked: they need root, postfix and dovecot"
fi

stop_pid "$milter_pid"
out=$(send "")
check_match "the milter killed: on_error tempfail: 451" "$out" '^<\*\* 451 '
it_done
