#!/bin/bash
# The chain's session stages and edits through a real postern, with the test
# filter (./configure --enable-test-filter), swaks as the client and
# smtp-sink as the backend: a HELO refused and one whose finding is carried
# into the transaction; a new sender, an added and a deleted recipient and a
# replaced body, as the backend received them (smtp-sink's envelope lines and
# the message octets); the quarantine mailbox (the same resend path); the
# ABORT and CLOSE notices.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink swaks

start_sink sink
px_port=$(free_port)
{
	postern_config "$px_port" "$sink_port"
	cat <<'YAML'
quarantine: { mailbox: quarantine@sink.test }
filters:
  t: { type: test, timeout: 2s }
policies:
  - name: default
    chain: [ t ]
YAML
} >"$T/px.yaml"
if ! "$POSTERN" -t -c "$T/px.yaml" >"$T/t.out" 2>&1; then
	grep -q 'unknown filter type "test"' "$T/t.out" && skip "built without --enable-test-filter"
	fail "config loads" "$(cat "$T/t.out")"
	it_done
fi
start_postern px "$px_port" "$T/px.yaml"

# send ACTION [swaks options...] -> the server's replies
send() {
	local action=$1
	shift
	swaks --server "127.0.0.1:$px_port" --from a@client.test --to b@sink.test \
		--header "X-Test-Action: $action" --body "original body" "$@" 2>&1 | grep -E '^<'
}
# The newest dump (smtp-sink names them at random).
last_file() { ls -t "$sink_dir"/m.* | head -n 1; }
last_dump() { cat "$(last_file)"; }

out=$(smtp "$px_port" R "S:HELO reject-helo.test\r\n" R "S:MAIL FROM:<a@client.test>\r\n" R \
	"S:HELO ok.test\r\n" R "S:QUIT\r\n" R 2>/dev/null)
check_match "HELO refused by the HELO stage" "$out" '^550 5\.7\.1 test filter: HELO refused'
check_match "then MAIL: 503" "$out" '^503 '
check_match "a new HELO accepted" "$out" '^250 postern\.test'

check_contains "helo_refused logged" "$(cat "$px_log")" 'event=helo_refused'
check_contains "the CONNECT stage ran" "$(cat "$px_log")" 'event=test_connect filter=t client=127.0.0.1'

out=$(send "" --helo finding-helo.test)
check_match "a HELO finding: delivered" "$out" '^<.* 250 2\.0\.0 Ok'
check_match "the HELO finding is in the transaction's findings" "$(cat "$px_log")" \
	'event=transaction .*findings=t\.test=helo'

before=$(sink_count sink)
out=$(send "from=new@sender.test addrcpt=added@sink.test delrcpt=B@sink.test body=replaced" \
	--to b@sink.test,c@sink.test)
check_match "envelope edits: delivered" "$out" '^<.* 250 2\.0\.0 Ok'
check_eq "one message at the backend" $((before + 1)) "$(sink_count sink)"
dump=$(last_dump)
check_contains "backend: the new sender" "$dump" 'X-Mail-Args: <new@sender.test>'
check_contains "backend: the kept recipient" "$dump" 'X-Rcpt-Args: <c@sink.test>'
check_contains "backend: the added recipient" "$dump" 'X-Rcpt-Args: <added@sink.test>'
check_not_contains "backend: not the deleted recipient" "$dump" 'X-Rcpt-Args: <b@sink.test>'
body=$(sink_body "$(last_file)")
check_eq "backend: the body replaced, the header kept" "replaced" "$(printf '%s\n' "$body" | sed -n '/^\r\{0,1\}$/,$p' | tr -d '\r' | sed 1d)"
check_contains "backend: the header kept" "$body" 'X-Test-Action: from='

out=$(send "delrcpt=b@sink.test")
check_match "every recipient deleted: 250 and nothing sent" "$out" '250 2\.0\.0 Ok: no recipients left'
check_eq "nothing more at the backend" $((before + 1)) "$(sink_count sink)"

out=$(send quarantine)
check_match "quarantine to the mailbox: delivered" "$out" '^<.* 250 2\.0\.0 Ok'
dump=$(last_dump)
check_contains "quarantine: the quarantine mailbox alone" "$dump" 'X-Rcpt-Args: <quarantine@sink.test>'
check_not_contains "quarantine: not the recipient" "$dump" 'X-Rcpt-Args: <b@sink.test>'

# The resend at a backend that takes XFORWARD: RSET forgets it, so it is sent again.
start_rawsink raw --caps "PIPELINING,8BITMIME,XFORWARD NAME ADDR PROTO HELO"
start_px pxf "$raw_port" "filters:
  t: { type: test }
policies:
  - name: default
    chain: [ t ]" xforward
out=$(swaks --server "127.0.0.1:$pxf_port" --from a@client.test --to b@sink.test \
	--header "X-Test-Action: from=new@sender.test" --body "resent" 2>&1 | grep -E '^<')
check_match "XFORWARD backend: delivered" "$out" '^<.* 250 '
cmds=$(sed 's/^[0-9]*: //' "$raw_dir/commands.log" | grep -Ev '^(EHLO|QUIT)' | paste -sd'|')
check_match "XFORWARD backend: MAIL, RCPT, RSET, XFORWARD again, the new MAIL, RCPT, DATA" "$cmds" \
	'^XFORWARD [^|]*\|MAIL FROM:<a@client\.test>\|RCPT TO:<b@sink\.test>\|RSET\|XFORWARD [^|]*\|MAIL FROM:<new@sender\.test>\|RCPT TO:<b@sink\.test>\|DATA'

# A transaction reset before its end of message: ABORT; every session: CLOSE.
out=$(smtp "$px_port" R "S:HELO x.test\r\n" R "S:MAIL FROM:<a@client.test>\r\n" R "S:RSET\r\n" R \
	"S:QUIT\r\n" R 2>/dev/null)
check_eq "RSET mid-transaction" "220|250|250|250|221" "$(printf '%s\n' "$out" | cut -c1-3 | paste -sd'|')"
wait_until 5 grep -q 'stage=abort' "$px_log"
check_contains "ABORT notice" "$(cat "$px_log")" 'event=test_notice filter=t stage=abort'
check_contains "CLOSE notice" "$(cat "$px_log")" 'event=test_notice filter=t stage=close'
it_done
